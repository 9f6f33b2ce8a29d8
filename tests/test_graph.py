"""The delayed graph runs on any scheduler, with tasks named by stage."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter

import dask.config
import gmpy2
import pytest
from dask.local import get_sync
from dask.utils import key_split

import compute
from compute import kernels, toom
from compute.graph import pick, products_graph, split_graph
from compute.plan import Split, Spread, plan_products
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


@pytest.mark.parametrize("ways", [(3,), (4, 3), (8, 4, 3)])
@pytest.mark.parametrize("below", [1, 2])
def test_a_spread_factorial_is_its_root_squared_times_its_odd_part(ways, below):
    """The top level squares the root; the roots' tree takes the levels below
    it, from one form per leaf (``below`` pieces each), each cut once."""
    n = 300_007
    leaves = 2 ** (len(ways) - 1)
    split = Split(
        product=factorial_product(n),
        pieces=leaves * below,
        blocks_per_piece=3,
        spread=Spread(ways, 1 << 11, square_form=True),
    )
    output = split_graph(split)
    values = get_sync(output.graph.tasks, output.keys)
    assert toom.join_chunks(values, output.chunk_bits) == gmpy2.fac(n)
    kernels_run = Counter(
        getattr(task, "func", None) for task in output.graph.tasks.values()
    )
    assert kernels_run[toom.cut_form] == leaves
    assert kernels_run[toom.part_square] == 2 * ways[0] - 1
    forms_multiplied = leaves * (below - 1)
    assert kernels_run[kernels.multiply_square_forms] == forms_multiplied
    # The roots' levels below the top: Toom-k, 2k - 1 part products each.
    root_parts = sum(
        (2 * k - 1) * 2**level for level, k in enumerate(reversed(ways[1:]))
    )
    # The square times the odd part: a cut, one part product per part.
    assert kernels_run[toom.part_product] > root_parts


def test_a_factorial_spreads_in_square_form_only_on_few_threads():
    """Bound by its work on 2 threads, by its last stages on 16 (1e8! on 16
    scale-model hosts: 36.96 s in square form, 23.10 s in prime form)."""
    from compute.plan import split_for

    n = 3_000_000
    spread_everything = {
        "compute.chunk-bytes": 1 << 16,
        "compute.distributed-threads": 2,
        "compute.distributed-seconds": 0,
    }
    with dask.config.set(spread_everything):
        few, many = split_for(n, 2, 1e12), split_for(n, 16, 1e12)
    assert few.spread is not None and few.spread.square_form
    assert many.spread is not None and not many.spread.square_form
    for split, squares in ((few, True), (many, False)):
        output = split_graph(split)
        values = get_sync(output.graph.tasks, output.keys)
        assert toom.join_chunks(values, output.chunk_bits) == gmpy2.fac(n)
        functions = {getattr(t, "func", None) for t in output.graph.tasks.values()}
        assert (toom.part_square in functions) is squares


def test_other_spread_products_stay_in_prime_form():
    product = binomial_product(400_000, 200_000)
    spread = Spread((3, 3), 1 << 11, square_form=True)
    split = Split(product, pieces=4, blocks_per_piece=3, spread=spread)
    output = split_graph(split)
    values = get_sync(output.graph.tasks, output.keys)
    assert toom.join_chunks(values, output.chunk_bits) == gmpy2.comb(400_000, 200_000)
    functions = {getattr(task, "func", None) for task in output.graph.tasks.values()}
    assert toom.cut_form not in functions and toom.part_square not in functions


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
