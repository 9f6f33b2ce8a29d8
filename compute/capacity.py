"""Capacity: the memory and threads of this machine and of a Dask cluster.

The one place that says how much work fits where. Thread counts come from
``dask.system.CPU_COUNT``, which respects cgroup limits and CPU affinity.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import dask.config
import dask.system
import dask.utils
import psutil

from compute.config import setting

if TYPE_CHECKING:
    from distributed import Client, Worker

logger = logging.getLogger(__name__)


@functools.cache
def machine_bytes() -> float:
    """Total memory of this machine, in bytes (read once: 0.2 ms a call)."""
    return float(psutil.virtual_memory().total)


def in_process_threads() -> int:
    """Threads used in this process: ``compute.threads``, or Dask's CPU count."""
    return setting("threads") or dask.system.CPU_COUNT


def cluster_capacity(client: Client) -> tuple[float, int]:
    """Usable memory of the largest worker and total worker threads of a cluster.

    The memory is the worker's limit times ``distributed.worker.memory.pause``:
    work kept below it is neither paused nor killed by the memory monitor.
    Workers without a limit count as this machine's memory.
    """
    largest, _, threads = cluster_memory(client)
    return largest, threads


# Per client: when its workers were last asked for, their memory limits and
# their total threads.
_asked: dict[str, tuple[float, list[int], int]] = {}
_asked_lock = threading.Lock()


def cluster_memory(client: Client) -> tuple[float, float, int]:
    """Usable memory of the largest worker, of all workers, and total threads.

    As :func:`cluster_capacity`; the total counts a worker without a limit
    as this machine's memory, and is at most this machine's memory when the
    workers run here (a LocalCluster's limits share one machine). Asking the
    scheduler is a round trip, so its answer is kept for as long as the
    client keeps its own scheduler info
    (``distributed.client.scheduler-info-interval``, 2 s by default).
    """
    return usable_memory(*_worker_limits(client))


def usable_memory(limits: list[int], threads: int) -> tuple[float, float, int]:
    """:func:`cluster_memory`'s answer for workers of these memory limits
    (0: no limit) and ``threads`` threads in all."""
    if not (limits and all(limits)):
        return machine_bytes(), machine_bytes(), threads
    pause = dask.config.get("distributed.worker.memory.pause", 0.8) or 1.0
    return float(max(limits)) * pause, float(sum(limits)) * pause, threads


def _worker_limits(client: Client) -> tuple[list[int], int]:
    now = time.monotonic()
    kept_for = dask.utils.parse_timedelta(
        dask.config.get("distributed.client.scheduler-info-interval", "2s")
    )
    with _asked_lock:
        asked = _asked.get(client.id)
    if asked is not None and now - asked[0] < kept_for:
        return asked[1], asked[2]
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    limits = [worker.get("memory_limit") or 0 for worker in workers]
    threads = max(sum(worker.get("nthreads", 1) for worker in workers), 1)
    with _asked_lock:
        _asked[client.id] = (now, limits, threads)
    return limits, threads


def local_cluster_memory() -> tuple[float, float, int]:
    """As :func:`cluster_memory`, for the LocalCluster ``cluster.connect`` would start.

    Read from ``compute.cluster.*`` without starting it: each worker's limit
    is parsed as distributed's workers parse it.
    """
    from distributed.worker_memory import parse_memory_limit

    from cluster.config import local_cluster_defaults

    defaults = local_cluster_defaults()
    workers, threads = defaults["n_workers"], defaults["threads_per_worker"]
    limit = parse_memory_limit(defaults["memory_limit"], threads, logger=logger)
    return usable_memory([limit or 0] * workers, workers * threads)


# A worker process's own memory beside its task: 62-67 MiB idle (Python, dask,
# distributed, gmpy2, numpy; cluster.connect's workers), and room for the
# buffers and chunks it is sending or receiving.
WORKER_PROCESS_BYTES = 150e6


def spill_task_bytes(worker_bytes: float) -> float:
    """Memory one task may use on a worker of ``worker_bytes`` usable memory
    (:func:`usable_memory`) that spills its stored values to disk.

    distributed spills stored values once the process passes
    ``distributed.worker.memory.spill`` of its limit, down to ``target``,
    and warns when what is left is still above it. It cannot spill a
    running task's own memory or its inputs, nor data in transfer (up to
    ``distributed.worker.memory.transfer`` of the limit). So a task is kept
    below the target less the transfers, less the worker process itself.
    Planned to the pause threshold, 5e7! on two 576 MiB workers restarted
    them; below the target, it was exact, but about half the runs paused a
    worker or warned of unmanaged memory (a task's output and transfers
    outrun the spilling at that size); 1e8! on two 1 GiB workers, planned
    as here, spilled 166-400 MB with no warning.
    """
    pause = dask.config.get("distributed.worker.memory.pause", 0.8) or 1.0
    target = dask.config.get("distributed.worker.memory.target", 0.6) or pause
    transfer = dask.config.get("distributed.worker.memory.transfer", 0.1) or 0.0
    share = max(min(target, pause) - transfer, 0.0) / pause
    return max(worker_bytes * share - WORKER_PROCESS_BYTES, 0.0)


def scratch_directory() -> str:
    """Where workers started here spill: Dask's ``temporary-directory``, else
    the system's temporary directory (as distributed chooses it)."""
    return dask.config.get("temporary-directory", None) or tempfile.gettempdir()


def _configured_scratch() -> float:
    """``compute.scratch-space`` in bytes; ``auto`` is unbounded."""
    space = setting("scratch-space")
    return math.inf if space == "auto" else float(dask.utils.parse_bytes(space))


def disk_free_bytes(directory: str | os.PathLike[str]) -> tuple[int, float]:
    """The device of ``directory`` (or of its nearest existing parent) and its
    free bytes."""
    path = os.path.abspath(directory)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return os.stat(path).st_dev, float(shutil.disk_usage(path).free)


def local_scratch_bytes(
    reserved: Sequence[tuple[str | os.PathLike[str], float]] = (),
) -> float:
    """Scratch space of the LocalCluster ``cluster.connect`` would start:
    ``compute.scratch-space``, at most the free space of
    :func:`scratch_directory` less what the ``reserved`` files (their
    folder, their bytes) will take on the same disk (a run's output file and
    checkpoint)."""
    configured = _configured_scratch()
    if not configured:
        return 0.0
    device, free = disk_free_bytes(scratch_directory())
    free -= sum(
        size for folder, size in reserved if disk_free_bytes(folder)[0] == device
    )
    return min(configured, max(free, 0.0))


def _worker_disk(dask_worker: Worker) -> tuple[str, int, float]:
    return (dask_worker.ip, *disk_free_bytes(dask_worker.local_directory))


def cluster_scratch_bytes(client: Client) -> float:
    """Scratch space of a cluster's workers: the free space of their
    directories, each disk counted once, at most ``compute.scratch-space``."""
    configured = _configured_scratch()
    if not configured:
        return 0.0
    disks = client.run(_worker_disk)
    free = {(host, device): size for host, device, size in disks.values()}
    return min(configured, sum(free.values()))
