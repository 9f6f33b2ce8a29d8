"""An unchanged script runs on a real multi-process scheduler named by Dask's config."""

from __future__ import annotations

import json
import sys
from urllib.parse import urlparse

import gmpy2
import pytest
from dask.utils import key_split

from tests.remote import clean_env, remote_cluster, run_in_group, run_watched

USER_SCRIPT = """
import gmpy2
import compute

if __name__ == "__main__":
    ns = [5310, 5263, 7854, 3_000_000, 5310]
    results = compute.factorial_many(ns)
    assert results == [gmpy2.fac(n) for n in ns], "wrong result"
    print("exact", len(results))
"""


def recorded_tasks(env: dict[str, str]) -> list[dict[str, str]]:
    """(key, worker) of every task finished on the scheduler Dask's config names."""
    probe = (
        "import json; from distributed import Client\n"
        "with Client(timeout=20) as client:\n"
        "    events = client.get_events('compute-tests')\n"
        "    print(json.dumps([message for _, message in events]))\n"
    )
    finished = run_in_group([sys.executable, "-c", probe], env, timeout=60)
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """A plain-TCP scheduler and two workers, and the environment they run in."""
    base = tmp_path_factory.mktemp("remote")
    env = clean_env(base)
    with remote_cluster(env) as running:
        yield running, env


@pytest.mark.parametrize("config_source", ["environment", "DASK_CONFIG", "home"])
def test_unchanged_script_runs_on_the_configured_scheduler(
    remote, tmp_path, config_source
):
    cluster, env = remote
    env = {**env, "HOME": str(tmp_path)}
    script = tmp_path / "user_script.py"
    script.write_text(USER_SCRIPT)
    if config_source == "environment":
        env["DASK_SCHEDULER_ADDRESS"] = cluster.address
    else:
        folder = (
            tmp_path / "dask-config"
            if config_source == "DASK_CONFIG"
            else tmp_path / ".config" / "dask"
        )
        folder.mkdir(parents=True)
        (folder / "scheduler.yaml").write_text(
            f"scheduler-address: {cluster.address}\n"
        )
        if config_source == "DASK_CONFIG":
            env["DASK_CONFIG"] = str(folder)
    before = len(recorded_tasks(env))

    finished, workers_started = run_watched(script, env)

    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "exact 5"
    assert workers_started == [], "a LocalCluster was started"
    tasks = recorded_tasks(env)[before:]
    hosts = {urlparse(task["worker"]).hostname for task in tasks}
    assert hosts == set(cluster.worker_hosts)
    assert {key_split(task["key"]) for task in tasks} >= {"prime-power-product", "walk"}


@pytest.mark.parametrize(("configured", "direct"), [(None, True), (False, False)])
def test_results_come_straight_from_a_remote_clusters_workers(
    remote, configured, direct
):
    import dask.config

    import cluster
    import compute

    running, _ = remote
    with (
        dask.config.set({"distributed.client.direct-to-workers": configured}),
        cluster.connect(running.address) as client,
    ):
        assert client.direct_to_workers is direct
        assert compute.factorial(3 * 10**6, client=client) == gmpy2.fac(3 * 10**6)
