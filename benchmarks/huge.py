"""``make bench-huge``: 10**9! with no configuration against ``gmpy2.fac(10**9)``.

Each side runs in a fresh Python process; a sampler reads the resident
memory of that process and of all its descendants (the LocalCluster's
nanny and worker processes) every 0.2 s. Reported: wall time, the peak of
every process, and the peak of their sum, each against the 3.56 GB
result; and the exact peak of each top process, from the kernel
(``ru_maxrss`` when it is reaped). Both values are checked equal by their
bit length and their residues modulo four 61-bit primes, printed by each
side (holding both values in one process would take 7 GB more).
Writes ``benchmarks/results/huge.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks import beyond_memory
from benchmarks.measure import FINGERPRINT_PROBE, clean_environment, fingerprint

N = 10**9
SIDES = {
    "compute.factorial": "import compute; value = compute.factorial({n})",
    "gmpy2.fac": "import gmpy2; value = gmpy2.fac({n})",
}
RESULTS = Path(__file__).parent / "results" / "huge.json"


def _measured(code: str, env: dict[str, str]) -> dict[str, Any]:
    """Run one line of ``code`` in a new Python; time it, sample its process
    tree's memory and take its result's fingerprint."""
    wrapped = f"if __name__ == '__main__':\n    {code}\n{FINGERPRINT_PROBE}"
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", wrapped],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    root = psutil.Process(process.pid)
    peaks: dict[int, tuple[str, int]] = {}
    peak_sum = 0
    while True:
        # Reaped here with its resource usage: the kernel's exact peak
        # (ru_maxrss) of the top process, which sampling may miss.
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            break
        total = 0
        for member in [root, *root.children(recursive=True)]:
            try:
                rss = member.memory_info().rss
                name = " ".join(member.cmdline()[1:3])[:60]
            except psutil.Error:
                continue
            total += rss
            if rss > peaks.get(member.pid, ("", 0))[1]:
                peaks[member.pid] = (name, rss)
        peak_sum = max(peak_sum, total)
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    output = process.stdout.read() if process.stdout else ""
    errors = process.stderr.read() if process.stderr else ""
    measured: dict[str, Any] = {
        "seconds": seconds,
        "process_peaks_bytes": sorted((rss for _, rss in peaks.values()), reverse=True),
        "sum_of_peaks_bytes": sum(rss for _, rss in peaks.values()),
        "peak_of_sum_bytes": peak_sum,
        "top_process_exact_peak_bytes": usage.ru_maxrss * 1024,
    }
    # A successful run prints nothing on stderr; anything there is recorded.
    measured["stderr_tail"] = errors.strip().splitlines()[-5:]
    if process.returncode:
        measured["failed"] = errors.strip().splitlines()[-1:]
    else:
        measured["fingerprint"] = fingerprint(output)
    return measured


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.huge",
        description="10**9! against gmpy2.fac, or with --n beyond this "
        "machine's memory (benchmarks.beyond_memory)",
    )
    parser.add_argument("--n", default=None, help="such as 3e9")
    parser.add_argument(
        "--worker-memory",
        default=None,
        help="with --n: run on workers of this memory each (one per core), "
        "started here, and record the stage profile (such as 4.05GB: 10**9! "
        "then has the share of its workers' memory that 3e9! has here)",
    )
    parser.add_argument(
        "--stop-after",
        type=float,
        default=None,
        help="with --n: stop the run after this many seconds, and record so",
    )
    arguments = parser.parse_args(argv)
    label = arguments.n
    beyond = arguments.worker_memory is not None or arguments.stop_after is not None
    if label is not None and (int(float(label)) != N or beyond):
        beyond_memory.main(
            int(float(label)), label, arguments.worker_memory, arguments.stop_after
        )
        return
    env = clean_environment(str(RESULTS.parent / ".empty-dask-config"))
    Path(env["DASK_CONFIG"]).mkdir(parents=True, exist_ok=True)
    rows = {name: _measured(code.format(n=N), env) for name, code in SIDES.items()}
    ours, theirs = rows["compute.factorial"], rows["gmpy2.fac"]
    if "failed" in ours or "failed" in theirs:
        summary = {"n": N, "rows": rows}
        RESULTS.write_text(json.dumps(summary, indent=2))
        print(json.dumps(summary, indent=2))
        raise SystemExit(f"huge: a side failed for n = {N}")
    result_bytes = ours["fingerprint"][0] / 8
    summary = {
        "n": N,
        "equal": ours["fingerprint"] == theirs["fingerprint"],
        "time_ratio": ours["seconds"] / theirs["seconds"],
        "result_bytes": result_bytes,
        "ours_peak_of_sum_x_result": ours["peak_of_sum_bytes"] / result_bytes,
        "ours_sum_of_peaks_x_result": ours["sum_of_peaks_bytes"] / result_bytes,
        "gmpy2_peak_x_result": theirs["peak_of_sum_bytes"] / result_bytes,
        # The kernel's own high-water mark of each top process (ours has no
        # other process when it runs lean here; a cluster's would be sampled).
        "ours_top_process_exact_x_result": ours["top_process_exact_peak_bytes"]
        / result_bytes,
        "gmpy2_exact_x_result": theirs["top_process_exact_peak_bytes"] / result_bytes,
        "rows": rows,
    }
    RESULTS.write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}, indent=2))
    for name, row in rows.items():
        print(f"{name}: {row['seconds']:.1f} s, peaks {row['process_peaks_bytes']}")
    if not summary["equal"]:
        raise SystemExit(f"huge: compute.factorial({N}) differs from gmpy2.fac({N})")


if __name__ == "__main__":
    main()
