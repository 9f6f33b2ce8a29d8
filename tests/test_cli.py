"""The ``compute`` command line, run as a user runs it."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import gmpy2
import pytest

from compute.output import describe_factorial
from tests.remote import clean_env

COMPUTE = str(Path(sys.executable).parent / "compute")


def run_cli(args: list[str], env: dict[str, str], timeout: float = 120):
    return subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return clean_env(tmp_path)


@pytest.mark.parametrize("command", [[sys.executable, "-m", "compute"], [COMPUTE]])
def test_factorials_are_summarised_in_input_order(env, command):
    finished = run_cli([*command, "factorial", "7854", "5310", "0"], env)
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    assert lines[0].startswith("computed 3 factorials in ")
    assert lines[0].endswith(" s on this process")
    assert lines[1:] == [describe_factorial(n, gmpy2.fac(n)) for n in (7854, 5310, 0)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["factorial"], "the following arguments are required: N"),
        (["factorial", "abc"], "argument N: invalid int value: 'abc'"),
        (["factorial", "5", "2.5"], "argument N: invalid int value: '2.5'"),
        (["factorial", "--", "-3"], "negative values: n at position 0 is -3"),
        (
            ["factorial", "1000000000000000"],
            "n at position 0 = 1000000000000000 is too large",
        ),
        (["square", "3"], "invalid choice: 'square'"),
    ],
)
def test_bad_arguments_get_a_usage_message_and_exit_2(env, args, message):
    finished = run_cli([sys.executable, "-m", "compute", *args], env)
    assert finished.returncode == 2
    assert finished.stderr.startswith("usage: compute")
    assert message in finished.stderr
    assert finished.stdout == ""


def test_an_unreachable_scheduler_exits_1_naming_it(env):
    env["DASK_COMPUTE__CLUSTER__CONNECT_TIMEOUT"] = "2s"
    address = "tcp://127.0.0.9:9"
    finished = run_cli(
        [sys.executable, "-m", "compute", "factorial", "5", "--scheduler", address], env
    )
    assert finished.returncode == 1
    assert f"compute: error: could not connect to the Dask scheduler at {address}" in (
        finished.stderr
    )


def run_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run with stdout on a pseudo-terminal (where progress bars go)."""
    controller, terminal = pty.openpty()
    with open(os.devnull, "rb") as no_input:
        process = subprocess.Popen(args, env=env, stdin=no_input, stdout=terminal)
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    return process.wait(timeout=120), output.decode()


def test_a_named_scheduler_prints_its_dashboard_and_a_progress_bar(env, client):
    n = 10**7
    address = client.scheduler.address
    code, output = run_on_a_terminal(
        [sys.executable, "-m", "compute", "factorial", str(n), "--scheduler", address],
        env,
    )
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == f"dashboard: {client.dashboard_link}"
    assert "| 100% Completed |" in output
    assert describe_factorial(n, gmpy2.fac(n)) in lines


def test_long_work_here_shows_a_progress_bar_too(env):
    n = 10**7
    code, output = run_on_a_terminal(
        [sys.executable, "-m", "compute", "factorial", str(n)], env
    )
    assert code == 0, output
    assert "| 100% Completed |" in output
    assert describe_factorial(n, gmpy2.fac(n)) in output.splitlines()


def test_a_performance_report_is_saved(env, tmp_path):
    report = tmp_path / "report.html"
    env["DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS"] = "127.0.0.1:0"
    env["DASK_COMPUTE__CLUSTER__N_WORKERS"] = "1"
    finished = run_cli(
        [
            sys.executable,
            "-m",
            "compute",
            "factorial",
            "30000",
            "--report",
            str(report),
        ],
        env,
    )
    assert finished.returncode == 0, finished.stderr
    assert f"performance report: {report}" in finished.stdout
    html = report.read_text()
    assert "Dask Performance Report" in html
    assert "factorial" in html
