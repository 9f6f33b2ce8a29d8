"""cluster.connect: explicit address, Dask's configured address, or a LocalCluster."""

from __future__ import annotations

import dask.config
import gmpy2
import psutil
import pytest
from distributed import LocalCluster

import cluster
import compute


def test_an_explicit_address_wins(client):
    address = client.scheduler.address
    with (
        dask.config.set({"scheduler-address": "tcp://127.0.0.9:1"}),
        cluster.connect(address) as other,
    ):
        assert other.scheduler.address == address
        assert compute.factorial(30, client=other) == gmpy2.fac(30)


def test_the_configured_address_is_used(client):
    address = client.scheduler.address
    with (
        dask.config.set({"scheduler-address": address}),
        cluster.connect() as other,
    ):
        assert other.scheduler.address == address
        assert other.cluster is None  # no LocalCluster was started


def test_local_cluster_keywords_with_a_configured_address_are_refused(client):
    with (
        dask.config.set({"scheduler-address": client.scheduler.address}),
        pytest.raises(
            ValueError,
            match=r"\['n_workers'\] cannot be used with the scheduler at 'tcp://127",
        ),
    ):
        cluster.connect(n_workers=1)


def test_no_address_starts_a_local_cluster_that_closing_shuts_down():
    with cluster.connect(n_workers=1, dashboard_address="127.0.0.1:0") as own:
        assert isinstance(own.cluster, LocalCluster)
        assert compute.factorial(40, client=own) == gmpy2.fac(40)
        worker_pids = [
            pid for pid in own.run(lambda: __import__("os").getpid()).values()
        ]
        local = own.cluster
    assert local.status.name == "closed"
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
        for pid in worker_pids
    )


def test_local_defaults_suit_the_machine():
    from cluster.config import local_cluster_defaults

    defaults = local_cluster_defaults()
    assert defaults["n_workers"] == (psutil.cpu_count() or 1)
    assert defaults["threads_per_worker"] == 1
    assert defaults["processes"] is True
    with dask.config.set({"compute.cluster.n-workers": 3}):
        assert local_cluster_defaults()["n_workers"] == 3
