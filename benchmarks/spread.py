"""One product, and one n, spread over workers (compute.toom_graph).

- A distributed product of two 100 Mbit numbers on 2 and 4 single-thread
  workers against one gmpy2 multiply in this process, pair by pair: the
  chunks are on the workers before the clock starts, and the clock stops
  when every chunk of the product is computed (no gather).
- n = 5e7 on four workers of ``cluster.connect(memory_limit="1GiB")``: too large for
  one of them, so it is spread; exact, and whether any worker paused or
  was restarted, with every worker's peak resident memory.

``python -m benchmarks.spread`` prints both as JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import gmpy2
from distributed import Client, LocalCluster

import compute
from cluster import connect
from tests.remote import worker_statuses

PRODUCT_BITS = 100_000_000
CHUNK_BITS = 1 << 23  # 1 MiB chunks: 96 per operand
SPREAD_N = 5 * 10**7


def _peak_rss_bytes() -> int:
    """This process's peak resident memory since it started its program.

    ``VmHWM`` belongs to the address space, which exec replaces; getrusage's
    ``ru_maxrss`` would carry over the peak of the process that forked it.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def product_table(runs: int) -> list[dict[str, object]]:
    """Distributed 100 Mbit x 100 Mbit on 2 and 4 workers, against gmpy2."""
    state = gmpy2.random_state(42)
    a = gmpy2.mpz_urandomb(state, PRODUCT_BITS) | gmpy2.mpz(1) << (PRODUCT_BITS - 1)
    b = gmpy2.mpz_urandomb(state, PRODUCT_BITS) | gmpy2.mpz(1) << (PRODUCT_BITS - 1)
    exact = a * b
    rows = []
    for workers in (2, 4):
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, dashboard_address=":0"
            ) as cluster,
            Client(cluster, set_as_default=False) as client,
        ):
            ours, theirs, ratios = [], [], []
            for _ in range(runs):
                # Scattered afresh (new keys), so no earlier product is reused.
                held_a = compute.ChunkedInteger.scatter(
                    a, client=client, chunk_bits=CHUNK_BITS
                ).wait()
                held_b = compute.ChunkedInteger.scatter(
                    b, client=client, chunk_bits=CHUNK_BITS
                ).wait()
                start = time.perf_counter()
                product = held_a.multiply(held_b).wait(timeout=600)
                ours.append(time.perf_counter() - start)
                start = time.perf_counter()
                _ = a * b
                theirs.append(time.perf_counter() - start)
                ratios.append(ours[-1] / theirs[-1])
            assert product.to_mpz() == exact
            rows.append(
                {
                    "workers": workers,
                    "distributed_s": statistics.median(ours),
                    "gmpy2_s": statistics.median(theirs),
                    "ratio": statistics.median(ratios),
                }
            )
    return rows


def spread_memory() -> dict[str, object]:
    """n = 5e7 on four 1 GiB workers: exact, nobody paused or restarted."""
    with connect(
        n_workers=4,
        threads_per_worker=1,
        memory_limit="1GiB",
        dashboard_address="127.0.0.1:0",
        set_as_default=False,
    ) as client:
        pids = client.run(os.getpid)
        start = time.perf_counter()
        value = compute.factorial(SPREAD_N, client=client)
        seconds = time.perf_counter() - start
        restarted = client.run(os.getpid) != pids
        statuses = worker_statuses(client)
        peaks = client.run(_peak_rss_bytes)
    start = time.perf_counter()
    exact = value == gmpy2.fac(SPREAD_N)
    gmpy2_seconds = time.perf_counter() - start
    if not exact:
        raise AssertionError(f"spread: {SPREAD_N}! on four 1 GiB workers is not exact")
    return {
        "n": SPREAD_N,
        "seconds": seconds,
        "gmpy2_fac_and_compare_s": gmpy2_seconds,
        "exact": exact,
        "paused": "paused" in statuses,
        "restarted": restarted,
        "worker_peak_bytes": sorted(peaks.values()),
        "result_bytes": (value.bit_length() + 7) // 8,
    }


if __name__ == "__main__":
    print(json.dumps({"products": product_table(3), "spread": spread_memory()}))
