"""PNG plots of a benchmark run."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

SERIES = {
    "ours": "ours (default)",
    "ours_cluster": "ours on a 2-worker LocalCluster",
    "gmpy2_fac": "gmpy2.fac",
    "flint_threads2": "python-flint fac_ui, 2 threads",
    "math_factorial": "math.factorial",
}


def plot_times(single: list[dict], path: Path) -> None:
    """Median time against n for ours and each anchor, log-log."""
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for key, label in SERIES.items():
        points = [(row["n"], row[key]["median_s"]) for row in single if key in row]
        if points:
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, marker="o", label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("n")
    axes.set_ylabel("median seconds for n!")
    axes.set_title("Exact n! on 2 cores (lower is better)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_speedup(workers: list[dict], path: Path) -> None:
    """Speedup of n = 10**7 over one worker, for threads here and the cluster."""
    figure, axes = plt.subplots(figsize=(6, 4))
    counts = [row["workers"] for row in workers]
    for key, label in (
        ("in_process", "threads in this process"),
        ("cluster", "LocalCluster"),
    ):
        base = workers[0][key]["median_s"]
        axes.plot(
            counts,
            [base / row[key]["median_s"] for row in workers],
            marker="o",
            label=label,
        )
    axes.plot(counts, counts, linestyle="--", color="grey", label="ideal")
    axes.set_xticks(counts)
    axes.set_xlabel("workers (threads)")
    axes.set_ylabel("speedup over 1")
    axes.set_title(f"n = {workers[0]['n']:.0e}")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
