"""Checking a factorial without computing it again: ``compute.verify_factorial``
and ``compute factorial --verify``."""

from __future__ import annotations

import io
import math
import re
import sys

import gmpy2
import pytest
from gmpy2 import mpz

import compute
from compute import cli_run, verify
from compute.factorial_digits import legendre_exponent
from tests.remote import clean_env, run_in_group

FORMATS = ("dec", "hex", "bin")


@pytest.mark.parametrize("n", [0, 1, 2, 5, 10, 999, 1000, 4096, 12345, 300000])
def test_each_form_of_n_factorial_verifies(n, tmp_path):
    value = gmpy2.fac(n)
    verification = compute.verify_factorial(value, n)
    assert verification.n == n and verification.source == "the value"
    assert dict(verification.checks) == {
        "residues mod 4 primes below 2**32": "",
        "bit length": str(value.bit_length()),
        "2-adic valuation": str(gmpy2.bit_scan1(value)),
    }
    assert str(verification).startswith(f"verified: the value is {n}! (residues")
    for format in FORMATS:
        path = compute.write_result(value, tmp_path / f"{n}.{format}", format=format)
        from_file = compute.verify_factorial(path, n, format=format)
        assert from_file.source == str(path)
    decimal = dict(compute.verify_factorial(tmp_path / f"{n}.dec", n).checks)
    text = str(value)
    assert decimal["digit count"] == str(len(text))
    assert decimal["trailing zeros"] == str(len(text) - len(text.rstrip("0")))
    assert decimal["leading digits"] == text[:12]
    assert decimal["last non-zero digits"] == text.rstrip("0")[-12:]


def test_a_chunked_value_is_checked_on_its_workers(client):
    n = 200000
    chunked = compute.ChunkedInteger.scatter(
        gmpy2.fac(n), client=client, chunk_bits=1 << 16
    )
    assert len(chunked) > 30
    verification = compute.verify_factorial(chunked, n)
    assert verification.source == "the chunked value"
    assert dict(verification.checks)["2-adic valuation"] == str(n - n.bit_count())
    wrong = compute.ChunkedInteger.scatter(
        gmpy2.fac(n) + (1 << (1 << 17)), client=client, chunk_bits=1 << 16
    )
    with pytest.raises(
        ValueError, match=r"^the chunked value is not 200000!: its residue"
    ):
        compute.verify_factorial(wrong, n)


N = 3000
MODULUS = math.prod(verify.PRIMES)  # n < every prime: each residue is n! mod p


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (gmpy2.fac(N) + 2, r"its residue mod 4294967291 is \d+, and 3000!'s is \d+"),
        (gmpy2.fac(N) - 1, r"its residue mod 4294967291 is"),
        (gmpy2.fac(N + 1), r"its residue mod"),
        # Residues right; then each other fact must catch it on its own.
        (gmpy2.fac(N) + MODULUS * (mpz(1) << 40000), r"its bit length is 40128, and"),
        (
            gmpy2.fac(N) + MODULUS * (mpz(1) << gmpy2.bit_scan1(gmpy2.fac(N))),
            r"its 2-adic valuation is 2994, and 3000!'s is 2993",
        ),
        (mpz(0), r"it is 0, and factorials are positive"),
        (-gmpy2.fac(N), r"it is -\d+, and factorials are positive"),
    ],
    ids=["+2", "-1", "(n+1)!", "bit length", "valuation", "zero", "negative"],
)
def test_a_wrong_value_is_named_by_the_first_fact_that_differs(value, message):
    with pytest.raises(ValueError, match=r"^the value is not 3000!: " + message):
        compute.verify_factorial(value, N)


def _written(tmp_path, format: str, n: int = N) -> bytes:
    path = compute.write_result(gmpy2.fac(n), tmp_path / f"f.{format}", format=format)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("format", "change", "message"),
    [
        ("dec", lambda d: d[:100] + b"7" + d[101:], r"its residue mod"),
        ("dec", lambda d: d[:-1], r"it does not end with a newline: it is truncated"),
        (
            "dec",
            lambda d: d[:50] + b"x" + d[51:],
            r"it has a byte that is not a dec digit at 50",
        ),
        ("dec", lambda d: b"-" + d, r"it has a byte that is not a dec digit at 0"),
        (
            "dec",
            lambda d: d[:20] + b"\n" + d[20:],
            r"it has a byte that is not a dec digit at 20",
        ),
        ("dec", lambda d: b"", r"it does not end with a newline"),
        (
            "hex",
            lambda d: d[:100] + b"A" + d[101:],
            r"it has a byte that is not a hex digit at 100",
        ),
        ("hex", lambda d: d[:-2] + b"\n", r"its residue mod"),
        ("bin", lambda d: d[:-1], r"its residue mod"),
        ("bin", lambda d: b"\0" + d, r"it is empty or starts with a zero byte"),
        ("bin", lambda d: d[:10] + bytes([d[10] ^ 4]) + d[11:], r"its residue mod"),
    ],
)
def test_a_damaged_file_is_named_with_what_is_wrong(tmp_path, format, change, message):
    data = change(_written(tmp_path, format))
    path = tmp_path / f"damaged.{format}"
    path.write_bytes(data)
    with pytest.raises(
        ValueError, match=f"^{re.escape(str(path))} is not 3000!: {message}"
    ):
        compute.verify_factorial(path, N, format=format)


DIGITS = 9131  # of 3000!, which ends in 748 zeros


@pytest.mark.parametrize(
    ("shift", "message"),
    [
        (DIGITS, rf"its digit count is {DIGITS + 39}, and 3000!'s is {DIGITS}"),
        (700, r"its trailing zeros is 700, and 3000!'s is 748"),
        (DIGITS - 45, r"its leading digits is \d+, and 3000!'s is 414935960343"),
        (748, r"its last non-zero digits is \d+, and 3000!'s is \d+"),
    ],
    ids=["digit count", "trailing zeros", "leading digits", "last digits"],
)
def test_a_decimal_file_with_its_residues_right_is_still_checked(
    tmp_path, shift, message
):
    """A dec file shows no bits: its digits and zeros are compared instead."""
    wrong = gmpy2.fac(N) + MODULUS * mpz(10) ** shift  # the same residues
    path = tmp_path / "f.dec"
    path.write_bytes(gmpy2.digits(wrong).encode() + b"\n")
    with pytest.raises(ValueError, match=f"is not 3000!: {message}"):
        compute.verify_factorial(path, N)


@pytest.mark.parametrize("p", [2, 3, 7, 11, 101, 4099])
def test_wilsons_reduction_gives_the_unit_part_of_n_factorial(p):
    """Where n reaches a prime p, the check uses n! / p**e mod p."""
    for n in sorted(
        {*range(0, 40), *range(p - 3, p + 3), *range(3 * p - 3, 3 * p + 3), 20000}
    ):
        exponent = legendre_exponent(n, p)
        unit, removed = gmpy2.remove(gmpy2.fac(n), p) if n > 1 else (mpz(1), 0)
        assert removed == exponent
        assert verify._unit_part_mod(n, p) == unit % p, (n, p)


def test_the_numpy_product_matches_gmp_across_its_blocks():
    n = 3 * verify._PRODUCT_BLOCK + 12345  # four blocks, the last padded
    for p in verify.PRIMES[:1]:
        assert verify._factorial_mod(n, p) == gmpy2.fac(n) % p


@pytest.mark.parametrize("n", [*range(0, 1100, 37), 123456, 10**6])
def test_the_bit_length_comes_from_lgamma_exactly(n):
    assert verify.factorial_bit_length(n) == gmpy2.fac(n).bit_length()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: compute.verify_factorial(120, -1),
            ValueError,
            "n = -1 must be non-neg",
        ),
        (lambda: compute.verify_factorial(120, 5.0), TypeError, "n must be an integer"),
        (
            lambda: compute.verify_factorial(1.5, 5),
            TypeError,
            "value must be an integer",
        ),
        (lambda: compute.verify_factorial("nowhere.bin", 5), ValueError, "no file at"),
        (
            lambda: compute.verify_factorial(".", 5, format="oct"),
            ValueError,
            "format must be one of dec, hex, bin, got 'oct'",
        ),
    ],
)
def test_bad_input_is_refused_before_any_work(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_the_command_verifies_the_file_it_wrote(tmp_path):
    finished = run_in_group(
        [
            sys.executable,
            "-m",
            "compute",
            "factorial",
            "300000",
            "--output",
            "f.bin",
            "--format",
            "bin",
            "--verify",
        ],
        clean_env(tmp_path),
        120,
        cwd=tmp_path,
    )
    assert finished.returncode == 0, finished.stderr
    lines = finished.stderr.splitlines()
    assert len(lines) == 3 and lines[1].startswith("wrote 300000! to f.bin")
    assert re.fullmatch(
        r"verified: f\.bin is 300000! \(residues mod 4 primes below 2\*\*32; "
        r"bit length 5025583; 2-adic valuation 299992\) in [\d.]+ s",
        lines[2],
    )
    assert compute.read_result(tmp_path / "f.bin", format="bin") == gmpy2.fac(300000)


def test_the_command_verifies_a_batch_in_one_line(tmp_path):
    finished = run_in_group(
        [
            sys.executable,
            "-m",
            "compute",
            "factorial",
            "5310",
            "5263",
            "7854",
            "--verify",
        ],
        clean_env(tmp_path),
        120,
    )
    assert finished.returncode == 0, finished.stderr
    assert re.fullmatch(
        r"computed 3 factorials in [\d.]+ s in this process\n"
        r"verified: 3 factorials, each by its residues mod 4 primes below 2\*\*32, "
        r"bit length, 2-adic valuation, in [\d.]+ s\n",
        finished.stderr,
    )


def test_a_value_that_does_not_verify_ends_the_command_with_an_error(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(_written(tmp_path, "bin")[:-1])
    with pytest.raises(ArithmeticError, match=r"^verification failed: .* is not 3000!"):
        cli_run._verify({N: str(path)}, "bin", io.StringIO())
