"""The bench's scaling model is consistent with the cost model it is built on."""

from __future__ import annotations

import pytest

from benchmarks.scaling import scaling_table, split_costs
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
