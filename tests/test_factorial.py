"""Results on a real LocalCluster equal gmpy2.fac exactly."""

from __future__ import annotations

import dask.config
import gmpy2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compute
from tests.test_plan import smallest_split_n

SPLIT_N = smallest_split_n()


@pytest.mark.parametrize("n", [0, 1, 2, 20, 21, 63, 64, SPLIT_N - 1, SPLIT_N])
def test_single_values_including_both_sides_of_the_split(where, n):
    assert compute.factorial(n, **where) == gmpy2.fac(n)


@pytest.mark.parametrize("n", [3 * 10**6, 3 * 10**6 + 1, 2**22])
def test_large_values_through_the_split_graph(where, n):
    result = compute.factorial(n, **where)
    assert type(result) is gmpy2.mpz
    assert result == gmpy2.fac(n)


def test_a_split_into_more_pieces_than_workers(where):
    with dask.config.set({"compute.task-seconds": 0.05}):
        assert compute.factorial(2 * 10**6 + 7, **where) == gmpy2.fac(2 * 10**6 + 7)


def test_a_large_n_with_close_neighbours_shares_the_work(where):
    ns = [SPLIT_N + 5, SPLIT_N + 2, SPLIT_N + 900, SPLIT_N + 2]
    assert compute.factorial_many(ns, **where) == [gmpy2.fac(n) for n in ns]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.integers(min_value=0, max_value=20_000), max_size=40))
def test_random_batches_in_input_order(client, ns):
    expected = [gmpy2.fac(n) for n in ns]
    assert compute.factorial_many(ns, client=client) == expected
    with dask.config.set({"compute.execution": "in-process"}):
        assert compute.factorial_many(ns) == expected


def test_duplicates_and_order_are_kept(where):
    ns = [7854, 5310, 0, 5263, 5310, 1, 7854, 1]
    results = compute.factorial_many(ns, **where)
    assert results == [gmpy2.fac(n) for n in ns]
    assert all(type(value) is gmpy2.mpz for value in results)


def test_a_thousand_values_cut_into_several_walks(where):
    ns = np.random.default_rng(0).integers(10**4, 10**5, size=1000)
    assert compute.factorial_many(ns, **where) == [gmpy2.fac(int(n)) for n in ns]


def test_numpy_integers_and_arrays(where):
    assert compute.factorial(np.int64(25), **where) == gmpy2.fac(25)
    ns = np.array([3, 30, 300], dtype=np.uint32)
    assert compute.factorial_many(ns, **where) == [
        gmpy2.fac(3),
        gmpy2.fac(30),
        gmpy2.fac(300),
    ]
    assert compute.factorial_many([np.int8(5), True, gmpy2.mpz(9)], **where) == [
        120,
        1,
        362880,
    ]


def test_empty_input_gives_an_empty_list(client, graphs_submitted):
    before = graphs_submitted()
    assert compute.factorial_many([], client=client) == []
    assert compute.factorial_many(iter(()), client=client) == []
    assert graphs_submitted() == before


def test_the_current_client_is_used_when_none_is_given(client, graphs_submitted):
    before = graphs_submitted()
    with client.as_current():
        assert compute.factorial_many([10, 11]) == [gmpy2.fac(10), gmpy2.fac(11)]
    assert graphs_submitted() == before + 1
