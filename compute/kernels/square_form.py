"""A lean split's values as ``root**2 * odd``, so that its last step is a
squaring: GMP's squaring needs about half the scratch of a product."""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence

import gmpy2
from gmpy2 import mpz

from compute.kernels import multiplying
from compute.kernels.heap import fix_heap_thresholds, release_free_heap
from compute.kernels.multiplying import multiply
from compute.kernels.pieces import piece_parts_by_bit
from compute.kernels.product_tree import horner, product_tree
from compute.kernels.threads import in_two_threads, one_core, releasing_gil


class SquareForm:
    """A value as ``root**2 * odd``, handed to exactly one consumer.

    A lean split's forms are the largest values in the process. Its
    consumer takes the parts out (:meth:`take`), so that each is freed at
    the consumer's own last use of it rather than when the scheduler drops
    the form after the task (for the last step the root is half the result).
    """

    __slots__ = ("_parts",)

    def __init__(self, root: mpz, odd: mpz) -> None:
        self._parts: tuple[mpz, mpz] | None = (root, odd)

    def __sizeof__(self) -> int:
        # Dask's memory accounting sizes a task's result with sys.getsizeof.
        parts = self._parts or ()
        return object.__sizeof__(self) + sum(sys.getsizeof(part) for part in parts)

    @property
    def taken(self) -> bool:
        """Whether the parts were taken out (:meth:`take`)."""
        return self._parts is None

    def peek(self) -> tuple[mpz, mpz]:
        """``(root, odd)``, leaving them in the form.

        Raises
        ------
        RuntimeError
            If the form was taken.
        """
        if self._parts is None:
            raise RuntimeError("this SquareForm was taken: its parts are gone")
        return self._parts

    def take(self) -> tuple[mpz, mpz]:
        """``(root, odd)``, leaving the form empty.

        Raises
        ------
        RuntimeError
            If the form was taken before: a form has one consumer.
        """
        parts, self._parts = self._parts, None
        if parts is None:
            raise RuntimeError(
                "this SquareForm was already taken: a form has one consumer"
            )
        return parts


@releasing_gil
def square_form_piece(
    limit: int,
    terms: Sequence[tuple[int, int]],
    piece: int,
    pieces: int,
    blocks_per_piece: int,
    heap_threshold: int | None = None,
    residues: list[tuple[tuple[int, int], float]] | None = None,
) -> SquareForm:
    """:func:`prime_piece` as a :class:`SquareForm`, its value ``root**2 * odd``.

    ``odd`` is the product of the piece's primes of odd exponent, ``root``
    that of ``p**(e_p // 2)``. For a factorial ``odd`` is small (about n bits
    in all against n log2 n), so the value's last step can be GMP's squaring,
    which needs about half the working memory of a general product. With a
    ``heap_threshold``, the process's heap thresholds are fixed first
    (:func:`fix_heap_thresholds`). With ``residues`` (a list), the root's and
    odd part's residues modulo :data:`CHECK_MODULUS`, from the same primes by
    numpy, are appended to it with the seconds they took: the piece's check.
    """
    if heap_threshold is not None:
        fix_heap_thresholds(heap_threshold)
    parts_by_bit = piece_parts_by_bit(
        limit, terms, piece, pieces, blocks_per_piece, residues
    )
    odd = product_tree(parts_by_bit.pop(0, []))
    root = horner({bit - 1: parts for bit, parts in parts_by_bit.items()})
    return SquareForm(root, odd)


@releasing_gil
def multiply_square_forms(
    a: SquareForm, b: SquareForm, take: bool = True
) -> SquareForm:
    """The product of two square forms, taken (:meth:`SquareForm.take`) unless
    ``take`` is false.

    The roots are multiplied on one thread: on two, this step would hold
    more than the squaring after it (5e7!: 4.4 against 3.05 times the
    result, the process included). Taken, the roots are freed before the
    task returns, whatever the scheduler does with its inputs; left, a
    failed check can compute the step again.
    """
    a_root, a_odd = a.take() if take else a.peek()
    b_root, b_odd = b.take() if take else b.peek()
    root = multiply(a_root, b_root, threads=1)
    del a_root, b_root
    return SquareForm(root, a_odd * b_odd)


@releasing_gil
def square_multiply_shift(form: SquareForm, shift: int, threads: int = 2) -> mpz:
    """``root**2 * odd * 2**shift`` of a taken ``form``: a lean split's last step.

    The root is dropped once squared, so GMP's squaring is the step's peak
    (3.10 times the result for 1e9!, as ``gmpy2.fac``'s own). The square is
    cut in two halves, each taken by one thread and multiplied by the small
    ``odd``, then dropped; freed heap is handed back to the system between
    steps, since glibc keeps what the pieces' many smaller products freed.
    Quarters instead of halves would be faster but would hold 3.26 times
    the result, above the squaring.
    """
    root, odd = form.take()
    release_free_heap()
    square = root * root
    del root
    if (
        threads < 2
        or one_core()
        or square.bit_length() < multiplying.THREADED_MULTIPLY_BITS
    ):
        product = square * odd
        del square
        return product << shift
    half = square.bit_length() // 128 * 64  # whole limbs: the shift below copies
    high, low = [square >> half], [gmpy2.f_mod_2exp(square, half)]
    del square
    release_free_heap()
    high_product, low_product = in_two_threads(
        functools.partial(_taken_times, high, odd),
        functools.partial(_taken_times, low, odd),
    )
    release_free_heap()
    widened = high_product << half
    del high_product
    total = widened + low_product
    del widened, low_product
    return total << shift


def _taken_times(holder: list[mpz], factor: mpz) -> mpz:
    """The value in ``holder`` times ``factor``; only the product holds it after."""
    return holder.pop() * factor
