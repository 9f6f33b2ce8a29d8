"""The user's unchanged script on a real SLURM, through dask-jobqueue.

Debian's slurmctld on one namespaced host, a slurmd on each of two compute
hosts, the script on a client host (:mod:`tests.slurm`). Only a Dask YAML
file says where work runs: ``compute.cluster.job-queue: slurm`` and
dask-jobqueue's ``jobqueue.slurm.*``. Jobs of one core and 2 GiB each, one
single-threaded worker per job.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests import slurm
from tests.remote import clean_env, default_sigint, kill_group

NOISE = ("Traceback", "ERROR", "WARNING", "Exception")
SCRIPT = """
import os, sys, time
import gmpy2
import compute

if __name__ == "__main__":
    seed = [5310, 5263, 7854]
    assert compute.factorial_many(seed) == [gmpy2.fac(n) for n in seed]
    print("ready", flush=True)
    {body}
"""
BATCH = """
    import random
    ns = random.Random(7).sample(range(10**4, 10**5 + 1), 200)
    assert compute.factorial_many(ns) == [gmpy2.fac(n) for n in ns]
    print("exact: seed and 200 n")
"""
ONE_N = """
    from distributed import get_task_stream
    with get_task_stream() as stream:
        value = compute.factorial(5 * 10**7)
    assert value == gmpy2.fac(5 * 10**7)
    print("exact: 5e7! on", len({task["worker"] for task in stream.data}), "workers")
"""
ADDRESSES = """
    from distributed import get_client
    client = get_client()
    workers = client.scheduler_info(n_workers=-1)["workers"]
    schemes = [a.split(":")[0] for a in [client.scheduler.address, *workers]]
    print(*schemes)
    print(client.dashboard_link)
"""
# 5e7!, then 2e7! over and over until the test writes the stop file.
UNTIL_STOPPED = (
    ONE_N
    + """
    expected = gmpy2.fac(2 * 10**7)
    runs = 0
    while not os.path.exists(sys.argv[1]):
        assert compute.factorial(2 * 10**7) == expected
        runs += 1
    print("exact:", runs, "runs of 2e7!")
"""
)


@pytest.fixture(scope="module")
def cluster(available) -> Iterator[slurm.Slurm]:
    try:
        slurm.check_available()
    except slurm.SlurmUnavailable as reason:
        pytest.fail(str(reason), pytrace=False)
    with slurm.slurm(2) as running:
        yield running


# The scripts the current test started.
_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def cleanup(cluster) -> Iterator[None]:
    """After each test, its scripts killed and every job cancelled.

    A failed test would otherwise leave jobs for the next one to find.
    """
    yield
    while _STARTED:
        kill_group(_STARTED.pop())
    cluster.command("scancel", "--user", "root")  # this SLURM runs only ours


def user_env(cluster: slurm.Slurm, folder: Path, **jobqueue: object) -> dict:
    """The environment of a user whose Dask YAML file names SLURM, and nothing else."""
    config = cluster.dask_config(
        folder, minimum_jobs=2, **{"walltime": "00:10:00", **jobqueue}
    )
    env = clean_env(folder, DASK_CONFIG=str(config))
    env["SLURM_CONF"] = cluster.env["SLURM_CONF"]
    return env


def start_script(cluster, folder: Path, body: str, env: dict, *args: str):
    script = folder / "user.py"
    script.write_text(SCRIPT.format(body=body.strip()))
    process = cluster.network.start(
        cluster.client_host, [sys.executable, str(script), *args], env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_sigint,
    )  # fmt: skip
    _STARTED.append(process)
    return process


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.5)


def workers_left(folder: Path) -> list[str]:
    """Worker processes started for this test's jobs that still run."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if "dask_worker" in line and str(folder) in line:
            found.append(line)
    return found


def assert_nothing_left(cluster: slurm.Slurm, folder: Path) -> None:
    wait_until(lambda: cluster.jobs() == [], 30, "jobs left in squeue")
    wait_until(lambda: workers_left(folder) == [], 30, "worker processes left")


def finish(process, timeout: float = 300) -> tuple[str, str]:
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr[-3000:]
    for noise in NOISE:
        assert noise not in stderr, stderr[-3000:]
    return stdout, stderr


def test_batches_run_exact_on_job_started_workers(cluster, tmp_path):
    env = user_env(cluster, tmp_path, **{"local-directory": str(tmp_path / "w")})
    stdout, _ = finish(start_script(cluster, tmp_path, BATCH, env))
    assert stdout.splitlines()[-1] == "exact: seed and 200 n"
    assert sorted((tmp_path / "jobs").glob("*.err")) != []  # they ran as jobs
    assert_nothing_left(cluster, tmp_path)


def test_one_n_spreads_over_the_jobs_that_are_cancelled_or_reach_walltime(
    cluster, tmp_path
):
    # 5e7! over the two jobs' workers, then 2e7! over and over while one job
    # is cancelled mid-factorial and the other reaches its walltime of one
    # minute: its worker retires before it (--lifetime 54 s, staggered by
    # 3 s). adapt replaces both jobs; every result is exact.
    env = user_env(
        cluster, tmp_path,
        walltime="00:01:00", **{"local-directory": str(tmp_path / "w")},
    )  # fmt: skip
    stop = tmp_path / "stop"
    user = start_script(cluster, tmp_path, UNTIL_STOPPED, env, str(stop))
    assert user.stdout.readline() == "ready\n", user.stderr.read()[-3000:]
    first = {job for job, state, _ in cluster.jobs() if state == "RUNNING"}
    assert len(first) == 2, cluster.jobs()
    cancelled = min(first, key=int)

    def running() -> set[str]:
        return {job for job, state, _ in cluster.jobs() if state == "RUNNING"}

    spread = user.stdout.readline().split()
    assert spread == ["exact:", "5e7!", "on", "2", "workers"], spread
    time.sleep(3)  # into a 2e7!: about 8 s each here
    cluster.command("scancel", cancelled)
    wait_until(
        lambda: len(running() - first) >= 1, 60, "a job replacing the cancelled one"
    )
    wait_until(
        lambda: len(running()) == 2 and not running() & first,
        120,
        "the job at its walltime replaced too",
    )
    assert user.poll() is None  # the factorials ran on meanwhile
    stop.touch()  # the factorial under way ends on the new jobs
    stdout, _ = finish(user)
    runs = int(stdout.split()[1])
    assert runs >= 1, stdout
    assert_nothing_left(cluster, tmp_path)


def test_with_tls_certificates_the_jobs_speak_tls(cluster, tmp_path):
    env = user_env(cluster, tmp_path, **{"local-directory": str(tmp_path / "w")})
    certs = tmp_path / "tls"
    made = subprocess.run(
        [sys.executable, "-m", "cluster", "certs", str(certs),
         "--host", cluster.client_host.address],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    (certs / "hpc.yaml").write_text((Path(env["DASK_CONFIG"]) / "hpc.yaml").read_text())
    env["DASK_CONFIG"] = str(certs)
    stdout, _ = finish(start_script(cluster, tmp_path, ADDRESSES, env))
    protocols, link = stdout.splitlines()[-2:]
    assert protocols == "tls tls tls", stdout
    assert link.startswith(f"https://{cluster.client_host.address}:"), link
    assert_nothing_left(cluster, tmp_path)


def test_ctrl_c_of_the_script_cancels_every_job(cluster, tmp_path):
    env = user_env(cluster, tmp_path, **{"local-directory": str(tmp_path / "w")})
    user = start_script(cluster, tmp_path, ONE_N, env)
    assert user.stdout.readline() == "ready\n", user.stderr.read()[-3000:]
    assert len(cluster.jobs()) == 2
    time.sleep(3)
    os.killpg(user.pid, signal.SIGINT)
    _, stderr = user.communicate(timeout=60)
    assert user.returncode == -signal.SIGINT, stderr[-3000:]
    assert stderr.startswith("Traceback (most recent call last):"), stderr
    assert stderr.endswith("KeyboardInterrupt\n"), stderr
    for noise in ("ERROR", "WARNING", "Exception ignored", "Task exception"):
        assert noise not in stderr, stderr
    assert_nothing_left(cluster, tmp_path)


def test_without_cores_or_memory_the_error_names_the_key(cluster, tmp_path):
    env = user_env(cluster, tmp_path, memory=None)
    finished = cluster.network.run(
        cluster.client_host,
        [sys.executable, "-c", "import compute; compute.factorial_many([5310])"],
        env,
        60,
    )
    assert finished.returncode == 1
    assert finished.stderr.splitlines()[-1] == (
        "ValueError: compute.cluster.job-queue is slurm, but jobqueue.slurm.memory "
        "is not set: each job needs its cores and memory (for example cores: 8 "
        "and memory: 32GiB in a Dask YAML file)"
    )
    assert cluster.jobs() == []


def run_seed(cluster: slurm.Slurm, env: dict) -> subprocess.CompletedProcess:
    return cluster.network.run(
        cluster.client_host,
        [sys.executable, "-c", "import compute; compute.factorial_many([5310])"],
        env,
        120,
    )


def test_a_job_the_queue_refuses_is_named_with_the_queues_words(cluster, tmp_path):
    env = user_env(cluster, tmp_path, memory="100GiB")
    finished = run_seed(cluster, env)
    assert finished.returncode == 1
    assert finished.stderr.splitlines()[-1] == (
        "RuntimeError: the slurm queue refused the job: sbatch: error: Memory "
        "specification can not be satisfied; sbatch: error: Batch job submission "
        "failed: Requested node configuration is not available (see jobqueue.slurm.* "
        "in Dask's config)"
    )
    assert "ERROR" not in finished.stderr
    assert cluster.jobs() == []


def test_jobs_the_queue_does_not_start_are_cancelled_after_the_wait(cluster, tmp_path):
    # Three jobs of one core on two nodes of one core: the third stays pending.
    env = user_env(cluster, tmp_path)
    (Path(env["DASK_CONFIG"]) / "wait.yaml").write_text(
        "compute:\n  cluster:\n    minimum-jobs: 3\n    job-wait: 5s\n"
    )
    finished = run_seed(cluster, env)
    assert finished.returncode == 1
    assert finished.stderr.splitlines()[-1] == (
        "TimeoutError: the 3 slurm job(s) asked for did not start 3 worker(s) "
        "within 5 s (compute.cluster.job-wait); they are cancelled. Is the queue "
        "busy, or do the jobs fail? See their logs (jobqueue.slurm.log-directory)"
    )
    assert_nothing_left(cluster, tmp_path)
