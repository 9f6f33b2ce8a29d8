"""Properties of planning and graph building up to n = 1e9, computing nothing big."""

from __future__ import annotations

import gmpy2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compute
from compute.config import setting
from compute.cost import factorial_seconds
from compute.graph import batch_graph
from compute.kernels.dealing import (
    dealing,
    piece_primes,
    shared_exponents,
    shared_primes,
)
from compute.kernels.sieve import legendre_exponents, small_primes
from compute.plan import Split, plan_batch, split_for
from compute.products import factorial_product
from tests.test_plan import smallest_split_n

batches = st.lists(st.integers(0, 10**9), min_size=1, max_size=40).map(
    lambda ns: sorted(set(ns))
)


def check_split_rule(n: int, split: Split | None, threads: int) -> None:
    """The documented rule, not the planner's code: n! is split when gmpy2.fac
    would take longer than compute.split-seconds (and n is at least 64); the
    pieces are at least two, one or more rounds of ``threads``, and none
    longer than compute.task-seconds unless the split is lean (one piece per
    thread, for memory). On one thread, a split that is neither lean nor
    longer than compute.task-seconds is one gmpy2.fac task instead."""
    seconds = factorial_seconds(n)
    costly = seconds > setting("split-seconds") and n >= 64
    if threads == 1 and costly and split is None:
        assert seconds <= setting("task-seconds")
        return
    assert (split is not None) == costly
    if split is None:
        return
    if threads == 1:
        assert split.lean or seconds > setting("task-seconds")
    assert split.product == factorial_product(n)
    if split.lean:
        assert split.pieces == threads
    else:
        assert split.pieces >= 2 and split.pieces % threads == 0
        assert seconds / split.pieces <= setting("task-seconds")
        if split.pieces > max(2, threads):  # the fewest such pieces
            assert seconds / (split.pieces - threads) > setting("task-seconds")


@settings(max_examples=150, deadline=None)
@given(batches, st.integers(1, 8))
def test_every_n_is_planned_once_and_found_in_the_graph(ns, threads):
    walks = plan_batch(ns, threads)
    planned = [n for walk in walks for n in walk.targets]
    assert planned == ns
    outputs, located = batch_graph(walks)
    assert sorted(located) == ns
    assert all(0 <= spot.output < len(outputs) for spot in located.values())
    keys = [str(key) for output in outputs for key in output.__dask_graph__()]
    for walk in walks:
        check_split_rule(walk.start, walk.split, threads)
        if walk.split is not None:
            prefix = f"prime-power-product-{walk.start}-"
            pieces = {key for key in keys if key.startswith(prefix)}
            assert len(pieces) == walk.split.pieces


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 3 * 10**6), st.integers(1, 16), st.sampled_from([1, 8, 32]))
def test_the_pieces_take_every_odd_prime_exactly_once(n, pieces, blocks):
    """Each odd prime is dealt to one piece, or shared by all to its full exponent."""
    shared, exponents = shared_primes(((n, 1),), pieces, dealing(n, pieces, blocks)[1])
    taken = np.concatenate(
        [piece_primes(n, piece, pieces, blocks, ((n, 1),)) for piece in range(pieces)]
        + [shared]
    )
    assert np.array_equal(np.sort(taken), small_primes(n)[1:])
    shares = sum(shared_exponents(exponents, piece, pieces) for piece in range(pieces))
    assert np.array_equal(shares, legendre_exponents(shared, n))


def bits_per_piece(n: int, pieces: int) -> list[float]:
    shared, exponents = shared_primes(((n, 1),), pieces, dealing(n, pieces, 32)[1])
    weights = []
    for piece in range(pieces):
        primes = piece_primes(n, piece, pieces, 32, ((n, 1),))
        exponents_here = legendre_exponents(primes, n)
        share = shared_exponents(exponents, piece, pieces)
        weights.append(
            float((exponents_here * np.log2(primes.astype(float))).sum())
            + float((share * np.log2(shared.astype(float))).sum())
        )
    return weights


@settings(max_examples=20, deadline=None)
@given(st.integers(10**5, 3 * 10**6), st.sampled_from([2, 3, 4]))
def test_the_pieces_planned_for_a_few_threads_are_balanced(n, pieces):
    weights = bits_per_piece(n, pieces)
    assert max(weights) / min(weights) < 1.15, weights


def test_one_n_on_each_side_of_the_split_threshold_is_exact():
    first = smallest_split_n()
    assert split_for(first - 1, 2) is None and split_for(first, 2) is not None
    for n in (first - 1, first):
        assert compute.factorial(n, client=None) == gmpy2.fac(n)


@pytest.mark.parametrize("pieces", [16, 64, 256])
def test_the_pieces_planned_for_many_threads_are_balanced(pieces):
    """Dealt whole, 3 alone would outweigh a piece of 64 (3.3x the mean piece)."""
    weights = bits_per_piece(2 * 10**6, pieces)
    assert max(weights) / (sum(weights) / pieces) < 1.15, max(weights)
