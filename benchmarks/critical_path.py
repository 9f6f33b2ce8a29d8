"""The spread graph's real work and critical path, from the task stream.

n! is planned for 2, 4 and 8 single-thread workers exactly as
``compute.factorial`` plans it (``compute.plan.split_for``), run on a
LocalCluster of that many workers, and timed task by task with
distributed's task stream. Work is the sum of the tasks' compute times; the
critical path is the longest chain of compute times through the graph's
dependencies (transfers and scheduling left out, as in the model). With 4
and 8 workers on this 2-core machine the workers are oversubscribed, so
every task runs slower: compare work against path (the workers the graph
can keep busy) rather than wall time, beside ``benchmarks.scaling``'s model.
"""

from __future__ import annotations

import json

import gmpy2
from dask.core import get_dependencies
from distributed import Client, LocalCluster, get_task_stream

from benchmarks.scaling import spread_costs
from compute.capacity import cluster_memory
from compute.distributed import ChunkedGraph
from compute.graph import batch_graph
from compute.plan import plan_batch
from compute.toom import join_chunks

N = 5 * 10**7


def _graph(output: object) -> tuple[dict, list]:
    """The whole task graph of one planned output, and the keys to compute."""
    if isinstance(output, ChunkedGraph):
        return dict(output.graph.tasks), output.keys
    return dict(output.__dask_graph__()), [output.key]


def _longest_path(graph: dict, seconds: dict) -> float:
    """The largest sum of task times along any chain of dependencies."""
    finish: dict = {}

    def reach(key: object) -> float:
        if key not in finish:
            before = max(
                (reach(dep) for dep in get_dependencies(graph, key)), default=0.0
            )
            finish[key] = before + seconds.get(key, 0.0)
        return finish[key]

    return max(reach(key) for key in graph)


def measure(n: int, workers: int) -> dict[str, object]:
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            dashboard_address=":0",
            # 8 workers on 2 cores close slowly: once, one cut its own heartbeat
            # and logged an ERROR (see cluster/worker_heartbeat.py).
            preload=["cluster.worker_heartbeat"],
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        worker_bytes, _, threads = cluster_memory(client)
        walks = plan_batch([n], threads, worker_bytes)
        outputs, _ = batch_graph(walks)
        graph, keys = _graph(outputs[0])
        with get_task_stream(client=client) as stream:
            futures = client.get(graph, keys, sync=False)
            client.gather(futures)
        output = outputs[0]
        if isinstance(output, ChunkedGraph):
            value = join_chunks(client.gather(futures), output.chunk_bits)
        else:
            value = futures[0].result()
    seconds: dict = {}
    for record in stream.data:
        for part in record["startstops"]:
            if part["action"] == "compute":
                seconds[record["key"]] = (
                    seconds.get(record["key"], 0.0) + part["stop"] - part["start"]
                )
    work = sum(seconds.values())
    path = _longest_path(graph, seconds)
    model = spread_costs(n, workers)
    split = walks[0].split
    return {
        "n": n,
        "workers": workers,
        "exact": value == gmpy2.fac(n),
        "ways": list(split.spread.ways) if split and split.spread else [],
        "pieces": split.pieces if split else 1,
        "tasks": len(seconds),
        "measured_work_s": work,
        "measured_critical_path_s": path,
        "measured_busy_workers": work / path,
        "model_work_s": model["work_s"],
        "model_critical_path_s": model["critical_path_s"],
        "model_busy_workers": model["work_s"] / model["critical_path_s"],
        "path_over_work_measured": path / work,
        "path_over_work_model": model["critical_path_s"] / model["work_s"],
    }


def critical_path_table(n: int = N) -> list[dict[str, object]]:
    return [measure(n, workers) for workers in (2, 4, 8)]


if __name__ == "__main__":
    print(json.dumps(critical_path_table(), indent=1))
