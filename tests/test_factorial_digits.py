"""Decimal facts about n! from formulas, checked against gmpy2's own digits."""

from __future__ import annotations

import gmpy2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compute.factorial_digits import (
    factorial_digit_count,
    factorial_last_nonzero_digits,
    factorial_leading_digits,
    factorial_trailing_zeros,
)
from compute.output import describe_factorial


def check_against_gmpy2(n: int, width: int = 12) -> None:
    digits = gmpy2.fac(n).digits(10)
    significant = digits.rstrip("0")
    assert factorial_digit_count(n) == len(digits)
    assert factorial_trailing_zeros(n) == len(digits) - len(significant)
    assert factorial_leading_digits(n, width) == digits[:width]
    if len(significant) >= width:
        assert factorial_last_nonzero_digits(n, width) == significant[-width:]


@pytest.mark.parametrize("n", [*range(0, 40), *range(990, 1010), 4096, 65536])
def test_small_and_threshold_values(n):
    check_against_gmpy2(n)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1000, max_value=200_000), st.integers(1, 16))
def test_random_values_and_widths(n, width):
    check_against_gmpy2(n, width)


@pytest.mark.parametrize("n", [10**6, 1_234_567])
def test_large_values(n):
    check_against_gmpy2(n)


@pytest.mark.parametrize(
    ("n", "digits", "zeros", "leading"),
    [
        # Published sizes (ANCHORS.md): digit counts, trailing zeros, and
        # 10**9! = 9.9046265792...e8565705522.
        (10**8, 756_570_557, 24_999_999, None),
        (10**9, 8_565_705_523, 249_999_998, "99046265792"),
        (10**10, 95_657_055_187, 2_499_999_997, None),
    ],
)
def test_published_sizes_of_huge_factorials(n, digits, zeros, leading):
    assert factorial_digit_count(n) == digits
    assert factorial_trailing_zeros(n) == zeros
    if leading:
        assert factorial_leading_digits(n, len(leading)) == leading
    assert len(factorial_last_nonzero_digits(n, 12)) == 12
    assert factorial_last_nonzero_digits(n, 12)[-1] != "0"


def _reduced(values: np.ndarray, modulus: int) -> np.ndarray:
    divisor = np.uint64(modulus)
    return values - values // divisor * divisor  # numpy's // by a scalar is fast


def _units_product(m: int, modulus: int, block: int = 1 << 22) -> int:
    """Product of the integers 1..m that 5 does not divide, mod ``modulus``, by
    numpy: each block of them multiplied pairwise down to one residue."""
    result = 1
    offsets = np.arange(1, 5, dtype=np.uint64)
    for start in range(0, m // 5 + 1, block):
        fives = np.arange(start, min(start + block, m // 5 + 1), dtype=np.uint64) * 5
        values = (fives[:, None] + offsets).ravel()
        values = _reduced(values[values <= m], modulus)
        while len(values) > 1:
            if len(values) % 2:
                result = result * int(values[-1]) % modulus
                values = values[:-1]
            values = _reduced(values[0::2] * values[1::2], modulus)
        if len(values):
            result = result * int(values[0]) % modulus
    return result


def last_nonzero_digits_by_units(n: int, count: int) -> str:
    """The last ``count`` non-zero digits of ``n!``, by a method the package
    does not use: ``n! / 5**z`` mod ``5**count`` as the product, over the
    levels ``m = n, n//5, n//25, ...``, of the units among ``1..m``, where a
    whole period of ``5**count`` multiplies to -1 (Gauss's generalisation of
    Wilson's theorem) and the rest is multiplied out in numpy. The value is 0
    mod ``2**count`` for n >= 100 (far more twos than fives), which fixes it mod
    ``10**count``.
    """
    modulus = 5**count
    zeros = sum(n // 5**i for i in range(1, n.bit_length()))
    residue, m = 1, n
    while m:
        periods, rest = divmod(m, modulus)
        residue = residue * (-1) ** periods * _units_product(rest, modulus) % modulus
        m //= 5
    residue = residue * pow(2, -zeros, modulus) % modulus
    two = 2**count
    return str(residue * pow(two, -1, modulus) % modulus * two).zfill(count)


@pytest.mark.parametrize("n", [100, 1000, 12345, 10**6 + 3])
def test_the_independent_last_digits_agree_with_gmpy2(n):
    significant = gmpy2.fac(n).digits().rstrip("0")
    assert last_nonzero_digits_by_units(n, 12) == significant[-12:].zfill(12)


@pytest.mark.parametrize(
    ("n", "count"),
    # 12 digits of 1e8! take 2 s in numpy; the last 10 of larger n, 0.3 s each.
    [(10**8, 12), (10**9, 10), (10**10, 10)],
)
def test_the_last_nonzero_digits_of_huge_factorials(n, count):
    expected = last_nonzero_digits_by_units(n, count)
    assert factorial_last_nonzero_digits(n, 12)[-count:] == expected


def test_the_summary_leaves_out_the_last_digits_from_n_10_to_the_130():
    below, at = describe_factorial(10**130 - 1), describe_factorial(10**130)
    last = factorial_last_nonzero_digits(10**130 - 1, 12)
    assert f"{factorial_leading_digits(10**130 - 1, 12)}...{last} followed by" in below
    assert f"{factorial_leading_digits(10**130, 12)}... followed by" in at
    assert at.startswith("100000000000000000...000000000000000000 (131 digits)! has ")
