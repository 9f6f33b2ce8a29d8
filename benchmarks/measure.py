"""Measurement: ours and an anchor in turn, ratios pair by pair; kernel peaks.

A noisy machine drifts: timing ours in one block and the anchor in another
measures the drift too. Here they alternate (A, B, A, B, ...) and each
ratio is taken within one pair; the median of those ratios is reported.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Pair:
    """Interleaved runs of ours and an anchor, and their last results."""

    ours: list[float] = field(default_factory=list)
    anchor: list[float] = field(default_factory=list)
    ours_result: Any = None
    anchor_result: Any = None

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.ours, self.anchor, strict=True)]

    @property
    def ratio(self) -> float:
        """Median of the pairwise ratios ours / anchor."""
        return statistics.median(self.ratios)

    def summary(self) -> dict[str, object]:
        return {
            "ours_median_s": statistics.median(self.ours),
            "anchor_median_s": statistics.median(self.anchor),
            "ratio_median": self.ratio,
            "ours_runs_s": self.ours,
            "anchor_runs_s": self.anchor,
            "ratios": self.ratios,
        }


def median_seconds(function: Callable[[], object], runs: int) -> float:
    """The median wall time of ``runs`` calls of ``function``."""
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def _timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def interleaved(
    ours: Callable[[], Any],
    anchor: Callable[[], Any],
    runs: int,
    same: Callable[[Any, Any], bool] = lambda a, b: a == b,
) -> Pair:
    """Run ``ours`` and ``anchor`` in turn ``runs`` times each; check results.

    Raises
    ------
    AssertionError
        If the results of any pair differ by ``same``: a bench of a wrong
        answer measures nothing.
    """
    pair = Pair()
    for run in range(runs):
        seconds, pair.ours_result = _timed(ours)
        pair.ours.append(seconds)
        seconds, pair.anchor_result = _timed(anchor)
        pair.anchor.append(seconds)
        if not same(pair.ours_result, pair.anchor_result):
            raise AssertionError(
                f"ours and the anchor gave different results in run {run + 1}"
            )
    return pair


def clean_environment(empty_config: str) -> dict[str, str]:
    """This environment without DASK_* and with DASK_CONFIG at an empty folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    env.pop("MALLOC_TRIM_THRESHOLD_", None)  # set by nannies in their parent
    env["DASK_CONFIG"] = empty_config
    return env


def run_script(source: str, env: dict[str, str]) -> str:
    """``python -c source`` to its exit; its standard output."""
    finished = subprocess.run(
        [sys.executable, "-c", source],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    return finished.stdout


def script_pair(
    ours: str, anchor: str, runs: int, env: dict[str, str], same: Callable
) -> Pair:
    """Whole scripts, interleaved; their outputs compared by ``same``."""
    return interleaved(
        lambda: run_script(ours, env), lambda: run_script(anchor, env), runs, same
    )


# Appended to a script that leaves its result in ``value``: its bit length and
# residues mod four primes below 2**61, as JSON. Each residue is one pass over
# the limbs, with no copy of the value, so a memory probe after it is unmoved.
FINGERPRINT_PRIMES = (2**61 - 1, 2**61 - 31, 2**61 - 45, 2**61 - 177)
FINGERPRINT_PROBE = f"""
    import json as _json
    print("FINGERPRINT " + _json.dumps(
        [value.bit_length()] + [int(value % p) for p in {FINGERPRINT_PRIMES}]
    ))
"""


def fingerprint(output: str) -> list[int]:
    """The fingerprint a script printed with :data:`FINGERPRINT_PROBE`."""
    line = next(line for line in output.splitlines() if line.startswith("FINGERPRINT "))
    return json.loads(line.removeprefix("FINGERPRINT "))


# Appended to a memory probe: the peak RSS (VmHWM, the kernel's own high-water
# mark) of this process and of every worker of a cluster it used, as JSON.
PEAKS_PROBE = """
import json, sys

def _vmhwm():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

_peaks = {"caller": _vmhwm(), "workers": []}
if "distributed" in sys.modules:
    from cluster import shared
    if shared._shared is not None:
        _peaks["workers"] = list(shared._shared.run(_vmhwm).values())
print("PEAKS " + json.dumps(_peaks))
"""


def peaks(source: str, env: dict[str, str]) -> tuple[dict[str, Any], float, list[int]]:
    """Kernel-accounted peak RSS of a script and its workers, its wall time, and
    the fingerprint of its result.

    ``source`` must put its work under ``if __name__ == "__main__":``, leave
    its result in ``value`` and end inside that block, so that the probes run
    after the work, in the same process.
    """
    start = time.perf_counter()
    output = run_script(source + FINGERPRINT_PROBE + PEAKS_PROBE, env)
    seconds = time.perf_counter() - start
    line = next(line for line in output.splitlines() if line.startswith("PEAKS "))
    return json.loads(line.removeprefix("PEAKS ")), seconds, fingerprint(output)
