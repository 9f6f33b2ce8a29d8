"""Timing and memory measurement: medians of runs, peak RSS of a process tree."""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil


@dataclass
class Timing:
    """Wall times of several runs of one thing."""

    runs: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def time_runs(function: Callable[[], object], runs: int) -> Timing:
    """Call ``function`` ``runs`` times; the result is dropped before the next."""
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - start)
        del result
    return Timing(seconds)


def time_script(source: str, runs: int, env: dict[str, str] | None = None) -> Timing:
    """Wall time of ``python -c source`` from start to exit, output discarded."""
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", source],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=300,
            env=env,
        )
        seconds.append(time.perf_counter() - start)
    return Timing(seconds)


def peak_tree_rss(source: str, env: dict[str, str] | None = None) -> tuple[int, float]:
    """Peak summed RSS (bytes) of ``python -c source`` and all its descendants.

    Sampled every 5 ms; returns the peak and the wall time.
    """
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", source], env=env)
    root = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        total = 0
        try:
            for member in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    total += member.memory_info().rss
        except psutil.NoSuchProcess:
            break
        peak = max(peak, total)
        time.sleep(0.005)
    if process.wait(timeout=600) != 0:
        raise RuntimeError(f"memory probe failed with exit code {process.returncode}")
    return peak, time.perf_counter() - start
