"""Digit counts, decimal conversion split across a cluster, and result files."""

from __future__ import annotations

import decimal
import re
import subprocess
import sys

import dask.config
import gmpy2
import pytest
from gmpy2 import mpz

import compute
from compute.atomic_file import atomic_file
from compute.decimal_conversion import plan_decimal
from compute.output import leading_digits
from compute.result_file import FORMATS
from tests.remote import clean_env, run_in_group


def around_powers_of_ten(exponents) -> list[mpz]:
    return [mpz(10) ** k + delta for k in exponents for delta in (-1, 0, 1)]


@pytest.mark.parametrize(
    "exponents",
    [
        range(0, 60),
        range(19_700, 19_760),  # both sides of the exact-conversion threshold
        [100_000, 250_000, 1_000_000],
    ],
    ids=["small", "threshold", "large"],
)
def test_digit_count_matches_str_around_powers_of_ten(exponents):
    for value in around_powers_of_ten(exponents):
        if value > 0:
            assert compute.digit_count(value) == len(str(value)), value


def test_digit_count_and_leading_digits_beyond_two_to_the_thirty_bits():
    # mpfr's exponents end at 2**30 bits; 10**8! has 2.6 * 10**9 bits.
    exponent = 2**30 + 12_345
    with decimal.localcontext() as context:
        context.prec = 60
        logarithm = exponent * decimal.Decimal(2).log10()  # independent of gmpy2
        fraction = logarithm - int(logarithm)
        leading = str(int(decimal.Decimal(10) ** (fraction + 11)))
    value = mpz(1) << exponent
    assert compute.digit_count(value) == int(logarithm) + 1
    assert leading_digits(value, 12) == leading


def test_digit_count_of_factorials_matches_str():
    for n in [*range(0, 300), 5310, 5263, 7854, 10**5, 3 * 10**5 + 1]:
        value = gmpy2.fac(n)
        assert compute.digit_count(value) == len(str(value)), n


@pytest.mark.parametrize("digits", [1, 7, 64, 1000, 65_657_060, 456_574_132])
@pytest.mark.parametrize("threads", [1, 2, 16])
def test_the_plan_covers_every_digit_with_a_leading_part(digits, threads):
    plan = plan_decimal(digits, threads)
    leading = digits - plan.width * (plan.parts - 1)
    assert 1 <= leading <= plan.width
    if digits >= 4 * threads * 4:
        assert plan.parts >= 2 * threads


SPLIT_SMALL = {
    "compute.decimal.part-digits": 50,
    "compute.decimal.parts-per-thread": 8,
}


@pytest.mark.parametrize(
    "value",
    [
        mpz(0),
        mpz(7),
        -gmpy2.fac(500),
        mpz(10) ** 4000,  # zero-padded parts
        mpz(10) ** 4000 - 1,
        mpz(10) ** 4000 + 1,
        gmpy2.fac(3000),
        gmpy2.fac(2 * 10**5),
    ],
    ids=["0", "7", "-500!", "10^4000", "10^4000-1", "10^4000+1", "3000!", "200000!"],
)
def test_decimal_split_on_the_cluster_equals_gmp(client, value):
    with dask.config.set(SPLIT_SMALL):
        chunks = list(compute.decimal_chunks(value, client=client))
    assert "".join(chunks) == value.digits(10)
    if abs(value) > mpz(10) ** 1000:
        assert len(chunks) >= 8  # it was split


def test_tasks_of_the_conversion_are_named_by_stage(client):
    value = gmpy2.fac(2000)
    with dask.config.set(SPLIT_SMALL):
        assert compute.to_decimal(value, client=client) == value.digits(10)
    names = client.run_on_scheduler(
        lambda dask_scheduler: sorted(
            {
                prefix
                for prefix in dask_scheduler.task_prefixes
                if prefix.startswith("decimal-")
            }
        )
    )
    assert names == ["decimal-digits", "decimal-split"]


def test_a_large_value_is_converted_in_parallel_parts(client):
    value = gmpy2.fac(10**6)  # 5.6 million digits
    with dask.config.set({"compute.decimal.part-digits": 1 << 20}):
        chunks = list(compute.decimal_chunks(value, client=client))
    assert len(chunks) == 8
    assert "".join(chunks) == value.digits(10)


ROUTING = """
import sys
import gmpy2
import compute

if __name__ == "__main__":
    value = -gmpy2.fac(int(sys.argv[1]))
    assert compute.to_decimal(value) == value.digits(10), "wrong digits"
    print("distributed imported:", "distributed" in sys.modules)
"""


@pytest.mark.parametrize(
    ("n", "cluster_expected"),
    [(20_000, False), (1_000_000, True)],
    ids=["small-here", "large-on-a-cluster"],
)
def test_decimal_conversions_are_routed_by_their_estimated_cost(
    tmp_path, n, cluster_expected
):
    # Its own process: the suite's shared cluster cannot hide or fake a use.
    # 10**6! (5.6 M digits) is estimated above 0.5 s, 20000! far below.
    script = tmp_path / "routing.py"
    script.write_text(ROUTING)
    env = clean_env(
        tmp_path,
        DASK_COMPUTE__DECIMAL__IN_PROCESS_SECONDS="0.5",
        DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS="127.0.0.1:0",
    )
    process = run_in_group(
        [sys.executable, str(script), str(n)], env, timeout=120, cwd=tmp_path
    )
    assert process.returncode == 0, process.stderr
    assert process.stdout == f"distributed imported: {cluster_expected}\n"
    assert process.stderr == ""


def encoded(value: mpz, format: str) -> bytes:
    if format == "dec":
        return f"{value}\n".encode()
    if format == "hex":
        return f"{value:x}\n".encode()
    return int(value).to_bytes((value.bit_length() + 7) // 8, "big")


ROUND_TRIP = [mpz(0), mpz(1), mpz(255), mpz(256), gmpy2.fac(5310), gmpy2.fac(10**6)]


@pytest.mark.parametrize("format", FORMATS)
def test_every_format_round_trips(client, tmp_path, format):
    for number, value in enumerate(ROUND_TRIP):
        path = tmp_path / f"{number}.{format}"
        written = compute.write_result(value, path, format=format, client=client)
        assert written == path
        assert path.read_bytes() == encoded(value, format)
        assert compute.read_result(path, format=format) == value
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{number}.{format}" for number in range(len(ROUND_TRIP))
    )


def test_negative_values_round_trip_as_text(tmp_path):
    value = -gmpy2.fac(1000)
    for format in ("dec", "hex"):
        path = compute.write_result(value, tmp_path / format, format=format)
        assert compute.read_result(path, format=format) == value


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        (
            {"format": "oct"},
            ValueError,
            "format must be one of dec, hex, bin, got 'oct'",
        ),
        ({"value": -1, "format": "bin"}, ValueError, "format bin holds non-negative"),
        ({"path": "missing/x.txt"}, ValueError, "of output path 'missing/x.txt' does"),
        ({"path": "."}, ValueError, "output path '.' is a directory"),
        # Written first under a name 15 bytes longer: 241 bytes cannot be.
        ({"path": "a" * 241}, ValueError, "is too long: the file system takes 240 "),
        ({"path": "a" * 300}, ValueError, "File name too long"),
    ],
    ids=["format", "negative bin", "no folder", "a folder", "241 bytes", "300 bytes"],
)
def test_unusable_outputs_are_refused_before_writing(
    tmp_path, monkeypatch, arguments, error, message
):
    monkeypatch.chdir(tmp_path)
    call = {"value": mpz(120), "path": "x.txt", "format": "dec", **arguments}
    with pytest.raises(error, match=message):
        compute.write_result(call.pop("value"), call.pop("path"), **call)
    assert list(tmp_path.iterdir()) == []


def test_a_name_of_240_bytes_is_written(tmp_path):
    path = compute.write_result(mpz(120), tmp_path / ("a" * 240))
    assert compute.read_result(path) == 120
    assert [item.name for item in tmp_path.iterdir()] == ["a" * 240]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "result.txt"
    path.write_text("old\n")
    with (
        pytest.raises(RuntimeError, match="conversion failed"),
        atomic_file(path) as handle,
    ):
        handle.write(b"123")
        raise RuntimeError("conversion failed")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["result.txt"]


ABANDONED_WRITER = """
import sys
import threading
from pathlib import Path

from compute.atomic_file import atomic_file

entered = threading.Event()


def write_forever():
    with atomic_file(Path(sys.argv[1])) as handle:
        handle.write(b"123")
        entered.set()
        threading.Event().wait()  # as a writer the process's exit abandons


threading.Thread(target=write_forever, daemon=True).start()
entered.wait(timeout=30)
"""


def test_a_file_whose_writer_the_exit_abandons_leaves_no_temporary(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    script = tmp_path / "abandon.py"
    script.write_text(ABANDONED_WRITER)
    finished = subprocess.run(
        [sys.executable, str(script), str(folder / "result.bin")],
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr == ""
    assert list(folder.iterdir()) == []


def test_a_written_file_has_the_usual_permissions(tmp_path):
    path = compute.write_result(mpz(5), tmp_path / "five.txt")
    plain = tmp_path / "plain.txt"
    plain.write_text("5\n")
    assert path.stat().st_mode == plain.stat().st_mode


@pytest.mark.parametrize(
    ("call", "shown"),
    [
        (lambda: compute.to_decimal(5.5), "float 5.5"),
        (lambda: compute.decimal_chunks("12"), "str '12'"),
        (lambda: compute.digit_count("12"), "str '12'"),
        (lambda: compute.digit_count(None), "NoneType None"),
        (lambda: compute.write_result(5.0, "never-written.txt"), "float 5.0"),
    ],
)
def test_helpers_refuse_non_integers_at_the_call(call, shown, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        TypeError, match=re.escape(f"value must be an integer, got {shown}")
    ):
        call()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "format", "problem"),
    [
        (b"", "dec", "is empty; a dec result ends with a newline"),
        (
            b"12345",
            "dec",
            "is truncated: it does not end with a newline, as every dec result "
            "written by write_result does",
        ),
        (b"12a45\n", "dec", "has b'a' at byte 2, where a dec digit belongs"),
        (b"-\n", "dec", "has no digits"),
        (b"ff0G\n", "hex", "has b'G' at byte 3, where a hex digit belongs"),
        (b"\x00\x01\xff\n", "dec", "has b'\\x00' at byte 0, where a dec digit belongs"),
    ],
)
def test_read_result_says_what_is_wrong_and_where(tmp_path, content, format, problem):
    path = tmp_path / "result"
    path.write_bytes(content)
    with pytest.raises(ValueError) as raised:
        compute.read_result(path, format=format)
    assert str(raised.value) == f"{str(path)!r} (format {format}) {problem}"


def test_a_bin_file_read_as_dec_names_the_first_bad_byte(tmp_path):
    path = compute.write_result(gmpy2.fac(40), tmp_path / "40.bin", format="bin")
    first = path.read_bytes()[:1]
    with pytest.raises(ValueError, match=re.escape(f"has {first!r} at byte 0")):
        compute.read_result(path, format="dec")
