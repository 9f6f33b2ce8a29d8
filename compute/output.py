"""Describing big results without converting them whole to decimal.

Converting ``10**8!`` (756 million digits) to a string is a long
single-threaded job; the digit count and the leading digits of a value come
from a high-precision logarithm instead. The summary line of ``n!`` needs
no value at all (:mod:`compute.factorial_digits`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import gmpy2
from gmpy2 import mpz

from compute.factorial_digits import (
    factorial_digit_count,
    factorial_last_nonzero_digits,
    factorial_leading_digits,
    factorial_trailing_zeros,
)
from compute.validate import as_mpz, shown_integer

# Bits of precision for log10: far more than needed to place the decimal
# point of any integer that fits in memory, with room to spare for a guard.
_PRECISION = 256
_GUARD = gmpy2.mpfr(2) ** -200
# Below this many bits a plain conversion is cheaper than anything clever.
_SMALL_BITS = 1 << 16
# The last non-zero digits of n! cost 0.21 s at n = 10**130, 3 s at 10**150
# and 40 s at 10**300; the summary line leaves them out from here on.
_LAST_DIGITS_BELOW = 10**130


def _context() -> gmpy2.context:
    return gmpy2.context(precision=_PRECISION)


def log10_scaled(top: mpz, shift: int = 0) -> gmpy2.mpfr:
    """``log10(top * 2**shift)`` to 256 bits, for ``top`` of any size.

    Only the top bits go through mpfr, whose exponents overflow above 2**30
    bits; the rest is a shift, added back as ``shift * log10(2)``.
    """
    extra = max(0, top.bit_length() - 2 * _PRECISION)
    with _context():
        scaled = gmpy2.log10(gmpy2.mpfr(top >> extra))
        return scaled + (shift + extra) * gmpy2.log10(2)


def leading_of_log10(logarithm: gmpy2.mpfr, digits: int, count: int) -> int | None:
    """The first ``count`` digits of a ``digits``-digit value of that ``log10``,
    or None when it lies within rounding of a digit boundary."""
    with _context():
        scaled = gmpy2.exp10(logarithm - (digits - count))
        leading = gmpy2.floor(scaled)
        if scaled - leading > _GUARD and leading + 1 - scaled > _GUARD:
            return int(leading)
    return None


def digit_count(value: int) -> int:
    """Exact number of decimal digits of ``abs(value)`` (1 for 0).

    Parameters
    ----------
    value : int or gmpy2.mpz
        Any integer.

    Returns
    -------
    int
        The digit count, exact, computed from a logarithm without
        converting the value (an exact comparison settles the rare value
        within rounding of a power of ten).

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``5.5``, ``"12"`` ...).

    Examples
    --------
    >>> digit_count(gmpy2.mpz(10**20 - 1)), digit_count(gmpy2.mpz(10**20))
    (20, 21)
    """
    magnitude = abs(as_mpz(value))
    if magnitude.bit_length() <= _SMALL_BITS:
        return len(magnitude.digits(10))
    logarithm = log10_scaled(magnitude)
    floor = int(gmpy2.floor(logarithm))
    # Only a value within rounding of a power of ten needs an exact check.
    if logarithm - floor < _GUARD or gmpy2.ceil(logarithm) - logarithm < _GUARD:
        above = magnitude >= mpz(10) ** (floor + 1)
        below = magnitude < mpz(10) ** floor
        return floor + 1 + above - below
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
    leading = leading_of_log10(log10_scaled(value), digits, count)
    if leading is not None:
        return str(leading)
    return (value // mpz(10) ** (digits - count)).digits(10)  # at a digit boundary


def hex_text(blocks: Iterable[bytes | memoryview]) -> Iterator[bytes]:
    """The ``hex`` file format of a non-negative value given as big-endian
    blocks, top first: lowercase digits without leading zeros ("0" for
    none), then a newline."""
    leading = True
    for block in blocks:
        text = block.hex().encode()
        if leading:
            text = text.lstrip(b"0")
            leading = not text
        if text:
            yield text
    if leading:
        yield b"0"
    yield b"\n"


def _plural(count: int, noun: str) -> str:
    return f"{shown_integer(count)} {noun}{'' if count == 1 else 's'}"


def describe_factorial(n: int, seconds: float | None = None, width: int = 12) -> str:
    """One line about ``n!``, from ``n`` alone: its digits, zeros, and a time.

    Values of up to ``3 * width`` digits are shown whole. Larger ones show
    the leading ``width`` digits, the last ``width`` digits before the
    trailing zeros (for n below 10**130), and the number of trailing zeros.

    Examples
    --------
    >>> describe_factorial(5)
    '5! = 120 (3 digits)'
    >>> describe_factorial(100, 0.25, width=6)
    '100! has 158 digits: 933262...916864 followed by 24 zeros (250.0 ms)'
    """
    timing = "" if seconds is None else f" ({seconds * 1000:.1f} ms)"
    digits = factorial_digit_count(n)
    if digits <= 3 * width:
        return f"{n}! = {gmpy2.fac(n)} ({_plural(digits, 'digit')}){timing}"
    zeros = factorial_trailing_zeros(n)
    if digits - zeros <= 2 * width:
        shown = gmpy2.fac(n).digits(10)[: digits - zeros]
    else:
        leading = factorial_leading_digits(n, width)
        last = factorial_last_nonzero_digits(n, width) if n < _LAST_DIGITS_BELOW else ""
        shown = f"{leading}...{last}"
    return (
        f"{shown_integer(n)}! has {shown_integer(digits)} digits: {shown} followed "
        f"by {_plural(zeros, 'zero')}{timing}"
    )


def describe_value(label: str, value: mpz, width: int = 12) -> str:
    """One line about a computed value: its digits, first and last ones.

    Examples
    --------
    >>> describe_value("binomial(10, 3)", gmpy2.mpz(120))
    'binomial(10, 3) = 120 (3 digits)'
    >>> describe_value("x", gmpy2.mpz(7) ** 50, width=4)
    'x has 43 digits: 1798...1249'
    """
    digits = digit_count(value)
    if digits <= 3 * width:
        return f"{label} = {value} ({_plural(digits, 'digit')})"
    last = (abs(mpz(value)) % mpz(10) ** width).digits(10).zfill(width)
    return f"{label} has {digits} digits: {leading_digits(value, width)}...{last}"
