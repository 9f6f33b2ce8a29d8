"""Scaling model: a split factorial's total work against its critical path.

From the package's own cost model (``compute.plan``): ``P`` pieces of about
``F / P`` seconds each (``F`` the single-thread factorial cost), then a
balanced tree whose level ``l`` holds ``P / 2**l`` products of
``B * 2**(l-1) / P``-bit operands (``B`` the bits of ``n!``). Work is the sum
of all tasks, the critical path one piece plus one product per level, and
``work / critical path`` is the number of workers the graph can keep busy.
"""

from __future__ import annotations

import math

import dask.config

from compute import toom_graph
from compute.cost import (
    factorial_bits,
    factorial_seconds,
    multiply_seconds,
    product_seconds,
)


def split_costs(
    n: int, pieces: int, link_bytes_per_second: float | None = None
) -> tuple[float, float]:
    """``(work, critical_path)`` in single-thread seconds for ``pieces`` pieces.

    With ``link_bytes_per_second``, workers are hosts on links of that rate:
    each product on the path first receives one operand from another worker,
    and the result then crosses to the client.
    """
    piece_seconds = factorial_seconds(n) / pieces
    bits = factorial_bits(n)
    work = piece_seconds * pieces
    critical = piece_seconds
    for level in range(1, math.ceil(math.log2(pieces)) + 1):
        operand_bits = bits * 2 ** (level - 1) / pieces
        products = math.ceil(pieces / 2**level)
        product_seconds = multiply_seconds(operand_bits, operand_bits)
        work += products * product_seconds
        critical += product_seconds + transfer_seconds(
            operand_bits / 8, link_bytes_per_second
        )
    critical += transfer_seconds(bits / 8, link_bytes_per_second)
    return work, critical


def transfer_seconds(size: float, link_bytes_per_second: float | None) -> float:
    """Seconds for ``size`` bytes to cross one link (0 without a link)."""
    return 0.0 if link_bytes_per_second is None else size / link_bytes_per_second


def scaling_table(
    ns: tuple[int, ...] = (10**6, 10**7, 10**8, 10**9),
    pieces: tuple[int, ...] = (2, 4, 8, 16, 64),
) -> list[dict[str, float]]:
    """One row per (n, pieces): work, critical path and workers kept busy."""
    rows = []
    for n in ns:
        for count in pieces:
            work, critical = split_costs(n, count)
            rows.append(
                {
                    "n": n,
                    "pieces": count,
                    "work_s": work,
                    "critical_path_s": critical,
                    "busy_workers": work / critical,
                    "speedup_vs_one_thread": factorial_seconds(n) / critical,
                }
            )
    return rows


# Linear stages of a distributed product, seconds per bit, measured here on
# 1 MiB chunks (gmpy2 2.3 / GMP 6.3): cutting a value into chunks (halving),
# assembling an operand from its signed slices; evaluating k parts at 2k-1
# points costs about 0.045 ns per input bit per way (k = 16: 0.71 ns), an
# interpolated output chunk 0.15 ns per bit per way (k = 16: 2.5 ns) and its
# carry 0.15 ns per bit.
CHUNKING_SECONDS_PER_BIT = 1.9e-10
ASSEMBLY_SECONDS_PER_BIT = 5.6e-10
EVALUATION_SECONDS_PER_BIT_PER_WAY = 4.5e-11
INTERPOLATION_SECONDS_PER_BIT_PER_WAY = 1.5e-10
CARRY_SECONDS_PER_BIT = 1.5e-10
# Dask's own cost of one task on the critical path (scheduling, a transfer).
TASK_OVERHEAD_SECONDS = 0.005


def spread_level_costs(
    operand_bits: float,
    products: int,
    ways: int,
    workers: int,
    chunk_bits: int | None = None,
) -> tuple[float, float]:
    """``(work, critical_path)`` of one tree level of distributed products.

    With ``chunk_bits``, parts are whole chunks as the graph cuts them
    (``compute.toom_graph.part_chunks``); else exact ``1/ways`` shares.
    """
    points = 2 * ways - 1
    part_bits = operand_bits / ways
    if chunk_bits is not None:
        filled = operand_bits / chunk_bits
        part = toom_graph.part_chunks(filled, ways)
        part_bits = toom_graph.largest_part(filled, ways, part) * chunk_bits
    part = (
        multiply_seconds(part_bits, part_bits)
        + 2 * ASSEMBLY_SECONDS_PER_BIT * part_bits  # assemble both operands
        + CHUNKING_SECONDS_PER_BIT * 2 * part_bits  # cut the part product
    )
    evaluation = EVALUATION_SECONDS_PER_BIT_PER_WAY * max(ways, 4) * operand_bits
    recombination = (
        INTERPOLATION_SECONDS_PER_BIT_PER_WAY * max(ways, 3) + CARRY_SECONDS_PER_BIT
    ) * (2 * operand_bits)
    work = products * (points * part + 2 * evaluation + recombination)
    rounds = math.ceil(points * products / workers)
    chunks_per_worker = max(1, products * 2 * operand_bits / 2**25 / workers)
    linear = (2 * evaluation + recombination) / max(1.0, workers / products)
    critical = rounds * part + min(linear, 2 * evaluation + recombination)
    critical += 5 * TASK_OVERHEAD_SECONDS * math.ceil(chunks_per_worker)
    return work, critical


def toom_level_bytes(operand_bits: float, products: int, ways: int) -> float:
    """Bytes the tasks of one tree level of Toom-``ways`` products read.

    Per product of two ``N``-byte operands: the evaluations read both (2N),
    the part products their ``2k - 1`` evaluated parts (``(2k - 1) / k * 2N``),
    the interpolation each part product once, by position, then the rows'
    combinations once more (``2 * (2k - 1) / k * 2N``), and the carries the
    combined chunks (2N).
    """
    points_share = (2 * ways - 1) / ways
    return products * operand_bits / 8 * (2 + 3 * points_share * 2 + 2)


def lean_seconds(n: int) -> float:
    """Single-thread seconds of a lean n! (``compute.plan.split_for``): the
    root's product, its squaring, and the square times the odd part (the
    primes of odd exponent: about ``n`` bits)."""
    root_bits = factorial_bits(n) / 2
    return (
        product_seconds(root_bits)
        + multiply_seconds(root_bits, root_bits)
        + multiply_seconds(2 * root_bits, n)
    )


def spread_costs(
    n: int,
    workers: int,
    worker_bytes: float = math.inf,
    link_bytes_per_second: float | None = None,
    receive_share: float = 1.0,
) -> dict[str, object]:
    """Work and critical path of n! as the planner builds it for ``workers``.

    One single-thread worker each, with ``worker_bytes`` of memory (ample by
    default: then only products spread for speed are spread, if Dask's config
    asks for it, see ``compute.plan.spread_for``). With
    ``link_bytes_per_second``, workers are hosts on links of that rate: a
    product of the tree first receives one operand, and every spread level
    its reads (:func:`toom_level_bytes`) from other workers, spread evenly
    over them, at ``receive_share`` of the rate (``transfer_s``, also in the
    critical path).
    """
    from compute.plan import split_for

    split = split_for(n, workers, worker_bytes)
    if split is None:
        seconds = factorial_seconds(n)
        return {
            "pieces": 1,
            "ways": [],
            "work_s": seconds,
            "critical_path_s": seconds,
            "transfer_s": 0.0,
        }
    pieces, bits = split.pieces, factorial_bits(n)
    piece_seconds = factorial_seconds(n) / pieces
    work, critical = piece_seconds * pieces, piece_seconds * math.ceil(pieces / workers)
    ways = list(split.spread.ways) if split.spread is not None else []
    chunk_bits = split.spread.chunk_bits if split.spread is not None else None
    levels = math.ceil(math.log2(pieces))
    transfer = 0.0
    for level in range(1, levels + 1):
        operand_bits = bits * 2 ** (level - 1) / pieces
        products = math.ceil(pieces / 2**level)
        from_top = levels - level
        if from_top < len(ways):
            if from_top == len(ways) - 1:  # values cut into chunks first
                critical += CHUNKING_SECONDS_PER_BIT * operand_bits
                work += 2 * products * CHUNKING_SECONDS_PER_BIT * operand_bits
            level_work, level_critical = spread_level_costs(
                operand_bits, products, ways[from_top], workers, chunk_bits
            )
            moved = toom_level_bytes(operand_bits, products, ways[from_top])
            transfer += transfer_seconds(
                moved * (1 - 1 / workers) / workers / receive_share,
                link_bytes_per_second,
            )
        else:
            level_work = products * multiply_seconds(operand_bits, operand_bits)
            level_critical = multiply_seconds(operand_bits, operand_bits) * math.ceil(
                products / workers
            )
            if workers > 1:
                transfer += transfer_seconds(operand_bits / 8, link_bytes_per_second)
        work += level_work
        critical += level_critical
    return {
        "pieces": pieces,
        "ways": ways,
        "work_s": work,
        "critical_path_s": critical + transfer,
        "transfer_s": transfer,
    }


# The spread graph of one n, as modelled and measured here, is the planner's
# when it spreads products for speed too (off by default: see
# compute.distributed-threads).
SPREAD_FOR_SPEED = {"compute.distributed-threads": 4}


def spread_table(
    ns: tuple[int, ...] = (10**7, 10**8, 10**9, 10**10),
    workers: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128, 256),
) -> list[dict[str, object]]:
    """The model of the spread graph: path, busy workers, speedup over one thread
    (products spread for speed: :data:`SPREAD_FOR_SPEED`)."""
    rows = []
    for n in ns:
        one_thread = factorial_seconds(n)
        for count in workers:
            with dask.config.set(SPREAD_FOR_SPEED):
                costs = spread_costs(n, count)
            rows.append(
                {
                    "n": n,
                    "workers": count,
                    **costs,
                    "busy_workers": costs["work_s"] / costs["critical_path_s"],
                    "speedup_vs_one_thread": one_thread / costs["critical_path_s"],
                }
            )
    return rows
