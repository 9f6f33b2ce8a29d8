"""The spread graph's real work and critical path, task by task.

n! is planned for 2, 4 and 8 single-thread workers exactly as
``compute.factorial`` plans it (``compute.plan.split_for``), products spread
for speed too (``benchmarks.scaling.SPREAD_FOR_SPEED``), and run on a
LocalCluster of that many workers. With 4 or 8 workers on this machine's 2
cores, every task would run slower than on a core of its own, and by more
than w/2: time-sliced GMP products thrash each other's caches. So every task
is wrapped to run as the model counts it, on a core of its own: it first takes
one of ``CORES`` leases of a ``distributed.Semaphore``, so that no more tasks
compute at once than there are cores, and multiplies on one thread (the
model's one thread per product). Its seconds are its wall time while it holds
the lease; transfers and scheduling stay outside, as in the model.

From those seconds: the work is their sum; the dependency path is the
longest chain through the graph; the schedule is the graph run by greedy
list scheduling on ``w`` workers (longest remaining chain first, transfers
left out). The model's critical path (``benchmarks.scaling.spread_costs``)
counts rounds of ``w`` tasks, so the schedule is what it predicts.
"""

from __future__ import annotations

import heapq
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Hashable

import dask.config
import gmpy2
from dask._task_spec import Task
from dask.core import get_dependencies
from dask.utils import key_split
from distributed import Semaphore, as_completed

from benchmarks.scaling import SPREAD_FOR_SPEED, spread_costs
from cluster.connect import ROOMY_WORKER_BYTES, connect
from compute.capacity import cluster_memory
from compute.graph import batch_graph
from compute.kernels import multiplying
from compute.plan import plan_batch
from compute.toom import join_chunks
from compute.toom_graph import ChunkedGraph

N = 5 * 10**7
CORES = os.cpu_count() or 1
# Bound on any one wait: for a core, or for the whole graph.
WAIT_SECONDS = 600

# Seconds of each task run in this (worker) process, by key.
_SECONDS: dict[str, float] = {}


def _timed(
    name: str,
    cores: Semaphore,
    func: Callable[..., object],
    *args: object,
    **kwargs: object,
) -> object:
    """``func(*args, **kwargs)`` alone on a core, timed under ``name``."""
    multiplying.THREADED_MULTIPLY_BITS = sys.maxsize  # one thread per product
    if not cores.acquire(timeout=WAIT_SECONDS):
        raise TimeoutError(f"{name} found no free core in {WAIT_SECONDS} s")
    start = time.perf_counter()
    try:
        return func(*args, **kwargs)
    finally:
        _SECONDS[name] = time.perf_counter() - start
        cores.release()


def _task_seconds() -> dict[str, float]:
    """This worker's recorded task seconds (run on each worker)."""
    return dict(_SECONDS)


def _metered(graph: dict, cores: Semaphore) -> dict:
    """``graph`` with every task wrapped by :func:`_timed`, keys unchanged."""
    return {
        key: Task(key, _timed, str(key), cores, node.func, *node.args, **node.kwargs)
        if isinstance(node, Task)
        else node
        for key, node in graph.items()
    }


def _graph(output: object) -> tuple[dict, list]:
    """The whole task graph of one planned output, and the keys to compute."""
    if isinstance(output, ChunkedGraph):
        return dict(output.graph.tasks), output.keys
    return dict(output.__dask_graph__()), [output.key]


def _dependencies(graph: dict) -> dict[Hashable, set]:
    return {key: set(get_dependencies(graph, key)) for key in graph}


def _longest_path(dependencies: dict[Hashable, set], seconds: dict) -> float:
    """The largest sum of task times along any chain of dependencies."""
    finish: dict = {}
    for key in _topological(dependencies):
        before = max((finish[dep] for dep in dependencies[key]), default=0.0)
        finish[key] = before + seconds.get(key, 0.0)
    return max(finish.values())


def _topological(dependencies: dict[Hashable, set]) -> list:
    waiting = {key: len(deps) for key, deps in dependencies.items()}
    dependents = _dependents(dependencies)
    order = [key for key, count in waiting.items() if count == 0]
    for key in order:  # grows while iterated
        for after in dependents[key]:
            waiting[after] -= 1
            if waiting[after] == 0:
                order.append(after)
    return order


def _dependents(dependencies: dict[Hashable, set]) -> dict[Hashable, list]:
    dependents: dict[Hashable, list] = defaultdict(list)
    for key, deps in dependencies.items():
        for dep in deps:
            dependents[dep].append(key)
    return dependents


def _schedule(dependencies: dict[Hashable, set], seconds: dict, workers: int) -> float:
    """Makespan of greedy list scheduling on ``workers``, longest chain first."""
    dependents = _dependents(dependencies)
    remaining: dict = {}  # longest chain from a task to the end, itself included
    for key in reversed(_topological(dependencies)):
        after = max((remaining[k] for k in dependents[key]), default=0.0)
        remaining[key] = seconds.get(key, 0.0) + after
    waiting = {key: len(deps) for key, deps in dependencies.items()}
    order = {key: index for index, key in enumerate(dependencies)}
    ready = [(-remaining[k], order[k], k) for k, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    running: list = []
    now, idle = 0.0, workers
    while ready or running:
        while idle and ready:
            _, index, key = heapq.heappop(ready)
            heapq.heappush(running, (now + seconds.get(key, 0.0), index, key))
            idle -= 1
        now, _, key = heapq.heappop(running)
        idle += 1
        for after in dependents[key]:
            waiting[after] -= 1
            if waiting[after] == 0:
                heapq.heappush(ready, (-remaining[after], order[after], after))
    return now


def _by_stage(seconds: dict) -> dict[str, float]:
    stages: dict[str, float] = defaultdict(float)
    for key, value in seconds.items():
        stages[key_split(key)] += value
    return dict(sorted(stages.items(), key=lambda item: -item[1]))


def measure(n: int, workers: int) -> dict[str, object]:
    # The package's own LocalCluster (its worker preloads and heap settings).
    # Each worker's limit is set roomy, as on the hosts the model stands for:
    # below ROOMY_WORKER_BYTES workers keep distributed's 64 KiB malloc trim
    # threshold, under which every chunk-sized temporary is a fresh mmap and
    # the linear stages run 1.6-2.8x slower (interpolation of 32 Mbit chunks:
    # 26 ms against 9.7 ms here).
    with (
        dask.config.set(SPREAD_FOR_SPEED),
        connect(
            n_workers=workers,
            threads_per_worker=1,
            dashboard_address=":0",
            memory_limit=ROOMY_WORKER_BYTES,
            set_as_default=False,
        ) as client,
    ):
        worker_bytes, _, threads = cluster_memory(client)
        walks = plan_batch([n], threads, worker_bytes)
        outputs, _ = batch_graph(walks)
        graph, keys = _graph(outputs[0])
        cores = Semaphore(
            max_leases=CORES,
            name="critical-path-cores",
            scheduler_rpc=client.scheduler,
            loop=client.loop,
        )
        futures = client.get(_metered(graph, cores), keys, sync=False)
        for _ in as_completed(futures, loop=client.loop, timeout=WAIT_SECONDS):
            pass
        output = outputs[0]
        if isinstance(output, ChunkedGraph):
            value = join_chunks(client.gather(futures), output.chunk_bits)
        else:
            value = futures[0].result()
        recorded = client.run(_task_seconds)
        cores.close()
    names = {str(key): key for key in graph}
    seconds = {names[name]: s for each in recorded.values() for name, s in each.items()}
    dependencies = _dependencies(graph)
    work = sum(seconds.values())
    path = _longest_path(dependencies, seconds)
    schedule = _schedule(dependencies, seconds, workers)
    with dask.config.set(SPREAD_FOR_SPEED):
        model = spread_costs(n, workers)
    split = walks[0].split
    if value != gmpy2.fac(n):
        raise AssertionError(f"critical path: {n}! on {workers} workers is not exact")
    return {
        "n": n,
        "workers": workers,
        "exact": True,
        "ways": list(split.spread.ways) if split and split.spread else [],
        "pieces": split.pieces if split else 1,
        "tasks": len(seconds),
        "measured_work_s": work,
        "measured_dependency_path_s": path,
        "measured_schedule_s": schedule,
        "measured_busy_workers": work / schedule,
        "measured_work_by_stage_s": _by_stage(seconds),
        "model_work_s": model["work_s"],
        "model_critical_path_s": model["critical_path_s"],
        "model_busy_workers": model["work_s"] / model["critical_path_s"],
        "schedule_over_model": schedule / model["critical_path_s"],
        "work_over_model": work / model["work_s"],
    }


def critical_path_table(n: int = N) -> list[dict[str, object]]:
    return [measure(n, workers) for workers in (2, 4, 8)]


if __name__ == "__main__":
    # Imported by name, so the workers unpickle this module's _timed, not __main__'s.
    from benchmarks import critical_path

    print(json.dumps(critical_path.critical_path_table(), indent=1))
