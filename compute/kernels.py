"""Big-integer kernels: pure gmpy2 and numpy functions, no Dask inside.

Every function here takes plain Python and numpy values and returns ``gmpy2.mpz``
values (or lists of them), so each one can be unit-tested without a cluster and
each one becomes one named task in a graph built by :mod:`compute.graph`.

The large-factorial kernel works on the prime factorisation
``n! = 2**e2 * prod(p**e_p for odd primes p <= n)`` (Legendre's formula). Each
piece takes an interleaved share of the odd primes and raises their product to
the exponents by Horner's rule over exponent bits (``r = r*r * P_j``), which
is how GMP's own ``mpz_fac_ui`` gains over a plain range-product tree.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import math
import operator
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import ParamSpec, TypeVar

import dask.system
import gmpy2
import numpy as np
from gmpy2 import mpz

logger = logging.getLogger(__name__)

# Values below each bound are packed this many to a 64-bit word before any
# big-integer multiplication: k values of b bits fit when k * b <= 64.
_PACKING = ((1 << 16, 4), (1 << 21, 3), (1 << 32, 2))
# Packed words are first multiplied this many at a time as Python ints (a C loop
# in math.prod), which is much cheaper than one gmpy2 call per word.
_LEAF_WORDS = 32
# A multiplication whose smaller operand has at least this many bits is split in
# two halves multiplied in two threads (gmpy2 releases the GIL for them).
THREADED_MULTIPLY_BITS = 1 << 22
# Primes are handled this many at a time (see _piece_prime_chunks).
_CHUNK = 1 << 16
# piece_bits weighs the primes up to this (or isqrt(n)) one by one.
_EXACT_WEIGHT_LIMIT = 1 << 22
# A prime whose weight (e_p log2 p) is above this share of a piece's bits is
# shared: every piece takes p to about e_p / pieces. Dealt whole, 3 alone
# outweighs a piece of n! beyond ~38 pieces (64 pieces of 5e7!: the piece
# with 3 took 2.9x the mean time, 2.9x the mean bits).
_SHARED_WEIGHT = 1 / 8
# Primes scanned for sharing (a shared prime is below about 8 * pieces).
_SHARED_SCAN = 1 << 16
# Primes are sieved up to a product's largest prime only when that limit is at
# most this many times its bits: a sieve costs about 3 ns per integer here, a
# product about 30 ns per output bit (binomial(2e8, 1e8): 0.6 s of sieve,
# 5.3 s of product). Beyond, a range product and an exact division win.
PRIME_FORM_LIMIT_PER_BIT = 8
# binomial(n, k) with k up to this is left to GMP whatever n.
_GMP_BINOMIAL_K = 256


_Parameters = ParamSpec("_Parameters")
_Result = TypeVar("_Result")
_Item = TypeVar("_Item")


def releasing_gil(
    kernel: Callable[_Parameters, _Result],
) -> Callable[_Parameters, _Result]:
    """Run ``kernel`` with gmpy2 allowed to release the GIL, then restore.

    gmpy2's context is per thread and the flag is off by default. With it on,
    a Dask worker's event loop stays responsive while a kernel multiplies, and
    two kernel threads can multiply at the same time. The change is scoped to
    the call, so a caller's own thread (``scheduler="sync"``) keeps its context.
    """

    @functools.wraps(kernel)
    def scoped(*args: _Parameters.args, **kwargs: _Parameters.kwargs) -> _Result:
        with gmpy2.context(gmpy2.get_context(), allow_release_gil=True):
            return kernel(*args, **kwargs)

    return scoped


@lru_cache(maxsize=8)
def _small_primes(limit: int) -> np.ndarray:
    """All primes ``p <= limit`` (a plain odd-only sieve), as uint64."""
    if limit < 2:
        return np.zeros(0, dtype=np.uint64)
    is_odd_prime = np.ones(limit // 2 + 1, dtype=bool)  # index i stands for 2i+1
    is_odd_prime[0] = False
    for i in range(1, (math.isqrt(limit) - 1) // 2 + 1):
        if is_odd_prime[i]:
            p = 2 * i + 1
            is_odd_prime[p * p // 2 :: p] = False
    odd = 2 * np.flatnonzero(is_odd_prime).astype(np.uint64) + 1
    odd = odd[odd <= limit]
    primes = np.concatenate((np.array([2], dtype=np.uint64), odd))
    primes.flags.writeable = False
    return primes


def primes_in_range(lo: int, hi: int) -> np.ndarray:
    """All primes ``p`` with ``lo <= p < hi``, ascending, as a uint64 array.

    A segmented sieve over odd numbers only: only base primes up to
    ``isqrt(hi - 1)`` are needed, so memory is proportional to ``hi - lo``,
    not to ``hi`` (odd-only: 3e7 integers sieved in 0.034 s instead of 0.18 s).
    """
    lo = max(lo, 2)
    if hi <= lo:
        return np.zeros(0, dtype=np.uint64)
    first_odd = lo | 1  # sieve index i stands for first_odd + 2 i
    is_prime = np.ones(max(0, (hi - first_odd + 1) // 2), dtype=bool)
    for p in _small_primes(math.isqrt(hi - 1))[1:].tolist():
        first = max(p * p, (first_odd + p - 1) // p * p)
        if first % 2 == 0:
            first += p  # the first odd multiple
        is_prime[(first - first_odd) // 2 :: p] = False
    if first_odd == 1 and len(is_prime):
        is_prime[0] = False  # 1 is not a prime
    odd = np.flatnonzero(is_prime).astype(np.uint64) * np.uint64(2)
    odd += np.uint64(first_odd)
    if lo == 2:
        return np.concatenate((np.array([2], dtype=np.uint64), odd))
    return odd


def legendre_exponents(primes: np.ndarray, n: int) -> np.ndarray:
    """Exponent of each prime in ``n!``: ``sum(n // p**k for k >= 1)``.

    Only primes ``p <= isqrt(n)`` have a second term, so the loop over higher
    powers runs on those few (at n = 2e8 this took the exponents of 11
    million primes from 0.8 s to 0.07 s).
    """
    primes_i64 = primes.astype(np.int64)
    exponents = n // primes_i64
    squared = np.flatnonzero(primes_i64 <= math.isqrt(n))
    powers = primes_i64[squared]
    quotient = exponents[squared] // powers
    while quotient.any():
        exponents[squared] += quotient
        quotient //= powers
    return exponents


def pack_words(values: np.ndarray) -> list[int]:
    """Multiply values (each below 2**64) together in groups that fit one word.

    Returns Python ints below 2**64 whose product equals the product of
    ``values``. This replaces most small multiplications with vectorised
    numpy ones.
    """
    values = np.asarray(values, dtype=np.uint64)
    words: list[int] = []
    lower = 0
    for upper, per_word in (*_PACKING, (None, 1)):
        if upper is None:
            chunk = values[values >= lower]
        else:
            chunk = values[(values >= lower) & (values < upper)]
            lower = upper
        if chunk.size == 0:
            continue
        padding = (-chunk.size) % per_word
        if padding:
            chunk = np.concatenate((chunk, np.ones(padding, dtype=np.uint64)))
        columns = chunk.reshape(-1, per_word)
        packed = columns[:, 0].copy()
        for column in range(1, per_word):
            packed *= columns[:, column]
        words.extend(packed.tolist())
    return words


def tree_level(
    items: Sequence[_Item], combine: Callable[[_Item, _Item], _Item]
) -> list[_Item]:
    """One level of a balanced tree: neighbours combined, an odd last one kept."""
    paired = [combine(a, b) for a, b in zip(items[0::2], items[1::2], strict=False)]
    if len(items) % 2:
        paired.append(items[-1])
    return paired


def product_tree(factors: Sequence[mpz]) -> mpz:
    """Product of ``factors`` by a balanced binary tree (pairs of similar size)."""
    level = list(factors)
    if not level:
        return mpz(1)
    while len(level) > 1:
        level = tree_level(level, operator.mul)
    return level[0]


def product_of_values(values: np.ndarray) -> mpz:
    """Exact product of non-negative integers below 2**64, as an mpz."""
    return product_of_words(pack_words(values))


def product_of_words(words: Sequence[int]) -> mpz:
    """Exact product of Python ints (packed words below 2**64, or any), as an mpz.

    Leaves multiply up to ``_LEAF_WORDS`` words' worth of bits in Python,
    where small products are cheapest; larger factors (a range past 2**64 of
    thousands of bits each) go to GMP's tree one by one, since Python's own
    multiplication of large ints is far slower than GMP's.
    """
    if not words:
        return mpz(1)
    per_leaf = words_per_leaf(words)
    leaves = [
        mpz(math.prod(words[start : start + per_leaf]))
        for start in range(0, len(words), per_leaf)
    ]
    return product_tree(leaves)


def words_per_leaf(words: Sequence[int]) -> int:
    """How many of ``words`` one leaf multiplies in Python (32 of 64 bits).

    Sized by the wider end: the words of a range grow monotonically.
    """
    widest = max(abs(words[0]).bit_length(), abs(words[-1]).bit_length(), 64)
    return max(1, _LEAF_WORDS * 64 // widest)


@releasing_gil
def range_product(lo: int, hi: int) -> mpz:
    """Product of the integers ``lo < k <= hi`` (1 when ``hi <= lo``)."""
    if hi <= lo:
        return mpz(1)
    if hi >= 1 << 64:  # beyond numpy's words: the factors themselves as words
        return product_of_words(range(lo + 1, hi + 1))
    return product_of_values(np.arange(lo + 1, hi + 1, dtype=np.uint64))


def prime_power_product(primes: np.ndarray, exponents: np.ndarray) -> mpz:
    """``prod(p**e)`` by Horner's rule over the bits of the exponents.

    With ``P_j`` the product of the primes whose exponent has bit ``j`` set,
    the result is ``prod(P_j ** 2**j)``, computed from the top bit down as
    ``r = r*r * P_j``: each prime is multiplied in once per set bit, and the
    repeated factors are handled by squaring.
    """
    parts_by_bit: dict[int, list[mpz]] = {}
    _add_parts_by_bit(parts_by_bit, primes, exponents)
    return _horner(parts_by_bit)


def _add_parts_by_bit(
    parts_by_bit: dict[int, list[mpz]], primes: np.ndarray, exponents: np.ndarray
) -> None:
    """Append to ``parts_by_bit[j]`` the product of the primes whose e_p has bit j.

    A piece calls this once per array of primes as it sieves them, so the
    GIL-bound packing and leaf products alternate with multiplications that
    release the GIL, and two pieces in two threads rarely wait for each other
    (primorial(1e8), 2 pieces in 2 threads: 1.87-2.29 s with all primes
    packed first, 1.72-1.85 s this way).
    """
    if len(primes) == 0:
        return
    for bit in range(int(exponents.max()).bit_length()):
        chosen = primes[((exponents >> bit) & 1) == 1]
        if chosen.size:
            parts_by_bit.setdefault(bit, []).append(product_of_values(chosen))


def _horner(parts_by_bit: dict[int, list[mpz]]) -> mpz:
    """``prod(P_j ** 2**j)`` with ``P_j`` the product of ``parts_by_bit[j]``."""
    result = mpz(1)
    for bit in range(max(parts_by_bit, default=-1), -1, -1):
        factor = product_tree(parts_by_bit.pop(bit, []))
        # r*r*P as r*(r*P) while P is small next to r: two near-balanced
        # products cost less than a square followed by a very unbalanced
        # multiplication. A large P (the primes of exponent 1 in a binomial)
        # goes last, after the square (binomial(2e8, 1e8): 6.2 s -> 5.4 s).
        if 2 * factor.bit_length() > result.bit_length():
            result = (result * result) * factor
        else:
            result = result * (result * factor)
    return result


def piece_primes(
    n: int,
    piece: int,
    pieces: int,
    blocks_per_piece: int,
    terms: Sequence[tuple[int, int]] | None,
) -> np.ndarray:
    """The odd primes ``p <= n`` that piece ``piece`` of ``pieces`` takes.

    The small odd primes (those carrying most of the weight per prime) are
    dealt out one by one; the range above is cut into blocks of
    ``n / (pieces * blocks_per_piece)`` integers, each given to the piece
    with the least estimated weight so far, heaviest block first. Each piece
    thus holds a similar mix of primes, costs about the same, and sieves only
    its own blocks. Together the pieces take every odd prime once.

    ``terms`` are the product's Legendre terms, or None for every prime once
    (see :func:`prime_exponents`); they weigh the blocks.
    """
    chunks = list(_piece_prime_chunks(n, piece, pieces, blocks_per_piece, terms))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint64)


def _piece_prime_chunks(
    n: int,
    piece: int,
    pieces: int,
    blocks_per_piece: int,
    terms: Sequence[tuple[int, int]] | None,
) -> Iterator[np.ndarray]:
    """:func:`piece_primes` in ascending arrays of at most ``_CHUNK`` primes.

    Small arrays are reused from the heap; arrays of millions of primes are
    fresh pages each time, and their page faults serialise the threads of a
    process (binomial(2e8, 1e8), 2 pieces: 2.97 s -> 2.6 s).
    """
    block_size, dealt_limit = _dealing(n, pieces, blocks_per_piece)
    small = _small_primes(dealt_limit)[1:]  # 2 becomes a shift
    small = small[~np.isin(small, shared_primes(terms, pieces, dealt_limit)[0])]
    dealt = small[_dealt(len(small), piece, pieces)]
    for start in range(0, len(dealt), _CHUNK):
        yield dealt[start : start + _CHUNK]
    lows, highs = _blocks(n, dealt_limit, block_size)
    owners = _block_owners(_range_weights(lows, highs, terms), pieces)
    for block in np.flatnonzero(owners == piece).tolist():
        primes = primes_in_range(int(lows[block]), int(highs[block]))
        for start in range(0, len(primes), _CHUNK):
            yield primes[start : start + _CHUNK]


def shared_primes(
    terms: Sequence[tuple[int, int]] | None, pieces: int, dealt_limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(primes, exponents)`` that every one of ``pieces`` pieces shares.

    The odd primes up to ``dealt_limit`` too heavy to deal to one piece
    (``_SHARED_WEIGHT``); piece ``i`` takes each to ``e // pieces``, plus one
    when ``i < e % pieces`` (:func:`shared_exponents`). None for n! in two
    pieces from n = 17,501 on (a factorial is split from 1.4e6 on), where
    even 3 is light.
    """
    none = np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    if terms is None or pieces < 2:
        return none
    total_bits = sum(c * math.lgamma(m + 1) for m, c in terms) / math.log(2)
    primes = _small_primes(min(dealt_limit, _SHARED_SCAN))[1:]
    exponents = prime_exponents(primes, terms)
    weights = exponents * np.log2(primes.astype(np.float64))
    heavy = weights > _SHARED_WEIGHT * total_bits / pieces
    return primes[heavy], exponents[heavy]


def shared_exponents(exponents: np.ndarray, piece: int, pieces: int) -> np.ndarray:
    """Piece ``piece``'s share of each shared prime's exponent."""
    return exponents // pieces + (piece < exponents % pieces)


def _dealing(n: int, pieces: int, blocks_per_piece: int) -> tuple[int, int]:
    """``(block_size, dealt_limit)``: how :func:`piece_primes` deals ``p <= n``."""
    block_size = max(1, -(-n // (pieces * blocks_per_piece)))
    # A block [a, a + block_size) holds prime weight (sum of e_p * log p) of
    # about n * log(1 + block_size / a): blocks just above sqrt(n) would dwarf
    # the rest. Below this limit primes are dealt one by one instead.
    dealt_limit = min(n, max(math.isqrt(n), 4 * pieces * block_size))
    return block_size, dealt_limit


def _blocks(n: int, dealt_limit: int, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lows, highs)`` of the sieve blocks ``[low, high)`` above ``dealt_limit``."""
    blocks = max(0, -(-(n - dealt_limit) // block_size))
    lows = dealt_limit + 1 + np.arange(blocks, dtype=np.int64) * block_size
    return lows, np.minimum(lows + block_size, n + 1)


def _block_owners(weights: np.ndarray, pieces: int) -> np.ndarray:
    """The piece of each block of primes, by their ``weights``, balancing them.

    Blocks go heaviest first to the lightest piece (binomial(2e8, 1e8) on 2
    pieces: bits of the heavier over the lighter 1.14 dealt in turn, 1.00 by
    weight).
    """
    loads = np.zeros(pieces)
    owners = np.empty(len(weights), dtype=np.int64)
    for block in np.argsort(-weights, kind="stable").tolist():
        owner = int(np.argmin(loads))
        owners[block] = owner
        loads[owner] += weights[block]
    return owners


def _range_weights(
    lows: np.ndarray, highs: np.ndarray, terms: Sequence[tuple[int, int]] | None
) -> np.ndarray:
    """Estimated ``sum(e_p ln p)`` over the primes in each ``[low, high)``.

    Above ``isqrt(n)`` a prime's exponent is ``sum(c * (m // p))``, a step
    function of p; with primes of density ``1/ln p`` each weighing
    ``e_p ln p``, a range weighs about its length times the mean exponent,
    sampled across it.
    """
    lows, highs = lows.astype(np.float64), highs.astype(np.float64)
    samples = lows[:, None] + (highs - lows)[:, None] * (np.arange(32) + 0.5) / 32
    if terms is None:
        exponents = np.ones_like(samples)
    else:
        exponents = sum(
            (c * np.floor(m / samples) for m, c in terms),
            np.zeros_like(samples),
        )
    return (highs - lows) * exponents.mean(axis=1)


def piece_bits(
    n: int,
    pieces: int,
    blocks_per_piece: int,
    terms: Sequence[tuple[int, int]] | None,
) -> list[float]:
    """Estimated bits of each of :func:`prime_piece`'s ``pieces`` values.

    Exact (to a bit) for the primes up to ``max(isqrt(n), 2**22)``, which
    carry the uneven weights. Above, each prime weighs ``e_p log2 p`` and
    primes have density ``1/ln p``, so a range weighs its length times its
    mean exponent: the dealt primes split evenly, the blocks as
    :func:`_block_owners` deals them (by the same weights). No sieve beyond
    that limit, so it costs milliseconds for any n (pieces of 2e7! and
    binomial(2e7, 1e7) within 0.2% of their bits).
    """
    block_size, dealt_limit = _dealing(n, pieces, blocks_per_piece)
    exact_limit = min(n, max(math.isqrt(n), _EXACT_WEIGHT_LIMIT))
    primes = _small_primes(exact_limit)[1:]
    weights = prime_exponents(primes, terms) * np.log2(primes.astype(np.float64))
    dealt_count = int(np.searchsorted(primes, dealt_limit, side="right"))
    shared, exponents = shared_primes(terms, pieces, dealt_limit)
    dealt_weights = weights[:dealt_count][~np.isin(primes[:dealt_count], shared)]
    bits = np.bincount(
        _snake_owners(np.arange(len(dealt_weights)), pieces),
        weights=dealt_weights,
        minlength=pieces,
    ).astype(np.float64)
    log_shared = np.log2(shared.astype(np.float64))
    bits += [
        (shared_exponents(exponents, piece, pieces) * log_shared).sum()
        for piece in range(pieces)
    ]
    if dealt_limit > exact_limit:
        bounds = np.linspace(exact_limit + 1, dealt_limit + 1, 1025)
        dealt = _range_weights(bounds[:-1], bounds[1:], terms).sum()
        bits += dealt / math.log(2) / pieces
    lows, highs = _blocks(n, dealt_limit, block_size)
    block_weights = _range_weights(lows, highs, terms)
    owners = _block_owners(block_weights, pieces)
    block_bits = block_weights / math.log(2)
    below = highs <= exact_limit + 1  # weighed prime by prime
    cumulative = np.concatenate(([0.0], np.cumsum(weights)))
    block_bits[below] = (
        cumulative[np.searchsorted(primes, highs[below])]
        - cumulative[np.searchsorted(primes, lows[below])]
    )
    bits += np.bincount(owners, weights=block_bits, minlength=pieces)
    return bits.tolist()


def _dealt(count: int, piece: int, pieces: int) -> np.ndarray:
    """Indices ``0..count-1`` that ``piece`` gets, dealt in snake order.

    Weights fall with the index (primes, then blocks, further up), so plain
    round-robin gives piece 0 the heaviest of every round; dealing
    0..k-1, k-1..0, ... evens that out (4 pieces at n = 1e6: bits of the
    heaviest over the lightest 1.18 round-robin, 1.09 snake).
    """
    index = np.arange(count)
    return index[_snake_owners(index, pieces) == piece]


def _snake_owners(index: np.ndarray, pieces: int) -> np.ndarray:
    """The piece of each index in :func:`_dealt`'s snake order."""
    rounds, position = np.divmod(index, pieces)
    return np.where(rounds % 2 == 0, position, pieces - 1 - position)


def prime_exponents(
    primes: np.ndarray, terms: Sequence[tuple[int, int]] | None
) -> np.ndarray:
    """Exponent of each prime in ``prod(m! ** c for m, c in terms)``.

    Legendre's formula term by term; with ``terms=None``, every exponent is 1
    (the primorial).
    """
    if terms is None:
        return np.ones(len(primes), dtype=np.int64)
    exponents = np.zeros(len(primes), dtype=np.int64)
    for m, coefficient in terms:
        exponents += coefficient * legendre_exponents(primes, m)
    return exponents


@releasing_gil
def prime_piece(
    limit: int,
    terms: Sequence[tuple[int, int]] | None,
    piece: int,
    pieces: int,
    blocks_per_piece: int,
) -> mpz:
    """One of ``pieces`` factors whose product is the odd part of a prime product.

    Parameters
    ----------
    limit : int
        The largest prime that may occur.
    terms : sequence of (m, c), or None
        The value is ``prod(m! ** c)`` (``c`` may be negative when the value
        is an integer, as for binomials); None for the primorial, where every
        prime occurs once.
    piece : int
        Which piece, ``0 <= piece < pieces``.
    pieces : int
        How many pieces the odd part is split into.
    blocks_per_piece : int
        How many sieve blocks each piece takes from the range above
        ``isqrt(limit)``.

    Returns
    -------
    gmpy2.mpz
        The product of ``p**e_p`` over this piece's odd primes
        (:func:`piece_primes`).
    """
    return _horner(_piece_parts_by_bit(limit, terms, piece, pieces, blocks_per_piece))


def _piece_parts_by_bit(
    limit: int,
    terms: Sequence[tuple[int, int]] | None,
    piece: int,
    pieces: int,
    blocks_per_piece: int,
) -> dict[int, list[mpz]]:
    """A piece's products of primes by exponent bit (see :func:`_add_parts_by_bit`)."""
    parts_by_bit: dict[int, list[mpz]] = {}
    _, dealt_limit = _dealing(limit, pieces, blocks_per_piece)
    shared, exponents = shared_primes(terms, pieces, dealt_limit)
    share = shared_exponents(exponents, piece, pieces)
    _add_parts_by_bit(parts_by_bit, shared[share > 0], share[share > 0])
    for primes in _piece_prime_chunks(limit, piece, pieces, blocks_per_piece, terms):
        _add_parts_by_bit(parts_by_bit, primes, prime_exponents(primes, terms))
    return parts_by_bit


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
) -> SquareForm:
    """:func:`prime_piece` as a :class:`SquareForm`, its value ``root**2 * odd``.

    ``odd`` is the product of the piece's primes of odd exponent, ``root``
    that of ``p**(e_p // 2)``. For a factorial ``odd`` is small (about n bits
    in all against n log2 n), so the value's last step can be GMP's squaring,
    which needs about half the working memory of a general product. With a
    ``heap_threshold``, the process's heap thresholds are fixed first
    (:func:`fix_heap_thresholds`).
    """
    if heap_threshold is not None:
        fix_heap_thresholds(heap_threshold)
    parts_by_bit = _piece_parts_by_bit(limit, terms, piece, pieces, blocks_per_piece)
    odd = product_tree(parts_by_bit.pop(0, []))
    root = _horner({bit - 1: parts for bit, parts in parts_by_bit.items()})
    return SquareForm(root, odd)


@releasing_gil
def multiply_square_forms(a: SquareForm, b: SquareForm) -> SquareForm:
    """The product of two square forms, taken (:meth:`SquareForm.take`).

    The roots are multiplied on one thread: on two, this step would hold
    more than the squaring after it (5e7!: 4.4 against 3.05 times the
    result, the process included).
    """
    a_root, a_odd = a.take()
    b_root, b_odd = b.take()
    root = multiply(a_root, b_root, threads=1)
    del a_root, b_root
    return SquareForm(root, a_odd * b_odd)


@releasing_gil
def square_multiply_shift(form: SquareForm, shift: int, threads: int = 2) -> mpz:
    """``root**2 * odd * 2**shift`` of a taken ``form``: a lean split's last step.

    The root is dropped once squared, so GMP's squaring is the step's peak
    (3.10 times the result for 1e9!, whole process, with the lean split's
    fixed heap thresholds; ``gmpy2.fac`` peaks at 3.12). The square is cut
    in two halves, each taken by one thread and multiplied by the small
    ``odd``, then dropped. Freed heap is
    handed back to the system between steps, since glibc keeps what the
    pieces' many smaller products freed. Measured at 1e9! sizes: the halves
    held 2.95 times the result; cutting each half in two quarters took 115 s
    instead of 144 s, but held 3.26 times the result, above the squaring.
    """
    root, odd = form.take()
    release_free_heap()
    square = root * root
    del root
    if threads < 2 or _one_core() or square.bit_length() < THREADED_MULTIPLY_BITS:
        product = square * odd
        del square
        return product << shift
    half = square.bit_length() // 128 * 64  # whole limbs: the shift below copies
    high, low = [square >> half], [gmpy2.f_mod_2exp(square, half)]
    del square
    release_free_heap()
    high_product, low_product = _in_two_threads(
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


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library if it is glibc (with ``malloc_trim`` and ``mallopt``)."""
    try:
        library = ctypes.CDLL("libc.so.6")
        library.malloc_trim, library.mallopt  # noqa: B018 (glibc's own)
    except (OSError, AttributeError):  # not glibc
        return None
    return library


_M_TRIM_THRESHOLD = -1  # glibc's <malloc.h>
_M_MMAP_THRESHOLD = -3


@functools.cache
def fix_heap_thresholds(threshold: int) -> bool:
    """Fix glibc's mmap and trim thresholds at ``threshold`` bytes, once.

    glibc raises both as large blocks are freed, up to 32 MiB (mmap) and
    64 MiB (trim): a thread's heap then keeps up to 64 MiB freed at its top,
    which :func:`release_free_heap` cannot return. Fixed, blocks of at least
    ``threshold`` bytes are mapped and unmapped on their own, and a heap's
    free top beyond it goes back to the system. The setting is for the whole
    process and stays. Returns whether glibc took it (False elsewhere).
    """
    glibc = _glibc()
    if glibc is None:
        return False
    # mallopt returns 1 on success, 0 for a value glibc refuses; the first
    # call also ends the adaptation.
    fixed = bool(
        glibc.mallopt(_M_MMAP_THRESHOLD, threshold)
        and glibc.mallopt(_M_TRIM_THRESHOLD, threshold)
    )
    if not fixed:
        logger.debug("glibc refused heap thresholds of %d bytes", threshold)
    return fixed


def release_free_heap() -> None:
    """Hand freed heap pages back to the system (glibc's ``malloc_trim``).

    glibc serves allocations below 32 MiB from per-thread heaps and keeps
    what is freed there; a product tree frees many such blocks. Elsewhere
    this does nothing.
    """
    glibc = _glibc()
    if glibc is not None:
        glibc.malloc_trim(0)


@releasing_gil
def range_piece(low: int, high: int, piece: int, pieces: int) -> mpz:
    """Piece ``piece`` of ``pieces`` contiguous parts of ``(low+1)...high``."""
    bounds = [low + (high - low) * i // pieces for i in range(pieces + 1)]
    return range_product(bounds[piece], bounds[piece + 1])


@releasing_gil
def multiply(a: mpz, b: mpz, threads: int = 2) -> mpz:
    """``a * b``; very large products are split across two threads.

    Not on a process with one core (:func:`_one_core`).

    With ``b = b_hi * 2**k + b_lo``, the two partial products ``a*b_hi`` and
    ``a*b_lo`` run in parallel threads (the GIL is released by gmpy2), which
    takes about 0.75x the time of one ``a*b`` on two cores. It also holds
    about twice the memory: 6.5x the product beside its operands, against
    3.5x for one GMP product. ``threads=1`` multiplies on this thread only.
    """
    if a.bit_length() < b.bit_length():
        a, b = b, a
    if threads < 2 or _one_core() or b.bit_length() < THREADED_MULTIPLY_BITS:
        return a * b
    half = b.bit_length() // 2
    high, low = _times_halves(b >> half, gmpy2.f_mod_2exp(b, half), a)
    return (high << half) + low


def _times_halves(high: mpz, low: mpz, factor: mpz) -> tuple[mpz, mpz]:
    """``(high * factor, low * factor)``, on two threads."""
    return _in_two_threads(
        functools.partial(operator.mul, high, factor),
        functools.partial(operator.mul, low, factor),
    )


def _one_core() -> bool:
    """Whether this process has one core (Dask's count: affinity, cgroup quota).

    Two threads there take turns: the two halves then cost their extra
    work (about 1.5x one product's) with no second core to pay for it.
    """
    return dask.system.CPU_COUNT < 2


def _in_two_threads(
    first: Callable[[], _Result], second: Callable[[], _Result]
) -> tuple[_Result, _Result]:
    """``(first(), second())``, ``first`` on a helper thread, ``second`` here.

    Both run with gmpy2 allowed to release the GIL, so their products use
    two cores. An exception in the helper is raised here.
    """
    results: list[_Result] = []
    errors: list[BaseException] = []

    def helper() -> None:
        try:
            results.append(releasing_gil(first)())
        except BaseException as error:  # raised in the calling thread below
            errors.append(error)

    thread = threading.Thread(target=helper, daemon=True)
    thread.start()
    try:
        here = releasing_gil(second)()
    finally:
        thread.join()
    if errors:
        raise errors[0]
    return results[0], here


def multiply_and_shift(a: mpz, b: mpz, shift: int) -> mpz:
    """``a * b * 2**shift``: the last step of a split factorial."""
    return multiply(a, b) << shift


@releasing_gil
def multiply_and_divide(a: mpz, b: mpz, divisor: mpz) -> mpz:
    """``a * b / divisor``, where ``divisor`` divides the product exactly."""
    return gmpy2.divexact(multiply(a, b), divisor)


@releasing_gil
def factorials_product(ms: Sequence[int]) -> mpz:
    """``prod(m! for m in ms)``: the divisor of a range-form product."""
    return product_tree([gmpy2.fac(m) for m in ms])


def factorial_small(n: int) -> mpz:
    """``n!`` by GMP's own ``mpz_fac_ui``, for n too small to split."""
    return gmpy2.fac(n)


def falling_factorial_small(n: int, k: int) -> mpz:
    """``n (n-1) ... (n-k+1)``, 0 when ``k > n``."""
    return mpz(0) if k > n else range_product(n - k, n)


def binomial_small(n: int, k: int) -> mpz:
    """``binomial(n, k)`` in one task: GMP's, or a range over a factorial.

    GMP's ``mpz_bin_uiui`` is fast while sieving up to ``n`` costs little
    next to the result, as for our prime form, and slow beyond:
    ``binomial(10**12, 10**5)`` takes 1.43 s there and 0.07 s as
    ``(n-k+1)...n / k!``.
    """
    k = min(k, n - k)
    if k < 0:
        return mpz(0)
    # log2 of the result, roughly; math.log2 takes ints of any size
    bits = k * (math.log2(n) - math.log2(k) + 1.5) if k else 0.0
    if k <= _GMP_BINOMIAL_K or n <= PRIME_FORM_LIMIT_PER_BIT * bits:
        return gmpy2.comb(n, k)
    return gmpy2.divexact(range_product(n - k, n), gmpy2.fac(k))


def multinomial_small(*ks: int) -> mpz:
    """``(sum ks)! / prod(k!)`` as a product of binomials."""
    result, total = mpz(1), 0
    for k in ks:
        total += k
        result *= binomial_small(total, k)
    return result


# GMP's one-call functions, by the name a small value's task gives.
SMALL_KERNELS: dict[str, Callable[..., mpz]] = {
    "factorial": gmpy2.fac,
    "binomial": binomial_small,
    "multinomial": multinomial_small,
    "primorial": gmpy2.primorial,
    "double-factorial": gmpy2.double_fac,
    "falling-factorial": falling_factorial_small,
}


# Kinds whose small kernel keeps the GIL: gmpy2's fac, comb, primorial and
# double_fac never release it (two threads of each took as long as one after
# the other). Threads of one process gain nothing from splitting their batches.
GIL_BOUND_KINDS = frozenset(
    {"factorial", "binomial", "multinomial", "primorial", "double-factorial"}
)


@releasing_gil
def small_values(kind: str, arguments: Sequence[tuple[int, ...]]) -> list[mpz]:
    """``[SMALL_KERNELS[kind](*a) for a in arguments]``: a batch of small values."""
    kernel = SMALL_KERNELS[kind]
    return [kernel(*args) for args in arguments]


@releasing_gil
def walk_factorials(
    base_n: int, base_value: mpz | None, targets: Sequence[int]
) -> list[mpz]:
    """Factorials of ascending ``targets``, each from the one before it.

    ``targets[i]! = targets[i-1]! * range_product(targets[i-1], targets[i])``,
    starting from ``base_value == base_n!``; with ``base_value=None`` the start
    is computed here as ``gmpy2.fac(base_n)``.

    Parameters
    ----------
    base_n : int
        Where the walk starts; every target is ``>= base_n``.
    base_value : gmpy2.mpz or None
        ``base_n!`` if already known.
    targets : sequence of int
        Ascending distinct values whose factorials are wanted.

    Returns
    -------
    list of gmpy2.mpz
        ``[t! for t in targets]``.
    """
    current = gmpy2.fac(base_n) if base_value is None else base_value
    previous = base_n
    results = []
    for target in targets:
        if target != previous:
            current = current * range_product(previous, target)
            previous = target
        results.append(current)
    return results


# Decimal conversion (see compute.decimal_conversion). A split's result is a
# (quotient, remainder) pair, and its children take the pair and a side.


@releasing_gil
def split_decimal(pair: tuple[mpz, ...], side: int, power: mpz) -> tuple[mpz, mpz]:
    """``divmod(pair[side], power)`` (both non-negative here).

    The builtin ``divmod`` releases the GIL when gmpy2 may; ``gmpy2.t_divmod``
    holds it throughout (measured: 5.8 s at 3e7!), which would stall a
    worker's event loop and this process's Ctrl-C.
    """
    return divmod(pair[side], power)


def decimal_digits(pair: tuple[mpz, ...], side: int, width: int | None) -> str:
    """The decimal digits of ``pair[side]``, zero-padded to ``width`` if given."""
    text = pair[side].digits(10)
    return text if width is None else text.zfill(width)
