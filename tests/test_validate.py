"""Bad input is refused with a clear error before any work is submitted."""

from __future__ import annotations

import re
from fractions import Fraction

import gmpy2
import numpy as np
import pytest

import compute
from compute.admission import check_fits
from compute.cost import factorial_bits
from compute.validate import as_count, as_counts, shown_integer


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5.0, "n must be an integer, got float 5.0"),
        (np.float64(3.0), "n must be an integer, got float64"),
        ("5", "n must be an integer, got str '5'"),
        (None, "n must be an integer, got NoneType None"),
        (5j, "n must be an integer, got complex 5j"),
        (Fraction(5, 1), "n must be an integer, got Fraction"),
        ([5], "n must be an integer, got list [5]"),
    ],
)
def test_non_integers_are_type_errors(value, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        as_count(value)


@pytest.mark.parametrize("value", [-1, np.int64(-7), gmpy2.mpz(-3), -(10**40)])
def test_negative_values_are_value_errors(value):
    with pytest.raises(
        ValueError,
        match=r"^n = -[\d.]+( \(\d+ digits\))? must be non-negative: factorial ",
    ):
        as_count(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (True, 1),  # as math.factorial(True) == 1
        (False, 0),
        (np.int32(12), 12),
        (np.uint64(2**40), 2**40),
        (gmpy2.mpz(99), 99),
    ],
)
def test_integral_values_are_accepted_as_ints(value, expected):
    count = as_count(value)
    assert count == expected
    assert type(count) is int


@pytest.mark.parametrize(
    ("ns", "error", "message"),
    [
        ("123", TypeError, "ns must be an iterable of integers, got str '123'"),
        (5, TypeError, "ns must be an iterable of integers, got int 5"),
        (None, TypeError, "ns must be an iterable of integers, got NoneType None"),
        ([1, 2.0], TypeError, "n at position 1 must be an integer, got float 2.0"),
        ([[1, 2]], TypeError, "n at position 0 must be an integer, got list [1, 2]"),
        ([3, 4, "5"], TypeError, "n at position 2 must be an integer, got str '5'"),
        ([3, None], TypeError, "n at position 1 must be an integer, got NoneType None"),
        (
            np.array([1.0, 2.0]),
            TypeError,
            "n at position 0 must be an integer, got float64",
        ),
        (
            np.array([[1, 2]]),
            TypeError,
            "n at position 0 must be an integer, got ndarray",
        ),
        ([0, 1, -2], ValueError, "n at position 2 = -2 must be non-negative"),
        (np.array([4, -9]), ValueError, "n at position 1 = -9 must be non-negative"),
    ],
)
def test_bad_batches_name_the_value_and_position(ns, error, message):
    with pytest.raises(error, match=re.escape(message)):
        as_counts(ns)


def test_batches_accept_integer_arrays_and_generators():
    assert as_counts(np.arange(4, dtype=np.int16)) == [0, 1, 2, 3]
    assert as_counts(n * n for n in range(3)) == [0, 1, 4]
    assert as_counts([]) == []


def test_factorial_bits_estimate_matches_real_sizes():
    for n in (2, 20, 1000, 100_000):
        assert abs(factorial_bits(n) - gmpy2.fac(n).bit_length()) <= 1


def test_memory_check_names_the_value_its_size_and_the_limit():
    with pytest.raises(ValueError, match=r"n at position 1 = 10000000000 is too large"):
        check_fits([5, 10**10], worker_bytes=1e9, client_bytes=1e12, where="somewhere")
    with pytest.raises(ValueError, match="more than this process can hold"):
        check_fits(list(range(10**5, 10**5 + 50)), 1e12, client_bytes=1e5, where="x")
    check_fits([10**6], worker_bytes=1e8, client_bytes=1e8, where="x")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: compute.factorial(5.0, client=c), TypeError, "got float 5.0"),
        (lambda c: compute.factorial(-1, client=c), ValueError, "n = -1 must be"),
        (lambda c: compute.factorial(10**12, client=c), ValueError, "is too large"),
        (lambda c: compute.factorial(2**5000, client=c), ValueError, "is too large"),
        (lambda c: compute.factorial_many([1, "x"], client=c), TypeError, "position 1"),
        (lambda c: compute.factorial_many([1, -1], client=c), ValueError, "position 1"),
        (
            lambda c: compute.factorial_many([7, 10**15], client=c),
            ValueError,
            "position 1",
        ),
        (lambda c: compute.factorial_many(7, client=c), TypeError, "got int 7"),
        (
            lambda c: compute.factorial(np.float64(9), client=c),
            TypeError,
            "got float64",
        ),
        (
            lambda c: compute.factorial_many(np.array([3.0, 4.0]), client=c),
            TypeError,
            "n at position 0 must be an integer, got float64",
        ),
        (
            lambda c: compute.factorial_many([5, [6, 7]], client=c),
            TypeError,
            "n at position 1 must be an integer, got list [6, 7]",
        ),
        (lambda c: compute.factorial_many("123", client=c), TypeError, "got str '123'"),
        (lambda c: compute.factorial(None, client=c), TypeError, "got NoneType None"),
        (
            lambda c: compute.factorial_many(
                [1, True, np.int64(4), 2.5, "x"], client=c
            ),
            TypeError,
            "n at position 3 must be an integer, got float 2.5",
        ),
        (
            lambda c: compute.factorial_many([3, 2**64, 10**100], client=c),
            ValueError,
            "n at position 2 = 1000000000",
        ),
    ],
)
def test_nothing_is_submitted_for_bad_input(
    client, graphs_submitted, call, error, message
):
    before = graphs_submitted()
    with pytest.raises(error, match=re.escape(message)):
        call(client)
    assert graphs_submitted() == before


def test_factorial_delayed_validates_too():
    with pytest.raises(TypeError, match=r"got float 2\.5"):
        compute.factorial_delayed(2.5)
    with pytest.raises(ValueError, match="negative"):
        compute.factorial_delayed(-4)
    with pytest.raises(ValueError, match="too large"):
        compute.factorial_delayed(10**13)


def test_in_process_a_factorial_may_be_computed_lean():
    # 10**9! has about 3.56 GB: 8x that does not fit 20 GB, 4x does.
    with pytest.raises(ValueError, match=r"needs about 28\.5 GB to compute"):
        check_fits([10**9], worker_bytes=20e9, client_bytes=20e9, where="here")
    check_fits([10**9], worker_bytes=20e9, client_bytes=20e9, where="here", lean=True)
    with pytest.raises(
        ValueError, match=r"needs about 14\.2 GB to compute, but here offers 10 GB"
    ):
        check_fits([10**9], 10e9, client_bytes=20e9, where="here", lean=True)


def test_integers_in_messages_are_shown_whole_up_to_40_digits():
    assert shown_integer(10**40 - 1) == "9" * 40
    assert shown_integer(-(10**39)) == "-1" + "0" * 39
    assert shown_integer(10**40) == f"1{'0' * 17}...{'0' * 18} (41 digits)"
    # Past Python's 4300-digit limit for str() too.
    assert shown_integer(-(7 * 10**9999)) == f"-7{'0' * 17}...{'0' * 18} (10000 digits)"
