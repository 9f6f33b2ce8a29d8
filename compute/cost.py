"""Cost estimates: bits, bytes and single-thread seconds of each stage.

The one place that models sizes and times, with the constants fitted on
gmpy2 2.3 / GMP 6.3 kept in ``compute.yaml``. Estimates steer planning and
refuse work that cannot fit; they never affect a result.
"""

from __future__ import annotations

import math

from compute.config import setting


def factorial_bits(n: int) -> float:
    """Estimated number of bits of ``n!`` (``log2(n!)`` by lgamma)."""
    if n.bit_length() > 1000:  # beyond float range; refused by any memory bound
        return math.inf
    return math.lgamma(n + 1) / math.log(2) + 1


def factorial_bytes(n: int) -> float:
    """Estimated size of ``n!`` in bytes."""
    return factorial_bits(n) / 8


def factorial_seconds(n: int) -> float:
    """Estimated single-thread seconds for ``gmpy2.fac(n)``."""
    return product_seconds(factorial_bits(n))


def product_seconds(bits: float) -> float:
    """Estimated single-thread seconds for a product of ``bits`` bits by GMP.

    Fitted on ``gmpy2.fac``; binomials, primorials and double factorials
    cost within a factor of two of it per output bit (see ``compute.yaml``).
    """
    return setting("fac-seconds-per-bit") * bits * math.log2(bits + 2)


def working_bytes(result_bytes: float) -> float:
    """Estimated peak memory of the worker that finishes a result, in bytes."""
    return setting("memory-factor") * result_bytes


def lean_working_bytes(result_bytes: float) -> float:
    """As :func:`working_bytes`, for a lean split (its last step a squaring)."""
    return setting("lean-memory-factor") * result_bytes


def needs_lean(result_bytes: float, memory_bytes: float) -> bool:
    """Whether a result's two-thread products would not fit ``memory_bytes``.

    In this process, and on a cluster that cannot spread it
    (:func:`can_spread`), such a result is computed lean and needs
    :func:`lean_working_bytes` instead.
    """
    return working_bytes(result_bytes) > memory_bytes


# Toom-k beyond this has wide interpolation coefficients (Toom-16: 181 bits,
# D of 103 bits) and costs more in its linear stages than it saves.
MAX_WAYS = 16
# A product spread over workers holds, across the cluster at its peak, its
# operands, evaluated parts, part products, their chunks and the result: this
# many times the result. Measured: 10**9! (3.56 GB) on two 11.8 GiB workers
# went past 95% of both (about 6x the result each, above a part product's
# own working space), while 5e7! on four 1 GiB workers and 1e8! on two
# 1.5 GiB workers peaked within their limits.
SPREAD_HELD = 6.0


def can_spread(worker_bytes: float | None, cluster_bytes: float | None) -> bool:
    """Whether a cluster's workers can hold a value spread over them: it takes
    two or more (a cluster of one worker's memory gains nothing; None: no
    cluster, this process)."""
    if worker_bytes is None or cluster_bytes is None:
        return False
    return cluster_bytes > 1.5 * worker_bytes


def spread_bytes(result_bytes: float, share: float) -> tuple[float, float]:
    """Peak memory of one worker and of the whole cluster for a spread result.

    The worker holding ``share`` of the cluster's memory runs one task of
    at most a Toom-``MAX_WAYS`` part product (``2/k`` of the operands; pieces
    are made as small) with its working space, beside its share of the
    chunks: the cluster holds about ``SPREAD_HELD`` times the result.
    """
    held = SPREAD_HELD * result_bytes
    return working_bytes(result_bytes / MAX_WAYS) + held * share, held


def multiply_seconds(bits_a: float, bits_b: float) -> float:
    """Estimated seconds for a product of ``bits_a`` by ``bits_b`` bits."""
    large, small = max(bits_a, bits_b), min(bits_a, bits_b)
    return setting("multiply-seconds-per-bit") * large * math.log2(small + 64)


def step_seconds(lo: int, hi: int) -> float:
    """Estimated seconds to get ``hi!`` from ``lo!`` (``lo <= hi``)."""
    gap_bits = factorial_bits(hi) - factorial_bits(lo)
    # The range product itself is a tree over the gap, then one multiply.
    return multiply_seconds(factorial_bits(lo), gap_bits) + factorial_seconds(
        max(hi - lo, 1)
    )


def decimal_seconds(bits: int) -> float:
    """Estimated single-thread seconds to convert a ``bits``-bit value to decimal."""
    if bits < 2:
        return 0.0
    return setting("decimal.seconds-per-bit") * bits * math.log2(bits) ** 2
