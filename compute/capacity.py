"""Capacity: the memory and threads of this machine and of a Dask cluster.

The one place that says how much work fits where. Thread counts come from
``dask.system.CPU_COUNT``, which respects cgroup limits and CPU affinity.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import TYPE_CHECKING

import dask.config
import dask.system
import dask.utils
import psutil

from compute.config import setting

if TYPE_CHECKING:
    from distributed import Client

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
