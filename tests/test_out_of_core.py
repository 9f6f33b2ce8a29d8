"""A factorial larger than the workers' memory: its chunks spill to scratch disk.

Real LocalClusters of two 576 MiB workers, started by the ``compute`` command
as a user runs it: 5e7! (151 MB) spread over them needs about 0.9 GB held at
its peak, more than their memory; distributed's spilling takes the rest to
Dask's ``temporary-directory``.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import threading
import time
from pathlib import Path

import dask
import gmpy2
import pytest

from benchmarks.beyond_memory import folder_bytes
from compute import read_result
from compute.admission import check_fits
from compute.capacity import local_scratch_bytes, spill_task_bytes
from compute.engine import _factorials_check
from tests.remote import clean_env, kill_group, run_in_group, start_interruptible
from tests.test_cli import COMPUTE

N = 50_000_000
WORKER_MEMORY = "576MiB"
LARGER_N = 100_000_000
LARGER_MEMORY = "1GiB"


def _env(tmp_path: Path, memory: str = WORKER_MEMORY) -> dict[str, str]:
    return clean_env(
        tmp_path,
        DASK_TEMPORARY_DIRECTORY=str(tmp_path / "scratch"),
        DASK_COMPUTE__EXECUTION="cluster",
        DASK_COMPUTE__IN_PROCESS_SECONDS="1",  # 5e7! counts as large
        DASK_COMPUTE__CLUSTER__N_WORKERS="2",
        DASK_COMPUTE__CLUSTER__MEMORY_LIMIT=memory,
        DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS="127.0.0.1:0",
    )


def _worker_folders(scratch: Path) -> list[str]:
    space = scratch / "dask-scratch-space"
    if not space.exists():
        return []
    return sorted(path.name for path in space.glob("worker-*") if path.is_dir())


class _ScratchWatch:
    """The largest size of ``scratch`` seen while a command runs."""

    def __init__(self, scratch: Path) -> None:
        self.scratch, self.peak, self._done = scratch, 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._done.wait(0.2):
            self.peak = max(self.peak, folder_bytes(self.scratch))

    def __enter__(self) -> _ScratchWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=10)


def _write(env: dict[str, str], path: Path, n: int = N) -> tuple[str, str]:
    command = [COMPUTE, "factorial", str(n), "--output", str(path), "--format", "bin"]
    finished = run_in_group([*command, "--verify"], env, timeout=300)
    assert finished.returncode == 0, finished.stderr
    return finished.stdout, finished.stderr


def test_a_factorial_larger_than_the_workers_memory_spills_and_is_exact(tmp_path):
    # 1e8! (314 MB) on two 1 GiB workers: about 1.9 GB held at the peak.
    n, env, path = LARGER_N, _env(tmp_path, LARGER_MEMORY), tmp_path / "f.bin"
    scratch = tmp_path / "scratch"
    with _ScratchWatch(scratch) as watch:
        _, stderr = _write(env, path, n)
    lines = stderr.splitlines()
    assert lines[0].startswith("compute: started a local Dask cluster of 2 workers")
    assert lines[1].startswith(
        f"compute: {n}! (about 314 MB) does not fit the workers' memory: they "
        "spill its chunks to disk, each task planned within "
    )
    assert lines[2].startswith("computed 1 factorial in ")
    assert lines[3].startswith(f"wrote {n}! to {path} (")
    assert lines[4].startswith(f"verified: {path} is {n}! (residues mod 4 primes")
    assert len(lines) == 5, stderr
    assert read_result(path, format="bin") == gmpy2.fac(n)
    # Spilled: chunks of it on disk (166-400 MB at the peak, seen).
    assert watch.peak > 50e6, watch.peak
    assert _worker_folders(scratch) == []


def test_scratch_left_by_a_killed_run_is_removed_by_the_next(tmp_path):
    env, path = _env(tmp_path), tmp_path / "f.bin"
    scratch = tmp_path / "scratch"
    command = [COMPUTE, "factorial", str(N), "--output", str(path), "--format", "bin"]
    process = start_interruptible(command, env)
    try:
        # Killed at its first spilled chunk (4.2 MB): how much more it spills,
        # and when, varies from run to run.
        deadline = time.monotonic() + 120
        while folder_bytes(scratch) < 1e6 and process.poll() is None:
            assert time.monotonic() < deadline, "no chunk spilled within 120 s"
            time.sleep(0.05)
    finally:
        kill_group(process)  # the command and its workers, with no goodbye
    assert process.returncode != 0
    left = _worker_folders(scratch)
    assert len(left) == 2 and folder_bytes(scratch) >= 1e6
    # The next run's workers, in the same temporary-directory, purge every
    # folder whose lock no process holds (a small n: any run's workers do).
    _write(env, path, 300_000)
    assert read_result(path, format="bin") == gmpy2.fac(300_000)
    assert _worker_folders(scratch) == []
    assert folder_bytes(scratch) < 1e6


GB = 1e9


@pytest.mark.parametrize(
    ("scratch", "fits"),
    [(0.0, False), (60 * GB, True), (40 * GB, False)],
)
def test_a_spread_result_may_fill_memory_and_scratch_together(scratch, fits):
    # 3e9! (11.3 GB) on this machine's default LocalCluster: 2 workers of
    # 10.1 GB usable each; spread, it holds about 68 GB at its peak.
    n, worker, cluster = 3 * 10**9, 10.1 * GB, 20.2 * GB
    check = lambda: check_fits(  # noqa: E731
        [n], worker, 25 * GB, "this machine's cluster", positions=False,
        cluster_bytes=cluster, scratch_bytes=scratch,
    )  # fmt: skip
    if fits:
        check()
        return
    with pytest.raises(ValueError) as refused:
        check()
    message = str(refused.value)
    assert message.startswith(
        "n = 3000000000 is too large: its factorial has about 11.3 GB and needs "
        "about 90.1 GB on one worker, or 39.4 GB per worker spread over the "
        "cluster's workers"
    )
    if scratch:
        assert message.endswith(
            ", or 67.6 GB of memory and scratch disk together (5.63 GB for its "
            "largest task), but this machine's cluster offers 10.1 GB per worker, "
            "20.2 GB of memory in all and 40 GB of scratch disk"
        )
    else:
        assert message.endswith("but this machine's cluster offers 10.1 GB per worker")


def test_a_value_left_in_chunks_need_not_fit_the_caller() -> None:
    # 8e9! (32.5 GB) is more than this machine's memory, but a cluster of four
    # 40 GB workers with 300 GB of scratch disk computes it in chunks.
    n, worker, cluster, scratch = 8 * 10**9, 40 * GB, 160 * GB, 300 * GB
    received = _factorials_check([n], positions=False, scratch_bytes=scratch)
    with pytest.raises(ValueError, match=r"more than this process can hold"):
        received(worker, cluster, "the cluster")
    chunked = _factorials_check(
        [n], positions=False, scratch_bytes=scratch, caller_bytes=math.inf
    )
    chunked(worker, cluster, "the cluster")  # no ValueError


def test_a_task_that_spills_stays_below_the_target() -> None:
    # 10.1 GB usable (pause 0.8): target 0.6 of the limit less transfers 0.1,
    # less the process.
    assert spill_task_bytes(10.1 * GB) == pytest.approx(10.1 * GB * 0.625 - 150e6)
    with dask.config.set({"distributed.worker.memory.target": False}):
        assert spill_task_bytes(10.1 * GB) == pytest.approx(10.1 * GB * 0.875 - 150e6)


@pytest.mark.parametrize("space", ["lots", -1])
def test_scratch_space_is_checked(space) -> None:
    with (
        dask.config.set({"compute.scratch-space": space}),
        pytest.raises(ValueError) as refused,
    ):
        local_scratch_bytes()
    assert str(refused.value) == (
        f"Dask config compute.scratch-space = {space!r} is not valid: expected "
        "auto, a size such as 50GB, or a number of bytes (0: none)"
    )


def test_scratch_space_caps_the_free_disk() -> None:
    free = shutil.disk_usage(tempfile.gettempdir()).free
    assert free > 1e9  # else the cap below would not show
    with dask.config.set({"compute.scratch-space": "1GB"}):
        assert local_scratch_bytes() == 1e9
    with dask.config.set({"compute.scratch-space": 0}):
        assert local_scratch_bytes() == 0.0


def test_scratch_leaves_room_for_the_runs_own_files_on_its_disk(tmp_path) -> None:
    """A run's output file and checkpoint, on the scratch disk, are taken from
    its free space; on another disk (/proc here), they are not."""
    with dask.config.set({"temporary-directory": str(tmp_path)}):
        free = shutil.disk_usage(tmp_path).free
        assert free > 2e9
        left = local_scratch_bytes([(tmp_path / "out", 1e9), (tmp_path, 0.5e9)])
        assert left == pytest.approx(free - 1.5e9, abs=50e6)  # others write too
        elsewhere = local_scratch_bytes([("/proc", 1e9)])
        assert elsewhere == pytest.approx(free, abs=50e6)
        assert local_scratch_bytes([(tmp_path, 2 * free)]) == 0.0


def test_a_factorial_too_large_for_this_process_names_the_chunked_route() -> None:
    with pytest.raises(ValueError) as refused:
        check_fits([10**6], 1e12, 1e5, "x", positions=False)
    assert str(refused.value) == (
        "n = 1000000 is too large: its factorial has about 2.31 MB, more than this "
        "process can hold (100 kB): compute.factorial_chunked(n) keeps it in chunks "
        "on the cluster's workers and compute.write_result(value, path, "
        "format='bin') writes it from there (on the command line: compute "
        "factorial N --output F --format bin)"
    )
    # A batch's message stays as it was: the route serves one n.
    with pytest.raises(ValueError, match=r"\(100 kB\)$"):
        check_fits([10**6, 10**6 + 1], 1e12, 1e5, "x")
