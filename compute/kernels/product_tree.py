"""Exact products of many small factors: packed into words, multiplied by a
balanced tree, and prime powers by Horner's rule over the exponent bits."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
from gmpy2 import mpz

from compute.kernels.threads import releasing_gil

# Values below each bound are packed this many to a 64-bit word before any
# big-integer multiplication: k values of b bits fit when k * b <= 64.
_PACKING = ((1 << 16, 4), (1 << 21, 3), (1 << 32, 2))


# Packed words are first multiplied this many at a time as Python ints (a C loop
# in math.prod), which is much cheaper than one gmpy2 call per word.
_LEAF_WORDS = 32


_Item = TypeVar("_Item")


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
    add_parts_by_bit(parts_by_bit, primes, exponents)
    return horner(parts_by_bit)


def add_parts_by_bit(
    parts_by_bit: dict[int, list[mpz]], primes: np.ndarray, exponents: np.ndarray
) -> None:
    """Append to ``parts_by_bit[j]`` the product of the primes whose e_p has bit j.

    A piece calls this once per array of primes as it sieves them, so the
    GIL-bound packing and leaf products alternate with multiplications that
    release the GIL, and two pieces in two threads rarely wait for each other
    (primorial(1e8), 2 pieces in 2 threads: about 10% faster than packing
    all primes first).
    """
    if len(primes) == 0:
        return
    for bit in range(int(exponents.max()).bit_length()):
        chosen = primes[((exponents >> bit) & 1) == 1]
        if chosen.size:
            parts_by_bit.setdefault(bit, []).append(product_of_values(chosen))


def horner(parts_by_bit: dict[int, list[mpz]]) -> mpz:
    """``prod(P_j ** 2**j)`` with ``P_j`` the product of ``parts_by_bit[j]``."""
    result = mpz(1)
    for bit in range(max(parts_by_bit, default=-1), -1, -1):
        factor = product_tree(parts_by_bit.pop(bit, []))
        # r*r*P as r*(r*P) while P is small next to r: two near-balanced
        # products cost less than a square followed by a very unbalanced
        # multiplication. A large P (the primes of exponent 1 in a binomial)
        # goes last, after the square (binomial(2e8, 1e8): 13% faster).
        if 2 * factor.bit_length() > result.bit_length():
            result = (result * result) * factor
        else:
            result = result * (result * factor)
    return result
