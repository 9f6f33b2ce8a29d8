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
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask.config
import dask.utils
import psutil

from benchmarks.scaling import lean_seconds, spread_costs
from compute.capacity import usable_memory
from compute.cost import can_spread, factorial_bits, factorial_seconds
from compute.plan import batch_seconds, split_for
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


def every_workload() -> dict[str, tuple[str, object]]:
    """Name -> (kind, argument): one n, or a batch of n."""
    generator = random.Random(2026)
    small = generator.sample(range(10**4, 10**5 + 1), 1000)
    large = generator.sample(range(10**5, 10**6 + 1), 200)
    return {
        "5e7!": ("one", 5 * 10**7),
        "1e8!": ("one", 10**8),
        "1000 n in [1e4, 1e5]": ("many", small),
        "200 n in [1e5, 1e6]": ("many", large),
    }


def workloads() -> dict[str, tuple[str, object]]:
    """The workloads of this run (``SCALE_WORKLOADS``, ``;``-separated names)."""
    chosen = os.environ.get("SCALE_WORKLOADS")
    every = every_workload()
    return {k: v for k, v in every.items() if not chosen or k in chosen.split(";")}


# The user's call, timed; a digest of the result to check it against the anchor.
USER = """
import hashlib, json, sys, time
import gmpy2
import compute

if __name__ == "__main__":
    kind, argument = json.loads(sys.argv[1])
    started, start = time.time(), time.perf_counter()
    if kind == "one":
        values = [compute.factorial(argument)]
    else:
        values = compute.factorial_many(argument)
    seconds = time.perf_counter() - start
    digest = hashlib.sha256(b"".join(gmpy2.to_binary(v) for v in values)).hexdigest()
    print(json.dumps({"seconds": seconds, "digest": digest, "started": started}))
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
        "worker": task.get("worker"),
        "nbytes": task.get("nbytes"),
        "startstops": [
            {"action": s["action"], "start": s["start"], "stop": s["stop"]}
            for s in task["startstops"]
        ],
    }
    for task in stream
]))
"""


# Each worker's incoming transfers since a time: bytes and the time its link
# was busy receiving (the union of its transfers' intervals).
TRANSFERS = """
import json, sys
from distributed import Client

def received(dask_worker, since):
    spans = sorted(
        (entry["start"], entry["stop"], entry["total"])
        for entry in dask_worker.transfer_incoming_log
        if entry["start"] >= since
    )
    busy, end, total = 0.0, float("-inf"), 0
    for start, stop, size in spans:
        busy += max(0.0, stop - max(start, end))
        end, total = max(end, stop), total + size
    return {"bytes": total, "busy_s": busy}

with Client(sys.argv[1], timeout=60) as client:
    found = client.run(received, since=float(sys.argv[2]))
print(json.dumps(list(found.values())))
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


def _where_time_goes(
    stream: list[dict], workers: int, wall: float, started: float
) -> dict:
    """Shares of emulated time from the scheduler's task stream (dilated clock)."""
    compute_by_stage: dict[str, float] = {}
    windows: dict[str, list[float]] = {}  # stage: first compute start, last stop
    transfer_seconds = 0.0
    first, last = math.inf, -math.inf
    for task in stream:
        stage = stage_of(task["key"]) or str(task["key"])
        for span in task["startstops"]:
            seconds = span["stop"] - span["start"]
            first, last = min(first, span["start"]), max(last, span["stop"])
            if span["action"] == "compute":
                compute_by_stage[stage] = compute_by_stage.get(stage, 0.0) + seconds
                window = windows.setdefault(stage, [span["start"], span["stop"]])
                window[0] = min(window[0], span["start"])
                window[1] = max(window[1], span["stop"])
            elif span["action"] == "transfer":
                transfer_seconds += seconds
    span_seconds = max(0.0, last - first) if stream else 0.0
    busy = sum(compute_by_stage.values()) + transfer_seconds
    return {
        "compute_s_by_stage": compute_by_stage,
        "stage_windows_s": {
            stage: {"from": start - first, "to": stop - first}
            for stage, (start, stop) in windows.items()
        },
        "transfer_s": transfer_seconds,
        "tasks_span_s": span_seconds,
        "outside_tasks_s": max(0.0, wall - span_seconds),
        "before_tasks_s": max(0.0, first - started) if stream else wall,
        "after_tasks_s": max(0.0, started + wall - last) if stream else 0.0,
        "idle_worker_s": max(0.0, workers * span_seconds - busy),
        "worker_s_available": workers * span_seconds,
    }


def _emulated(seconds: dict, dilation: int) -> dict:
    """Dilated seconds (nested in dicts) as emulated seconds."""
    return {
        key: _emulated(value, dilation) if isinstance(value, dict) else value / dilation
        for key, value in seconds.items()
    }


def _received(per_worker: list[dict], dilation: int) -> dict[str, float]:
    """Bytes workers received, and their links' busy emulated seconds: mean
    and most."""
    busy = [worker["busy_s"] / dilation for worker in per_worker] or [0.0]
    return {
        "bytes": sum(worker["bytes"] for worker in per_worker),
        "busy_mean_s": statistics.mean(busy),
        "busy_max_s": max(busy),
    }


def _cpu_stats(network) -> list[tuple[int, int]]:
    """Each host's CFS periods so far: (active, throttled)."""
    stats = []
    for host in network.hosts:
        text = (host.cpu.path / "cpu.stat").read_text()
        fields = dict(line.split() for line in text.splitlines())
        stats.append((int(fields["nr_periods"]), int(fields["nr_throttled"])))
    return stats


def _cpu_busy(network, before: list[tuple[int, int]]) -> dict[str, float]:
    """Share of its active quota periods in which each host ran out of CPU
    since ``before``: scheduler, workers (mean and most), client."""
    shares = []
    for (periods, throttled), (periods_then, throttled_then) in zip(
        _cpu_stats(network), before, strict=True
    ):
        active = periods - periods_then
        shares.append((throttled - throttled_then) / active if active else 0.0)
    scheduler, *workers, client = shares
    return {
        "scheduler": scheduler,
        "workers_mean": statistics.mean(workers),
        "workers_max": max(workers),
        "client": client,
    }


# The model's measured constants (docs/deploy/scale-model.md), from narrowed
# runs before the full one. A worker host received Toom parts at 0.43 of its
# link's rate while it computed (5e7! spread on 4 and 16 hosts: 500 and 398
# MB a worker, links busy 9.0 and 7.6 s). A user's call spent 0.6-0.9 s
# before its first task (the lazy import of dask, distributed and the
# package, the client's connection, the plan) and 2.8-3.6 ns a byte of
# results after their trip over the link (the client host taking them in).
RECEIVE_SHARE = 0.43
CALL_SECONDS = 0.7
CLIENT_SECONDS_PER_BYTE = 3.2e-9


def model(
    kind: str, argument, workers: int, anchor_seconds: float, host_bytes: int
) -> float:
    """The model's emulated seconds for a workload on ``workers`` hosts.

    The cost model's seconds run at the speed the anchor measured in the same
    run (``anchor_seconds`` over its estimate): the planner's own graph for
    these hosts (one ``gmpy2.fac`` task, lean, or spread with its parts'
    transfers), or a batch's walks spread over the hosts; then the user's
    call and the results' trip to the client, which overlaps a batch's
    compute (results are gathered as they finish). Hosts have ``host_bytes``
    of memory each.
    """
    worker_bytes, cluster_bytes, _ = usable_memory([host_bytes] * workers, workers)
    if kind == "one":
        speed = anchor_seconds / factorial_seconds(argument)
        spread = can_spread(worker_bytes, cluster_bytes)
        split = split_for(argument, workers, worker_bytes, spread)
        if split is None:
            compute = speed * factorial_seconds(argument)
        elif split.lean:
            compute = speed * lean_seconds(argument)
        else:
            costs = spread_costs(
                argument,
                workers,
                worker_bytes if spread else math.inf,
                RATE_BYTES,
                RECEIVE_SHARE,
            )
            transfer = costs["transfer_s"]
            compute = speed * (costs["critical_path_s"] - transfer) + transfer
        results_bytes = factorial_bits(argument) / 8
        return (
            CALL_SECONDS
            + compute
            + results_bytes * (1 / RATE_BYTES + CLIENT_SECONDS_PER_BYTE)
        )
    ns = sorted(set(argument))
    speed = anchor_seconds / sum(factorial_seconds(n) for n in ns)
    compute = speed * max(batch_seconds(ns) / workers, max(map(factorial_seconds, ns)))
    results_bytes = sum(factorial_bits(n) for n in ns) / 8
    return (
        CALL_SECONDS
        + max(compute, results_bytes / RATE_BYTES)
        + results_bytes * CLIENT_SECONDS_PER_BYTE
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
        # Long enough a transfer log for every transfer of a run.
        worker_env = {**env, "DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH": "1000000"}
        for number, host in enumerate(worker_hosts):
            network.start_worker(
                host, address, worker_env, log, f"host-{number + 1}", str(host_memory())
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
            cpu_before = _cpu_stats(network)
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
            # The whole stream stays beside the cluster's log, for a closer look.
            (folder / f"stream-{workers}-{name.split()[0]}.json").write_text(
                json.dumps(stream)
            )
            where = _where_time_goes(stream, workers, wall, result["started"])
            received = _received(
                _json_run(
                    network, client_host, TRANSFERS, [address, str(started)], env, 600
                ),
                dilation,
            )
            found[name] = {
                "seconds": wall / dilation,
                "dilation": dilation,
                "digest": result["digest"],
                "where": _emulated(where, dilation),
                "received": received,
                "cpu_busy": _cpu_busy(network, cpu_before),
            }
            print(
                f"  W={workers} {name}: {wall / dilation:.2f} s emulated"
                f" (D={dilation})",
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
    print(f"logs in {folder} (removed if the run succeeds)", flush=True)
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
    save(table, RESULTS / f"{NAME}.json")
    shutil.rmtree(folder)  # its logs serve a failed run only: it stops before
    return 0


def remodel(table: dict) -> None:
    """Put the model's seconds beside every measured run of ``table``, planned
    with the Dask config its user's script had."""
    every = every_workload()
    with dask.config.set(dask.config.collect_env(table["user_config"])):
        for workers, row in table["hosts"].items():
            for name, run in row["runs"].items():
                if "seconds" in run:
                    kind, argument = every[name]
                    anchor = table["anchors"][name]["seconds"]
                    run["model_s"] = model(
                        kind, argument, int(workers), anchor, table["host_memory_bytes"]
                    )


def save(table: dict, path: Path) -> None:
    """The model beside the runs, then ``path``, its plot and the table printed."""
    remodel(table)
    path.write_text(json.dumps(table, indent=2))
    plot(table, path.with_suffix(".png"))
    print_table(table)


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
    if sys.argv[1:2] == ["--remodel"]:
        # python -m benchmarks.scale --remodel FILE: a results file's model again.
        path = Path(sys.argv[2])
        save(json.loads(path.read_text()), path)
        sys.exit(0)
    sys.exit(main())
