"""Dealing the odd primes of a product to its pieces, evenly by weight, and
each piece's estimated bits before any is computed."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from compute.kernels.sieve import prime_exponents, primes_in_range, small_primes

# Primes are handled this many at a time (see piece_prime_chunks).
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
    chunks = list(piece_prime_chunks(n, piece, pieces, blocks_per_piece, terms))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint64)


def piece_prime_chunks(
    n: int,
    piece: int,
    pieces: int,
    blocks_per_piece: int,
    terms: Sequence[tuple[int, int]] | None,
) -> Iterator[np.ndarray]:
    """:func:`piece_primes` in ascending arrays of at most ``_CHUNK`` primes.

    Small arrays are reused from the heap; arrays of millions of primes are
    fresh pages each time, and their page faults serialise the threads of a
    process (binomial(2e8, 1e8), 2 pieces: 12% faster in small arrays).
    """
    block_size, dealt_limit = dealing(n, pieces, blocks_per_piece)
    small = small_primes(dealt_limit)[1:]  # 2 becomes a shift
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
    primes = small_primes(min(dealt_limit, _SHARED_SCAN))[1:]
    exponents = prime_exponents(primes, terms)
    weights = exponents * np.log2(primes.astype(np.float64))
    heavy = weights > _SHARED_WEIGHT * total_bits / pieces
    return primes[heavy], exponents[heavy]


def shared_exponents(exponents: np.ndarray, piece: int, pieces: int) -> np.ndarray:
    """Piece ``piece``'s share of each shared prime's exponent."""
    return exponents // pieces + (piece < exponents % pieces)


def dealing(n: int, pieces: int, blocks_per_piece: int) -> tuple[int, int]:
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
    return (highs - lows) * _sampled_exponents(lows, highs, terms, 32).mean(axis=1)


def _sampled_exponents(
    lows: np.ndarray,
    highs: np.ndarray,
    terms: Sequence[tuple[int, int]] | None,
    count: int,
) -> np.ndarray:
    """The exponent ``sum(c * (m // p))`` at ``count`` points evenly across
    each ``[low, high)`` above ``isqrt(n)`` (1 everywhere for ``terms=None``):
    one row per range."""
    samples = lows[:, None] + (highs - lows)[:, None] * (np.arange(count) + 0.5) / count
    if terms is None:
        return np.ones_like(samples)
    return sum((c * np.floor(m / samples) for m, c in terms), np.zeros_like(samples))


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
    block_size, dealt_limit = dealing(n, pieces, blocks_per_piece)
    exact_limit = min(n, max(math.isqrt(n), _EXACT_WEIGHT_LIMIT))
    primes = small_primes(exact_limit)[1:]
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


def odd_part_bits(
    n: int, pieces: int, blocks_per_piece: int, terms: Sequence[tuple[int, int]]
) -> float:
    """Estimated bits of the odd parts of :func:`square_form_piece`'s
    ``pieces`` forms together: the product of the odd primes ``p <= n`` whose
    exponent in ``prod(m! ** c for m, c in terms)`` is odd, and each shared
    prime (:func:`shared_primes`) once for every piece whose share of its
    exponent is odd.

    Exact (to a bit) for the primes up to ``max(isqrt(n), 2**22)``; above,
    primes have density ``1/ln p`` and weigh ``log2 p`` each, so a range
    weighs its length over ``ln 2`` times the share of it where the exponent
    (a step function of p) is odd, sampled across it. For a factorial that is
    about n bits in all (primes in ``(n/2, n]``, ``(n/4, n/3]``, ...), against
    ``n log2(e)`` for every prime.
    """
    exact_limit = min(n, max(math.isqrt(n), _EXACT_WEIGHT_LIMIT))
    primes = small_primes(exact_limit)[1:]
    shared, exponents = shared_primes(
        terms, pieces, dealing(n, pieces, blocks_per_piece)[1]
    )
    odd = (prime_exponents(primes, terms) % 2 == 1) & ~np.isin(primes, shared)
    bits = float(np.log2(primes[odd].astype(np.float64)).sum())
    odd_shares = sum(
        (shared_exponents(exponents, piece, pieces) % 2 for piece in range(pieces)),
        np.zeros(len(shared), dtype=np.int64),
    )
    bits += float((odd_shares * np.log2(shared.astype(np.float64))).sum())
    if n > exact_limit:
        bounds = np.geomspace(exact_limit + 1, n + 1, 1 << 14)
        lows, highs = bounds[:-1], bounds[1:]
        exponents = _sampled_exponents(lows, highs, terms, 64)
        share = (exponents % 2 == 1).mean(axis=1)
        bits += float(((highs - lows) * share).sum()) / math.log(2)
    return bits


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
