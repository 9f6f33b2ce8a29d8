"""``make bench-huge N=3e9``: a factorial larger than this machine's memory.

The command a user would type, ``compute factorial N --output F --format bin
--verify``, with no configuration, runs in a memory cgroup of its own
(``bench-huge-*``) whose limit is 80% of this machine's memory: the kernel
counts every process of the run there (the command, the LocalCluster's
scheduler, nannies and workers) and would end the run rather than let it
pass. Sampled every second: the resident memory of the cgroup's processes
as the kernel counts them (``rss`` of ``memory.stat``), the bytes in Dask's
temporary directory (the workers' spilled chunks) and in the run's
checkpoint folder, and the storage bytes every process read and wrote
(``/proc/PID/io``); and the share of the run in which some or all of the
machine's running tasks waited on I/O (the kernel's pressure stall
information, ``/proc/pressure/io``). Writes ``benchmarks/results/huge-N.json``.

With ``--worker-memory``, the bench starts ``dask scheduler`` and one
``dask worker`` per core of that memory in the cgroup, points the command at
them (``DASK_SCHEDULER_ADDRESS``), and records the scheduler's stage profile:
the seconds of every task prefix by activity (compute, transfer, disk-read,
disk-write). A smaller n on workers of the same share of their memory shows
where a run beyond memory spends its time without the hours of the full
one; ``--stop-after`` bounds a run and records it as stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.measure import clean_environment

RESULTS = Path(__file__).parent / "results"
LIMIT_SHARE = 0.8
_V1 = Path("/sys/fs/cgroup/memory")
_V2 = Path("/sys/fs/cgroup")
PRESSURE = Path("/proc/pressure/io")


class MemoryCgroup:
    """A memory cgroup of ours: its limit, members and the kernel's counts."""

    def __init__(self, name: str, limit: int) -> None:
        self.v1 = (_V1 / "memory.limit_in_bytes").exists()
        self.path = (_V1 if self.v1 else _V2) / name
        self.path.mkdir()
        limit_file = "memory.limit_in_bytes" if self.v1 else "memory.max"
        (self.path / limit_file).write_text(str(limit))

    def command(self, args: list[str]) -> list[str]:
        """``args`` run in this cgroup: the shell joins it, then becomes ``args``."""
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"',
                str(self.path), *args]  # fmt: skip

    def resident(self) -> int:
        """Anonymous memory of the members, as the kernel counts it."""
        lines = (self.path / "memory.stat").read_text().splitlines()
        stat = dict(line.split() for line in lines)
        return int(stat["total_rss"] if self.v1 else stat["anon"])

    def peak(self) -> int:
        """The kernel's high-water mark of the cgroup (page cache included)."""
        name = "memory.max_usage_in_bytes" if self.v1 else "memory.peak"
        return int((self.path / name).read_text())

    def oom_kills(self) -> int:
        """Processes of the cgroup the kernel has killed for passing its limit."""
        name = "memory.oom_control" if self.v1 else "memory.events"
        lines = (self.path / name).read_text().splitlines()
        return int(dict(line.split() for line in lines).get("oom_kill", 0))

    def members(self) -> list[int]:
        return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]

    def remove(self) -> None:
        self.path.rmdir()


def _io(pid: int) -> tuple[int, int] | None:
    """Storage bytes read and written by ``pid`` so far."""
    try:
        lines = Path(f"/proc/{pid}/io").read_text().splitlines()
        fields = dict(line.split(": ") for line in lines)
    except (OSError, ValueError):
        return None
    return int(fields["read_bytes"]), int(fields["write_bytes"])


def _io_stalled() -> dict[str, float]:
    """Seconds in which some, and all, running tasks waited on I/O since boot."""
    stalled = {}
    for line in PRESSURE.read_text().splitlines():
        kind, *fields = line.split()
        stalled[kind] = int(dict(f.split("=") for f in fields)["total"]) / 1e6
    return stalled


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder`` (those removed meanwhile left out)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):  # removed while we looked
                total += os.path.getsize(os.path.join(root, name))
    return total


def _stage_profile(dask_scheduler: Any) -> dict[str, Any]:
    """Per task prefix, the seconds of all its tasks so far by activity
    (compute, transfer, disk-read, disk-write)."""
    return {
        name: {k: round(v, 1) for k, v in prefix.all_durations.items()}
        for name, prefix in dask_scheduler.task_prefixes.items()
    }


class _Workers:
    """``dask scheduler`` and ``dask worker`` processes in the cgroup, with
    ``memory`` per worker, one per core, one thread each; and a client of
    the bench's own that reads the scheduler's stage profile."""

    def __init__(self, cgroup: MemoryCgroup, memory: str, work: Path, env: dict):
        dask = str(Path(sys.executable).parent / "dask")
        self.file = work / "scheduler.json"
        self.log = (work / "cluster.log").open("w")
        # The scheduler runs _stage_profile, imported from this package.
        repository = str(Path(__file__).resolve().parent.parent)
        common = {"env": {**env, "PYTHONPATH": repository}, "stdout": self.log,
                  "stderr": self.log, "start_new_session": True}  # fmt: skip
        self.processes = [
            subprocess.Popen(cgroup.command(
                [dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                 "--no-dashboard", "--scheduler-file", str(self.file)]), **common),
            subprocess.Popen(cgroup.command(
                [dask, "worker", "--scheduler-file", str(self.file),
                 "--nworkers", str(os.cpu_count() or 1), "--nthreads", "1",
                 "--memory-limit", memory, "--no-dashboard"]), **common),
        ]  # fmt: skip
        from distributed import Client

        self.client = Client(scheduler_file=str(self.file), timeout=60)
        self.client.wait_for_workers(os.cpu_count() or 1, timeout=120)
        self.profile: dict[str, Any] = {}

    @property
    def address(self) -> str:
        return str(json.loads(self.file.read_text())["address"])

    def sample(self) -> None:
        self.profile = self.client.run_on_scheduler(_stage_profile)

    def close(self) -> None:
        """Shut the cluster down (its workers remove their folders); kill
        whatever has not exited 60 s later."""
        with contextlib.suppress(Exception):
            self.sample()
        with contextlib.suppress(Exception):
            self.client.shutdown()
        self.client.close()
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait(timeout=60)
        self.log.close()


def run(
    n: int, worker_memory: str | None = None, stop_after: float | None = None
) -> dict[str, Any]:
    """Run ``compute factorial n`` to a bin file in a capped cgroup; its record.

    With ``worker_memory``, on workers of that memory started here (and the
    stage profile read from their scheduler); with ``stop_after`` seconds,
    the run is stopped then if not done, and the record says so.
    """
    scratch = Path(tempfile.gettempdir())
    work = Path(tempfile.mkdtemp(prefix="bench-huge-", dir=scratch))
    output = work / "f.bin"
    env = clean_environment(str(work / "no-dask-config"))
    limit = int(LIMIT_SHARE * psutil.virtual_memory().total)
    cgroup = MemoryCgroup(f"bench-huge-{os.getpid()}", limit)
    command = [str(Path(sys.executable).parent / "compute"), "factorial", str(n),
               "--output", str(output), "--format", "bin", "--verify"]  # fmt: skip
    before = folder_bytes(scratch / "dask-scratch-space")
    workers = None
    if worker_memory is not None:
        workers = _Workers(cgroup, worker_memory, work, env)
        env = {**env, "DASK_SCHEDULER_ADDRESS": workers.address}
    start = time.perf_counter()
    # Files, not pipes: a pipe read only at the end fills in a long run (its
    # warnings) and blocks the command's writes, and with them its event loop.
    stdout_path, stderr_path = work / "stdout.txt", work / "stderr.txt"
    with stdout_path.open("w") as stdout_file, stderr_path.open("w") as stderr_file:
        process = subprocess.Popen(
            cgroup.command(command), env=env, stdout=stdout_file,
            stderr=stderr_file, text=True, cwd=work,
        )  # fmt: skip
    io: dict[int, tuple[int, int]] = {}
    stalled_before = _io_stalled()
    samples: list[tuple[float, int, int, int]] = []
    peak_resident = peak_scratch = 0
    stopped = False
    try:
        while process.poll() is None:
            if stop_after is not None and time.perf_counter() - start > stop_after:
                stopped = True
                process.kill()
                break
            if workers is not None and len(samples) % 10 == 0:
                workers.sample()
            for pid in cgroup.members():
                seen = _io(pid)
                if seen is not None:
                    io[pid] = seen
            resident = cgroup.resident()
            spilled = folder_bytes(scratch / "dask-scratch-space") - before
            checkpoint = folder_bytes(work / ".f.bin.checkpoint")
            peak_resident = max(peak_resident, resident)
            peak_scratch = max(peak_scratch, spilled + checkpoint)
            samples.append(
                (round(time.perf_counter() - start, 1), resident, spilled, checkpoint)
            )
            time.sleep(1.0)
        seconds = time.perf_counter() - start
        stalled = _io_stalled()
        process.wait(timeout=60)
        kernel_peak, oom_kills = cgroup.peak(), cgroup.oom_kills()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
        if workers is not None:
            workers.close()
        for pid in cgroup.members():  # anything the command left
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        time.sleep(1)
        cgroup.remove()
    record: dict[str, Any] = {
        "n": n,
        "command": " ".join(command[1:]),
        "worker_memory": worker_memory,
        "stopped_after_seconds": stop_after if stopped else None,
        "returncode": process.returncode,
        "seconds": seconds,
        "memory_limit_bytes": limit,
        "machine_bytes": psutil.virtual_memory().total,
        "peak_resident_bytes": peak_resident,
        "peak_resident_share": peak_resident / psutil.virtual_memory().total,
        "kernel_peak_with_page_cache_bytes": kernel_peak,
        "processes_killed_by_the_kernel": oom_kills,
        "peak_scratch_bytes": peak_scratch,
        "file_bytes": output.stat().st_size if output.exists() else None,
        "disk_read_bytes": sum(read for read, _ in io.values()),
        "disk_written_bytes": sum(written for _, written in io.values()),
        "io_stalled_share": {
            kind: (stalled[kind] - stalled_before[kind]) / seconds for kind in stalled
        },
        "stdout": stdout_path.read_text().splitlines(),
        "stderr": stderr_path.read_text().splitlines(),
        "left_in_scratch_bytes": folder_bytes(scratch / "dask-scratch-space") - before,
        "stage_profile": workers.profile if workers is not None else None,
        "samples": samples,
    }
    shutil.rmtree(work)
    return record


def main(
    n: int,
    label: str,
    worker_memory: str | None = None,
    stop_after: float | None = None,
) -> None:
    """Run ``n!`` beyond memory, write ``huge-<label>.json`` and summarise it.

    ``worker_memory`` and ``stop_after`` as for :func:`run`; the first is
    then part of the file's name.
    """
    record = run(n, worker_memory, stop_after)
    if worker_memory is not None:
        label += f"-workers-{worker_memory}"
    path = RESULTS / f"huge-{label}.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    shown = {key: value for key, value in record.items() if key != "samples"}
    print(json.dumps(shown, indent=1))
    if record["returncode"] and record["stopped_after_seconds"] is None:
        raise SystemExit(f"huge: compute factorial {n} failed; see {path}")
