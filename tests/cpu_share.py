"""A share of the CPU for a host: one cgroup, every process of the host in it.

A time-dilated scale model (DieCast, NSDI 2008) gives each emulated host
``cores / dilation`` of a core, so that every step runs ``dilation`` times
slower than on a host with ``cores`` full cores. The share is a CPU quota of
the cgroup cpu controller: v1's ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``
where that is mounted (``/sys/fs/cgroup/cpu``), else v2's ``cpu.max``. The
period is short (20 ms), so throttling stays fine-grained next to the tasks.

A process joins its host's cgroup before it enters the host's network
namespace: ``ip netns exec`` mounts a fresh ``/sys`` without the cgroup
mounts. Its children (nanny, worker, ...) inherit the cgroup.

Every cgroup made here is named ``ct<pid>h<N>`` after this process; those
of a process that no longer exists are removed at the next start, nothing
else is touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

# Shorter periods (1-2 ms) made a 100 Mbit multiply 0.79x-1.32x its dilated
# time: below the kernel's tick, throttling is coarse.
PERIOD_US = 20_000
_V1 = Path("/sys/fs/cgroup/cpu")
_V2 = Path("/sys/fs/cgroup")
_NAME = re.compile(r"^ct(\d+)h\d+$")


def _root() -> tuple[Path, int]:
    """The cpu controller's folder and its cgroup version."""
    if (_V1 / "cpu.cfs_quota_us").exists():
        return _V1, 1
    controllers = _V2 / "cgroup.controllers"
    if controllers.exists() and "cpu" in controllers.read_text().split():
        return _V2, 2
    raise RuntimeError(
        "no cgroup cpu controller is mounted (v1 /sys/fs/cgroup/cpu or v2 cpu.max)"
    )


@dataclass(frozen=True)
class CpuShare:
    """One host's cgroup and its quota in cores."""

    path: Path
    cores: float

    def command(self, args: Sequence[str]) -> list[str]:
        """``args`` run in this cgroup: the shell joins it, then becomes ``args``."""
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(self.path),
                *args]  # fmt: skip


def create(name: str, cores: float) -> CpuShare:
    """A new cgroup ``name`` whose processes together get ``cores`` cores."""
    root, version = _root()
    path = root / name
    path.mkdir()
    quota = max(1000, round(PERIOD_US * cores))
    if version == 1:
        (path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (path / "cpu.cfs_quota_us").write_text(str(quota))
    else:
        (path / "cpu.max").write_text(f"{quota} {PERIOD_US}")
    return CpuShare(path, cores)


def _members(path: Path) -> list[int]:
    try:
        return [int(pid) for pid in (path / "cgroup.procs").read_text().split()]
    except FileNotFoundError:
        return []


def remove(path: Path) -> None:
    """Kill every process of the cgroup at ``path``, then remove it."""
    deadline = time.monotonic() + 30
    while True:
        members = _members(path)
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            try:
                path.rmdir()
                return
            except OSError:  # still busy: its processes are being reaped
                if time.monotonic() > deadline:
                    raise
        if not path.exists():
            return
        time.sleep(0.05)


def remove_stale() -> list[str]:
    """Remove the ``ct<pid>h<N>`` cgroups of runs whose process is gone."""
    try:
        root, _ = _root()
    except RuntimeError:
        return []
    removed = []
    for path in root.iterdir():
        match = _NAME.match(path.name)
        if path.is_dir() and match and not psutil.pid_exists(int(match.group(1))):
            remove(path)
            removed.append(path.name)
    return removed


def existing(pid: int | None = None) -> list[str]:
    """Names of the cgroups of process ``pid`` (this one by default)."""
    try:
        root, _ = _root()
    except RuntimeError:
        return []
    prefix = f"ct{os.getpid() if pid is None else pid}h"
    return [path.name for path in root.iterdir() if path.name.startswith(prefix)]


def members(names: Sequence[str]) -> list[int]:
    """The processes in the cgroups named ``names`` (those that exist)."""
    root, _ = _root()
    return [pid for name in names for pid in _members(root / name)]
