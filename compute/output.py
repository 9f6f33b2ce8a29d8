"""Describing big results without converting them whole to decimal.

Converting ``10**8!`` (456 million digits) to a string is a long
single-threaded job; the digit count and the leading digits come from a
high-precision logarithm instead, the trailing zeros of ``n!`` from
Legendre's formula.
"""

from __future__ import annotations

import gmpy2
from gmpy2 import mpz

# Bits of precision for log10: far more than needed to place the decimal
# point of any integer that fits in memory, with room to spare for a guard.
_PRECISION = 256
_GUARD = gmpy2.mpfr(2) ** -200
# Below this many bits a plain conversion is cheaper than anything clever.
_SMALL_BITS = 1 << 16


def _context() -> gmpy2.context:
    return gmpy2.context(precision=_PRECISION)


def _log10(value: mpz) -> gmpy2.mpfr:
    # Only the top bits go through mpfr, whose exponents overflow above
    # 2**30 bits; the rest is a shift, added back as shift * log10(2).
    shift = max(0, value.bit_length() - 2 * _PRECISION)
    with _context():
        return gmpy2.log10(gmpy2.mpfr(value >> shift)) + shift * gmpy2.log10(2)


def digit_count(value: mpz) -> int:
    """Exact number of decimal digits of ``abs(value)`` (1 for 0).

    Examples
    --------
    >>> digit_count(gmpy2.mpz(10**20 - 1)), digit_count(gmpy2.mpz(10**20))
    (20, 21)
    """
    value = abs(mpz(value))
    if value.bit_length() <= _SMALL_BITS:
        return len(value.digits(10))
    logarithm = _log10(value)
    floor = int(gmpy2.floor(logarithm))
    # Only a value within rounding of a power of ten needs an exact check.
    if logarithm - floor < _GUARD or gmpy2.ceil(logarithm) - logarithm < _GUARD:
        return (
            floor + 1 + (value >= mpz(10) ** (floor + 1)) - (value < mpz(10) ** floor)
        )
    return floor + 1


def leading_digits(value: mpz, count: int) -> str:
    """The first ``count`` decimal digits of ``abs(value)``.

    Examples
    --------
    >>> leading_digits(gmpy2.fac(10**5), 12) == str(gmpy2.fac(10**5))[:12]
    True
    """
    value = abs(mpz(value))
    if value.bit_length() <= _SMALL_BITS:
        return value.digits(10)[:count]
    digits = digit_count(value)
    logarithm = _log10(value)
    with _context():
        scaled = gmpy2.exp10(logarithm - (digits - count))
        leading = gmpy2.floor(scaled)
        exact = scaled - leading > _GUARD and leading + 1 - scaled > _GUARD
    if exact:
        return str(int(leading))
    return (value // mpz(10) ** (digits - count)).digits(10)  # at a digit boundary


def factorial_trailing_zeros(n: int) -> int:
    """Number of trailing decimal zeros of ``n!`` (Legendre's formula for 5)."""
    zeros, power = 0, 5
    while power <= n:
        zeros += n // power
        power *= 5
    return zeros


def describe_factorial(
    n: int, value: mpz, seconds: float | None = None, width: int = 12
) -> str:
    """One line about ``n! == value``: digits, leading digits, zeros, time.

    Examples
    --------
    >>> describe_factorial(25, gmpy2.fac(25), 0.001)
    '25! has 26 digits: 155112100433...330985984 then 6 zeros (1.0 ms)'
    """
    zeros = factorial_trailing_zeros(n)
    if value.bit_length() <= _SMALL_BITS * 64:
        significant = value.digits(10)[: -zeros or None]
        last = f"...{significant[-width:]}"
    else:  # the last non-zero digits would need a division of the whole value
        last = "..."
    timing = "" if seconds is None else f" ({seconds * 1000:.1f} ms)"
    return (
        f"{n}! has {digit_count(value)} digits: {leading_digits(value, width)}"
        f"{last} then {zeros} zeros{timing}"
    )
