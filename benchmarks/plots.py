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


def _save_log_log(
    figure, axes, path: Path, xlabel: str, ylabel: str, title: str
) -> None:
    """Label log-log axes, add a grid and legend, write the PNG and close it."""
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_times(single: list[dict], path: Path) -> None:
    """Median time against n for ours and each anchor, log-log.

    Each series was timed in turn with gmpy2.fac; gmpy2.fac's own points are
    its medians from the pairs with ours.
    """
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for key, label in SERIES.items():
        points = [
            (row["n"], row["ours"]["anchor_median_s"])
            if key == "gmpy2_fac"
            else (row["n"], row[key]["ours_median_s"])
            for row in single
            if key == "gmpy2_fac" or key in row
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, marker="o", label=label)
    _save_log_log(
        figure,
        axes,
        path,
        "n",
        "median seconds for n!",
        "Exact n! on 2 cores (lower is better)",
    )


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


def plot_decimal(rows: list[dict], path: Path) -> None:
    """Median time to convert n! to decimal against its digits, log-log."""
    figure, axes = plt.subplots(figsize=(6, 4))
    digits = [row["digits"] for row in rows]
    for key, label in (
        ("ours_median_s", "split across a 2-worker LocalCluster"),
        ("anchor_median_s", "gmpy2 digits(10), one thread"),
    ):
        axes.plot(
            digits,
            [row["ours_cluster"][key] for row in rows],
            marker="o",
            label=label,
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("decimal digits of n!")
    axes.set_ylabel("median seconds to convert")
    axes.set_title("Decimal conversion (lower is better)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_combinatorics(rows: list[dict], path: Path) -> None:
    """Median seconds of ours beside each gmpy2 (or Pool) anchor, per workload."""
    figure, axes = plt.subplots(figsize=(8, 4.5))
    labels = [row["workload"] for row in rows]
    positions = range(len(rows))
    ours = [row["ours_median_s"] for row in rows]
    anchor = [row["anchor_median_s"] for row in rows]
    axes.barh([p + 0.2 for p in positions], anchor, height=0.4, label="anchor")
    axes.barh([p - 0.2 for p in positions], ours, height=0.4, label="ours (default)")
    for p, row in zip(positions, rows, strict=True):
        axes.text(
            max(row["ours_median_s"], row["anchor_median_s"]) * 1.02,
            p,
            f"{row['ratio_median']:.2f}x of {row['anchor']}",
            va="center",
            fontsize=8,
        )
    axes.set_yticks(list(positions), labels, fontsize=8)
    axes.set_xlabel("median seconds")
    axes.set_title("Binomials, primorials, double factorials: ours vs gmpy2")
    axes.set_xlim(0, max(anchor + ours) * 1.6)
    axes.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_overheads(rows: list[dict], path: Path) -> None:
    """Each workload's time with a safeguard over its time without: every
    pair's ratio as a point, the median as a bar."""
    figure, axes = plt.subplots(figsize=(8, 4.5))
    labels = [f"{row['safeguard']}\n{row['workload']}" for row in rows]
    positions = range(len(rows))
    axes.bar(positions, [row["ratio_median"] for row in rows], color="#8ab", width=0.6)
    for position, row in zip(positions, rows, strict=True):
        axes.plot([position] * len(row["ratios"]), row["ratios"], "k.", alpha=0.6)
    axes.axhline(1.0, color="black", linewidth=0.8)
    axes.set_xticks(list(positions), labels, fontsize=8)
    axes.set_ylabel("time with / time without")
    axes.set_title("What the safeguards cost (median of interleaved pairs)")
    lowest = min(min(row["ratios"]) for row in rows)
    highest = max(max(row["ratios"]) for row in rows)
    axes.set_ylim(min(0.9, lowest - 0.02), max(1.1, highest + 0.02))
    axes.grid(True, axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
