"""User scripts, run as subprocesses with no Dask config, give correct output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.expected import summary_line

SCRIPT = Path(__file__).parent.parent / "examples" / "seed_factorials.py"
SEED_NS = [5310, 5263, 7854]


@pytest.fixture
def no_dask_config(tmp_path) -> dict[str, str]:
    """An environment with no Dask settings at all, and a home without any."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("DASK_")
    }
    env["HOME"] = str(tmp_path)
    env["DASK_CONFIG"] = str(tmp_path / "no-config")
    return env


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_seed_script_starts_a_local_cluster_and_prints_exact_summaries(
    no_dask_config, tmp_path
):
    finished = run([str(SCRIPT), *map(str, SEED_NS)], no_dask_config, tmp_path)
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    for n in SEED_NS:
        expected = f"{summary_line(n)} ("  # then the time taken
        assert any(line.startswith(expected) for line in lines), finished.stdout
    assert re.fullmatch(
        r"started a local Dask cluster of \d+ workers; "
        r"dashboard: http://127\.0\.0\.1:\d+/status\n",
        finished.stderr,
    ), finished.stderr


SMALL_WORK = """
import sys
import gmpy2
import compute

if __name__ == "__main__":
    ns = [5310, 5263, 7854, 5310]
    results = compute.factorial_many(ns)
    assert results == [gmpy2.fac(n) for n in ns], "wrong result"
    print("cluster started:", "distributed" in sys.modules)
"""


def test_small_work_in_a_plain_script_runs_without_a_cluster(no_dask_config, tmp_path):
    script = tmp_path / "small.py"
    script.write_text(SMALL_WORK)
    finished = run([str(script)], no_dask_config, tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "cluster started: False"


def test_forcing_the_cluster_through_dask_config(no_dask_config, tmp_path):
    script = tmp_path / "small.py"
    script.write_text(SMALL_WORK)
    env = {**no_dask_config, "DASK_COMPUTE__EXECUTION": "cluster"}
    env["DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS"] = "127.0.0.1:0"
    finished = run([str(script)], env, tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "cluster started: True"
    assert finished.stderr == ""  # our status lines are INFO logs, off by default
