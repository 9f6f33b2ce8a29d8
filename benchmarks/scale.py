"""``make bench-scale``: one n and batches on a time-dilated scale model.

Each emulated host is a network namespace on a private bridge whose
processes share ``1 / D`` of a core (a cgroup CPU quota) and whose link runs
at ``1 Gbit/s / D`` (``tests/netns.py``, ``tests/cpu_share.py``): every step
runs D times slower than on a host of one core and a 1 Gbit/s link, so
measured seconds / D are the emulated seconds (DieCast, NSDI 2008). For W
worker hosts there is a scheduler host and a client host too, and D is the
smallest with (W + 2) / D <= this machine's cores. Every worker host has the
memory of this machine divided by the largest W (1.5 GiB of 24 GiB for 16),
or ``SCALE_HOST_MEMORY`` (say ``1.5GiB``: the full run's hosts, for a run
narrowed by ``SCALE_HOSTS``).

Before any figure, each D is calibrated: a 100 Mbit GMP multiply and
``gmpy2.fac(10**7)`` on one dilated host take D times their time here
(within 10%), a transfer between two hosts runs at the link's rate (within
15%), and a Dask round trip takes about D times its undilated time. A check
that fails stops the bench, naming the part that is off.

The user's script is the same for every W: ``compute.factorial(n)`` or
``compute.factorial_many(ns)`` with ``DASK_SCHEDULER_ADDRESS``, timed around
the call, run on the client host; the anchors run on one dilated host.
Writes ``benchmarks/results/scale.json`` and ``scale.png``. Needs root.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask.utils
import psutil

from benchmarks.scaling import spread_costs
from compute.cost import factorial_bits, factorial_seconds
from compute.plan import batch_seconds
from compute.tasks import stage_of
from tests import netns
from tests.remote import clean_env

RESULTS = Path(__file__).parent / "results"
# SCALE_HOSTS / SCALE_WORKLOADS narrow a run; SCALE_NAME names its files.
NAME = os.environ.get("SCALE_NAME", "scale")
HOST_COUNTS = tuple(
    int(w) for w in os.environ.get("SCALE_HOSTS", "1,2,4,8,16").split(",")
)
RATE = "1gbit"
RATE_BYTES = 1e9 / 8
# A check outside its tolerance stops the bench. A Dask round trip is only
# reported: a CPU quota slows what runs long enough to exhaust it (compute,
# transfers) but not a burst shorter than the quota per period (one message:
# well under a millisecond of CPU on each host), so round trips stay near their
# undilated time, and in emulated seconds the per-task overhead of Dask is
# understated by up to D times (a few ms per task on the critical path).
CALIBRATION_TOLERANCE = {
    "compute": 0.10,
    "transfer": 0.15,
    "speed": None,
    "round trip": None,
}
CALIBRATION_PAIRS = 2


def workloads() -> dict[str, tuple[str, object]]:
    """Name -> (kind, argument): one n, or a batch of n."""
    generator = random.Random(2026)
    small = generator.sample(range(10**4, 10**5 + 1), 1000)
    large = generator.sample(range(10**5, 10**6 + 1), 200)
    chosen = os.environ.get("SCALE_WORKLOADS")
    every = {
        "5e7!": ("one", 5 * 10**7),
        "1e8!": ("one", 10**8),
        "1000 n in [1e4, 1e5]": ("many", small),
        "200 n in [1e5, 1e6]": ("many", large),
    }
    return {k: v for k, v in every.items() if not chosen or k in chosen.split(";")}


# The user's call, timed; a digest of the result to check it against the anchor.
USER = """
import hashlib, json, sys, time
import gmpy2
import compute

if __name__ == "__main__":
    kind, argument = json.loads(sys.argv[1])
    start = time.perf_counter()
    if kind == "one":
        values = [compute.factorial(argument)]
    else:
        values = compute.factorial_many(argument)
    seconds = time.perf_counter() - start
    digest = hashlib.sha256(b"".join(gmpy2.to_binary(v) for v in values)).hexdigest()
    print(json.dumps({"seconds": seconds, "digest": digest}))
"""
ANCHOR = """
import hashlib, json, sys, time
import gmpy2

kind, argument = json.loads(sys.argv[1])
ns = [argument] if kind == "one" else argument
start = time.perf_counter()
values = [gmpy2.fac(n) for n in ns]
seconds = time.perf_counter() - start
digest = hashlib.sha256(b"".join(gmpy2.to_binary(v) for v in values)).hexdigest()
print(json.dumps({"seconds": seconds, "digest": digest}))
"""
# Wall and CPU seconds of each check, in one process.
COMPUTE_CALIBRATION = """
import json, time
import gmpy2

def timed(work):
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return [time.perf_counter() - wall, time.process_time() - cpu]

state = gmpy2.random_state(2026)
a, b = gmpy2.mpz_urandomb(state, 10**8), gmpy2.mpz_urandomb(state, 10**8)
print(json.dumps({
    "multiply_100mbit": timed(lambda: a * b),
    "fac_1e7": timed(lambda: gmpy2.fac(10**7)),
}))
"""
SINK = """
import socket, sys, time
server = socket.socket(); server.bind((sys.argv[1], 9999)); server.listen(1)
print("ready", flush=True)
connection, _ = server.accept()
total, start = 0, None
while True:
    data = connection.recv(1 << 20)
    if start is None:
        start = time.perf_counter()
    if not data:
        break
    total += len(data)
print(total, time.perf_counter() - start, flush=True)
"""
SOURCE = """
import socket, sys
connection = socket.create_connection((sys.argv[1], 9999), timeout=60)
connection.sendall(bytes(int(sys.argv[2])))
connection.close()
"""
ROUND_TRIP = """
import json, statistics, sys, time
from distributed import Client

with Client(sys.argv[1], timeout=60) as client:
    client.wait_for_workers(1, timeout=120)
    times = []
    for number in range(21):
        start = time.perf_counter()
        client.submit(abs, -number, pure=False).result()
        times.append(time.perf_counter() - start)
print(json.dumps(statistics.median(times[1:])))
"""
TASK_STREAM = """
import json, sys
from distributed import Client

with Client(sys.argv[1], timeout=60) as client:
    stream = client.get_task_stream(start=float(sys.argv[2]))
print(json.dumps([
    {
        "key": str(task["key"]),
        "startstops": [
            {"action": s["action"], "start": s["start"], "stop": s["stop"]}
            for s in task["startstops"]
        ],
    }
    for task in stream
]))
"""


def dilation_for(workers: int) -> int:
    """The smallest D with (workers + scheduler + client) / D <= the cores here."""
    return max(2, math.ceil((workers + 2) / (os.cpu_count() or 1)))


def host_memory() -> int:
    if os.environ.get("SCALE_HOST_MEMORY"):
        return int(dask.utils.parse_bytes(os.environ["SCALE_HOST_MEMORY"]))
    return psutil.virtual_memory().total // max(HOST_COUNTS)


def _json_run(network, host, source: str, args: list[str], env, timeout) -> dict:
    finished = network.run(host, [sys.executable, "-c", source, *args], env, timeout)
    if finished.returncode:
        raise RuntimeError(finished.stderr[-3000:])
    return json.loads(finished.stdout.strip().splitlines()[-1])


def _compute_here(env: dict[str, str]) -> dict:
    finished = subprocess.run(
        [sys.executable, "-c", COMPUTE_CALIBRATION],
        env=env, capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    return json.loads(finished.stdout)


def calibrate(dilation: int, env: dict[str, str], round_trip_here: float) -> dict:
    """The checks of one D; raises naming the part that is off.

    A compute check passes when its wall time on the dilated host is D times
    the CPU time it used there: the host got 1/D of a core. Beside it, its
    emulated time over the same work here (run in turn, median of pairs) is
    reported: this machine's own speed drifts by tens of percent from one
    minute to the next (gmpy2.fac(10**7) took 3.1 s and 4.9 s here minutes
    apart), which no share of it can remove.
    """
    ratios: dict[str, list[float]] = {"multiply_100mbit": [], "fac_1e7": []}
    shares: dict[str, list[float]] = {"multiply_100mbit": [], "fac_1e7": []}
    with netns.hosts(4, rate=RATE, cores=1, dilation=dilation) as network:
        first, second, scheduler_host, client_host = network.hosts
        for _ in range(CALIBRATION_PAIRS):
            here = _compute_here(env)
            there = _json_run(network, first, COMPUTE_CALIBRATION, [], env, 900)
            for key in ratios:
                (wall, cpu), (here_wall, _) = there[key], here[key]
                shares[key].append(wall / (dilation * cpu))
                ratios[key].append(wall / dilation / here_wall)
        size = 20_000_000
        sink = network.start(
            second, [sys.executable, "-c", SINK, second.address], env,
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert sink.stdout.readline().strip() == "ready"
        network.run(
            first, [sys.executable, "-c", SOURCE, second.address, str(size)], env, 300
        )
        received, seconds = sink.stdout.readline().split()
        link = int(received) / float(seconds)
        address = network.start_scheduler(scheduler_host, env, subprocess.DEVNULL)
        network.start_worker(first, address, env, subprocess.DEVNULL, "calibration")
        round_trip = _json_run(network, client_host, ROUND_TRIP, [address], env, 600)
    rows = {
        "compute: 100 Mbit multiply, wall / (D x CPU)": statistics.median(
            shares["multiply_100mbit"]
        ),
        "compute: gmpy2.fac(10**7), wall / (D x CPU)": statistics.median(
            shares["fac_1e7"]
        ),
        "speed: 100 Mbit multiply / D against here": statistics.median(
            ratios["multiply_100mbit"]
        ),
        "speed: gmpy2.fac(10**7) / D against here": statistics.median(
            ratios["fac_1e7"]
        ),
        "transfer: bytes/s x D": link * dilation / RATE_BYTES,
        "round trip: Dask submit/result": round_trip / dilation / round_trip_here,
    }
    report = {}
    for name, ratio in rows.items():
        tolerance = CALIBRATION_TOLERANCE[name.split(":")[0]]
        report[name] = ratio
        print(f"  D={dilation} {name}: {ratio:.3f} of the reference", flush=True)
        if tolerance is not None and abs(ratio - 1) > tolerance:
            raise SystemExit(
                f"calibration failed at D={dilation}: {name} is {ratio:.2f}x its "
                f"reference (tolerance {tolerance:.0%}); the scale model is off"
            )
    return report


def undilated_round_trip(env: dict[str, str]) -> float:
    """A Dask round trip between plain hosts: the reference for the dilated ones."""
    with netns.hosts(3) as network:
        scheduler_host, worker_host, client_host = network.hosts
        address = network.start_scheduler(scheduler_host, env, subprocess.DEVNULL)
        network.start_worker(worker_host, address, env, subprocess.DEVNULL, "reference")
        return _json_run(network, client_host, ROUND_TRIP, [address], env, 300)


def anchors(env: dict[str, str], dilation: int) -> dict[str, dict]:
    """Each workload by gmpy2 on one dilated host: emulated seconds and digest."""
    found = {}
    with netns.hosts(1, cores=1, dilation=dilation) as network:
        [host] = network.hosts
        for name, work in workloads().items():
            result = _json_run(network, host, ANCHOR, [json.dumps(work)], env, 3600)
            result["seconds"] /= dilation
            found[name] = result
            print(f"  anchor {name}: {result['seconds']:.2f} s emulated", flush=True)
    return found


def _where_time_goes(stream: list[dict], workers: int, wall: float) -> dict:
    """Shares of emulated time from the scheduler's task stream (dilated clock)."""
    compute_by_stage: dict[str, float] = {}
    transfer_seconds = 0.0
    first, last = math.inf, -math.inf
    for task in stream:
        stage = stage_of(task["key"]) or str(task["key"])
        for span in task["startstops"]:
            seconds = span["stop"] - span["start"]
            first, last = min(first, span["start"]), max(last, span["stop"])
            if span["action"] == "compute":
                compute_by_stage[stage] = compute_by_stage.get(stage, 0.0) + seconds
            elif span["action"] == "transfer":
                transfer_seconds += seconds
    span_seconds = max(0.0, last - first) if stream else 0.0
    busy = sum(compute_by_stage.values()) + transfer_seconds
    return {
        "compute_s_by_stage": compute_by_stage,
        "transfer_s": transfer_seconds,
        "tasks_span_s": span_seconds,
        "outside_tasks_s": max(0.0, wall - span_seconds),
        "idle_worker_s": max(0.0, workers * span_seconds - busy),
        "worker_s_available": workers * span_seconds,
    }


def model(kind: str, argument, workers: int) -> float:
    """The model's emulated seconds: critical path plus the result's trip."""
    if kind == "one":
        path = spread_costs(argument, workers, host_memory())["critical_path_s"]
        return path + factorial_bits(argument) / 8 / RATE_BYTES
    ns = sorted(set(argument))
    results_bytes = sum(factorial_bits(n) for n in ns) / 8
    return max(batch_seconds(ns) / workers, max(factorial_seconds(n) for n in ns)) + (
        results_bytes / RATE_BYTES
    )


def user_config() -> dict[str, str]:
    """Dask settings for the user's process only: each ``SCALE_DASK_X=v`` of
    this environment as ``DASK_X=v``
    (``SCALE_DASK_COMPUTE__DISTRIBUTED_THREADS=1000``: no spread for speed)."""
    return {
        key.removeprefix("SCALE_"): value
        for key, value in os.environ.items()
        if key.startswith("SCALE_DASK_")
    }


def run_hosts(workers: int, env: dict[str, str], folder: Path) -> dict[str, dict]:
    """Every workload with ``workers`` worker hosts; emulated seconds and shares."""
    dilation = dilation_for(workers)
    script = folder / "user.py"
    script.write_text(USER)
    found = {}
    log = (folder / f"cluster-{workers}.log").open("w")
    with netns.hosts(workers + 2, rate=RATE, cores=1, dilation=dilation) as network:
        scheduler_host, *worker_hosts, client_host = network.hosts
        address = network.start_scheduler(scheduler_host, env, log)
        for number, host in enumerate(worker_hosts):
            network.start_worker(
                host, address, env, log, f"host-{number + 1}", str(host_memory())
            )
        _json_run(
            network, client_host,
            "import json, sys\nfrom distributed import Client\n"
            "with Client(sys.argv[1], timeout=120) as c:\n"
            "    c.wait_for_workers(int(sys.argv[2]), timeout=900)\n"
            "print(json.dumps(1))",
            [address, str(workers)], env, 1200,
        )  # fmt: skip
        # The scheduler records its task stream only once asked for it.
        _json_run(
            network, client_host, TASK_STREAM, [address, str(time.time())], env, 600
        )
        user_env = {**env, **user_config(), "DASK_SCHEDULER_ADDRESS": address}
        for name, (kind, argument) in workloads().items():
            started = time.time()
            finished = network.run(
                client_host,
                [sys.executable, str(script), json.dumps([kind, argument])],
                user_env,
                7200,
            )
            if finished.returncode:
                found[name] = {"error": finished.stderr.strip().splitlines()[-1]}
                print(f"  W={workers} {name}: {found[name]['error']}", flush=True)
                continue
            result = json.loads(finished.stdout.strip().splitlines()[-1])
            wall = result["seconds"]
            stream = _json_run(
                network, client_host, TASK_STREAM, [address, str(started)], env, 600
            )
            where = _where_time_goes(stream, workers, wall)
            found[name] = {
                "seconds": wall / dilation,
                "digest": result["digest"],
                "model_s": model(kind, argument, workers),
                "where": {
                    key: (
                        {k: v / dilation for k, v in value.items()}
                        if isinstance(value, dict)
                        else value / dilation
                    )
                    for key, value in where.items()
                },
            }
            print(
                f"  W={workers} {name}: {wall / dilation:.2f} s emulated (D={dilation},"
                f" model {found[name]['model_s']:.2f} s)",
                flush=True,
            )
    return {"dilation": dilation, "runs": found}


def plot(table: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(table["anchors"])
    figure, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.8))
    for axis, name in zip(list(getattr(axes, "flat", [axes])), names, strict=False):
        anchor = table["anchors"][name]["seconds"]
        counts, measured, modelled = [], [], []
        for workers, row in table["hosts"].items():
            run = row["runs"].get(name, {})
            if "seconds" in run:
                counts.append(int(workers))
                measured.append(anchor / run["seconds"])
                modelled.append(anchor / run["model_s"])
        axis.plot(counts, modelled, linestyle="--", label="model")
        axis.plot(counts, measured, marker="o", label="measured")
        axis.axhline(1.0, color="grey", linewidth=0.8)
        axis.set_xscale("log", base=2)
        axis.set_xticks(counts, [str(c) for c in counts])
        axis.set_title(name)
        axis.set_xlabel("worker hosts")
        axis.set_ylabel("speedup over gmpy2 on one host")
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> int:
    netns.check_available()
    start = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    env = clean_env(folder)
    table: dict[str, object] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "rate": RATE,
        "host_memory_bytes": host_memory(),
        "host_counts": list(HOST_COUNTS),
        "user_config": user_config(),
    }
    print("calibration ...", flush=True)
    round_trip = undilated_round_trip(env)
    table["round_trip_here_s"] = round_trip
    table["calibration"] = {
        str(d): calibrate(d, env, round_trip)
        for d in sorted({dilation_for(w) for w in HOST_COUNTS})
    }
    print("anchors on one dilated host ...", flush=True)
    table["anchors"] = anchors(env, dilation_for(1))
    hosts_table = {}
    for workers in HOST_COUNTS:
        print(f"{workers} worker hosts ...", flush=True)
        hosts_table[str(workers)] = run_hosts(workers, env, folder)
        for name, run in hosts_table[str(workers)]["runs"].items():
            anchor = table["anchors"][name]
            if "digest" in run and run["digest"] != anchor["digest"]:
                raise SystemExit(f"W={workers} {name}: the result differs from gmpy2's")
    table["hosts"] = hosts_table
    table["wall_s"] = time.monotonic() - start
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{NAME}.json").write_text(json.dumps(table, indent=2))
    plot(table, RESULTS / f"{NAME}.png")
    print_table(table)
    return 0


def print_table(table: dict) -> None:
    print("\nemulated seconds; speedup over gmpy2 on one host; model; vs W=1")
    for name, anchor in table["anchors"].items():
        print(f"{name} (gmpy2 on one host: {anchor['seconds']:.2f} s)")
        base = None
        for workers, row in table["hosts"].items():
            run = row["runs"].get(name, {})
            if "seconds" not in run:
                print(f"  {workers:>3} hosts: {run.get('error', 'not run')}")
                continue
            base = base or run["seconds"]
            off = run["seconds"] / run["model_s"] - 1
            print(
                f"  {workers:>3} hosts: {run['seconds']:8.2f} s "
                f"{anchor['seconds'] / run['seconds']:5.2f}x  model "
                f"{run['model_s']:8.2f} s ({off:+.0%})  "
                f"{base / run['seconds']:5.2f}x of W=1"
            )
    print(f"wall {table['wall_s'] / 60:.1f} min")


if __name__ == "__main__":
    sys.exit(main())
