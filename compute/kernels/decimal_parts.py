"""Decimal conversion's kernels (see compute.decimal_conversion). A split's
result is a (quotient, remainder) pair, and its children take the pair and a side."""

from __future__ import annotations

from gmpy2 import mpz

from compute.kernels.threads import releasing_gil


@releasing_gil
def split_decimal(pair: tuple[mpz, ...], side: int, power: mpz) -> tuple[mpz, mpz]:
    """``divmod(pair[side], power)`` (both non-negative here).

    The builtin ``divmod`` releases the GIL when gmpy2 may; ``gmpy2.t_divmod``
    holds it throughout (measured: 5.8 s at 3e7!), which would stall a
    worker's event loop and this process's Ctrl-C.
    """
    return divmod(pair[side], power)


def decimal_digits(pair: tuple[mpz, ...], side: int, width: int | None) -> str:
    """The decimal digits of ``pair[side]``, zero-padded to ``width`` if given."""
    text = pair[side].digits(10)
    return text if width is None else text.zfill(width)
