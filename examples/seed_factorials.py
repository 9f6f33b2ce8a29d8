"""The seed notebook's factorial workload, on a Dask cluster.

Run it as a script: ``python examples/seed_factorials.py [N ...]``. With no
Dask config, ``cluster.connect()`` starts a LocalCluster of worker processes on
this machine; with ``DASK_SCHEDULER_ADDRESS`` set, the same script runs on that
scheduler.
"""

import sys
import time

import cluster
import compute
from cluster.status import show_status_lines
from compute.output import describe_factorial


def main(ns: list[int]) -> None:
    show_status_lines()  # cluster.connect logs the cluster it starts, and its dashboard
    start = time.perf_counter()
    with cluster.connect() as client:
        print(f"cluster ready in {(time.perf_counter() - start) * 1000:.0f} ms")
        start = time.perf_counter()
        compute.factorial_many(ns, client=client)
        print(f"factorial_many({ns}): {(time.perf_counter() - start) * 1000:.1f} ms")
        for n in ns:
            start = time.perf_counter()
            compute.factorial(n, client=client)
            print(describe_factorial(n, time.perf_counter() - start))


# Worker processes are spawned and re-import this file: the guard keeps them
# from running the workload themselves.
if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [5310, 5263, 7854])
