"""Values too small to split: GMP's one-call functions, and walks of factorials."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import gmpy2
from gmpy2 import mpz

from compute.kernels.product_tree import range_product
from compute.kernels.threads import releasing_gil

# Primes are sieved up to a product's largest prime only when that limit is at
# most this many times its bits: a sieve costs about 3 ns per integer here, a
# product about 30 ns per output bit (binomial(2e8, 1e8): 0.6 s of sieve,
# 5.3 s of product). Beyond, a range product and an exact division win.
PRIME_FORM_LIMIT_PER_BIT = 8


# binomial(n, k) with k up to this is left to GMP whatever n.
_GMP_BINOMIAL_K = 256


def factorial_small(n: int) -> mpz:
    """``n!`` by GMP's own ``mpz_fac_ui``, for n too small to split."""
    return gmpy2.fac(n)


def falling_factorial_small(n: int, k: int) -> mpz:
    """``n (n-1) ... (n-k+1)``, 0 when ``k > n``."""
    return mpz(0) if k > n else range_product(n - k, n)


def binomial_small(n: int, k: int) -> mpz:
    """``binomial(n, k)`` in one task: GMP's, or a range over a factorial.

    GMP's ``mpz_bin_uiui`` is fast while sieving up to ``n`` costs little
    next to the result, as for our prime form, and slow beyond:
    ``binomial(10**12, 10**5)`` takes 1.43 s there and 0.07 s as
    ``(n-k+1)...n / k!``.
    """
    k = min(k, n - k)
    if k < 0:
        return mpz(0)
    # log2 of the result, roughly; math.log2 takes ints of any size
    bits = k * (math.log2(n) - math.log2(k) + 1.5) if k else 0.0
    if k <= _GMP_BINOMIAL_K or n <= PRIME_FORM_LIMIT_PER_BIT * bits:
        return gmpy2.comb(n, k)
    return gmpy2.divexact(range_product(n - k, n), gmpy2.fac(k))


def multinomial_small(*ks: int) -> mpz:
    """``(sum ks)! / prod(k!)`` as a product of binomials."""
    result, total = mpz(1), 0
    for k in ks:
        total += k
        result *= binomial_small(total, k)
    return result


@releasing_gil
def small_values(
    kernel: Callable[..., mpz], arguments: Sequence[tuple[int, ...]]
) -> list[mpz]:
    """``[kernel(*a) for a in arguments]``: a batch of small values."""
    return [kernel(*args) for args in arguments]


@releasing_gil
def walk_factorials(
    base_n: int, base_value: mpz | None, targets: Sequence[int]
) -> list[mpz]:
    """Factorials of ascending ``targets``, each from the one before it.

    ``targets[i]! = targets[i-1]! * range_product(targets[i-1], targets[i])``,
    starting from ``base_value == base_n!``; with ``base_value=None`` the start
    is computed here as ``gmpy2.fac(base_n)``.

    Parameters
    ----------
    base_n : int
        Where the walk starts; every target is ``>= base_n``.
    base_value : gmpy2.mpz or None
        ``base_n!`` if already known.
    targets : sequence of int
        Ascending distinct values whose factorials are wanted.

    Returns
    -------
    list of gmpy2.mpz
        ``[t! for t in targets]``.
    """
    current = gmpy2.fac(base_n) if base_value is None else base_value
    previous = base_n
    results = []
    for target in targets:
        if target != previous:
            current = current * range_product(previous, target)
            previous = target
        results.append(current)
    return results
