"""``make bench``: ours against the anchors in one run, as ratios of medians.

Writes ``benchmarks/results/latest.json`` and two PNG plots beside it, and
prints a table of ratios with each target of the performance issue. Set
``BENCH_QUICK=1`` for a short smoke run (fewer sizes and runs).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import random
import sys
from importlib.metadata import version
from pathlib import Path

import dask.config
import gmpy2
from distributed import Client, LocalCluster

import compute
from benchmarks import anchors
from benchmarks.measure import Timing, peak_tree_rss, time_runs, time_script
from benchmarks.plots import plot_decimal, plot_speedup, plot_times
from benchmarks.scaling import scaling_table
from compute.cost import factorial_bytes

RESULTS = Path(__file__).parent / "results"
QUICK = os.environ.get("BENCH_QUICK") == "1"
RUNS = 1 if QUICK else 3
SINGLE_NS = (
    (10**5, 10**6, 10**7) if QUICK else (10**5, 10**6, 10**7, 2 * 10**7, 5 * 10**7)
)
CLUSTER_MAX_N = 2 * 10**7  # larger n on the cluster would double the bench's time
MATH_MAX_N = 10**6  # math.factorial(10**6) takes ~13 s; 10**7 would take hours
SEED_NS = [5310, 5263, 7854]
MEMORY_N = 10**7 if QUICK else 5 * 10**7
DECIMAL_NS = (10**6,) if QUICK else (10**6, 10**7)


def in_process(function):
    """Run ``function`` with compute.execution forced to in-process."""

    def run():
        with dask.config.set({"compute.execution": "in-process"}):
            return function()

    return run


def summary(timing: Timing) -> dict[str, object]:
    return {"median_s": timing.median, "runs_s": timing.runs}


def single_n(client: Client) -> list[dict[str, object]]:
    rows = []
    for n in SINGLE_NS:
        row: dict[str, object] = {"n": n}
        row["ours"] = summary(time_runs(lambda n=n: compute.factorial(n), RUNS))
        if n <= CLUSTER_MAX_N:
            row["ours_cluster"] = summary(
                time_runs(lambda n=n: compute.factorial(n, client=client), RUNS)
            )
        row["gmpy2_fac"] = summary(time_runs(lambda n=n: anchors.gmpy2_fac(n), RUNS))
        row["flint_threads2"] = summary(
            time_runs(lambda n=n: anchors.flint_fac_threaded(n), RUNS)
        )
        if n <= MATH_MAX_N:
            runs = 1 if n == MATH_MAX_N else RUNS
            row["math_factorial"] = summary(
                time_runs(lambda n=n: anchors.math_factorial(n), runs)
            )
        assert compute.factorial(n) == gmpy2.fac(n)
        rows.append(row)
        print(
            f"  n={n:.0e}: ours/gmpy2.fac = "
            f"{row['ours']['median_s'] / row['gmpy2_fac']['median_s']:.2f}",
            flush=True,
        )
    return rows


def batch(client: Client) -> dict[str, object]:
    ns = random.Random(2026).sample(range(10**4, 10**5 + 1), 1000)
    expected = [gmpy2.fac(n) for n in ns]
    assert compute.factorial_many(ns) == expected
    return {
        "ns": "1000 distinct n from [1e4, 1e5]",
        "ours": summary(time_runs(lambda: compute.factorial_many(ns), RUNS)),
        "ours_cluster": summary(
            time_runs(lambda: compute.factorial_many(ns, client=client), RUNS)
        ),
        "pool2_map_gmpy2_fac": summary(time_runs(lambda: anchors.pool_map(ns), RUNS)),
        "serial_gmpy2_fac": summary(
            time_runs(lambda: [gmpy2.fac(n) for n in ns], RUNS)
        ),
    }


def seed_warm(client: Client) -> dict[str, object]:
    calls = 10 if QUICK else 30
    compute.factorial_many(SEED_NS, client=client)
    compute.factorial_many(SEED_NS)
    return {
        "ours_cluster_warm_client": summary(
            time_runs(lambda: compute.factorial_many(SEED_NS, client=client), calls)
        ),
        "ours_in_process_warm": summary(
            time_runs(lambda: compute.factorial_many(SEED_NS), calls)
        ),
        "gmpy2_fac_loop": summary(
            time_runs(lambda: [gmpy2.fac(n) for n in SEED_NS], calls)
        ),
    }


def decimal(client: Client) -> list[dict[str, object]]:
    """Decimal conversion of n!: split across the cluster, and GMP on one thread."""
    rows = []
    for n in DECIMAL_NS:
        value = gmpy2.fac(n)
        assert compute.to_decimal(value, client=client) == value.digits(10)
        rows.append(
            {
                "n": n,
                "digits": compute.digit_count(value),
                "ours_cluster": summary(
                    time_runs(
                        lambda v=value: compute.to_decimal(v, client=client), RUNS
                    )
                ),
                "gmpy2_digits": summary(time_runs(lambda v=value: v.digits(10), RUNS)),
            }
        )
        r = ratio(rows[-1]["ours_cluster"], rows[-1]["gmpy2_digits"])
        print(f"  n={n:.0e}: ours/digits(10) = {r:.2f}", flush=True)
    return rows


def cold_scripts() -> dict[str, object]:
    runs = 3 if QUICK else 5
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    return {
        "ours": summary(time_script(anchors.OUR_SEED_SCRIPT, runs, env)),
        "seed_pool_script": summary(time_script(anchors.SEED_POOL_SCRIPT, runs, env)),
    }


def memory() -> dict[str, object]:
    ours = (
        "import compute\n"
        "if __name__ == '__main__':\n"
        f"    compute.factorial({MEMORY_N})\n"
    )
    fac = f"import gmpy2\ngmpy2.fac({MEMORY_N})\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    ours_peak, ours_wall = peak_tree_rss(ours, env)
    fac_peak, fac_wall = peak_tree_rss(fac, env)
    result_bytes = factorial_bytes(MEMORY_N)
    return {
        "n": MEMORY_N,
        "result_bytes": result_bytes,
        "ours_peak_bytes": ours_peak,
        "ours_wall_s": ours_wall,
        "gmpy2_fac_peak_bytes": fac_peak,
        "gmpy2_fac_wall_s": fac_wall,
    }


def workers() -> list[dict[str, object]]:
    n = 10**7
    rows = []
    for count in (1, 2):
        with dask.config.set({"compute.threads": count}):
            threads = time_runs(in_process(lambda: compute.factorial(n)), RUNS)
        with (
            LocalCluster(
                n_workers=count, threads_per_worker=1, dashboard_address="127.0.0.1:0"
            ) as cluster,
            Client(cluster) as client,
        ):
            compute.factorial(10**6, client=client)
            on_cluster = time_runs(
                lambda c=client: compute.factorial(n, client=c), RUNS
            )
        rows.append(
            {
                "workers": count,
                "n": n,
                "in_process": summary(threads),
                "cluster": summary(on_cluster),
            }
        )
    return rows


def ratio(ours: dict, anchor: dict) -> float:
    return ours["median_s"] / anchor["median_s"]


def report(results: dict) -> list[tuple[str, str, str, bool]]:
    """Rows of (workload, measured, target, met)."""
    by_n = {row["n"]: row for row in results["single"]}
    rows = []
    for n in SINGLE_NS:
        if n < 10**7:
            continue
        r = ratio(by_n[n]["ours"], by_n[n]["gmpy2_fac"])
        rows.append((f"n={n:.0e} vs gmpy2.fac", f"{r:.2f}x", "<= 0.75x", r <= 0.75))
    b = ratio(results["batch"]["ours"], results["batch"]["pool2_map_gmpy2_fac"])
    rows.append(("1000 n vs Pool(2).map", f"{b:.2f}x", "<= 0.25x", b <= 0.25))
    warm = results["seed_warm"]["ours_cluster_warm_client"]["median_s"] * 1000
    rows.append(("seed input, warm client", f"{warm:.1f} ms", "<= 15 ms", warm <= 15))
    cold = results["cold"]["ours"]["median_s"]
    seed = results["cold"]["seed_pool_script"]["median_s"]
    rows.append(
        (
            f"cold script (seed: {seed:.2f} s)",
            f"{cold:.2f} s",
            "<= 1.0 s",
            cold <= 1.0,
        )
    )
    mem = results["memory"]
    m = mem["ours_peak_bytes"] / mem["result_bytes"]
    rows.append((f"peak RSS, n={mem['n']:.0e}", f"{m:.1f}x result", "<= 4x", m <= 4))
    return rows


def main() -> None:
    RESULTS.mkdir(exist_ok=True)
    results: dict[str, object] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": {
            p: version(p) for p in ("gmpy2", "python-flint", "dask", "distributed")
        },
        "quick": QUICK,
        "runs": RUNS,
    }
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address="127.0.0.1:0"
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        compute.factorial(10**6, client=client)
        print("single n ...", flush=True)
        results["single"] = single_n(client)
        print("batch ...", flush=True)
        results["batch"] = batch(client)
        print("seed input, warm ...", flush=True)
        results["seed_warm"] = seed_warm(client)
        print("decimal conversion ...", flush=True)
        results["decimal"] = decimal(client)
    print("cold scripts ...", flush=True)
    results["cold"] = cold_scripts()
    print("memory ...", flush=True)
    results["memory"] = memory()
    print("workers 1-2 ...", flush=True)
    results["workers"] = workers()
    results["scaling"] = scaling_table()
    rows = report(results)
    results["targets"] = [
        {"workload": w, "measured": m, "target": t, "met": ok} for w, m, t, ok in rows
    ]
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    plot_times(results["single"], RESULTS / "time_vs_n.png")
    plot_speedup(results["workers"], RESULTS / "speedup_vs_workers.png")
    plot_decimal(results["decimal"], RESULTS / "decimal_vs_n.png")
    print_tables(results, rows)
    sys.exit(0)


def print_tables(results: dict, rows: list[tuple[str, str, str, bool]]) -> None:
    print("\nSingle n, median seconds (ratio to gmpy2.fac):")
    print(
        f"{'n':>8} {'ours':>14} {'ours cluster':>14} {'gmpy2.fac':>10} "
        f"{'flint thr2':>14} {'math':>14}"
    )
    for row in results["single"]:
        fac = row["gmpy2_fac"]["median_s"]

        def cell(key: str, row=row, fac=fac) -> str:
            if key not in row:
                return "-"
            s = row[key]["median_s"]
            return f"{s:.3f} ({s / fac:.2f})"

        print(
            f"{row['n']:>8.0e} {cell('ours'):>14} {cell('ours_cluster'):>14} "
            f"{fac:>10.3f} {cell('flint_threads2'):>14} {cell('math_factorial'):>14}"
        )
    print("\nScaling model (one thread per product): work vs critical path")
    print(f"{'n':>8} {'pieces':>6} {'work s':>9} {'critical s':>10} {'busy':>5}")
    for row in results["scaling"]:
        print(
            f"{row['n']:>8.0e} {row['pieces']:>6} {row['work_s']:>9.2f} "
            f"{row['critical_path_s']:>10.2f} {row['busy_workers']:>5.2f}"
        )
    print("\nDecimal conversion of n!, median s (ratio to gmpy2 digits(10)):")
    for row in results["decimal"]:
        ours = row["ours_cluster"]["median_s"]
        gmp = row["gmpy2_digits"]["median_s"]
        print(
            f"  n={row['n']:.0e} ({row['digits']} digits): split on the cluster "
            f"{ours:.2f} ({ours / gmp:.2f}x), digits(10) {gmp:.2f}"
        )
    print("\nWorkers (n=1e7, median s):")
    for row in results["workers"]:
        print(
            f"  {row['workers']} : in-process {row['in_process']['median_s']:.3f}  "
            f"cluster {row['cluster']['median_s']:.3f}"
        )
    print("\nTargets:")
    for workload, measured, target, met in rows:
        print(f"  {'met ' if met else 'MISS'}  {workload:<34} {measured:>14}  {target}")


if __name__ == "__main__":
    main()
