"""Where work runs: the caller's client, the current one, a cluster, or here."""

from __future__ import annotations

import dask.config
import pytest
from distributed import LocalCluster

from cluster import shared
from compute.execute import choose_client


@pytest.fixture
def fresh_shared_client():
    """No shared client before the test, and none left after it."""
    shared.close_shared()
    yield
    shared.close_shared()


def test_the_callers_client_always_wins(client):
    with dask.config.set({"compute.execution": "in-process"}):
        assert choose_client(client, 0.0) is client


def test_an_unknown_execution_setting_is_refused():
    with (
        dask.config.set({"compute.execution": "gpu"}),
        pytest.raises(
            ValueError,
            match=r"^Dask config compute\.execution = 'gpu' is not valid: expected "
            r"one of auto, cluster, in-process$",
        ),
    ):
        choose_client(None, 0.0)


def test_in_process_is_forced_even_with_a_current_client(client):
    with client.as_current(), dask.config.set({"compute.execution": "in-process"}):
        assert choose_client(None, 1e9) is None


def test_the_current_client_is_used_for_any_cost(client):
    with client.as_current():
        assert choose_client(None, 0.0) is client


def test_small_work_runs_here_when_no_cluster_is_configured():
    with dask.config.set({"compute.in-process-seconds": 1.0}):
        assert choose_client(None, 0.99) is None


def test_a_configured_address_is_used_even_for_small_work(client, fresh_shared_client):
    with dask.config.set({"scheduler-address": client.scheduler.address}):
        chosen = choose_client(None, 0.0)
    assert chosen is not client
    assert chosen.scheduler.address == client.scheduler.address
    assert chosen.cluster is None


def test_costly_work_starts_a_shared_local_cluster(fresh_shared_client):
    settings = {
        "compute.in-process-seconds": 1.0,
        "compute.cluster.n-workers": 1,
        "compute.cluster.dashboard-address": "127.0.0.1:0",
    }
    with dask.config.set(settings):
        chosen = choose_client(None, 1.0)
        assert isinstance(chosen.cluster, LocalCluster)
        assert choose_client(None, 5.0) is chosen  # reused, not started again
    local = chosen.cluster
    shared.close_shared()
    assert local.status.name == "closed"


def test_one_thread_pool_is_reused_and_replaced_when_threads_change():
    from compute import execute
    from compute.delayed import factorial_delayed

    graph = [factorial_delayed(2000), factorial_delayed(3000)]
    execute.run_in_process(graph)
    first = execute._thread_pool()
    execute.run_in_process(graph)
    assert execute._thread_pool() is first
    with dask.config.set({"compute.threads": 3}):
        execute.run_in_process(graph)
        second = execute._thread_pool()
    assert second is not first
    assert first._state != "RUN"  # closed, its threads gone once idle
    execute.close_thread_pool()
    assert second._state != "RUN"


def test_results_gathered_as_completed_keep_their_places(client):
    import gmpy2

    from compute.delayed import factorial_delayed
    from compute.execute import run_on_cluster

    # The first finishes last; the last two are one key, asked for twice.
    ns = [2 * 10**6, 10, 7854, 7854]
    results = run_on_cluster([factorial_delayed(n) for n in ns], client)
    assert results == [gmpy2.fac(n) for n in ns]


def test_back_to_back_calls_for_the_same_keys_log_nothing(client, caplog):
    import gmpy2

    import compute

    # Each call drops its futures as it returns, and the next one asks for
    # the same keys at once: their releases must reach the scheduler first.
    seed = [5310, 5263, 7854]
    expected = [gmpy2.fac(n) for n in seed]
    with caplog.at_level("WARNING"):
        for _ in range(60):
            assert compute.factorial_many(seed, client=client) == expected
    assert [
        r.getMessage() for r in caplog.records if r.name.startswith("distributed")
    ] == []


def test_work_the_local_cluster_cannot_hold_stays_here(fresh_shared_client):
    with dask.config.set({"compute.in-process-seconds": 1.0}):
        assert choose_client(None, 5.0, fits_local_cluster=lambda: False) is None
        assert shared._shared is None  # no cluster was started to find out
        with dask.config.set(
            {
                "compute.execution": "cluster",
                "compute.cluster.n-workers": 1,
                "compute.cluster.dashboard-address": "127.0.0.1:0",
            }
        ):
            chosen = choose_client(None, 5.0, fits_local_cluster=lambda: False)
        assert isinstance(chosen.cluster, LocalCluster)


def test_the_local_cluster_memory_is_known_before_it_starts(fresh_shared_client):
    from compute.capacity import cluster_memory, local_cluster_memory

    settings = {
        "compute.cluster.n-workers": 2,
        "compute.cluster.memory-limit": "1.5GiB",
        "compute.cluster.dashboard-address": "127.0.0.1:0",
    }
    with dask.config.set(settings):
        expected = local_cluster_memory()
        assert expected == pytest.approx((0.8 * 1.5 * 2**30, 1.6 * 1.5 * 2**30, 2))
        assert cluster_memory(shared.shared_client()) == pytest.approx(expected)


def test_a_factorial_too_large_for_the_local_cluster_is_computed_lean_here(
    fresh_shared_client,
):
    import gmpy2

    import compute

    # With these factors no worker of the local cluster could hold 3*10**6!,
    # nor spread it, while this process can compute it lean (it is split).
    settings = {
        "compute.in-process-seconds": 0.0,
        "compute.memory-factor": 1e5,
        "compute.lean-memory-factor": 5,
    }
    with dask.config.set(settings):
        assert compute.factorial(3 * 10**6) == gmpy2.fac(3 * 10**6)
    assert shared._shared is None
