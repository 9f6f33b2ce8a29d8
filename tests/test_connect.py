"""cluster.connect: explicit address, Dask's configured address, or a LocalCluster."""

from __future__ import annotations

import subprocess
import sys
import time

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
        assert _send_interval(own) == 0.002
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


def _send_interval(client) -> float:
    return client.scheduler_comm.interval


def test_connected_clients_send_every_client_send_interval(client):
    address = client.scheduler.address
    with cluster.connect(address) as other:
        assert _send_interval(other) == 0.002
        assert compute.factorial_many([30, 31], client=other) == [
            gmpy2.fac(30),
            gmpy2.fac(31),
        ]
    with (
        dask.config.set({"compute.cluster.client-send-interval": "10ms"}),
        cluster.connect(address) as other,
    ):
        assert _send_interval(other) == 0.01
    with (
        dask.config.set({"compute.cluster.client-send-interval": "soon"}),
        pytest.raises(
            ValueError,
            match=r"compute.cluster.client-send-interval = 'soon' is not valid: "
            r"expected a duration such as 2ms",
        ),
    ):
        cluster.connect(address)


def test_local_defaults_suit_the_machine():
    from cluster.config import local_cluster_defaults

    defaults = local_cluster_defaults()
    assert defaults["n_workers"] == (psutil.cpu_count() or 1)
    assert defaults["threads_per_worker"] == 1
    assert defaults["processes"] is True
    with dask.config.set({"compute.cluster.n-workers": 3}):
        assert local_cluster_defaults()["n_workers"] == 3


WORKER_ENVIRONMENT = """
import os
import dask.config
import cluster

TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


def trim_threshold():
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")

if __name__ == "__main__":
    with cluster.connect(
        n_workers=1,
        memory_limit=os.environ["TEST_MEMORY_LIMIT"],
        dashboard_address="127.0.0.1:0",
    ) as client:
        print(list(client.run(trim_threshold).values())[0])
        print(dask.config.get("distributed.comm.timeouts.connect"))
        # the setting itself is unchanged once the cluster runs
        print(dask.config.get(TRIM))
"""

USER_SET = (
    "distributed:\n"
    "  comm: {timeouts: {connect: 7s}}\n"
    "  nanny: {pre-spawn-environ: {MALLOC_TRIM_THRESHOLD_: 4242}}\n"
)


@pytest.mark.parametrize(
    ("user_config", "memory_limit", "expected"),
    [
        # our defaults over distributed's 65536 and 30s
        ("", "auto", ["None", "15s", "None"]),
        # a worker under 4 GiB keeps distributed's 65536, for this cluster only
        ("", "1GiB", ["65536", "15s", "None"]),
        # the user's own values are kept
        (USER_SET, "auto", ["4242", "7s", "4242"]),
        (USER_SET, "1GiB", ["4242", "7s", "4242"]),
    ],
    ids=["defaults", "small-worker", "user-set", "user-set-small-worker"],
)
def test_our_distributed_defaults_yield_to_the_users(
    tmp_path, user_config, memory_limit, expected
):
    from tests.remote import clean_env, run_watched

    config = tmp_path / "dask-config"
    config.mkdir()
    (config / "user.yaml").write_text(user_config)
    script = tmp_path / "environment.py"
    script.write_text(WORKER_ENVIRONMENT)
    env = clean_env(tmp_path, DASK_CONFIG=str(config), TEST_MEMORY_LIMIT=memory_limit)
    finished, _ = run_watched(script, env)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split("\n")[:3] == expected


async def _teardown_and_report(dask_worker) -> tuple[bool, int]:
    from cluster import worker_heartbeat

    await worker_heartbeat.dask_teardown(dask_worker)
    return dask_worker.periodic_callbacks[
        "heartbeat"
    ].is_running(), dask_worker.rpc.active


def _worker_log_passes(dask_worker) -> list[bool]:
    import logging

    log = logging.getLogger("distributed.worker")
    messages = ["Failed to communicate with scheduler during heartbeat.", "other"]
    records = [
        logging.LogRecord(log.name, logging.ERROR, __file__, 1, message, None, None)
        for message in messages
    ]
    return [all(f.filter(record) for f in log.filters) for record in records]


def _preload_names(dask_worker) -> list[str]:
    return [preload.name for preload in dask_worker.preloads]


def test_connect_workers_stop_their_heartbeat_before_they_close():
    import cluster

    with cluster.connect(
        n_workers=1, dashboard_address="127.0.0.1:0", set_as_default=False
    ) as client:
        (names,) = client.run(_preload_names).values()
        assert "cluster.worker_heartbeat" in names
        (running,) = client.run(
            lambda dask_worker: [
                dask_worker.periodic_callbacks["heartbeat"].is_running()
            ]
        ).values()
        assert running == [True]
        (report,) = client.run(_teardown_and_report).values()
        # stopped, and no connection of the worker left in use
        assert report == (False, 0)
        # distributed's record of a heartbeat cut off is dropped, and only it
        (passed,) = client.run(_worker_log_passes).values()
        assert passed == [False, True]


HEARTBEAT_CUT = """
import asyncio
import os
import time

import cluster


async def slow_heartbeats(dask_scheduler):
    original = dask_scheduler.handlers["heartbeat_worker"]

    async def slow(*args, **kwargs):
        await asyncio.sleep(1.0)
        return original(*args, **kwargs)

    dask_scheduler.handlers["heartbeat_worker"] = slow


async def heartbeat_then_close(dask_worker):
    asyncio.ensure_future(dask_worker.heartbeat())
    await asyncio.sleep(0.1)  # the heartbeat waits for its answer
    asyncio.ensure_future(dask_worker.close(nanny=False))
    return "closing"


if __name__ == "__main__":
    # "ours": connect()'s preloads; "signals only": without cluster.worker_heartbeat
    ours = os.environ["TEST_PRELOADS"] == "ours"
    options = {} if ours else {"preload": ["cluster.worker_signals"]}
    with cluster.connect(
        n_workers=1, dashboard_address="127.0.0.1:0", set_as_default=False, **options
    ) as client:
        client.run_on_scheduler(slow_heartbeats)
        print(list(client.run(heartbeat_then_close).values()))
        time.sleep(2)  # the worker closes, its nanny starts another
"""


@pytest.mark.parametrize("preloads", ["ours", "signals-only"])
def test_a_worker_closing_mid_heartbeat_logs_no_error(tmp_path, preloads):
    """A heartbeat still waiting as its worker closes: an ERROR without our preload."""
    from tests.remote import clean_env, run_watched

    script = tmp_path / "heartbeat.py"
    script.write_text(HEARTBEAT_CUT)
    finished, _ = run_watched(script, clean_env(tmp_path, TEST_PRELOADS=preloads))
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split("\n")[0] == "['closing']"
    cut = "Failed to communicate with scheduler during heartbeat."
    if preloads == "ours":
        assert finished.stderr == ""
    else:  # the failure the preload prevents, shown to happen here
        assert cut in finished.stderr


def test_local_workers_start_with_sigint_blocked():
    # A terminal's Ctrl-C reaches the whole foreground group; workers that
    # block SIGINT from their first instruction never print a traceback of
    # their own, even while still importing.
    def blocked() -> bool:
        import signal

        return signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])

    with cluster.connect(n_workers=2, dashboard_address="127.0.0.1:0") as own:
        assert list(own.run(blocked).values()) == [True, True]
        own.restart()  # workers the nannies start again
        assert list(own.run(blocked).values()) == [True, True]
    import signal

    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


SAME_MOMENT = """
import sys, time
from pathlib import Path
import distributed  # the slow import, done before the start line
import cluster

if __name__ == "__main__":
    Path(sys.argv[1]).touch()
    while not Path(sys.argv[2]).exists():
        time.sleep(0.001)
    with cluster.connect(n_workers=1, dashboard_address="127.0.0.1:{port}") as c:
        print(c.dashboard_link)
"""


def test_two_scripts_started_together_get_two_dashboards_quietly(tmp_path):
    # Both see the port free, and both bind it: one of them gets a free port
    # instead, with no "Port ... is already in use" warning.
    from tests.remote import clean_env, kill_group
    from tests.test_tls import free_port

    env = clean_env(tmp_path)
    for attempt in range(3):
        port = free_port("127.0.0.1")
        script = tmp_path / f"same{attempt}.py"
        script.write_text(SAME_MOMENT.format(port=port))
        go = tmp_path / f"go{attempt}"
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(script),
                    str(tmp_path / f"ready{attempt}-{i}"),
                    go,
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            for i in range(2)
        ]
        try:
            deadline = time.monotonic() + 60
            while len(list(tmp_path.glob(f"ready{attempt}-*"))) < 2:
                assert time.monotonic() < deadline, "the scripts did not start"
                time.sleep(0.01)
            go.touch()
            outputs = [process.communicate(timeout=120) for process in processes]
        finally:
            for process in processes:
                kill_group(process)
        links = [stdout.strip() for stdout, _ in outputs]
        assert [stderr for _, stderr in outputs] == ["", ""], outputs
        assert len(set(links)) == 2, links
        assert f"http://127.0.0.1:{port}/status" in links


def test_a_gather_of_keys_computed_again_is_not_logged_as_an_error():
    """The scheduler's "Couldn't gather keys" when every key is being computed
    again (its worker left) is dropped; with a key in memory or forgotten, not."""
    import logging

    from cluster.interrupts import quiet_regathers

    quiet_regathers()
    quiet_regathers()  # installed once
    log = logging.getLogger("distributed.scheduler")
    assert sum(f.__name__ == "_drop_regathered" for f in log.filters) == 1

    def passes(states: dict) -> bool:
        record = log.makeRecord(
            log.name, logging.ERROR, __file__, 1, "Couldn't gather keys: %s",
            (states,), None,
        )  # fmt: skip
        return all(f(record) for f in log.filters)

    assert not passes({"multiply-1-a": "waiting", "multiply-1-b": "processing"})
    assert passes({"multiply-1-a": "waiting", "multiply-1-b": "memory"})
    assert passes({"multiply-1-a": "forgotten"})
    other = log.makeRecord(log.name, logging.ERROR, __file__, 1, "other", (), None)
    assert all(f(other) for f in log.filters)
