"""User scripts, run as subprocesses with no Dask config, give correct output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.expected import summary_line
from tests.remote import run_in_group, run_watched

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
    return run_in_group([sys.executable, *args], env, timeout=120, cwd=cwd)


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


LARGE_WORK = """
import gmpy2
import compute

if __name__ == "__main__":
    value = compute.factorial(300_000)  # past in-process-seconds: the shared cluster
    assert value == gmpy2.fac(300_000), "wrong result"
    assert compute.to_decimal(value) == value.digits(10), "wrong digits"
    print("exact")
"""

UNGUARDED = """
import compute

results = compute.factorial_many([5310, 5263, 7854])  # on the shared cluster
print("not reached")
"""


def run_source(source: str, tmp_path: Path, env: dict[str, str], **settings: str):
    """Run ``source`` as a script with these DASK_COMPUTE__ settings."""
    script = tmp_path / "script.py"
    script.write_text(source)
    env = {**env, "PYTHONPATH": str(SCRIPT.parent.parent)}
    env.update(
        {f"DASK_COMPUTE__{key.upper()}": value for key, value in settings.items()}
    )
    return script, *run_watched(script, env)


def test_large_work_on_the_shared_cluster_leaves_stderr_empty(no_dask_config, tmp_path):
    _, finished, workers = run_source(
        LARGE_WORK,
        tmp_path,
        no_dask_config,
        in_process_seconds="0",
        decimal__in_process_seconds="0",
        cluster__dashboard_address="127.0.0.1:0",
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == "exact\n"
    assert len(workers) >= 2, "no LocalCluster was started"
    assert finished.stderr == ""


def test_a_script_without_a_main_guard_stops_with_one_line(no_dask_config, tmp_path):
    script, finished, started = run_source(
        UNGUARDED, tmp_path, no_dask_config, execution="cluster"
    )
    assert finished.returncode == 1
    assert finished.stdout == ""
    assert finished.stderr == (
        f"compute: error: {script} starts Dask worker processes, which re-import "
        'it: put the code that runs the work under `if __name__ == "__main__":` '
        "(see the README)\n"
    )
    assert started == [], "worker processes were started"


FROM_STDIN = """
import gmpy2
import compute

value = compute.factorial(300_000)  # on the shared cluster, as configured
compute.write_result(value, "x.txt")  # decimal conversion on the cluster too
print("exact" if open("x.txt").read() == f"{gmpy2.fac(300_000)}\\n" else "wrong")
"""


def test_a_script_fed_on_standard_input_runs_on_the_cluster(no_dask_config, tmp_path):
    # `python - < script.py`: __main__ is "<stdin>", which spawned workers
    # cannot re-run; they start as for `python -c`, and need no guard.
    env = {
        **no_dask_config,
        "PYTHONPATH": str(SCRIPT.parent.parent),
        "DASK_COMPUTE__EXECUTION": "cluster",
        "DASK_COMPUTE__DECIMAL__IN_PROCESS_SECONDS": "0",
        "DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS": "127.0.0.1:0",
    }
    finished = run_in_group(
        [sys.executable, "-"], env, timeout=180, cwd=tmp_path, input=FROM_STDIN
    )
    assert finished.stderr == ""
    assert finished.returncode == 0
    assert finished.stdout == "exact\n"


def test_status_lines_are_one_import_away(no_dask_config, tmp_path):
    # As the README writes it: `import cluster`, then either spelling.
    source = (
        "import io, logging, cluster\n"
        "out = io.StringIO()\n"
        "cluster.status.show_status_lines(out)\n"
        "cluster.show_status_lines(out, prefix='> ')\n"
        "logging.getLogger('cluster.connect').info('hello')\n"
        "print(out.getvalue(), end='')\n"
    )
    env = {**no_dask_config, "PYTHONPATH": str(SCRIPT.parent.parent)}
    finished = run_in_group([sys.executable, "-c", source], env, timeout=60)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == "> hello\n"
