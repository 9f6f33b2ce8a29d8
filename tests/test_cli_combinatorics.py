"""The subcommands beside factorial (binomial ...), as a user runs them."""

from __future__ import annotations

import math
import sys

import gmpy2
import pytest

from compute import read_result
from compute.result_file import FORMATS
from tests.expected import falling_value, multinomial_value, value_line
from tests.remote import clean_env, run_in_group

COMPUTE = [sys.executable, "-m", "compute"]


# (arguments, label, expected value): small, large, and a split value each.
CASES = [
    (["binomial", "10", "3"], "binomial(10, 3)", gmpy2.comb(10, 3)),
    (["binomial", "3", "10"], "binomial(3, 10)", gmpy2.mpz(0)),
    (
        ["binomial", "30000000", "15000000"],
        "binomial(30000000, 15000000)",
        gmpy2.comb(30000000, 15000000),
    ),
    (["multinomial", "2", "1", "1"], "multinomial(2, 1, 1)", gmpy2.mpz(12)),
    (
        ["multinomial", "300000", "20", "700000"],
        "multinomial(300000, 20, 700000)",
        multinomial_value([300000, 20, 700000]),
    ),
    (["primorial", "30"], "primorial(30)", gmpy2.primorial(30)),
    (["primorial", "20000000"], "primorial(20000000)", gmpy2.primorial(20000000)),
    (["double-factorial", "9"], "double_factorial(9)", gmpy2.double_fac(9)),
    (
        ["double-factorial", "4000001"],
        "double_factorial(4000001)",
        gmpy2.double_fac(4000001),
    ),
    (["falling-factorial", "10", "3"], "falling_factorial(10, 3)", 720),
    (
        ["falling-factorial", "2000000", "1500000"],
        "falling_factorial(2000000, 1500000)",
        falling_value(2000000, 1500000),
    ),
]
IDS = [" ".join(arguments) for arguments, _, _ in CASES]


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return clean_env(tmp_path)


@pytest.mark.parametrize(("arguments", "label", "value"), CASES, ids=IDS)
def test_each_subcommand_prints_its_status_and_summary(env, arguments, label, value):
    finished = run_in_group([*COMPUTE, *arguments], env, 120)
    assert finished.returncode == 0, finished.stderr
    [summary] = finished.stdout.splitlines()
    [status] = finished.stderr.splitlines()
    assert status.startswith(f"computed {label} in ")
    assert status.endswith(" s in this process")
    assert summary == value_line(label, gmpy2.mpz(value))


@pytest.mark.parametrize(("arguments", "label", "value"), CASES[::2], ids=IDS[::2])
def test_digits_and_print(env, arguments, label, value):
    digits = run_in_group([*COMPUTE, *arguments, "--digits"], env, 120)
    assert digits.returncode == 0, digits.stderr
    assert digits.stdout == f"{len(str(value))}\n"
    assert digits.stderr == ""
    printed = run_in_group([*COMPUTE, *arguments, "--print"], env, 120)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == f"{value}\n"
    assert printed.stderr.startswith(f"computed {label} in ")


def test_digits_of_values_far_too_large_to_compute(env):
    # Checked against log10 by MPFR at 300 bits, evaluated here.
    with gmpy2.context(precision=300):
        logarithm = (
            gmpy2.lngamma(10**12 + 1) - 2 * gmpy2.lngamma(5 * 10**11 + 1)
        ) / gmpy2.log(10)
        expected = int(gmpy2.floor(logarithm)) + 1
    finished = run_in_group(
        [*COMPUTE, "binomial", str(10**12), str(5 * 10**11), "--digits"], env, 60
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == f"{expected}\n"
    # binomial(10, 1) = 10 sits on a power of ten: only the value decides.
    for n, k in [(10, 1), (10**12, 1), (1000, 999)]:
        finished = run_in_group(
            [*COMPUTE, "binomial", str(n), str(k), "--digits"], env, 60
        )
        assert finished.stdout == f"{len(str(math.comb(n, k)))}\n"


def test_a_value_too_large_to_compute_still_gets_its_digit_count(env):
    finished = run_in_group(
        [*COMPUTE, "binomial", str(10**12), str(5 * 10**11)], env, 60
    )
    assert finished.returncode == 0, finished.stderr
    digits = run_in_group(
        [*COMPUTE, "binomial", str(10**12), str(5 * 10**11), "--digits"], env, 60
    ).stdout.strip()
    assert finished.stderr == (
        "binomial(1000000000000, 500000000000) not computed "
        "(binomial(1000000000000, 500000000000) is too large: the result has "
        "about 125 GB and needs about 1e+03 GB to compute, but this machine offers "
        f"{finished.stderr.split('this machine offers ')[1].split(' per worker')[0]} "
        "per worker)\n"
    )
    assert finished.stdout == (
        f"binomial(1000000000000, 500000000000) has {digits} digits\n"
    )


@pytest.mark.parametrize("format", FORMATS)
def test_output_in_each_format(env, tmp_path, format):
    path = tmp_path / "value.out"
    finished = run_in_group(
        [*COMPUTE, "primorial", "1000003", "--output", str(path), "--format", format],
        env,
        60,
    )
    assert finished.returncode == 0, finished.stderr
    assert f"wrote primorial(1000003) to {path} ({path.stat().st_size} bytes, " in (
        finished.stderr
    )
    assert read_result(path, format=format) == gmpy2.primorial(1000003)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["binomial", "5"], "the following arguments are required: K"),
        (["binomial", "5", "2.0"], "argument K: invalid int value: '2.0'"),
        (["binomial", "--", "-5", "2"], "n = -5 must be non-negative: binomial"),
        (["binomial", "5", "--", "-2"], "k = -2 must be non-negative: binomial"),
        (["multinomial"], "the following arguments are required: K"),
        (["multinomial", "3", "--", "-1"], "k at position 1 = -1 must be non-negative"),
        (["primorial", "x"], "argument N: invalid int value: 'x'"),
        (["primorial", "--", "-1"], "n = -1 must be non-negative: primorial"),
        (["double-factorial", "--", "-9"], "n = -9 must be non-negative"),
        (["falling-factorial", "4", "--", "-1"], "k = -1 must be non-negative"),
        (["binomial", "5", "2", "--format", "hex"], "--format needs --output"),
        (["primorial", "5", "--digits", "--print"], "not allowed with argument"),
        (
            ["binomial", str(10**12), str(5 * 10**11), "--print"],
            "binomial(1000000000000, 500000000000) is too large",
        ),
        (["primorial", "5", "--output", "no/such/x"], "output path 'no/such/x'"),
    ],
)
def test_bad_arguments_exit_2_with_the_subcommands_usage(env, arguments, message):
    finished = run_in_group([*COMPUTE, *arguments], env, 60)
    assert finished.returncode == 2
    assert finished.stderr.startswith(f"usage: compute {arguments[0]} [-h]")
    assert message in finished.stderr
    assert finished.stdout == ""


def test_a_named_scheduler_runs_the_pieces_there_with_a_report(env, client, tmp_path):
    report = tmp_path / "report.html"
    env["DASK_COMPUTE__SPLIT_SECONDS"] = "0.00001"  # split a small value
    finished = run_in_group(
        [
            *COMPUTE,
            "binomial",
            "200000",
            "100000",
            "--scheduler",
            client.scheduler.address,
            "--report",
            str(report),
        ],
        env,
        120,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines() == [
        value_line("binomial(200000, 100000)", gmpy2.comb(200000, 100000))
    ]
    lines = finished.stderr.splitlines()
    assert len(lines) == 3, finished.stderr
    connected, computed, reported = lines
    assert connected == (
        f"compute: connected to the Dask scheduler at {client.scheduler.address}; "
        f"dashboard: {client.dashboard_link}"
    )
    assert computed.endswith(f" s on {client.scheduler.address}")
    assert reported == f"performance report: {report}"
    html = report.read_text()
    assert "binomial-piece" in html


def test_arguments_of_thousands_of_digits(env):
    # Past the 4300 digits where Python's int() and str() stop.
    n = gmpy2.mpz(10) ** 5000 + 17
    shown = "100000000000000000...000000000000000017 (5001 digits)"
    printed = run_in_group([*COMPUTE, "binomial", n.digits(), "2", "--print"], env, 120)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == f"{gmpy2.comb(n, 2).digits()}\n"
    assert printed.stderr.startswith(f"computed binomial({shown}, 2) in ")
    digits = run_in_group(
        [*COMPUTE, "falling-factorial", n.digits(), "3", "--digits"], env, 120
    )
    assert digits.returncode == 0, digits.stderr
    assert digits.stdout == f"{len((n * (n - 1) * (n - 2)).digits())}\n"
    assert digits.stderr == ""
