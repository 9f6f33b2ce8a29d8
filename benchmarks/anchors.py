"""What users run today, measured beside us in the same run."""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Sequence

import gmpy2


def gmpy2_fac(n: int) -> gmpy2.mpz:
    """GMP's ``mpz_fac_ui``: single-threaded, holds the GIL."""
    return gmpy2.fac(n)


def flint_fac_threaded(n: int) -> object:
    """python-flint's ``fmpz.fac_ui`` with FLINT allowed two threads.

    FLINT's factorial is GMP's underneath, so the threads do not help it; the
    anchor shows what a user gets by reaching for FLINT. Returns an ``fmpz``
    (converting to mpz would add time we do not charge it).
    """
    import flint

    flint.ctx.threads = 2
    return flint.fmpz.fac_ui(n)


def math_factorial(n: int) -> int:
    """CPython's ``math.factorial``."""
    return math.factorial(n)


def pool_map(ns: Sequence[int], processes: int = 2) -> list[gmpy2.mpz]:
    """``multiprocessing.Pool(2).map(gmpy2.fac, ns)``, pool start included."""
    with multiprocessing.Pool(processes) as pool:
        return pool.map(gmpy2.fac, ns)


def pool_comb(pairs: Sequence[tuple[int, int]], processes: int = 2) -> list[gmpy2.mpz]:
    """``multiprocessing.Pool(2).starmap(gmpy2.comb, pairs)``, pool start included."""
    with multiprocessing.Pool(processes) as pool:
        return pool.starmap(gmpy2.comb, pairs)


# The seed notebook's own script: a Python-loop factorial, printed in each
# worker, mapped over a Pool, all results printed at the end.
SEED_POOL_SCRIPT = """
import multiprocessing
import sys

sys.set_int_max_str_digits(100000)


def factorial(n):
    result = 1
    for i in range(2, n + 1):
        result *= i
    print(f"Factorial of {n} is {result}")
    return result


if __name__ == "__main__":
    with multiprocessing.Pool() as pool:
        results = pool.map(factorial, [5310, 5263, 7854])
    print(results)
"""

# The same workload with this package, printing the same digits.
OUR_SEED_SCRIPT = """
import compute

if __name__ == "__main__":
    ns = [5310, 5263, 7854]
    results = compute.factorial_many(ns)
    for n, value in zip(ns, results):
        print(f"Factorial of {n} is {value}")
    print(results)
"""
