"""The bench's scaling model is consistent with the cost model it is built on."""

from __future__ import annotations

import pytest

from benchmarks.critical_path import _longest_path, _schedule
from benchmarks.scaling import scaling_table, split_costs, spread_level_costs
from compute.cost import factorial_seconds


@pytest.mark.parametrize("n", [10**6, 10**7, 10**9])
def test_work_and_critical_path(n):
    work, critical = split_costs(n, 1)
    assert work == pytest.approx(factorial_seconds(n))
    assert critical == pytest.approx(work)
    previous_critical = critical
    for pieces in (2, 4, 8, 64):
        work, critical = split_costs(n, pieces)
        assert critical < work
        assert critical < previous_critical  # more pieces, shorter path
        previous_critical = critical


def test_the_top_products_bound_the_speedup():
    rows = scaling_table(ns=(10**8,), pieces=(2, 64))
    assert all(row["busy_workers"] < row["pieces"] for row in rows)
    assert rows[-1]["speedup_vs_one_thread"] < 2


def test_the_measured_schedule_and_path_of_a_small_graph():
    """a and b feed d; c and d feed e: the bench's path and greedy schedule."""
    dependencies = {
        "a": set(),
        "b": set(),
        "c": set(),
        "d": {"a", "b"},
        "e": {"c", "d"},
    }
    seconds = {"a": 3.0, "b": 1.0, "c": 2.0, "d": 1.0, "e": 1.0}
    assert _longest_path(dependencies, seconds) == 5.0  # a, d, e
    assert _schedule(dependencies, seconds, workers=1) == 8.0  # all the work
    assert _schedule(dependencies, seconds, workers=2) == 5.0  # a first, b then c
    assert _schedule(dependencies, seconds, workers=8) == 5.0


def test_the_model_cuts_parts_of_whole_chunks_as_the_graph_does():
    """18.5 chunks in Toom-4: parts of 5 chunks (compute.toom_graph.part_chunks)."""
    chunk_bits = 2**25
    exact = spread_level_costs(18.5 * chunk_bits, 1, 4, 7)
    whole = spread_level_costs(18.5 * chunk_bits, 1, 4, 7, chunk_bits)
    parts_of_five = spread_level_costs(20 * chunk_bits, 1, 4, 7)
    assert whole == pytest.approx(parts_of_five, rel=0.02)
    assert whole[0] > exact[0]
