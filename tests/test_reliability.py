"""Reliability with real processes: dead workers and schedulers, interrupts, memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dask.config
import gmpy2
import psutil
import pytest
from distributed import Client, LocalCluster

import cluster
import compute
from tests.remote import (
    clean_env,
    kill_group,
    remote_cluster,
    silent_address,
    start_script,
    worker_statuses,
)


def wait_until(condition, timeout: float, interval: float = 0.05) -> float:
    """Seconds until ``condition()`` held; fails the test after ``timeout``."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"not within {timeout} s"
        time.sleep(interval)
    return time.monotonic() - start


def worker_pids(client: Client) -> dict[str, int]:
    return client.run(os.getpid)


@pytest.fixture
def own_cluster():
    """A LocalCluster of two nanny-managed workers that a test may damage."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address="127.0.0.1:0"
        ) as local,
        Client(local, set_as_default=False) as client,
    ):
        yield client


def kill_a_worker_running(client: Client, prefix: tuple[str, ...]) -> float:
    """SIGKILL a worker process busy with a task of ``prefix``; return the kill time."""
    busy: dict[str, list] = {}

    def found() -> bool:
        busy.update(
            {
                worker: keys
                for worker, keys in client.processing().items()
                if any(str(key).startswith(prefix) for key in keys)
            }
        )
        return bool(busy)

    wait_until(found, timeout=60)
    victim = next(iter(busy))
    os.kill(worker_pids(client)[victim], signal.SIGKILL)
    return time.monotonic()


def test_two_worker_deaths_in_a_large_factorial_lose_nothing(own_cluster):
    client = own_cluster
    n = 3 * 10**7
    with ThreadPoolExecutor(1) as runner:
        result = runner.submit(compute.factorial, n, client=client)
        recoveries = []
        for _ in range(2):
            killed_at = kill_a_worker_running(
                client, ("prime-power-product", "multiply")
            )
            # The nanny restarts the worker; count it back among the two.
            wait_until(lambda: len(client.scheduler_info()["workers"]) < 2, timeout=30)
            wait_until(lambda: len(client.scheduler_info()["workers"]) == 2, timeout=60)
            recoveries.append(time.monotonic() - killed_at)
        assert result.result(timeout=300) == gmpy2.fac(n)
    print(
        f"worker back after SIGKILL in {recoveries[0]:.2f} s and {recoveries[1]:.2f} s"
    )
    # The healed cluster takes later jobs.
    ns = [5310, 5263, 7854, 3 * 10**6]
    assert compute.factorial_many(ns, client=client) == [gmpy2.fac(n) for n in ns]


def test_an_unreachable_scheduler_fails_within_the_default_bound():
    start = time.monotonic()
    with (
        silent_address() as address,
        pytest.raises(
            OSError,
            match=rf"could not connect to the Dask scheduler at {address}: no answer "
            r"within 15 s \(distributed\.comm\.timeouts\.connect\)",
        ),
    ):
        cluster.connect(address)
    elapsed = time.monotonic() - start
    print(f"gave up on {address} after {elapsed:.1f} s")
    assert elapsed < 15 + 3


def test_the_connect_bound_is_dask_config():
    start = time.monotonic()
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(
            OSError, match=r"within 1 s \(distributed\.comm\.timeouts\.connect\)"
        ),
        silent_address() as address,
    ):
        cluster.connect(address)
    assert time.monotonic() - start < 5


LONG_SCRIPT = """
import sys
import compute

if __name__ == "__main__":
    print("started", flush=True)
    compute.factorial_many([4 * 10**7, 3 * 10**7 + 1])
    print("finished", flush=True)
"""


def group_members(group: int) -> list[int]:
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == group and process.status() != "zombie":
                members.append(process.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return members


def start_script_in_group(
    tmp_path: Path, source: str, env: dict[str, str]
) -> subprocess.Popen:
    """Start ``source`` in its own process group; return once it has started."""
    script = tmp_path / "script.py"
    script.write_text(source)
    process = start_script(script, env, own_group=True)
    assert process.stdout.readline().strip() == "started"
    return process


@pytest.mark.parametrize("execution", ["in-process", "cluster"])
def test_ctrl_c_exits_promptly_and_leaves_no_process(tmp_path, execution):
    env = clean_env(
        tmp_path,
        DASK_COMPUTE__EXECUTION=execution,
        DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS="127.0.0.1:0",
    )
    process = start_script_in_group(tmp_path, LONG_SCRIPT, env)
    group = os.getpgid(process.pid)
    try:
        if execution == "cluster":  # the script and its two workers are up
            wait_until(lambda: len(group_members(group)) >= 3, timeout=60)
        # Well inside the work: a second of computing done.
        script = psutil.Process(process.pid)
        wait_until(lambda: sum(script.cpu_times()[:2]) > 1, timeout=60)
        interrupted_at = time.monotonic()
        os.killpg(group, signal.SIGINT)  # what Ctrl-C does to the foreground group
        stdout, stderr = process.communicate(timeout=30)
        exit_seconds = time.monotonic() - interrupted_at
    finally:
        kill_group(process)
    print(f"{execution}: exited {exit_seconds:.2f} s after SIGINT")
    assert process.returncode == -signal.SIGINT, stderr
    assert "finished" not in stdout
    assert stderr.count("Traceback") == 1, stderr  # Python's, for the script
    assert stderr.endswith("KeyboardInterrupt\n"), stderr
    assert exit_seconds < 2
    wait_until(lambda: not group_members(group), timeout=10)


def test_a_normal_exit_leaves_no_process(tmp_path):
    env = clean_env(
        tmp_path,
        DASK_COMPUTE__EXECUTION="cluster",
        DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS="127.0.0.1:0",
    )
    source = LONG_SCRIPT.replace("[4 * 10**7, 3 * 10**7 + 1]", "[5310, 5263, 7854]")
    process = start_script_in_group(tmp_path, source, env)
    group = os.getpgid(process.pid)
    try:
        stdout, stderr = process.communicate(timeout=60)
    finally:
        kill_group(process)
    assert process.returncode == 0, stderr
    assert stdout.strip() == "finished"
    wait_until(lambda: not group_members(group), timeout=10)


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    base = tmp_path_factory.mktemp("remote-reliability")
    env = clean_env(base)
    with remote_cluster(env, worker_hosts=("127.0.0.5", "127.0.0.6")) as running:
        yield running, env


def scheduler_task_count(address: str) -> int:
    with Client(address, timeout=10) as probe:
        return probe.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))


STAYS_CONNECTED = """
import time
import compute

if __name__ == "__main__":
    print("started", flush=True)
    try:
        compute.factorial_many([4 * 10**7, 3 * 10**7 + 1])
    except KeyboardInterrupt:
        # Still connected, and the traceback keeps the call's futures alive:
        # only a cancel can release the work now.
        print("interrupted", flush=True)
        time.sleep(60)
"""


def test_ctrl_c_cancels_the_work_on_a_remote_cluster(remote, tmp_path):
    running, env = remote
    process = start_script_in_group(
        tmp_path, STAYS_CONNECTED, {**env, "DASK_SCHEDULER_ADDRESS": running.address}
    )
    try:
        wait_until(lambda: scheduler_task_count(running.address) > 0, timeout=30)
        os.killpg(process.pid, signal.SIGINT)
        assert process.stdout.readline().strip() == "interrupted"
        seconds = wait_until(
            lambda: scheduler_task_count(running.address) == 0, timeout=15
        )
        assert process.poll() is None, "the script left: its exit, not a cancel"
    finally:
        kill_group(process)
    print(f"remote tasks released {seconds:.2f} s after Ctrl-C, script connected")


def test_a_scheduler_dying_mid_job_gives_a_clear_error(tmp_path):
    env = clean_env(tmp_path)
    with remote_cluster(env, worker_hosts=("127.0.0.7",)) as running:
        process = start_script_in_group(
            tmp_path, LONG_SCRIPT, {**env, "DASK_SCHEDULER_ADDRESS": running.address}
        )
        try:
            wait_until(lambda: scheduler_task_count(running.address) > 0, timeout=30)
            running.processes[0].kill()  # the scheduler
            killed_at = time.monotonic()
            _, stderr = process.communicate(timeout=60)
            seconds = time.monotonic() - killed_at
        finally:
            kill_group(process)
    print(f"script failed {seconds:.2f} s after the scheduler died")
    assert process.returncode == 1
    assert f"ConnectionError: lost the Dask scheduler at {running.address}" in stderr
    assert seconds < 30


def _small_hosts(workers: int) -> LocalCluster:
    """Workers of one thread and 1.5 GiB each: hosts as in the scale model."""
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        memory_limit="1.5GiB",
        dashboard_address="127.0.0.1:0",
    )


def test_a_large_n_that_fits_runs_without_pausing_or_killing_workers(graphs_submitted):
    with (
        _small_hosts(2) as local,
        Client(local, set_as_default=False) as client,
    ):
        pids = worker_pids(client)
        n = 2 * 10**7  # 57 MB result, within 1.5 GiB * 0.8 / 8
        assert compute.factorial(n, client=client) == gmpy2.fac(n)
        assert worker_pids(client) == pids  # nobody was killed and restarted
        statuses = worker_statuses(client)
        assert "running" in statuses  # the reader sees this cluster's changes
        assert "paused" not in statuses
        # 3e8! (1.03 GB) fits neither one worker nor, spread, its share of both
        # (a part product's working space plus half of 3x the result):
        # refused before submission.
        with pytest.raises(ValueError, match=r"offers 1\.29 GB per worker"):
            compute.factorial(3 * 10**8, client=client)


def test_one_worker_computes_lean_what_two_thread_products_would_not_fit():
    """A cluster of one worker (one host) cannot spread a product: where its
    two-thread products would not fit the worker (here by a raised memory
    factor), the split is lean, as in this process, and exact."""
    with (
        _small_hosts(1) as local,
        Client(local, set_as_default=False) as client,
        dask.config.set({"compute.memory-factor": 10**4, "compute.split-seconds": 0.1}),
    ):
        n = 3 * 10**6  # 7.5 MB: 75 GB by that factor, 30 MB lean
        assert compute.factorial(n, client=client) == gmpy2.fac(n)
        prefixes = client.run_on_scheduler(
            lambda dask_scheduler: sorted(dask_scheduler.task_prefixes)
        )
        assert "square" in prefixes and "toom-evaluation" not in prefixes
        # 2e8! (653 MB) needs 2.61 GB even lean: refused before any work.
        with pytest.raises(ValueError, match=r"needs about 2\.\d+ GB to compute"):
            compute.factorial(2 * 10**8, client=client)


def test_the_status_reader_sees_a_forced_pause():
    # The check above can fail: a worker made to pause at once is seen paused.
    forced = {
        "distributed.worker.memory.pause": 0.01,
        "distributed.worker.memory.monitor-interval": "20ms",
    }
    with (
        dask.config.set(forced),
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            memory_limit="1GiB",
            dashboard_address="127.0.0.1:0",
        ) as local,
        Client(local, set_as_default=False) as client,
    ):
        wait_until(lambda: "paused" in worker_statuses(client), timeout=30)


def test_threads_sharing_one_client_each_get_their_own_results(client):
    batches = [
        [5310, 5263, 7854],
        [7854, 10**5, 0],
        [3 * 10**6, 12],
        list(range(400, 460)),
    ]
    with ThreadPoolExecutor(len(batches)) as threads:
        futures = [
            threads.submit(compute.factorial_many, batch, client=client)
            for batch in batches
        ]
        results = [future.result(timeout=120) for future in futures]
    for batch, result in zip(batches, results, strict=True):
        assert result == [gmpy2.fac(n) for n in batch]


def test_threads_in_process_each_get_their_own_results():
    batches = [[5310, 5263], [3 * 10**6 + 3], [7854, 5310, 1], list(range(90, 130))]
    with (
        dask.config.set({"compute.execution": "in-process"}),
        ThreadPoolExecutor(len(batches)) as threads,
    ):
        results = list(threads.map(compute.factorial_many, batches))
    for batch, result in zip(batches, results, strict=True):
        assert result == [gmpy2.fac(n) for n in batch]


TWO_SCRIPTS = """
import sys
import gmpy2
import compute

if __name__ == "__main__":
    ns = [int(arg) for arg in sys.argv[1:]]
    for _ in range(5):
        assert compute.factorial_many(ns) == [gmpy2.fac(n) for n in ns], "mixed up"
    print("exact", ns)
"""


def test_two_scripts_on_one_scheduler_keep_their_own_results(remote, tmp_path):
    running, env = remote
    script = tmp_path / "two.py"
    script.write_text(TWO_SCRIPTS)
    env = {**env, "DASK_SCHEDULER_ADDRESS": running.address}
    arguments = (["5310", "7854", "2000001"], ["5263", "7854", "2000003"])
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), *args],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for args in arguments
    ]
    try:
        outputs = [process.communicate(timeout=120)[0] for process in processes]
    finally:
        for process in processes:
            kill_group(process)
    for process, args, stdout in zip(processes, arguments, outputs, strict=True):
        assert process.returncode == 0
        assert stdout.strip() == f"exact {[int(a) for a in args]}"


def test_soak_many_batches_on_one_cluster(client):
    """About 20 s of mixed batches: every result exact, client memory bounded,
    and the pace kept.

    How many batches fit in 20 s depends on the machine, so the count is
    checked against the pace of the ten warm-up batches, drawn the same way:
    a cluster that stalls or slows down as it runs (a leak of tasks, data or
    workers) falls below a quarter of it.

    Batches are small enough that checking them against gmpy2.fac here costs
    less than computing them; a large n comes every tenth batch. Client memory
    is measured from a warm baseline, so a leak of results would show.
    """
    import gc
    import random

    rng = random.Random(7)
    process = psutil.Process()

    def one_batch(number: int) -> None:
        if number % 10 == 9:
            ns = [rng.randrange(10**6, 3 * 10**6)]
        else:
            top = rng.choice([10**3, 10**4, 10**5])
            ns = [rng.randrange(top) for _ in range(rng.choice([1, 3, 30, 100]))]
        assert compute.factorial_many(ns, client=client) == [gmpy2.fac(n) for n in ns]

    warm_up = 10
    start = time.monotonic()
    for number in range(warm_up):
        one_batch(number)
    warm_up_seconds = time.monotonic() - start
    gc.collect()
    baseline = peak = process.memory_info().rss
    soak_seconds = 20.0
    batches = warm_up
    start = time.monotonic()
    while time.monotonic() - start < soak_seconds:
        one_batch(batches)
        batches += 1
        peak = max(peak, process.memory_info().rss)
    soaked = batches - warm_up
    gc.collect()
    growth = (peak - baseline) / 2**20
    allowed = soak_seconds * warm_up / warm_up_seconds
    print(
        f"soak: {soaked} batches in {soak_seconds:.0f} s (the warm-up's pace allows"
        f" {allowed:.0f}), client RSS peak +{growth:.0f} MiB over warm baseline"
    )
    assert soaked >= allowed / 4, (soaked, allowed)
    assert growth < 150
