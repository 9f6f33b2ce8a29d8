"""The pieces of a split product: its odd primes' powers, or a share of a range."""

from __future__ import annotations

from collections.abc import Sequence

from gmpy2 import mpz

from compute.kernels.dealing import (
    dealing,
    piece_prime_chunks,
    shared_exponents,
    shared_primes,
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
    return horner(piece_parts_by_bit(limit, terms, piece, pieces, blocks_per_piece))


def piece_parts_by_bit(
    limit: int,
    terms: Sequence[tuple[int, int]] | None,
    piece: int,
    pieces: int,
    blocks_per_piece: int,
) -> dict[int, list[mpz]]:
    """A piece's products of primes by exponent bit (see :func:`add_parts_by_bit`)."""
    parts_by_bit: dict[int, list[mpz]] = {}
    _, dealt_limit = dealing(limit, pieces, blocks_per_piece)
    shared, exponents = shared_primes(terms, pieces, dealt_limit)
    share = shared_exponents(exponents, piece, pieces)
    add_parts_by_bit(parts_by_bit, shared[share > 0], share[share > 0])
    for primes in piece_prime_chunks(limit, piece, pieces, blocks_per_piece, terms):
        add_parts_by_bit(parts_by_bit, primes, prime_exponents(primes, terms))
    return parts_by_bit


@releasing_gil
def range_piece(low: int, high: int, piece: int, pieces: int) -> mpz:
    """Piece ``piece`` of ``pieces`` contiguous parts of ``(low+1)...high``."""
    bounds = [low + (high - low) * i // pieces for i in range(pieces + 1)]
    return range_product(bounds[piece], bounds[piece + 1])
