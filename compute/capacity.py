"""Capacity: the memory and threads of this machine and of a Dask cluster.

The one place that says how much work fits where. Thread counts come from
``dask.system.CPU_COUNT``, which respects cgroup limits and CPU affinity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dask.config
import dask.system
import psutil

from compute.config import setting

if TYPE_CHECKING:
    from distributed import Client


def machine_bytes() -> float:
    """Total memory of this machine, in bytes."""
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
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    limits = [worker.get("memory_limit") or 0 for worker in workers]
    threads = sum(worker.get("nthreads", 1) for worker in workers)
    if not (limits and all(limits)):
        return machine_bytes(), max(threads, 1)
    pause = dask.config.get("distributed.worker.memory.pause", 0.8) or 1.0
    return float(max(limits)) * pause, max(threads, 1)
