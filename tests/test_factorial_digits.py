"""Decimal facts about n! from formulas, checked against gmpy2's own digits."""

from __future__ import annotations

import gmpy2
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


def test_the_summary_leaves_out_the_last_digits_from_n_10_to_the_130():
    below, at = describe_factorial(10**130 - 1), describe_factorial(10**130)
    last = factorial_last_nonzero_digits(10**130 - 1, 12)
    assert f"{factorial_leading_digits(10**130 - 1, 12)}...{last} followed by" in below
    assert f"{factorial_leading_digits(10**130, 12)}... followed by" in at
    assert at.startswith("100000000000000000...000000000000000000 (131 digits)! has ")
