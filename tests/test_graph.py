"""The delayed graph runs on any scheduler, with tasks named by stage."""

from __future__ import annotations

import dataclasses
import threading

import dask.config
import gmpy2
import pytest
from dask.utils import key_split

import compute
from compute import kernels
from compute.graph import pick, products_graph, split_graph
from compute.plan import Split, plan_products
from compute.products import KINDS, Kind, binomial_product, factorial_product
from compute.tasks import task_of_values
from tests.test_plan import smallest_split_n

SPLIT_N = smallest_split_n()


def stages(delayed) -> set[str]:
    return {key_split(key) for key in delayed.__dask_graph__()}


@pytest.mark.parametrize("n", [0, 1, 20, 21, 5000, SPLIT_N - 1, SPLIT_N])
@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_delayed_on_local_schedulers(n, scheduler):
    assert compute.factorial_delayed(n).compute(scheduler=scheduler) == gmpy2.fac(n)


def test_delayed_on_the_distributed_client(client):
    n = 3 * 10**6 + 11
    assert client.compute(compute.factorial_delayed(n)).result(
        timeout=120
    ) == gmpy2.fac(n)


def test_stage_names():
    assert stages(compute.factorial_delayed(100)) == {"factorial"}
    assert stages(compute.factorial_delayed(SPLIT_N)) == {
        "prime-power-product",
        "multiply",
    }


@pytest.mark.parametrize("pieces", [2, 3, 4, 5])
def test_product_trees_of_any_width(pieces):
    n = 40_000
    graph = split_graph(
        Split(product=factorial_product(n), pieces=pieces, blocks_per_piece=3)
    )
    assert graph.compute(scheduler="sync") == gmpy2.fac(n)
    assert (
        sum(key_split(k) == "prime-power-product" for k in graph.__dask_graph__())
        == pieces
    )


@pytest.mark.parametrize("pieces", [2, 3, 4])
def test_a_lean_factorial_ends_in_one_squaring(pieces):
    n = 40_000
    split = Split(
        product=factorial_product(n), pieces=pieces, blocks_per_piece=3, lean=True
    )
    graph = split_graph(split)
    assert graph.compute(scheduler="threads") == gmpy2.fac(n)
    assert stages(graph) == {"prime-power-product", "multiply", "square"}
    assert key_split(graph.key) == "square"


def test_a_batch_of_small_values_is_one_task_holding_its_arguments():
    pairs = tuple((n, n // 2) for n in range(3000, 3400))
    products = [binomial_product(n, k) for n, k in pairs]
    outputs, where = products_graph(plan_products(products, in_process=True))
    assert len(outputs) == 1
    assert len(outputs[0].__dask_graph__()) == 1
    values = outputs[0].compute(scheduler="sync")
    assert [pick([values], where[p]) for p in products] == [
        gmpy2.comb(n, k) for n, k in pairs
    ]
    # Other arguments, another key: nothing is shared by mistake.
    other, _ = products_graph(plan_products(products[1:], in_process=True))
    assert other[0].key != outputs[0].key


def test_a_one_task_batch_runs_on_the_calling_thread(monkeypatch):
    threads = []

    def recorded_comb(n, k):
        threads.append(threading.get_ident())
        return gmpy2.comb(n, k)

    entry = dataclasses.replace(KINDS[Kind.BINOMIAL], small_kernel=recorded_comb)
    monkeypatch.setitem(KINDS, Kind.BINOMIAL, entry)
    pairs = [(n, n // 2) for n in range(3000, 3400)]
    with dask.config.set({"compute.execution": "in-process"}):
        assert compute.binomial_many(pairs) == [gmpy2.comb(n, k) for n, k in pairs]
    assert set(threads) == {threading.get_ident()}


def test_a_label_of_thousands_of_digits_is_shown_by_its_size_in_keys():
    n = 10**5000
    key = task_of_values("binomial", n, kernels.small_values, gmpy2.comb, ((n, 1),))
    key = key.key
    assert key.startswith("binomial-16610bit-")
    assert key_split(key) == "binomial"
    assert len(key) < 60
