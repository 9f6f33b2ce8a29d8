"""Binomials, multinomials, primorials, double and falling factorials, exactly."""

from __future__ import annotations

import math

import dask.config
import gmpy2
import pytest
from dask.utils import key_split
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compute
from compute.kernels import PRIME_FORM_LIMIT_PER_BIT
from compute.plan import split_product
from compute.products import (
    binomial_product,
    double_factorial_product,
    falling_factorial_product,
    multinomial_product,
    primorial_product,
)
from tests.expected import falling_value, multinomial_value


def smallest_split(make) -> int:
    """The smallest m for which ``make(m)`` is split on 2 threads."""
    lo, hi = 1, 10**9
    while lo < hi:
        mid = (lo + hi) // 2
        if split_product(make(mid), 2) is not None:
            hi = mid
        else:
            lo = mid + 1
    return lo


SPLIT_BINOMIAL = smallest_split(lambda m: binomial_product(2 * m, m))
SPLIT_PRIMORIAL = smallest_split(primorial_product)
SPLIT_DOUBLE = smallest_split(double_factorial_product)


@pytest.fixture
def cheap_splits():
    """Split values from a few thousand bits, so every form runs in ms."""
    with dask.config.set({"compute.split-seconds": 1e-5}):
        yield


EDGE_PAIRS = [(0, 0), (1, 0), (1, 1), (0, 1), (5, 0), (5, 5), (5, 6), (3, 10), (10, 3)]


@pytest.mark.parametrize(("n", "k"), EDGE_PAIRS)
def test_binomial_and_falling_factorial_edges(n, k):
    assert compute.binomial(n, k) == gmpy2.comb(n, k)
    assert compute.falling_factorial(n, k) == math.perm(n, k)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 10, 11, 100, 101])
def test_primorial_and_double_factorial_edges(n):
    assert compute.primorial(n) == gmpy2.primorial(n)
    assert compute.double_factorial(n) == gmpy2.double_fac(n)


@pytest.mark.parametrize(
    "ks", [[], [0], [5], [0, 0], [2, 1, 1], [3, 0, 4], [1] * 30, [100, 200, 300]]
)
def test_multinomial_edges(ks):
    assert compute.multinomial(ks) == multinomial_value(ks)


@pytest.mark.parametrize("m", [SPLIT_BINOMIAL - 1, SPLIT_BINOMIAL])
def test_binomial_on_both_sides_of_the_split(where, m):
    assert compute.binomial(2 * m, m, **where) == gmpy2.comb(2 * m, m)


@pytest.mark.parametrize("n", [SPLIT_PRIMORIAL - 1, SPLIT_PRIMORIAL])
def test_primorial_on_both_sides_of_the_split(where, n):
    assert compute.primorial(n, **where) == gmpy2.primorial(n)


@pytest.mark.parametrize("n", [SPLIT_DOUBLE - 1, SPLIT_DOUBLE, SPLIT_DOUBLE + 1])
def test_double_factorial_on_both_sides_of_the_split(where, n):
    assert compute.double_factorial(n, **where) == gmpy2.double_fac(n)


def test_large_falling_factorial_and_multinomial(where):
    n, k = 2 * 10**6, 15 * 10**5
    assert split_product(falling_factorial_product(n, k), 2) is not None
    assert compute.falling_factorial(n, k, **where) == falling_value(n, k)
    ks = [6 * 10**5, 5 * 10**5, 4 * 10**5, 7]
    with dask.config.set({"compute.split-seconds": 0.01}):
        assert split_product(multinomial_product(ks), 2) is not None
        assert compute.multinomial(ks, **where) == multinomial_value(ks)


@pytest.mark.parametrize(
    ("n", "k"),
    [
        (10**7, 3000),  # range form: sieving 1e7 for 4e4 bits would not pay
        (10**7, 5 * 10**6),  # prime form
        (10**12, 300),
    ],
)
def test_both_forms_of_split_binomials_and_falling_factorials(cheap_splits, n, k):
    product = binomial_product(n, k)
    split = split_product(product, 2)
    assert split is not None
    prime_form = n <= PRIME_FORM_LIMIT_PER_BIT * product.bits
    assert product.prime_form == prime_form
    assert compute.binomial(n, k) == gmpy2.comb(n, k)
    falling = falling_factorial_product(n, k)
    assert split_product(falling, 2) is not None
    assert falling.prime_form == (n <= PRIME_FORM_LIMIT_PER_BIT * falling.bits)
    if k < 10**5:
        assert compute.falling_factorial(n, k) == math.perm(n, k)


def test_split_multinomial_in_range_form(cheap_splits):
    ks = [10**9, 20, 30]
    assert not multinomial_product(ks).prime_form
    assert compute.multinomial(ks) == multinomial_value(ks)
    assert compute.multinomial(ks) == gmpy2.comb(10**9 + 50, 50) * gmpy2.comb(50, 20)


@pytest.mark.parametrize("k", [255, 256, 257, 1000])
def test_small_binomials_of_a_huge_n_either_side_of_gmp(k):
    # GMP is used up to k = 256 whatever n; above it, a range over k! for huge n.
    n = 10**15 + 37
    assert compute.binomial(n, k) == gmpy2.comb(n, k)
    assert compute.binomial(n, n - k) == gmpy2.comb(n, k)


# More digits than Python's str() takes (4300): the values must neither be
# converted for a key or a message nor be refused when the result is small.
HUGE = 10**5000 + 17


@pytest.mark.parametrize("k", [0, 1, 2, 300, 3000])
def test_binomials_of_an_n_of_thousands_of_digits(k):
    assert compute.binomial(HUGE, k) == gmpy2.comb(HUGE, k)
    assert compute.binomial(HUGE, HUGE - k) == gmpy2.comb(HUGE, k)
    assert binomial_product(HUGE, k).bits == pytest.approx(
        gmpy2.comb(HUGE, k).bit_length(), abs=1
    )


@pytest.mark.parametrize("k", [2, 10_000])
def test_a_ratio_of_factorials_either_side_of_the_float_range(k):
    # (2**1000)! is past floats (1001 bits), (2**1000 - k)! is not: the two
    # are still sized as a ratio, not refused as astronomical.
    n = 2**1000
    assert falling_factorial_product(n, k).bits == pytest.approx(
        math.perm(n, k).bit_length(), abs=1
    )
    assert compute.falling_factorial(n, k) == math.perm(n, k)


def test_other_functions_of_arguments_of_thousands_of_digits():
    assert compute.binomial_many([(HUGE, 2), (5, 2), (HUGE, 1)]) == [
        gmpy2.comb(HUGE, 2),
        10,
        HUGE,
    ]
    assert compute.multinomial([HUGE, 2, 3]) == gmpy2.comb(HUGE + 5, 5) * 10
    assert compute.falling_factorial(HUGE, 50) == math.perm(HUGE, 50)
    # Past numpy's 64-bit words, and across them.
    assert compute.falling_factorial(2**64 + 5, 9) == math.perm(2**64 + 5, 9)
    assert compute.falling_factorial(2**64 + 2, 9) == math.perm(2**64 + 2, 9)


SHOWN_HUGE = "100000000000000000...000000000000000017 (5001 digits)"
SHOWN_HALF = "500000000000000000...000000000000000008 (5000 digits)"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: compute.factorial(HUGE), f"n = {SHOWN_HUGE} is too large"),
        (
            lambda: compute.factorial(-HUGE),
            f"n = -{SHOWN_HUGE} must be non-negative",
        ),
        (lambda: compute.primorial(HUGE), f"primorial({SHOWN_HUGE}) is too large"),
        (
            lambda: compute.binomial(HUGE, HUGE // 2),
            f"binomial({SHOWN_HUGE}, {SHOWN_HALF}) is too large",
        ),
        (
            lambda: compute.double_factorial(HUGE),
            f"double_factorial({SHOWN_HUGE}) is too large",
        ),
    ],
)
def test_values_of_thousands_of_digits_are_named_in_short(call, message):
    with pytest.raises(ValueError) as raised:
        call()
    assert str(raised.value).startswith(message)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(st.integers(0, 5000), st.integers(0, 5000)),
        max_size=30,
    )
)
def test_random_binomial_batches_in_input_order(client, pairs):
    expected = [gmpy2.comb(n, k) for n, k in pairs]
    assert compute.binomial_many(pairs, client=client) == expected
    with dask.config.set({"compute.execution": "in-process"}):
        assert compute.binomial_many(pairs) == expected


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 400), max_size=8))
def test_random_multinomials(ks):
    with dask.config.set({"compute.split-seconds": 1e-6}):
        assert compute.multinomial(ks) == multinomial_value(ks)


def test_empty_batch_and_duplicates(client, graphs_submitted):
    before = graphs_submitted()
    assert compute.binomial_many([], client=client) == []
    assert graphs_submitted() == before
    pairs = [(50, 20), (50, 20), (7, 3), (50, 30)]
    assert compute.binomial_many(iter(pairs), client=client) == [
        gmpy2.comb(n, k) for n, k in pairs
    ]


def stages(graph) -> set[str]:
    return {key_split(key) for key in graph.__dask_graph__()}


def test_delayed_graphs_and_their_stage_names():
    m = SPLIT_BINOMIAL
    cases = [
        (compute.binomial_delayed(2 * m, m), gmpy2.comb(2 * m, m), "binomial-piece"),
        (
            compute.primorial_delayed(SPLIT_PRIMORIAL),
            gmpy2.primorial(SPLIT_PRIMORIAL),
            "primorial-piece",
        ),
        (
            compute.double_factorial_delayed(SPLIT_DOUBLE),
            gmpy2.double_fac(SPLIT_DOUBLE),
            "double-factorial-piece",
        ),
    ]
    for graph, expected, stage in cases:
        assert stages(graph) == {stage, "multiply"}
        assert graph.compute(scheduler="sync") == expected
    assert compute.falling_factorial_delayed(10, 3).compute(scheduler="sync") == 720
    assert compute.multinomial_delayed([2, 2]).compute(scheduler="sync") == 6
    assert stages(compute.binomial_delayed(10, 3)) >= {"binomial"}


def test_range_form_stages(cheap_splits):
    graph = compute.binomial_delayed(10**7, 3000)
    assert stages(graph) == {"binomial-piece", "factorial", "divide"}
    assert graph.compute(scheduler="sync") == gmpy2.comb(10**7, 3000)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: compute.binomial(5.0, 2),
            TypeError,
            "n must be an integer, got float 5.0",
        ),
        (
            lambda: compute.binomial(5, "2"),
            TypeError,
            "k must be an integer, got str '2'",
        ),
        (
            lambda: compute.binomial(None, 2),
            TypeError,
            "n must be an integer, got NoneType",
        ),
        (
            lambda: compute.binomial(-5, 2),
            ValueError,
            "n = -5 must be non-negative: binomial is not defined for negative values",
        ),
        (lambda: compute.binomial(5, -1), ValueError, "k = -1 must be non-negative"),
        (
            lambda: compute.binomial_many([(5, 2), (3, -1)]),
            ValueError,
            "k at position 1 = -1 must be non-negative",
        ),
        (
            lambda: compute.binomial_many([(5, 2), 7]),
            TypeError,
            "pair at position 1 must be a pair of integers (n, k), got int 7",
        ),
        (
            lambda: compute.binomial_many([(5, 2, 1)]),
            TypeError,
            "pair at position 0 must be a pair of integers (n, k), got 3 values",
        ),
        (
            lambda: compute.binomial_many([(5.5, 2)]),
            TypeError,
            "n at position 0 must be an integer, got float 5.5",
        ),
        (
            lambda: compute.binomial_many(5),
            TypeError,
            "pairs must be an iterable of (n, k) pairs, got int 5",
        ),
        (
            lambda: compute.multinomial([1, 2, -3]),
            ValueError,
            "k at position 2 = -3 must be non-negative: multinomial is not defined",
        ),
        (
            lambda: compute.multinomial([1, 2.0]),
            TypeError,
            "k at position 1 must be an integer, got float 2.0",
        ),
        (
            lambda: compute.multinomial(7),
            TypeError,
            "ks must be an iterable of integers",
        ),
        (
            lambda: compute.primorial(-1),
            ValueError,
            "n = -1 must be non-negative: primorial",
        ),
        (
            lambda: compute.primorial(7.0),
            TypeError,
            "n must be an integer, got float 7.0",
        ),
        (
            lambda: compute.double_factorial(-2),
            ValueError,
            "n = -2 must be non-negative: double_factorial",
        ),
        (lambda: compute.double_factorial("9"), TypeError, "n must be an integer"),
        (
            lambda: compute.falling_factorial(4, -1),
            ValueError,
            "k = -1 must be non-negative: falling_factorial",
        ),
        (lambda: compute.falling_factorial(4, None), TypeError, "k must be an integer"),
        (lambda: compute.binomial_delayed(-1, 0), ValueError, "n = -1 must be"),
    ],
)
def test_bad_input_is_refused_by_type_and_message(call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("call", "subject"),
    [
        (
            lambda client: compute.binomial(10**12, 5 * 10**11, client=client),
            "binomial(1000000000000, 500000000000)",
        ),
        (lambda client: compute.primorial(10**12, client=client), "primorial(10**12)"),
        (
            lambda client: compute.binomial_many(
                [(4, 2), (10**11, 10**10)], client=client
            ),
            "binomial(100000000000, 10000000000) at position 1",
        ),
        (
            lambda client: compute.double_factorial(10**11, client=client),
            "double_factorial(100000000000)",
        ),
    ],
)
def test_results_too_large_are_refused_before_any_work(
    client, graphs_submitted, call, subject
):
    before = graphs_submitted()
    with pytest.raises(ValueError) as raised:
        call(client)
    message = str(raised.value)
    assert message.startswith(subject.replace("10**12", str(10**12)))
    assert "is too large: the result has about" in message
    assert graphs_submitted() == before
