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
    largest, _, threads = cluster_memory(client)
    return largest, threads


def cluster_memory(client: Client) -> tuple[float, float, int]:
    """Usable memory of the largest worker, of all workers, and total threads.

    As :func:`cluster_capacity`; the total counts a worker without a limit
    as this machine's memory, and is at most this machine's memory when the
    workers run here (a LocalCluster's limits share one machine).
    """
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    limits = [worker.get("memory_limit") or 0 for worker in workers]
    threads = max(sum(worker.get("nthreads", 1) for worker in workers), 1)
    if not (limits and all(limits)):
        return machine_bytes(), machine_bytes(), threads
    pause = dask.config.get("distributed.worker.memory.pause", 0.8) or 1.0
    return float(max(limits)) * pause, float(sum(limits)) * pause, threads
