"""Planning: every n is planned once, splits and walks follow the cost model."""

from __future__ import annotations

import random

import dask.config
import pytest

from compute.cost import factorial_seconds
from compute.plan import SmallBatch, plan_batch, plan_products, split_for
from compute.products import binomial_product, falling_factorial_product


def smallest_split_n() -> int:
    """The smallest n whose estimated cost exceeds compute.split-seconds."""
    threshold = dask.config.get("compute.split-seconds")
    lo, hi = 1, 10**8
    while lo < hi:
        mid = (lo + hi) // 2
        if factorial_seconds(mid) > threshold:
            hi = mid
        else:
            lo = mid + 1
    return lo


def test_split_threshold_is_where_the_estimate_crosses_it():
    first = smallest_split_n()
    assert split_for(first - 1, threads=2) is None
    split = split_for(first, threads=2)
    assert split is not None
    assert split.pieces == 2


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_pieces_are_a_multiple_of_threads_and_bounded_in_cost(threads):
    task_seconds = dask.config.get("compute.task-seconds")
    for n in (3 * 10**6, 10**7, 5 * 10**7, 10**9):
        split = split_for(n, threads)
        if threads == 1 and factorial_seconds(n) <= task_seconds:
            # One thread gains nothing from pieces: one task, unless lean.
            assert split is None or split.lean, split
            continue
        assert split is not None
        assert split.pieces % threads == 0 or split.pieces == 2
        if split.lean:  # 10**9 in this process: one piece per thread
            assert split.pieces == threads
        else:
            assert factorial_seconds(n) / split.pieces <= task_seconds


def test_pieces_grow_when_the_task_bound_shrinks():
    with dask.config.set({"compute.task-seconds": 0.05}):
        split = split_for(2 * 10**6, threads=2)
    assert split is not None
    assert split.pieces > 2


def all_targets(walks):
    return [n for walk in walks for n in walk.targets]


@pytest.mark.parametrize("seed", range(5))
def test_every_n_is_planned_exactly_once_in_order(seed):
    rng = random.Random(seed)
    ns = sorted(
        set(rng.randint(0, 10 ** rng.randint(1, 7)) for _ in range(rng.randint(1, 300)))
    )
    walks = plan_batch(ns, threads=2)
    assert all_targets(walks) == ns
    for walk in walks:
        assert walk.targets[0] == walk.start
        assert list(walk.targets) == sorted(set(walk.targets))
        assert (walk.split is None) == (split_for(walk.start, 2) is None)


def test_a_small_batch_is_one_walk():
    walks = plan_batch([5263, 5310, 7854], threads=2)
    assert [walk.targets for walk in walks] == [(5263, 5310, 7854)]
    assert walks[0].split is None


def test_a_large_batch_is_cut_into_enough_walks_for_the_threads():
    ns = sorted(random.Random(1).sample(range(10**4, 10**5), 1000))
    walks = plan_batch(ns, threads=2)
    assert len(walks) >= 2 * dask.config.get("compute.tasks-per-thread")
    assert all_targets(walks) == ns


def test_a_large_n_followed_by_close_ones_extends_instead_of_recomputing():
    walks = plan_batch([10**7, 10**7 + 3, 10**7 + 1000], threads=2)
    assert len(walks) == 1
    assert walks[0].split is not None
    assert walks[0].targets == (10**7, 10**7 + 3, 10**7 + 1000)


def test_far_apart_large_ns_are_each_split():
    walks = plan_batch([3 * 10**6, 10**7], threads=2)
    assert [walk.start for walk in walks] == [3 * 10**6, 10**7]
    assert all(walk.split is not None for walk in walks)


def test_a_split_too_large_for_two_thread_products_here_is_lean():
    assert split_for(10**7, threads=2).lean is False
    # Two-thread products needing more than this machine: one thread each.
    with dask.config.set({"compute.memory-factor": 1e6}):
        assert split_for(10**7, threads=2).lean is True
        # On a cluster a product too large for a worker is spread instead.
        assert split_for(10**7, threads=2, worker_bytes=1e15).lean is False


def test_a_cluster_that_cannot_spread_a_split_computes_it_lean():
    """On one worker, as on one host: lean where two-thread products do not
    fit it (gmpy2.fac would compute it there), spread where workers can."""
    worker = 3e8  # 10**7!'s 8.3 MB times the factor below is more than this
    with dask.config.set({"compute.memory-factor": 100}):
        one = split_for(10**7, threads=1, worker_bytes=worker, spread=False)
        assert one.lean is True and one.spread is None
        many = split_for(10**7, threads=4, worker_bytes=worker, spread=True)
        assert many.lean is False and many.spread is not None
    # Fitting without lean, one thread computes it as one gmpy2.fac task.
    assert split_for(10**7, threads=1, worker_bytes=worker, spread=False) is None


def test_one_thread_splits_only_for_memory_or_the_task_bound():
    """Pieces on one thread run in turn, each level one more product."""
    assert split_for(10**7, threads=1) is None
    assert split_for(10**7, threads=2).pieces == 2
    with dask.config.set({"compute.task-seconds": factorial_seconds(10**7) / 2.5}):
        assert split_for(10**7, threads=1).pieces == 3
    with dask.config.set({"compute.memory-factor": 1e6}):
        assert split_for(10**7, threads=1).lean is True


def test_a_lean_split_carries_the_heap_threshold_in_bytes():
    lean = {"compute.memory-factor": 1e6}
    with dask.config.set(lean):
        assert split_for(10**7, threads=2).heap_threshold == 4 * 2**20
    with dask.config.set({**lean, "compute.lean-heap-threshold": 123456}):
        assert split_for(10**7, threads=2).heap_threshold == 123456
    with dask.config.set({**lean, "compute.lean-heap-threshold": None}):
        assert split_for(10**7, threads=2).heap_threshold is None
    assert split_for(10**7, threads=2).heap_threshold is None  # not lean
    with (
        dask.config.set({**lean, "compute.lean-heap-threshold": "big"}),
        pytest.raises(
            ValueError,
            match=r"compute.lean-heap-threshold = 'big' is not valid: "
            r"expected a size such as 4MiB, a number of bytes, or null",
        ),
    ):
        split_for(10**7, threads=2)


def test_a_lean_split_has_one_piece_per_thread():
    with dask.config.set({"compute.memory-factor": 1e6, "compute.task-seconds": 0.1}):
        assert split_for(10**7, threads=2).pieces == 2
        assert split_for(10**7, threads=3).pieces == 3
    with dask.config.set({"compute.task-seconds": 0.1}):
        assert split_for(10**7, threads=2).pieces > 2


def test_small_values_of_a_gil_bound_kind_are_one_task_in_this_process():
    binomials = [binomial_product(n, n // 3) for n in range(10_000, 12_000)]
    on_a_cluster = plan_products(binomials, threads=2)
    assert len(on_a_cluster) > 1
    assert all(item.kind == "binomial" for item in on_a_cluster)
    assert plan_products(binomials, threads=2, in_process=True) == [
        SmallBatch("binomial", tuple(binomials))
    ]
    # A falling factorial's kernel releases the GIL: its batch stays cut.
    falling = [falling_factorial_product(n, n // 3) for n in range(10_000, 12_000)]
    here = plan_products(falling, threads=2, in_process=True)
    assert here == plan_products(falling, threads=2)
    assert len(here) > 1
