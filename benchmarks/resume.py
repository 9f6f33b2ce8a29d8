"""``make bench-resume``: a long run killed at random points, then resumed.

``compute factorial N --output f.bin --format bin`` (N = 3e8 unless
``RESUME_N``) runs with no configuration, so with its default checkpoint.
Measured, each command in its own process group:

- uninterrupted, with and without checkpoints (``compute.checkpoint-seconds``
  raised past the run), in turn: what keeping the work costs;
- killed (SIGKILL to the whole group: the command, its LocalCluster's nannies
  and workers) at ``RESUME_KILLS`` (3) random points of the uninterrupted
  time, then run again to the end: the killed run's seconds plus the
  resumed run's, against the uninterrupted run.

Every file written is checked with ``compute.verify_factorial`` and against
the uninterrupted file's digest. Writes ``benchmarks/results/resume.json``
and ``resume.png``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from benchmarks.measure import clean_environment

RESULTS = Path(__file__).parent / "results"
COMPUTE = str(Path(sys.executable).parent / "compute")


def _command(n: int) -> list[str]:
    return [COMPUTE, "factorial", str(n), "--output", "f.bin", "--format", "bin"]


def _run(n: int, env: dict[str, str], folder: Path, kill_after: float | None) -> float:
    """Seconds until the command ends (or is killed after ``kill_after``)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        _command(n),
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"compute factorial {n} failed: {stderr}")
    print(stderr, end="", file=sys.stderr)
    return time.perf_counter() - start


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 24):
            digest.update(block)
    return digest.hexdigest()


def _checked(n: int, folder: Path, digest: str | None) -> str:
    from compute import verify_factorial

    path = folder / "f.bin"
    print(verify_factorial(path, n, format="bin"), file=sys.stderr)
    found = _digest(path)
    if digest is not None and found != digest:
        raise RuntimeError("the resumed file differs from the uninterrupted one")
    # A kill while the file is written leaves its temporary .part (a
    # SIGKILL runs no cleanup); anything else would be a fault.
    leftovers = [p.name for p in folder.iterdir() if p.name != "f.bin"]
    if [name for name in leftovers if not name.endswith(".part")]:
        raise RuntimeError(f"left behind: {leftovers}")
    path.unlink()
    return found


def main() -> None:
    n = int(float(os.environ.get("RESUME_N", "3e8")))
    kills = int(os.environ.get("RESUME_KILLS", "3"))
    chosen = random.Random(int(os.environ.get("RESUME_SEED", "2026")))
    with tempfile.TemporaryDirectory() as config, tempfile.TemporaryDirectory() as work:
        env = clean_environment(config)
        plain = {**env, "DASK_COMPUTE__CHECKPOINT_SECONDS": "1e12"}
        folder = Path(work)
        kept, unkept = [], []
        digest = None
        for _ in range(int(os.environ.get("RESUME_RUNS", "2"))):
            kept.append(_run(n, env, folder, None))
            digest = _checked(n, folder, digest)
            unkept.append(_run(n, plain, folder, None))
            digest = _checked(n, folder, digest)
        uninterrupted = statistics.median(kept)
        resumed = []
        for _ in range(kills):
            point = chosen.uniform(0.05, 0.95) * uninterrupted
            killed = _run(n, env, folder, point)
            again = _run(n, env, folder, None)
            _checked(n, folder, digest)
            resumed.append(
                {
                    "killed_after_s": killed,
                    "resumed_s": again,
                    "total_over_uninterrupted": (killed + again) / uninterrupted,
                }
            )
            print(resumed[-1], file=sys.stderr)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "n": n,
        "with_checkpoints_s": kept,
        "without_checkpoints_s": unkept,
        "checkpoint_cost": statistics.median(
            a / b for a, b in zip(kept, unkept, strict=True)
        )
        - 1,
        "kills": resumed,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "resume.json").write_text(json.dumps(report, indent=2) + "\n")
    _plot(report, RESULTS / "resume.png")
    print(json.dumps(report, indent=2))


def _plot(report: dict[str, Any], path: Path) -> None:
    figure, axes = plt.subplots(figsize=(7.5, 3.5))
    uninterrupted = statistics.median(report["with_checkpoints_s"])
    for index, kill in enumerate(report["kills"]):
        axes.barh(
            index,
            kill["killed_after_s"],
            color="tab:red",
            label="until killed" if not index else None,
        )
        axes.barh(
            index,
            kill["resumed_s"],
            left=kill["killed_after_s"],
            color="tab:blue",
            label="resumed" if not index else None,
        )
    axes.axvline(uninterrupted, color="black", label="uninterrupted")
    axes.axvline(1.3 * uninterrupted, color="gray", linestyle="--", label="1.3x")
    axes.set_xlabel("seconds")
    axes.set_yticks(
        range(len(report["kills"])),
        [f"kill {i + 1}" for i in range(len(report["kills"]))],
    )
    axes.set_title(f"{report['n']:.0e}! killed and resumed")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    main()
