"""The pieces of a split product: its odd primes' powers, or a share of a range."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import numpy as np
from gmpy2 import mpz

from compute.kernels.dealing import (
    dealing,
    piece_prime_chunks,
    shared_exponents,
    shared_primes,
)
from compute.kernels.modular import (
    CHECK_MODULUS,
    power_product_mod,
    range_product_mod,
)
from compute.kernels.product_tree import add_parts_by_bit, horner, range_product
from compute.kernels.sieve import prime_exponents
from compute.kernels.threads import releasing_gil


@releasing_gil
def prime_piece(
    limit: int,
    terms: Sequence[tuple[int, int]] | None,
    piece: int,
    pieces: int,
    blocks_per_piece: int,
    residues: list[tuple[tuple[int, int], float]] | None = None,
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
    residues : list, optional
        If given, the piece's ``(root, odd)`` residues modulo
        :data:`CHECK_MODULUS` (see :func:`piece_parts_by_bit`) are appended,
        with the seconds they took: the piece's check.

    Returns
    -------
    gmpy2.mpz
        The product of ``p**e_p`` over this piece's odd primes
        (:func:`piece_primes`).
    """
    return horner(
        piece_parts_by_bit(limit, terms, piece, pieces, blocks_per_piece, residues)
    )


def piece_prime_powers(
    limit: int,
    terms: Sequence[tuple[int, int]] | None,
    piece: int,
    pieces: int,
    blocks_per_piece: int,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A piece's primes and their exponents, a sieve chunk at a time: its share
    of the shared primes first, then its dealt primes."""
    _, dealt_limit = dealing(limit, pieces, blocks_per_piece)
    shared, exponents = shared_primes(terms, pieces, dealt_limit)
    share = shared_exponents(exponents, piece, pieces)
    yield shared[share > 0], share[share > 0]
    for primes in piece_prime_chunks(limit, piece, pieces, blocks_per_piece, terms):
        yield primes, prime_exponents(primes, terms)


def piece_parts_by_bit(
    limit: int,
    terms: Sequence[tuple[int, int]] | None,
    piece: int,
    pieces: int,
    blocks_per_piece: int,
    residues: list[tuple[tuple[int, int], float]] | None = None,
) -> dict[int, list[mpz]]:
    """A piece's products of primes by exponent bit (see :func:`add_parts_by_bit`).

    With ``residues`` (a list), the piece's root and odd part (exponents
    ``e // 2`` and ``e % 2``) modulo :data:`CHECK_MODULUS`, computed from the
    same primes by numpy, are appended to it with the seconds they took: the
    piece's check, and its cost.
    """
    parts_by_bit: dict[int, list[mpz]] = {}
    root, odd, seconds = 1, 1, 0.0
    for primes, exponents in piece_prime_powers(
        limit, terms, piece, pieces, blocks_per_piece
    ):
        add_parts_by_bit(parts_by_bit, primes, exponents)
        if residues is not None:
            start = time.perf_counter()
            root = root * power_product_mod(primes, exponents >> 1, CHECK_MODULUS)
            odd = odd * power_product_mod(primes, exponents & 1, CHECK_MODULUS)
            root, odd = root % CHECK_MODULUS, odd % CHECK_MODULUS
            seconds += time.perf_counter() - start
    if residues is not None:
        residues.append(((root, odd), seconds))
    return parts_by_bit


@releasing_gil
def range_piece(
    low: int,
    high: int,
    piece: int,
    pieces: int,
    residues: list[tuple[int, float]] | None = None,
) -> mpz:
    """Piece ``piece`` of ``pieces`` contiguous parts of ``(low+1)...high``.

    With ``residues`` (a list), the piece's residue modulo
    :data:`CHECK_MODULUS`, from its integers by numpy, is appended to it with
    the seconds it took.
    """
    bounds = [low + (high - low) * i // pieces for i in range(pieces + 1)]
    if residues is not None:
        start = time.perf_counter()
        found = range_product_mod(bounds[piece], bounds[piece + 1], CHECK_MODULUS)
        residues.append((found, time.perf_counter() - start))
    return range_product(bounds[piece], bounds[piece + 1])
