"""Binomials, primorials and double factorials against their gmpy2 one-liners."""

from __future__ import annotations

import random

import gmpy2
from distributed import Client

import compute
from benchmarks import anchors
from benchmarks.measure import interleaved


def workloads(quick: bool) -> list[tuple[str, object, object, str]]:
    """(name, ours, the gmpy2 anchor, anchor's name) for each large value."""
    scale = 10 if quick else 1
    n_binomial = 2 * 10**8 // scale
    n_primorial = 10**8 // scale
    n_double = 2 * 10**7 // scale + 1
    return [
        (
            f"binomial({n_binomial:.0e}, {n_binomial // 2:.0e})",
            lambda: compute.binomial(n_binomial, n_binomial // 2),
            lambda: gmpy2.comb(n_binomial, n_binomial // 2),
            "gmpy2.comb",
        ),
        (
            f"primorial({n_primorial:.0e})",
            lambda: compute.primorial(n_primorial),
            lambda: gmpy2.primorial(n_primorial),
            "gmpy2.primorial",
        ),
        (
            f"double_factorial({n_double - 1:.0e} + 1)",
            lambda: compute.double_factorial(n_double),
            lambda: gmpy2.double_fac(n_double),
            "gmpy2.double_fac",
        ),
    ]


def binomial_pairs() -> list[tuple[int, int]]:
    """The batch: 1000 random (n, k) with n in [1e4, 1e5] and 0 <= k <= n."""
    generator = random.Random(2026)
    pairs = []
    for _ in range(1000):
        n = generator.randint(10**4, 10**5)
        pairs.append((n, generator.randint(0, n)))
    return pairs


def combinatorics_here(runs: int, quick: bool) -> list[dict[str, object]]:
    """Each workload with no configuration (this process), in turn with its anchor.

    Run while no cluster lives in this process (see
    ``benchmarks.run.single_n_here``).
    """
    rows = []
    for name, ours, anchor, anchor_name in workloads(quick):
        pair = interleaved(ours, anchor, runs)  # type: ignore[arg-type]
        rows.append({"workload": name, "anchor": anchor_name, **pair.summary()})
        print(f"  {name}: ours/{anchor_name} = {pair.ratio:.2f}", flush=True)
    pairs = binomial_pairs()
    pair = interleaved(
        lambda: compute.binomial_many(pairs), lambda: anchors.pool_comb(pairs), runs
    )
    rows.append(
        {
            "workload": "1000 binomials, n in [1e4, 1e5]",
            "anchor": "Pool(2).starmap(gmpy2.comb)",
            **pair.summary(),
        }
    )
    print(f"  1000 binomials: ours/Pool(2) = {pair.ratio:.2f}", flush=True)
    rows.extend(range_products(runs))
    return rows


# Falling factorials whose factors are 64-bit, 1 kbit and 16 kbit words: how
# range_product's leaves cost across factor sizes (Python's own products of
# 16 kbit ints once made the last one 11x slower). About 10-17 Mbit each.
RANGE_FACTORS = ((2**63, 200_000), (2**1000, 10_000), (10**5000, 1000))


def range_products(runs: int) -> list[dict[str, object]]:
    """``falling_factorial(n, k)`` against ``gmpy2.comb(n, k) * gmpy2.fac(k)``."""
    rows = []
    for n, k in RANGE_FACTORS:
        bits = n.bit_length()
        name = f"falling_factorial of {k} factors of {bits} bits"
        pair = interleaved(
            lambda n=n, k=k: compute.falling_factorial(n, k),
            lambda n=n, k=k: gmpy2.comb(n, k) * gmpy2.fac(k),
            runs,
        )
        rows.append(
            {"workload": name, "anchor": "gmpy2.comb(n, k) * gmpy2.fac(k)"}
            | pair.summary()
        )
        print(f"  {name}: ours/gmpy2 = {pair.ratio:.2f}", flush=True)
    return rows


def binomials_on_cluster(runs: int, client: Client) -> dict[str, object]:
    """The batch of binomials on ``client``, a warm 2-worker LocalCluster.

    GMP's binomial holds the GIL, so only processes run two at once.
    """
    pairs = binomial_pairs()
    compute.binomial_many(pairs[:10], client=client)
    pair = interleaved(
        lambda: compute.binomial_many(pairs, client=client),
        lambda: anchors.pool_comb(pairs),
        runs,
    )
    print(f"  1000 binomials, cluster: ours/Pool(2) = {pair.ratio:.2f}", flush=True)
    return {
        "workload": "1000 binomials on the warm cluster",
        "anchor": "Pool(2).starmap(gmpy2.comb)",
        **pair.summary(),
    }
