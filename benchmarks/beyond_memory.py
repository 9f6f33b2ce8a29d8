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


def run(n: int) -> dict[str, Any]:
    """Run ``compute factorial n`` to a bin file in a capped cgroup; its record."""
    scratch = Path(tempfile.gettempdir())
    work = Path(tempfile.mkdtemp(prefix="bench-huge-", dir=scratch))
    output = work / "f.bin"
    env = clean_environment(str(work / "no-dask-config"))
    limit = int(LIMIT_SHARE * psutil.virtual_memory().total)
    cgroup = MemoryCgroup(f"bench-huge-{os.getpid()}", limit)
    command = [str(Path(sys.executable).parent / "compute"), "factorial", str(n),
               "--output", str(output), "--format", "bin", "--verify"]  # fmt: skip
    before = folder_bytes(scratch / "dask-scratch-space")
    start = time.perf_counter()
    process = subprocess.Popen(
        cgroup.command(command), env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=work,
    )  # fmt: skip
    io: dict[int, tuple[int, int]] = {}
    stalled_before = _io_stalled()
    samples: list[tuple[float, int, int, int]] = []
    peak_resident = peak_scratch = 0
    try:
        while process.poll() is None:
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
        stdout, stderr = process.communicate(timeout=60)
        kernel_peak = cgroup.peak()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
        cgroup.remove()
    record: dict[str, Any] = {
        "n": n,
        "command": " ".join(command[1:]),
        "returncode": process.returncode,
        "seconds": seconds,
        "memory_limit_bytes": limit,
        "machine_bytes": psutil.virtual_memory().total,
        "peak_resident_bytes": peak_resident,
        "peak_resident_share": peak_resident / psutil.virtual_memory().total,
        "kernel_peak_with_page_cache_bytes": kernel_peak,
        "peak_scratch_bytes": peak_scratch,
        "file_bytes": output.stat().st_size if output.exists() else None,
        "disk_read_bytes": sum(read for read, _ in io.values()),
        "disk_written_bytes": sum(written for _, written in io.values()),
        "io_stalled_share": {
            kind: (stalled[kind] - stalled_before[kind]) / seconds for kind in stalled
        },
        "stdout": stdout.splitlines(),
        "stderr": stderr.splitlines(),
        "left_in_scratch_bytes": folder_bytes(scratch / "dask-scratch-space") - before,
        "samples": samples,
    }
    shutil.rmtree(work)
    return record


def main(n: int, label: str) -> None:
    """Run ``n!`` beyond memory, write ``huge-<label>.json`` and summarise it."""
    record = run(n)
    path = RESULTS / f"huge-{label}.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    shown = {key: value for key, value in record.items() if key != "samples"}
    print(json.dumps(shown, indent=1))
    if record["returncode"]:
        raise SystemExit(f"huge: compute factorial {n} failed; see {path}")
