"""The ``compute`` command line, run as a user runs it."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import gmpy2
import pytest

from compute import read_result
from compute.result_file import FORMATS
from tests.expected import summary_line
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
    assert lines[1:] == [summary_line(n) for n in (7854, 5310, 0)]
    assert finished.stderr == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["factorial"], "the following arguments are required: N"),
        (["factorial", "abc"], "argument N: invalid int value: 'abc'"),
        (["factorial", "5", "2.5"], "argument N: invalid int value: '2.5'"),
        (["factorial", "--", "-3"], "n = -3 must be non-negative"),
        (["factorial", "4", "--", "-3"], "n at position 1 = -3 must be non-negative"),
        (
            ["factorial", "1000000000000000", "--print"],
            "n = 1000000000000000 is too large",
        ),
        (
            ["factorial", "10000000000", "--output", "x"],
            "n = 10000000000 is too large",
        ),
        (["square", "3"], "invalid choice: 'square'"),
        (["factorial", "5", "6", "--output", "x"], "--output needs {n} in PATH"),
        (["factorial", "5", "--format", "hex"], "--format needs --output"),
        (["factorial", "5", "--digits", "--print"], "not allowed with argument"),
        (["factorial", "5", "--output", "x", "--format", "oct"], "invalid choice"),
        (["factorial", "5", "--output", "no/such/x"], "output path 'no/such/x'"),
    ],
)
def test_bad_arguments_get_a_usage_message_and_exit_2(env, args, message):
    finished = run_cli([sys.executable, "-m", "compute", *args], env)
    assert finished.returncode == 2
    assert finished.stderr.startswith("usage: compute")
    if args and args[0] == "factorial":  # the subcommand's own usage
        assert finished.stderr.startswith("usage: compute factorial [-h]")
    assert message in finished.stderr
    assert finished.stdout == ""


def test_an_unreachable_scheduler_exits_1_naming_it(env):
    env["DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT"] = "2s"
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
    assert "| 100% Completed |" in output
    assert summary_line(n) in output.splitlines()


def test_long_work_here_shows_a_progress_bar_too(env):
    n = 10**7
    code, output = run_on_a_terminal(
        [sys.executable, "-m", "compute", "factorial", str(n)], env
    )
    assert code == 0, output
    assert "| 100% Completed |" in output
    assert summary_line(n) in output.splitlines()


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


def test_digits_and_print_put_only_the_results_on_stdout(env):
    ns = [5310, 0, 25]
    digits = run_cli([COMPUTE, "factorial", *map(str, ns), "--digits"], env)
    assert digits.returncode == 0, digits.stderr
    assert digits.stdout.splitlines() == [str(len(str(gmpy2.fac(n)))) for n in ns]
    assert digits.stderr == ""  # --digits computes nothing
    printed = run_cli([COMPUTE, "factorial", *map(str, ns), "--print"], env)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == "".join(f"{gmpy2.fac(n)}\n" for n in ns)


@pytest.mark.parametrize("format", FORMATS)
def test_output_writes_each_result_in_its_format(env, tmp_path, format):
    ns = [7854, 1, 100_000]
    pattern = str(tmp_path / "{n}.out")
    finished = run_cli(
        [COMPUTE, "factorial", *map(str, ns), "--output", pattern, "--format", format],
        env,
    )
    assert finished.returncode == 0, finished.stderr
    for n in ns:
        path = tmp_path / f"{n}.out"
        assert f"wrote {n}! to {path} ({path.stat().st_size} bytes, {format})" in (
            finished.stdout
        )
        assert read_result(path, format=format) == gmpy2.fac(n)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.out" for n in ns)


def test_an_interrupted_write_leaves_no_file_under_the_final_name(env, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    path = folder / "big.txt"
    path.write_text("old\n")
    process = subprocess.Popen(
        [COMPUTE, "factorial", str(3 * 10**6), "--output", str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not list(folder.glob(".big.txt.*.part")) and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C while it writes
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "compute: interrupted" in stderr
    assert path.read_text() == "old\n"
    assert [p.name for p in folder.iterdir()] == ["big.txt"]


def test_digits_answer_at_once_for_any_n(env):
    # Digit counts published for 10**8!, 10**9! and 10**10! (see ANCHORS).
    ns = [10**8, 10**9, 10**10, 7854]
    start = time.monotonic()
    finished = run_cli([COMPUTE, "factorial", *map(str, ns), "--digits"], env)
    seconds = time.monotonic() - start
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines() == [
        "756570557",
        "8565705523",
        "95657055187",
        str(len(str(gmpy2.fac(7854)))),
    ]
    assert finished.stderr == ""
    assert seconds < 30, seconds  # a bound on the wait, not a benchmark


def test_a_factorial_too_large_to_compute_still_gets_its_summary(env):
    finished = run_cli([COMPUTE, "factorial", "10000000000", "30"], env)
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    assert lines[0].startswith("10000000000! not computed (n = 10000000000 is too ")
    assert lines[0].endswith("; its summary line needs no computation")
    assert lines[1].startswith("computed 1 factorial in ")
    # 95,657,055,187 digits, 2,499,999,997 trailing zeros (see ANCHORS).
    assert lines[2].startswith("10000000000! has 95657055187 digits: 232579620567...")
    assert lines[2].endswith(" followed by 2499999997 zeros")
    assert lines[3] == summary_line(30)
    assert finished.stderr == ""
