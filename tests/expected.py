"""Expected output built from gmpy2's own decimal digits, not from our code."""

from __future__ import annotations

import functools

import gmpy2


@functools.cache  # 10**7! has 65 million digits: converted once a session
def summary_line(n: int, width: int = 12) -> str:
    """The summary line of ``n!``, as the command-line guide describes it."""
    digits = gmpy2.fac(n).digits(10)
    significant = digits.rstrip("0")
    zeros = len(digits) - len(significant)
    if len(digits) <= 3 * width:
        unit = "digit" if len(digits) == 1 else "digits"
        return f"{n}! = {digits} ({len(digits)} {unit})"
    if len(significant) > 2 * width:
        significant = f"{significant[:width]}...{significant[-width:]}"
    unit = "zero" if zeros == 1 else "zeros"
    return f"{n}! has {len(digits)} digits: {significant} followed by {zeros} {unit}"


def value_line(label: str, value: gmpy2.mpz, width: int = 12) -> str:
    """The summary line of a computed value, as the command-line guide describes it."""
    digits = value.digits(10)
    if len(digits) <= 3 * width:
        unit = "digit" if len(digits) == 1 else "digits"
        return f"{label} = {digits} ({len(digits)} {unit})"
    return f"{label} has {len(digits)} digits: {digits[:width]}...{digits[-width:]}"


def multinomial_value(ks: list[int]) -> gmpy2.mpz:
    """GMP's binomials: (k1+k2)!/(k1! k2!) * (k1+k2+k3)!/((k1+k2)! k3!) ..."""
    value, total = gmpy2.mpz(1), 0
    for k in ks:
        total += k
        value *= gmpy2.comb(total, k)
    return value


def falling_value(n: int, k: int) -> gmpy2.mpz:
    """``n! / (n-k)!`` by gmpy2.fac, 0 when ``k > n``."""
    return gmpy2.divexact(gmpy2.fac(n), gmpy2.fac(n - k)) if k <= n else gmpy2.mpz(0)
