"""Checking a factorial without computing it again.

A value, a :class:`compute.ChunkedInteger` or a result file is compared with
facts about ``n!`` found by means that share no code with the product
kernels:

- its residues modulo four primes just below ``2**32``, against ``n!``
  modulo each, from a product over ``1..m`` in numpy's ``uint64`` (a pair
  of residues multiplies without overflow). Where ``n`` reaches a prime
  ``p``, Legendre's exponent ``e`` of ``p`` in ``n!`` is removed: the value
  modulo ``p**(e+1)`` must be ``p**e`` times the residue of ``n! / p**e``,
  which Wilson's theorem reduces to ``(n mod p)!`` and a smaller factorial;
- its bit length, against ``log2(n!)`` from MPFR's ``lngamma``;
- its 2-adic valuation, against ``n - popcount(n)`` (Legendre);
- for a decimal file, the digit count, trailing zeros, leading and last
  non-zero digits of :mod:`compute.factorial_digits`, since the bit length
  and the valuation are not visible in decimal text.

The four residues leave a wrong value unnoticed with probability about
``2**-128``. Four primes below ``2**32`` rather than a few of 61 bits:
numpy has no 128-bit product, and these need none.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import gmpy2
import numpy as np
from gmpy2 import mpz

from compute.factorial_digits import (
    factorial_digit_count,
    factorial_last_nonzero_digits,
    factorial_leading_digits,
    factorial_trailing_zeros,
    legendre_exponent,
)
from compute.kernels.modular import product_mod
from compute.validate import as_count, as_mpz, shown_integer

if TYPE_CHECKING:
    from compute.chunked import ChunkedInteger

# The four largest primes below 2**32.
PRIMES = (4294967291, 4294967279, 4294967231, 4294967197)
# Integers multiplied at a time by the numpy product (a power of two).
_PRODUCT_BLOCK = 1 << 20
# Bytes of a file read at a time; decimal digits converted at a time.
_READ_BLOCK = 1 << 22
_DECIMAL_RUN = 1000
# Digits of a decimal file compared at each end.
_END_DIGITS = 12


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_factorial` compared, all of it equal to ``n!``'s."""

    n: int
    source: str  # "the value", "the chunked value", or the file's path
    checks: tuple[tuple[str, str], ...]  # (what was compared, n!'s), in order
    seconds: float

    def __str__(self) -> str:
        compared = "; ".join(f"{what} {value}".rstrip() for what, value in self.checks)
        return (
            f"verified: {self.source} is {shown_integer(self.n)}! "
            f"({compared}) in {self.seconds:.2f} s"
        )


def _factorial_mod(m: int, p: int) -> int:
    """``m!`` modulo the prime ``p``, for ``m < p < 2**32``."""
    result = 1
    for low in range(1, m + 1, _PRODUCT_BLOCK):
        high = min(low + _PRODUCT_BLOCK, m + 1)
        values = np.arange(low, high, dtype=np.uint64)
        result = result * product_mod(values, p, reduced=True) % p
    return result


def _unit_part_mod(n: int, p: int) -> int:
    """``n! / p**e`` modulo ``p``, ``e`` the exponent of ``p`` in ``n!``.

    The integers up to ``n`` that ``p`` does not divide form ``n // p``
    runs of ``(p - 1)! = -1 (mod p)`` and ``(n mod p)!``; the multiples of
    ``p`` give ``p**(n // p) * (n // p)!``.
    """
    result = 1
    while n >= p:
        if (n // p) % 2:
            result = p - result
        result = result * _factorial_mod(n % p, p) % p
        n //= p
    return result * _factorial_mod(n, p) % p


@dataclass(frozen=True)
class _Expected:
    """The residues ``n!`` must have: modulo ``moduli[i] = p**(e+1)``, the
    value ``p**e * units[i]``."""

    n: int
    moduli: tuple[int, ...]
    units: tuple[int, ...]
    exponents: tuple[int, ...]

    @property
    def modulus(self) -> mpz:
        return mpz(math.prod(self.moduli))


def _expected(n: int) -> _Expected:
    exponents = tuple(legendre_exponent(n, p) for p in PRIMES)
    if n < _PRODUCT_BLOCK:
        units = tuple(_unit_part_mod(n, p) for p in PRIMES)
    else:  # numpy releases the GIL: a prime a core
        with ThreadPoolExecutor(min(len(PRIMES), os.cpu_count() or 1)) as pool:
            units = tuple(pool.map(lambda p: _unit_part_mod(n, p), PRIMES))
    moduli = tuple(p ** (e + 1) for p, e in zip(PRIMES, exponents, strict=True))
    return _Expected(n, moduli, units, exponents)


_Check = tuple[str, str]


def _residue_checks(residue: int, expected: _Expected) -> _Check:
    """The residue check's description, or a ValueError naming the prime."""
    for p, modulus, unit, exponent in zip(
        PRIMES, expected.moduli, expected.units, expected.exponents, strict=True
    ):
        found = residue % modulus
        if found % p**exponent or found // p**exponent != unit:
            share = f"/ {p}**{exponent} " if exponent else ""
            raise ValueError(
                f"its residue {share}mod {p} is {found // p**exponent % p}, "
                f"and {shown_integer(expected.n)}!'s is {unit}"
            )
    return f"residues mod {len(PRIMES)} primes below 2**32", ""


def factorial_bit_length(n: int) -> int:
    """The bit length of ``n!``, from ``log2(n!)`` at a precision that decides it.

    Examples
    --------
    >>> factorial_bit_length(10**6) == gmpy2.fac(10**6).bit_length()
    True
    """
    n = as_count(n)
    if n < 1000:
        return int(gmpy2.fac(n).bit_length())
    precision = 128
    while True:
        with gmpy2.context(precision=precision):
            log2 = gmpy2.lgamma(n + 1)[0] / gmpy2.log(2)
            whole = gmpy2.floor(log2)
            # Two roundings of a value below 2**64: off by far less than this.
            margin = gmpy2.mpfr(2) ** (70 - precision)
            if margin < log2 - whole < 1 - margin:
                return int(whole) + 1
        precision *= 2


def _compare(what: str, found: object, wanted: object, n: int) -> _Check:
    if found != wanted:
        raise ValueError(
            f"its {what} is {found}, and {shown_integer(n)}!'s is {wanted}"
        )
    return what, str(wanted)


def _binary_checks(bits: int, lowest_one: int, n: int) -> list[_Check]:
    return [
        _compare("bit length", bits, factorial_bit_length(n), n),
        _compare("2-adic valuation", lowest_one, n - n.bit_count(), n),
    ]


def _value_checks(value: mpz, expected: _Expected) -> list[_Check]:
    if value <= 0:
        raise ValueError(f"it is {value}, and factorials are positive")
    checks = [_residue_checks(int(value % expected.modulus), expected)]
    return checks + _binary_checks(
        value.bit_length(), gmpy2.bit_scan1(value), expected.n
    )


def _chunk_facts(chunk: mpz, modulus: mpz) -> tuple[mpz, int | None]:
    """A chunk's residue and lowest set bit (None for a zero chunk): run on
    the worker that holds it."""
    return chunk % modulus, (gmpy2.bit_scan1(chunk) if chunk else None)


def _chunked_checks(value: ChunkedInteger, expected: _Expected) -> list[_Check]:
    """The checks of a chunked value, with only each chunk's residue and
    lowest set bit coming back from the workers."""
    modulus = expected.modulus
    facts = value.client.gather(
        value.client.map(_chunk_facts, value.chunks, modulus=modulus, pure=False)
    )
    residue, lowest_one = mpz(0), None
    step = pow(mpz(2), value.chunk_bits, modulus)
    for index in range(len(facts) - 1, -1, -1):
        chunk_residue, chunk_lowest = facts[index]
        residue = (residue * step + chunk_residue) % modulus
        if chunk_lowest is not None:
            lowest_one = index * value.chunk_bits + chunk_lowest
    if lowest_one is None:
        raise ValueError("it is 0, and factorials are positive")
    checks = [_residue_checks(int(residue), expected)]
    return checks + _binary_checks(value.bit_length(), lowest_one, expected.n)


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(_READ_BLOCK):
            yield block


class _Horner:
    """The residue of a number read in runs of digits, most significant first."""

    def __init__(self, base: int, modulus: mpz) -> None:
        self.base, self.modulus = base, modulus
        self.residue = mpz(0)
        self._steps: dict[int, mpz] = {}

    def add(self, run: mpz, length: int) -> None:
        step = self._steps.get(length)
        if step is None:
            step = self._steps[length] = pow(mpz(self.base), length, self.modulus)
        self.residue = (self.residue * step + run % self.modulus) % self.modulus


def _bin_file_checks(path: Path, expected: _Expected) -> list[_Check]:
    horner = _Horner(256, expected.modulus)
    size, first, trailing_zero_bytes, last = 0, None, 0, 0
    for block in _blocks(path):
        if first is None:
            first = block[0]
        stripped = block.rstrip(b"\0")
        if stripped:
            trailing_zero_bytes = len(block) - len(stripped)
            last = stripped[-1]
        else:
            trailing_zero_bytes += len(block)
        size += len(block)
        horner.add(mpz.from_bytes(block, "big"), len(block))
    if first is None or first == 0:
        raise ValueError(
            "it is empty or starts with a zero byte, as bin files never do"
        )
    lowest_one = 8 * trailing_zero_bytes + (last & -last).bit_length() - 1
    checks = [_residue_checks(int(horner.residue), expected)]
    return checks + _binary_checks(
        8 * size - 8 + first.bit_length(), lowest_one, expected.n
    )


def _text_runs(path: Path, format: str) -> Iterator[bytes]:
    """The digits of a dec or hex file in blocks, checked: no sign, digits
    only, one final newline (as :func:`compute.write_result` writes them)."""
    alphabet = b"0123456789" if format == "dec" else b"0123456789abcdef"
    offset, pending = 0, b""
    for block in _blocks(path):
        if pending.endswith(b"\n"):
            raise ValueError(
                f"it has a byte that is not a {format} digit at {offset - 1}"
            )
        if pending:
            yield pending
        body = block[:-1] if block.endswith(b"\n") else block
        if body.translate(None, alphabet):
            at = offset + next(i for i, c in enumerate(body) if c not in alphabet)
            raise ValueError(f"it has a byte that is not a {format} digit at {at}")
        offset += len(block)
        pending = block
    if not pending.endswith(b"\n"):
        raise ValueError("it does not end with a newline: it is truncated")
    if pending[:-1]:
        yield pending[:-1]


@dataclass
class _TextEnds:
    """The ends of a text read block by block: its first digits, its count of
    digits, its trailing zeros and the digits before them."""

    head: bytes = b""
    length: int = 0
    zeros: int = 0
    before_zeros: bytes = b""

    def add(self, block: bytes) -> None:
        self.head = self.head or block[:_END_DIGITS]
        self.length += len(block)
        stripped = block.rstrip(b"0")
        if stripped:
            self.zeros = len(block) - len(stripped)
            self.before_zeros = (self.before_zeros + stripped)[-_END_DIGITS:]
        else:
            self.zeros += len(block)


def _text_checks(path: Path, format: str, expected: _Expected) -> list[_Check]:
    base = 10 if format == "dec" else 16
    horner = _Horner(base, expected.modulus)
    run_length = _DECIMAL_RUN if format == "dec" else _READ_BLOCK
    ends = _TextEnds()
    for block in _text_runs(path, format):
        ends.add(block)
        for start in range(0, len(block), run_length):
            run = block[start : start + run_length]
            horner.add(mpz(run, base), len(run))
    if not ends.head or ends.head.startswith(b"0"):
        raise ValueError(
            f"it has no digits or a leading zero, as {format} files never do"
        )
    checks = [_residue_checks(int(horner.residue), expected)]
    if format == "hex":
        return checks + _hex_ends_checks(ends, expected.n)
    return checks + _decimal_ends_checks(ends, expected.n)


def _hex_ends_checks(ends: _TextEnds, n: int) -> list[_Check]:
    lowest_digit = int(ends.before_zeros[-1:], 16)
    bits = 4 * ends.length - 4 + int(ends.head[:1], 16).bit_length()
    lowest_one = 4 * ends.zeros + (lowest_digit & -lowest_digit).bit_length() - 1
    return _binary_checks(bits, lowest_one, n)


def _decimal_ends_checks(ends: _TextEnds, n: int) -> list[_Check]:
    """What a decimal text shows instead of bits: its length, zeros and ends."""
    head, last = ends.head.decode(), ends.before_zeros.decode()
    return [
        _compare("digit count", ends.length, factorial_digit_count(n), n),
        _compare("trailing zeros", ends.zeros, factorial_trailing_zeros(n), n),
        _compare("leading digits", head, factorial_leading_digits(n, len(head)), n),
        _compare(
            "last non-zero digits", last, factorial_last_nonzero_digits(n, len(last)), n
        ),
    ]


def _checks(value: object, expected: _Expected, format: str) -> list[_Check]:
    """The checks ``value`` (a number, a chunked value or a path) passed."""
    from compute.chunked import ChunkedInteger

    if isinstance(value, Path):
        if format == "bin":
            return _bin_file_checks(value, expected)
        return _text_checks(value, format, expected)
    if isinstance(value, ChunkedInteger):
        return _chunked_checks(value, expected)
    return _value_checks(value, expected)


def _described(value: object, format: str) -> tuple[mpz | ChunkedInteger | Path, str]:
    """``value`` checked and in the form the checks take, and its name."""
    from compute.chunked import ChunkedInteger
    from compute.result_file import FORMATS

    if isinstance(value, str | os.PathLike):
        if format not in FORMATS:
            raise ValueError(
                f"format must be one of {', '.join(FORMATS)}, got {format!r}"
            )
        path = Path(value)
        if not path.is_file():
            raise ValueError(f"no file at {str(path)!r} to verify")
        return path, str(path)
    if isinstance(value, ChunkedInteger):
        return value, "the chunked value"
    return as_mpz(value), "the value"


def verify_factorial(
    value: int | ChunkedInteger | str | os.PathLike[str],
    n: int,
    *,
    format: str = "dec",
) -> Verification:
    """Check that ``value`` is ``n!``, without computing ``n!`` again.

    Parameters
    ----------
    value : int, gmpy2.mpz, ChunkedInteger, str or path-like
        The value, a chunked value (checked on its workers: only residues
        come back), or the path of a file :func:`compute.write_result`
        wrote, which is read, not loaded.
    n : int
        The n it should be the factorial of (``n >= 0``).
    format : {"dec", "hex", "bin"}
        The file's format; used only when ``value`` is a path.

    Returns
    -------
    Verification
        What was compared; ``str()`` of it is one line, ``verified: ...``.

    Raises
    ------
    ValueError
        If ``value`` is not ``n!``: the message names the first fact that
        differs, with the value's and ``n!``'s. Also for a negative ``n``,
        an unknown format, or a file that is not a result file.
    TypeError
        If ``value`` or ``n`` is not an integer (nor a path, for ``value``).
    OSError
        If the file cannot be read.

    Notes
    -----
    The residues of ``n!`` modulo the four primes cost about ``n`` numpy
    multiplications each (two primes at a time on two cores): for
    ``10**9``, a few seconds, against minutes for ``n!`` itself.

    Examples
    --------
    >>> import compute, gmpy2
    >>> verification = compute.verify_factorial(gmpy2.fac(2000), 2000)
    >>> print(verification)  # doctest: +ELLIPSIS
    verified: the value is 2000! (residues mod 4 primes below 2**32; bit length ...
    >>> dict(verification.checks)["2-adic valuation"]
    '1994'
    >>> compute.verify_factorial(gmpy2.fac(2000) + 2, 2000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the value is not 2000!: its residue mod 4294967291 is ...
    """
    start = time.perf_counter()
    n = as_count(n)
    checked, source = _described(value, format)
    expected = _expected(n)
    try:
        checks = _checks(checked, expected, format)
    except ValueError as error:
        raise ValueError(f"{source} is not {shown_integer(n)}!: {error}") from None
    return Verification(n, source, tuple(checks), time.perf_counter() - start)
