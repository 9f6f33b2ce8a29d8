"""How the command line reads an n: digits of any length, ``1e7``, ``10**7``,
``10^7``, or ``-`` and ``@FILE`` for one n a line (``#`` comments), with
errors that name the line."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from gmpy2 import mpz

# Exact integer forms beside plain digits (``1_000_000`` included), as the
# docs write them: 1e7, 10**7 and 10^7. A mantissa with a point (1.5e3) is
# refused, as int() refuses "1.5".
_SCIENTIFIC = re.compile(r"([+-]?\d+)[eE]\+?(\d+)")
_POWER = re.compile(r"([+-]?\d+)(?:\*\*|\^)(\d+)")
# Larger written powers would take long to expand only to be refused as too
# large: 2**(2**24) has 16.8 Mbit, far past the largest n any machine computes.
_POWER_BITS = 2**24


def parse_integer(text: str) -> int:
    """An n as written: digits of any length, ``1e7``, ``10**7`` or ``10^7``."""
    text = text.strip()
    for form, base_of in ((_SCIENTIFIC, lambda _: 10), (_POWER, int)):
        match = form.fullmatch(text)
        if match is None:
            continue
        mantissa, exponent = parse_integer(match[1]), int(match[2])
        base = base_of(mantissa)
        if exponent * abs(base).bit_length() > _POWER_BITS:
            raise argparse.ArgumentTypeError(
                f"{text!r} is too large: over {_POWER_BITS} bits"
            )
        return mantissa * 10**exponent if form is _SCIENTIFIC else base**exponent
    try:
        return int(text)
    except ValueError:
        if not text.lstrip("+-").replace("_", "").isdigit():
            raise
        return int(mpz(text.replace("_", "")))


parse_integer.__name__ = "int"  # argparse names it in its errors: "invalid int value"


@dataclass(frozen=True)
class Source:
    """An N argument that names where to read n from: ``-`` or ``@FILE``."""

    name: str

    def read(self) -> list[tuple[int, str]]:
        """The n on each non-blank line, with where it was read for errors."""
        if self.name == "-":
            lines, label = sys.stdin.read().splitlines(), "standard input"
        else:
            path = self.name[1:]
            try:
                lines, label = Path(path).read_text().splitlines(), path
            except (OSError, UnicodeDecodeError) as error:
                raise ValueError(f"cannot read n from {path!r}: {error}") from None
        read = []
        for number, line in enumerate(lines, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            where = f"{label}, line {number}"
            try:
                read.append((parse_integer(text), where))
            except (ValueError, argparse.ArgumentTypeError) as error:
                raise ValueError(f"{where}: invalid int value: {text!r}") from error
        return read


def n_argument(text: str) -> int | Source:
    """An N on the command line: an integer, ``-`` (stdin) or ``@FILE``."""
    if text == "-" or (text.startswith("@") and len(text) > 1):
        return Source(text)
    return parse_integer(text)


n_argument.__name__ = "int"


def expanded(arguments: list[int | Source]) -> tuple[list[int], list[str | None]]:
    """The ns in order, files and stdin read, and where each was read from."""
    ns: list[int] = []
    origins: list[str | None] = []
    for argument in arguments:
        if isinstance(argument, Source):
            for n, where in argument.read():
                ns.append(n)
                origins.append(where)
        else:
            ns.append(argument)
            origins.append(None)
    return ns, origins
