"""Decimal facts about ``n!`` for any n, without computing ``n!``.

- The digit count and the leading digits come from ``log10(n!)``, evaluated
  with MPFR's correctly rounded ``lngamma``. Precision is raised until the
  answer is certain: ``n!`` is never a power of ten for ``n >= 2``, so the
  fractional part is never exactly 0 and the loop ends.
- The trailing zeros come from Legendre's formula for the prime 5.
- The last non-zero digits are ``n! / 10**z mod 10**k``, found modulo ``2**k``
  (zero once ``n!`` has ``k`` more twos than fives) and modulo ``5**k`` by the
  recursion ``n! = 5**(n//5) * (n//5)! * U(n)``, where ``U(n)`` is the product
  of the integers up to ``n`` that 5 does not divide. ``U`` is evaluated by
  blocks of ``5**j`` integers with polynomials truncated to degree ``k``.

So ``compute factorial 10**12 --digits`` answers in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import gmpy2

# Below this n, n! is small enough to compute exactly (under 0.1 ms).
_EXACT_BELOW = 1000
# Working precision, in bits beyond those of log10(n!)'s integer part.
_START_PRECISION = 128
_MAX_PRECISION = 1 << 16


def legendre_exponent(n: int, p: int) -> int:
    """The exponent of the prime ``p`` in ``n!`` (Legendre's formula).

    Examples
    --------
    >>> legendre_exponent(10, 2), legendre_exponent(10, 5)
    (8, 2)
    """
    exponent, power = 0, p
    while power <= n:
        exponent += n // power
        power *= p
    return exponent


def factorial_trailing_zeros(n: int) -> int:
    """Number of trailing decimal zeros of ``n!`` (Legendre's formula for 5).

    Examples
    --------
    >>> factorial_trailing_zeros(10**9)
    249999998
    """
    return legendre_exponent(n, 5)


def _log10_factorial(n: int, precision: int) -> tuple[gmpy2.mpfr, gmpy2.mpfr]:
    """``log10(n!)`` at ``precision`` bits, and a bound on its absolute error."""
    return _log10_ratio(((n, 1),), 0, precision)


def _log10_ratio(
    terms: Sequence[tuple[int, int]], two: int, precision: int
) -> tuple[gmpy2.mpfr, gmpy2.mpfr]:
    """``log10(2**two * prod(m! ** c))`` at ``precision`` bits, and an error bound."""
    with gmpy2.context(precision=precision):
        log10 = gmpy2.log(10)
        logarithm = gmpy2.mpfr(two) * gmpy2.log10(2)
        magnitude = abs(logarithm)
        for m, coefficient in terms:
            term = coefficient * gmpy2.lngamma(m + 1) / log10
            logarithm += term
            magnitude += abs(term)
        # Each lngamma, log, product and sum rounds once: 4 ulps of the
        # largest magnitude per operation is generous.
        operations = 4 * len(terms) + 3
        error = magnitude * gmpy2.mpfr(2) ** (2 - precision) * operations
        error += gmpy2.mpfr(2) ** (-precision)
    return logarithm, error


def ratio_digit_count(terms: Sequence[tuple[int, int]], two: int = 0) -> int | None:
    """Digits of the integer ``2**two * prod(m! ** c)``, or None if undecided.

    None means the logarithm stays within rounding of an integer at every
    precision tried: the value may be a power of ten (``binomial(10, 1)``),
    and only computing it can tell.
    """
    largest = max((m.bit_length() for m, _ in terms), default=1)
    precision = _START_PRECISION + largest + abs(two).bit_length()
    while precision <= _MAX_PRECISION:
        logarithm, error = _log10_ratio(terms, two, precision)
        with gmpy2.context(precision=precision):
            floor = gmpy2.floor(logarithm)
            if error < logarithm - floor < 1 - error:
                return int(floor) + 1
        precision *= 4
    return None


def factorial_digit_count(n: int) -> int:
    """Exact number of decimal digits of ``n!``, for any ``n >= 0``.

    Examples
    --------
    >>> factorial_digit_count(10**9), factorial_digit_count(10**12)
    (8565705523, 11565705518104)
    """
    if n < _EXACT_BELOW:
        return len(gmpy2.fac(n).digits(10))
    # n! is never a power of ten for n >= 2, so the count is always decided.
    count = ratio_digit_count(((n, 1),))
    if count is None:
        raise ArithmeticError(f"log10({n}!) could not be bounded")  # never seen
    return count


def factorial_leading_digits(n: int, count: int) -> str:
    """The first ``count`` decimal digits of ``n!`` (all of them if fewer).

    Examples
    --------
    >>> factorial_leading_digits(10**9, 10)
    '9904626579'
    """
    if n < _EXACT_BELOW:
        return gmpy2.fac(n).digits(10)[:count]
    precision = _START_PRECISION + n.bit_length() + 4 * count
    while precision <= _MAX_PRECISION:
        logarithm, error = _log10_factorial(n, precision)
        with gmpy2.context(precision=precision):
            fraction = logarithm - gmpy2.floor(logarithm)
            scaled = gmpy2.exp10(fraction + count - 1)
            # exp10 scales the error by about scaled * ln(10), plus rounding.
            slack = scaled * (3 * error + gmpy2.mpfr(2) ** (4 - precision))
            leading = gmpy2.floor(scaled)
            if leading + slack < scaled < leading + 1 - slack:
                return str(int(leading))
        precision *= 2
    raise ArithmeticError(f"the leading digits of {n}! could not be bounded")


@lru_cache(maxsize=64)
def _block_polynomial(level: int, modulus: int, degree: int) -> tuple[int, ...]:
    """Coefficients of ``prod(x + i for i < 5**level if i % 5)`` mod ``modulus``.

    Truncated below ``degree``: evaluated at a multiple of 5, the dropped
    terms are multiples of ``5**degree``, which ``modulus`` divides.
    """
    if level == 1:
        return _truncated_product([(1, 1), (2, 1), (3, 1), (4, 1)], modulus, degree)
    below = _block_polynomial(level - 1, modulus, degree)
    span = 5 ** (level - 1)
    result: tuple[int, ...] = (1,)
    for block in range(5):
        shifted = _shift(below, block * span, modulus)
        result = _multiply(result, shifted, modulus, degree)
    return result


def _truncated_product(
    linear: list[tuple[int, int]], modulus: int, degree: int
) -> tuple[int, ...]:
    result: tuple[int, ...] = (1,)
    for constant, slope in linear:
        result = _multiply(result, (constant, slope), modulus, degree)
    return result


def _multiply(
    a: tuple[int, ...], b: tuple[int, ...], modulus: int, degree: int
) -> tuple[int, ...]:
    product = [0] * min(degree, len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b[: len(product) - i]):
            product[i + j] += x * y
    return tuple(c % modulus for c in product)


def _shift(coefficients: tuple[int, ...], offset: int, modulus: int) -> tuple[int, ...]:
    """The polynomial ``p(x + offset)``."""
    shifted = [0] * len(coefficients)
    for power, coefficient in enumerate(coefficients):
        for k in range(power + 1):
            shifted[k] += coefficient * math.comb(power, k) * offset ** (power - k)
    return tuple(c % modulus for c in shifted)


def _evaluate(coefficients: tuple[int, ...], x: int, modulus: int) -> int:
    value = 0
    for coefficient in reversed(coefficients):
        value = (value * x + coefficient) % modulus
    return value


def _units_product(n: int, modulus: int, degree: int) -> int:
    """Product of the integers ``1..n`` that 5 does not divide, mod ``5**degree``.

    The integers ``0..n`` are cut into aligned blocks of ``5**level``, largest
    first; each block starts at a multiple of 5, where its truncated
    polynomial is exact modulo ``modulus``.
    """
    product, start = 1, 0
    remaining = n + 1  # the integers 0..n, from ``start`` on
    top = 0
    while 5 ** (top + 1) <= remaining:
        top += 1
    for level in range(top, 0, -1):
        span = 5**level
        while remaining >= span:
            block = _block_polynomial(level, modulus, degree)
            product = product * _evaluate(block, start, modulus) % modulus
            start += span
            remaining -= span
    for value in range(start, start + remaining):
        if value % 5:
            product = product * value % modulus
    return product


def factorial_last_nonzero_digits(n: int, count: int) -> str:
    """The last ``count`` digits of ``n!`` before its trailing zeros.

    Zero-padded to ``count``: inner zeros are digits of ``n!``. Needs ``n!``
    to have at least ``count`` digits before its trailing zeros.

    Examples
    --------
    >>> factorial_last_nonzero_digits(10**12, 12)
    '260283416576'
    """
    zeros = factorial_trailing_zeros(n)
    if n < _EXACT_BELOW:
        return gmpy2.fac(n).digits(10)[: -zeros or None][-count:]
    modulus = 5**count
    # n! / 5**zeros mod 5**count, by n! = 5**(n//5) * (n//5)! * U(n).
    odd_part, m = 1, n
    while m:
        odd_part = odd_part * _units_product(m, modulus, count) % modulus
        m //= 5
    # n! / 10**zeros = (n! / 5**zeros) / 2**zeros; it is 0 mod 2**count,
    # since n! holds far more twos than fives for n this large.
    mod_five = odd_part * pow(2, -zeros, modulus) % modulus
    twos = 1 << count
    combined = twos * (mod_five * pow(twos, -1, modulus) % modulus)
    return str(combined).zfill(count)
