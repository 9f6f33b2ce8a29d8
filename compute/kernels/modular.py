"""Products of word-size integers modulo a prime below 2**32, by numpy.

No big-integer multiplication is involved, so these residues are an
independent account of a product that GMP computes: a piece's prime powers
(the piece's own check) and ``n!`` (a result's verification).
"""

from __future__ import annotations

import numpy as np

# The largest prime below 2**32: products of two residues fit a uint64.
CHECK_MODULUS = 4294967291


def product_mod(values: np.ndarray, modulus: int, reduced: bool = False) -> int:
    """The product of ``values`` (non-negative, below 2**64; with ``reduced``,
    below ``modulus`` already) modulo ``modulus`` (below 2**32), multiplied
    pairwise down to one residue."""
    divisor = np.uint64(modulus)
    values = np.asarray(values, dtype=np.uint64)
    if not reduced:
        values = values - (values // divisor) * divisor  # // by a scalar is fast
    result = 1
    while len(values) > 1:
        if len(values) % 2:
            result = result * int(values[-1]) % modulus
            values = values[:-1]
        half = len(values) // 2
        values = values[:half] * values[half:]  # below 2**64
        values -= (values // divisor) * divisor
    if len(values):
        result = result * int(values[0]) % modulus
    return result


def power_product_mod(primes: np.ndarray, exponents: np.ndarray, modulus: int) -> int:
    """``prod(p**e)`` modulo ``modulus`` (below 2**32), for exponents >= 0, by
    their bits from the lowest: ``prod(P_j ** 2**j)`` with ``P_j`` the product
    of the primes whose exponent has bit ``j``. Primes whose exponent has no
    higher bit are dropped as it goes: most exponents are small, so each bit
    after the first looks at few primes."""
    primes = np.asarray(primes, dtype=np.uint64)
    exponents = np.asarray(exponents, dtype=np.int64)
    result, bit = 1 % modulus, 0
    while len(primes):
        chosen = primes[(exponents & 1) == 1]
        result = result * pow(product_mod(chosen, modulus), 1 << bit, modulus) % modulus
        exponents = exponents >> 1
        alive = exponents > 0
        primes, exponents = primes[alive], exponents[alive]
        bit += 1
    return result


def range_product_mod(lo: int, hi: int, modulus: int, block: int = 1 << 22) -> int:
    """The product of the integers ``lo < k <= hi`` modulo ``modulus`` (below
    2**32), for integers of any size: each taken modulo ``modulus`` first,
    as consecutive residues."""
    result, start = 1, lo + 1
    while start <= hi and result:
        count = min(block, hi - start + 1)
        offsets = np.arange(count, dtype=np.uint64) + np.uint64(start % modulus)
        result = result * product_mod(offsets, modulus) % modulus
        start += count
    return result
