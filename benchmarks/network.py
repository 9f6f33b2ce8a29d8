"""The cluster path across real links: hosts in namespaces, 1 Gbit/s and unlimited.

A scheduler and two workers, each a host of its own (``tests/netns.py``),
and the client on a fourth. The same script times the 1000-n batch and
n = 1e7 on links limited to 1 Gbit/s by tbf, then on unlimited links (veth,
as fast as loopback). The bytes that crossed are the workers' outgoing
transfers (to each other and, for the results, to the client), and the
1 Gbit/s time is predicted as the unlimited time plus those bytes at the
link rate.
Needs root.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

from benchmarks.scaling import split_costs
from tests import netns
from tests.remote import clean_env

RATE_BITS = 10**9  # 1 Gbit/s
CLIENT_SCRIPT = """
import json, statistics, sys, time
import gmpy2
from distributed import Client
import compute

ns, runs = json.loads(sys.argv[2]), int(sys.argv[3])

def outgoing(client):
    totals = client.run(lambda dask_worker: dask_worker.transfer_outgoing_bytes_total)
    return sum(totals.values())

if __name__ == "__main__":
    with Client(sys.argv[1], timeout=30) as client:
        client.wait_for_workers(2, timeout=60)
        compute.factorial(10**5, client=client)
        rows = {}
        for name, work, expected in (
            ("batch", lambda: compute.factorial_many(ns, client=client), None),
            ("n=1e7", lambda: [compute.factorial(10**7, client=client)], None),
        ):
            times, moved = [], []
            for _ in range(runs):
                before = outgoing(client)
                start = time.perf_counter()
                values = work()
                times.append(time.perf_counter() - start)
                moved.append(outgoing(client) - before)
            rows[name] = {"median_s": statistics.median(times), "runs_s": times,
                          "bytes_moved": statistics.median(moved)}
        assert values[0] == gmpy2.fac(10**7)
        print(json.dumps(rows))
"""


def _run(rate: str | None, runs: int, ns: list[int], folder: Path) -> dict:
    env = clean_env(folder)
    script = folder / "network_client.py"
    script.write_text(CLIENT_SCRIPT)
    log = (folder / f"cluster-{rate or 'unlimited'}.log").open("w")
    with netns.hosts(4, rate=rate) as network:
        scheduler, *workers, client = network.hosts
        address = network.start_scheduler(scheduler, env, log)
        for number, worker in enumerate(workers):
            network.start_worker(worker, address, env, log, f"host-{number + 1}")
        finished = network.run(
            client,
            [sys.executable, str(script), address, json.dumps(ns), str(runs)],
            env,
            900,
        )
    if finished.returncode:
        raise RuntimeError(finished.stderr[-3000:])
    return json.loads(finished.stdout)


def network_table(runs: int, folder: Path) -> dict[str, object]:
    """Times on 1 Gbit/s and unlimited links, bytes moved, and the predictions."""
    ns = random.Random(2026).sample(range(10**4, 10**5 + 1), 1000)
    limited = _run("1gbit", runs, ns, folder)
    unlimited = _run(None, runs, ns, folder)
    rate = RATE_BITS / 8
    rows = {}
    for name in limited:
        moved = limited[name]["bytes_moved"]
        rows[name] = {
            "gbit_s": limited[name]["median_s"],
            "unlimited_s": unlimited[name]["median_s"],
            "bytes_moved": moved,
            "bytes_over_rate_s": moved / rate,
            "predicted_gbit_s": unlimited[name]["median_s"] + moved / rate,
            "runs": {"gbit": limited[name]["runs_s"], "unlimited": unlimited[name]},
        }
    # The model's critical path for n = 1e7 as 2 pieces on 2 worker hosts.
    _, model_unlimited = split_costs(10**7, 2)
    _, model_gbit = split_costs(10**7, 2, rate)
    rows["n=1e7"]["model_unlimited_s"] = model_unlimited
    rows["n=1e7"]["model_gbit_s"] = model_gbit
    return {"rate_bits_per_s": RATE_BITS, "rows": rows}


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        table = network_table(int(os.environ.get("RUNS", "3")), Path(folder))
    print(json.dumps(table, indent=2))
