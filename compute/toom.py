"""Kernels of a distributed multiplication: Toom-Cook over limb-aligned chunks.

A value is held as *chunks*: ``x = sum(x[i] * 2**(i*C))`` with every ``x[i]``
in ``[0, 2**C)`` and ``C`` a multiple of 64 bits (whole GMP limbs), lowest
chunk first. Each function here is one task of the graph that
:mod:`compute.toom_graph` builds; none holds more than a few chunks except
:func:`part_product`, which holds one part product.

Toom-k on ``a * b``: both operands are cut into k parts of ``g`` chunks, read
as polynomials ``A(x)``, ``B(x)`` with ``x = 2**(g*C)``. ``A`` and ``B`` are
evaluated at ``2k - 1`` points (0, 1, -1, 2, -2, ..., infinity), the
``2k - 1`` part products ``w_p = A(p) * B(p)`` run on different workers, and
the coefficients of ``A(x) B(x)`` come back as ``D * c_i = sum_j M[i][j] * w_j``
(``M`` integer, ``D`` the least common denominator of the inverse Vandermonde
matrix). Every linear step works chunk by chunk:

- *evaluate*: slice ``s`` of every part gives slice ``s`` of every ``A(p)``;
- *interpolate*: output chunk ``u`` of ``D * a * b`` is a small combination of
  part-product chunks (signed, a few bits wider than ``C``), taken in two
  steps: at each position, the matrix's rows over that position's chunk of
  every part product (each chunk read once), then the sum of the few
  coefficients' chunks that overlap chunk ``u``;
- *carry*: each chunk reports its carry-out and its residue mod ``D`` (a few
  small integers); one tiny task chains them; each chunk then applies its
  carry-in and divides by ``D`` with its incoming remainder, all in parallel.

Cutting only one operand (``a * b_j``) is the same scheme with ``M = I`` and
``D = 1``; it is used when one operand is much shorter than the other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import cache

import gmpy2
from gmpy2 import mpz

from compute.kernels import SquareForm, multiply, releasing_gil
from compute.kernels.parts import Parts

# Point "infinity" (the leading coefficients), among the evaluation points.
INFINITY = None


@cache
def points(ways: int) -> tuple[int | None, ...]:
    """The ``2 * ways - 1`` evaluation points of Toom-``ways``: 0, 1, -1, 2, ..., inf.

    Examples
    --------
    >>> points(3)
    (0, 1, -1, 2, None)
    """
    finite: list[int] = [0]
    step = 1
    while len(finite) < 2 * ways - 2:
        finite.append(step)
        if len(finite) < 2 * ways - 2:
            finite.append(-step)
        step += 1
    return (*finite, INFINITY)


@cache
def interpolation(ways: int) -> tuple[tuple[tuple[int, ...], ...], int]:
    """``(M, D)`` with ``D * c_i = sum_j M[i][j] * w_j`` for Toom-``ways``.

    ``w_j`` is the product at ``points(ways)[j]`` and ``c_i`` the coefficient
    of ``x**i`` in the product polynomial (degree ``2 * ways - 2``).
    """
    size = 2 * ways - 1
    rows = []
    for point in points(ways):
        if point is INFINITY:
            rows.append([Fraction(int(i == size - 1)) for i in range(size)])
        else:
            rows.append([Fraction(point) ** i for i in range(size)])
    inverse = _inverse(rows)
    denominator = math.lcm(*(entry.denominator for row in inverse for entry in row))
    matrix = tuple(tuple(int(entry * denominator) for entry in row) for row in inverse)
    return matrix, denominator


def _inverse(rows: list[list[Fraction]]) -> list[list[Fraction]]:
    """Inverse of a square matrix of Fractions, by Gauss-Jordan elimination."""
    size = len(rows)
    work = [
        row[:] + [Fraction(int(i == j)) for j in range(size)]
        for i, row in enumerate(rows)
    ]
    for column in range(size):
        pivot = next(r for r in range(column, size) if work[r][column] != 0)
        work[column], work[pivot] = work[pivot], work[column]
        scale = work[column][column]
        work[column] = [entry / scale for entry in work[column]]
        for r in range(size):
            if r != column and work[r][column] != 0:
                factor = work[r][column]
                work[r] = [
                    x - factor * y for x, y in zip(work[r], work[column], strict=True)
                ]
    return [row[size:] for row in work]


def to_chunks(
    value: mpz, chunk_bits: int, count: int, shift: int = 0
) -> tuple[mpz, ...]:
    """``value * 2**shift`` (non-negative) as ``count`` chunks of ``chunk_bits``.

    Cut in halves recursively: each level is one pass of GMP shifts, twice
    as fast here as exporting the bytes and importing each chunk.
    """
    value = mpz(value) << shift
    if value < 0:
        raise ValueError("chunks hold non-negative values, got a negative one")
    if value.bit_length() > count * chunk_bits:
        raise ValueError(
            f"a value of {value.bit_length()} bits does not fit {count} chunks "
            f"of {chunk_bits} bits"
        )
    return Parts(_halves(value, chunk_bits, count))


@releasing_gil
def _halves(value: mpz, chunk_bits: int, count: int) -> list[mpz]:
    if count == 1:
        return [value]
    low = count // 2
    return _halves(
        gmpy2.f_mod_2exp(value, low * chunk_bits), chunk_bits, low
    ) + _halves(value >> (low * chunk_bits), chunk_bits, count - low)


def cut(
    chunk_bits: int,
    count: int,
    shift: int,
    function: Callable[..., mpz],
    *args: object,
    **kwargs: object,
) -> tuple[mpz, ...]:
    """``function(*args, **kwargs)`` as :func:`to_chunks` cuts it.

    The task that makes a value only to have it cut does both: one task and,
    for its check, one pass over the value fewer than a task of each.
    """
    return to_chunks(function(*args, **kwargs), chunk_bits, count, shift)


def signed_chunks(value: mpz, chunk_bits: int, count: int) -> tuple[mpz, ...]:
    """A signed ``value`` as ``count`` chunks, each carrying the value's sign."""
    magnitude = to_chunks(abs(value), chunk_bits, count)
    return Parts(-chunk for chunk in magnitude) if value < 0 else magnitude


@releasing_gil
def assemble(values: Sequence[mpz], chunk_bits: int) -> mpz:
    """``sum(values[i] * 2**(i*chunk_bits))`` for signed values of any width.

    Halves are combined pairwise, so the work is ``O(bits * log(len))``.
    """
    if not values:
        return mpz(0)
    level = [(mpz(value), 1) for value in values]
    while len(level) > 1:
        paired = []
        for index in range(0, len(level) - 1, 2):
            (low, width), (high, more) = level[index], level[index + 1]
            paired.append((low + (high << (width * chunk_bits)), width + more))
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0][0]


def evaluate_slice(ways: int, slices: Sequence[mpz]) -> tuple[mpz, ...]:
    """Slice ``s`` of ``A(p)`` for every point, from slice ``s`` of the k parts.

    ``slices[i]`` is chunk ``s`` of part ``i`` (0 when the operand is shorter).
    """
    values: list[mpz] = []
    for point in points(ways):
        # At 0 and infinity the value is a slice itself, not a copy: its
        # residue is then known without a pass over it (compute.checks).
        if point is INFINITY or point == 0:
            values.append(mpz(slices[-1 if point is INFINITY else 0]))
            continue
        total = mpz(0)
        for part in reversed(slices):  # Horner's rule in the point
            total = total * point + part
        values.append(total)
    return Parts(values)


def part_product(
    chunk_bits: int, a_slices: Sequence[mpz], b_slices: Sequence[mpz], count: int
) -> tuple[mpz, ...]:
    """One part product ``A(p) * B(p)``, each operand assembled from its slices,
    as ``count`` signed chunks: what the interpolation takes.

    On this task's thread only: the other part products hold the other
    workers' cores (two 100 Mbit numbers by Toom-3 on 4 workers: 1.43 s
    against 1.72 s with a helper thread per part product). Cut into chunks
    here rather than by a task of its own: the product's check then hashes
    its chunks only, not the whole product as well.
    """
    a = assemble(a_slices, chunk_bits)
    b = assemble(b_slices, chunk_bits)
    return signed_chunks(multiply(a, b, threads=1), chunk_bits, count)


def part_square(chunk_bits: int, slices: Sequence[mpz], count: int) -> tuple[mpz, ...]:
    """One part product of a squaring, ``A(p) ** 2``: :func:`part_product` with
    one operand, by GMP's squaring (about 0.8x a product's time)."""
    a = assemble(slices, chunk_bits)
    return signed_chunks(a * a, chunk_bits, count)


def cut_form(form: SquareForm, chunk_bits: int, count: int) -> tuple[mpz, ...]:
    """A square form as its root's ``count`` chunks, then its odd part whole:
    a factorial spread in square form enters its distributed levels."""
    root, odd = form.peek()
    return Parts((*to_chunks(root, chunk_bits, count), odd))


def combine(coefficients: Sequence[int], chunks: Sequence[mpz]) -> mpz:
    """``sum(coefficients[i] * chunks[i])``: one chunk of ``D * a * b``."""
    total = mpz(0)
    for coefficient, chunk in zip(coefficients, chunks, strict=True):
        if coefficient:
            total += coefficient * chunk
    return total


def combine_rows(
    matrix: Sequence[Sequence[int]], chunks: Sequence[mpz]
) -> tuple[mpz, ...]:
    """``combine(row, chunks)`` for every row: one position's chunk of each
    ``D * c_i``, from the same position's chunk of every part product."""
    return Parts(combine(row, chunks) for row in matrix)


def carry_bound(matrix: Sequence[Sequence[int]]) -> int:
    """A bound on any carry between chunks of combined values (see carry_summary)."""
    # A combined chunk sums at most two chunks per part product per row it
    # meets (coefficients overlap by one chunk), each below 2**C.
    return 4 * sum(abs(entry) for row in matrix for entry in row) + 4


def carry_summary(
    combined: mpz, chunk_bits: int, divisor: int, bound: int
) -> tuple[int, int | None, int | None, int]:
    """What the carry chain needs of one combined chunk, in four small integers.

    ``(high, near_zero, near_top, residue)``: ``high = combined >> C``; the
    low part ``combined mod 2**C`` when it is below ``bound`` (``near_zero``)
    or within ``bound`` of ``2**C`` (``near_top``, as ``low - 2**C``), since
    only then can a carry-in of magnitude below ``bound`` cross a chunk
    boundary; and ``combined mod divisor``.
    """
    high = int(combined >> chunk_bits)
    low = gmpy2.f_mod_2exp(combined, chunk_bits)
    near_zero = int(low) if low < bound else None
    top = mpz(1) << chunk_bits
    near_top = int(low - top) if low >= top - bound else None
    return high, near_zero, near_top, int(gmpy2.f_mod(combined, divisor))


def carry_chain(
    summaries: Sequence[tuple[int, int | None, int | None, int]],
    chunk_bits: int,
    divisor: int,
    keep: int | None = None,
) -> tuple[tuple[int, int], ...]:
    """``(carry_in, remainder_in)`` of every chunk, from all chunks' summaries.

    Carries run upward; the remainders of the exact division by ``divisor``
    run downward from the top chunk. Raises ArithmeticError if the value
    does not end within its first ``keep`` chunks or is not divisible by
    ``divisor`` (a planning error: never a wrong number).
    """
    carries = [0]
    steps: list[int] = []  # floor((low + carry_in) / 2**C) of each chunk
    for high, near_zero, near_top, _ in summaries:
        carry_in = carries[-1]
        if near_zero is not None and near_zero + carry_in < 0:
            step = -1
        elif near_top is not None and near_top + carry_in >= 0:
            step = 1
        else:
            step = 0
        steps.append(step)
        carries.append(high + step)
    if carries[-1] != 0:
        raise ArithmeticError(
            f"distributed product overflowed its chunks ({carries[-1]})"
        )
    _check_kept(summaries, carries, steps, chunk_bits, divisor, keep)
    base = pow(2, chunk_bits, divisor)
    remainders = [0] * len(summaries)
    remainder = 0
    for u in range(len(summaries) - 1, -1, -1):
        remainders[u] = remainder
        high, _, _, residue = summaries[u]
        # out_u = combined_u - (high + step) * 2**C + carry_in, modulo divisor
        out = residue - (high + steps[u]) * base + carries[u]
        remainder = (remainder * base + out) % divisor
    if remainder != 0:
        raise ArithmeticError(
            "distributed product is not divisible by its Toom denominator"
        )
    return tuple(zip(carries[:-1], remainders, strict=True))


def _check_kept(
    summaries: Sequence[tuple[int, int | None, int | None, int]],
    carries: Sequence[int],
    steps: Sequence[int],
    chunk_bits: int,
    divisor: int,
    keep: int | None,
) -> None:
    """Raise unless the quotient is zero above chunk ``keep``.

    It is iff the normalized chunks above ``keep`` make a number below
    ``divisor``; such chunks are within the carry bound of 0 or ``2**C``, so
    their summaries hold them whole.
    """
    if keep is None or keep >= len(summaries):
        return
    above = 0
    for u in range(len(summaries) - 1, keep - 1, -1):
        _, near_zero, near_top, _ = summaries[u]
        if near_zero is not None:
            low = near_zero
        elif near_top is not None:
            low = near_top + (1 << chunk_bits)
        else:
            above = divisor  # a full-size chunk: certainly too large
            break
        out = low + carries[u] - steps[u] * (1 << chunk_bits)
        above = (above << chunk_bits) + out
        if above >= divisor:
            break
    if above >= divisor:
        raise ArithmeticError(
            f"distributed product does not fit the {keep} chunks planned for it"
        )


def carry_apply(
    combined: mpz,
    chain: Sequence[tuple[int, int]],
    index: int,
    chunk_bits: int,
    divisor: int,
) -> mpz:
    """Final chunk ``index``: carry-in added, then divided by ``divisor``."""
    carry_in, remainder_in = chain[index]
    out = gmpy2.f_mod_2exp(combined + carry_in, chunk_bits)
    if divisor == 1:
        return out
    return gmpy2.f_div(out + (mpz(remainder_in) << chunk_bits), divisor)


def zero_chunk(index: int) -> mpz:
    """A chunk of zeros (``index`` only tells the keys apart)."""
    return mpz(0)


def join_chunks(chunks: Sequence[mpz], chunk_bits: int) -> mpz:
    """The value of normalized chunks (each in ``[0, 2**C)``), in one pass."""
    width = chunk_bits // 8
    return mpz.from_bytes(
        b"".join(mpz(chunk).to_bytes(width, "little") for chunk in chunks), "little"
    )
