"""What the command line takes as n, where it reads it, and what it says."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compute.admission import format_bytes
from compute.capacity import machine_bytes
from tests.expected import summary_line
from tests.remote import clean_env, run_in_group

COMPUTE = str(Path(sys.executable).parent / "compute")
USAGE = "usage: compute factorial [-h]"
MACHINE = format_bytes(machine_bytes())  # as messages give it


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return clean_env(tmp_path)


@pytest.mark.parametrize("written", ["1e3", "1E3", "10**3", "10^3", "1_000", "+1000"])
def test_exact_integer_forms_are_taken(env, written):
    finished = run_in_group([COMPUTE, "factorial", written], env)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == f"{summary_line(1000)}\n"


@pytest.mark.parametrize("written", ["1.5e3", "1e-3", "10**-3", "2.0", "1e", "^3"])
def test_other_forms_are_refused_as_not_integers(env, written):
    finished = run_in_group([COMPUTE, "factorial", "--", written], env)
    assert finished.returncode == 2
    assert finished.stderr.startswith(USAGE)
    assert f"argument N: invalid int value: '{written}'" in finished.stderr
    assert finished.stdout == ""


def test_a_written_power_too_large_to_expand_is_refused_at_once(env):
    finished = run_in_group([COMPUTE, "factorial", "2**100000000"], env)
    assert finished.returncode == 2
    assert "'2**100000000' is too large: over 16777216 bits" in finished.stderr


def test_n_from_standard_input_with_blank_lines_and_comments(env, tmp_path):
    process = subprocess.run(
        [COMPUTE, "factorial", "-", "3"],
        input="5\n\n# a comment\n 7  # seven\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr
    assert process.stdout.splitlines() == [summary_line(n) for n in (5, 7, 3)]


def test_n_from_a_file_and_its_errors_name_the_line(env, tmp_path):
    numbers = tmp_path / "ns.txt"
    numbers.write_text("5310\n5263\n7854\n")
    finished = run_in_group([COMPUTE, "factorial", f"@{numbers}"], env)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines() == [summary_line(n) for n in (5310, 5263, 7854)]
    for text, message in [
        ("5\nabc\n", f"{numbers}, line 2: invalid int value: 'abc'"),
        ("5\n\n-4\n", f"{numbers}, line 3: n = -4 must be non-negative"),
        ("# nothing\n", "no n given: the input named by N has no numbers"),
    ]:
        numbers.write_text(text)
        finished = run_in_group([COMPUTE, "factorial", f"@{numbers}"], env)
        assert finished.returncode == 2
        assert finished.stderr.startswith(USAGE)
        assert f"compute factorial: error: {message}\n" in finished.stderr
    finished = run_in_group([COMPUTE, "factorial", "@no/such/file"], env)
    assert finished.returncode == 2
    assert "cannot read n from 'no/such/file'" in finished.stderr


def test_results_alone_on_stdout_one_line_an_n(env):
    ns = [str(n) for n in range(1, 2001)]
    finished = run_in_group([COMPUTE, "factorial", *ns], env)
    assert finished.returncode == 0, finished.stderr
    assert len(finished.stdout.splitlines()) == 2000
    assert finished.stdout.splitlines()[-1] == summary_line(2000)
    assert re.fullmatch(
        r"computed 2000 factorials in [\d.]+ s in this process\n", finished.stderr
    )


def test_version_and_examples_in_help(env):
    finished = run_in_group([COMPUTE, "--version"], env)
    assert finished.returncode == 0
    assert finished.stdout == f"compute {importlib.metadata.version('compute')}\n"
    for command in ([COMPUTE, "--help"], [COMPUTE, "factorial", "--help"]):
        finished = run_in_group(command, env)
        assert finished.returncode == 0
        assert "\nexamples:\n" in finished.stdout
        assert "compute factorial - < ns.txt" in finished.stdout


@pytest.mark.parametrize("n", [2 * 10**9, 10**10])
def test_an_n_too_large_here_is_refused_alike_before_any_cluster(env, n):
    # 2e9! fits the spread over a LocalCluster's workers by size, 1e10! does
    # not fit this machine at all: both are decided from this machine's
    # memory, with no cluster started, and get their summary line.
    start = time.monotonic()
    finished = run_in_group([COMPUTE, "factorial", str(n)], env)
    seconds = time.monotonic() - start
    assert finished.returncode == 0, finished.stderr
    [status] = finished.stderr.splitlines()
    assert status.startswith(f"{n}! not computed (n = {n} is too large: ")
    assert MACHINE in status  # this machine's figure, whatever the size
    assert status.endswith("; its summary line needs no computation")
    assert finished.stdout.startswith(f"{n}! has ")
    assert seconds < 30, seconds  # a bound on the wait: no cluster was started
    finished = run_in_group([COMPUTE, "factorial", str(n), "--print"], env)
    assert finished.returncode == 2
    assert finished.stderr.startswith(USAGE)
    assert f"error: n = {n} is too large: " in finished.stderr
    assert MACHINE in finished.stderr
    assert "started a local Dask cluster" not in finished.stderr
