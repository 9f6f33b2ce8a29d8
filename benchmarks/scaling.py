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

from compute.cost import factorial_bits, factorial_seconds, multiply_seconds


def split_costs(n: int, pieces: int) -> tuple[float, float]:
    """``(work, critical_path)`` in single-thread seconds for ``pieces`` pieces."""
    piece_seconds = factorial_seconds(n) / pieces
    bits = factorial_bits(n)
    work = piece_seconds * pieces
    critical = piece_seconds
    for level in range(1, math.ceil(math.log2(pieces)) + 1):
        operand_bits = bits * 2 ** (level - 1) / pieces
        products = math.ceil(pieces / 2**level)
        product_seconds = multiply_seconds(operand_bits, operand_bits)
        work += products * product_seconds
        critical += product_seconds
    return work, critical


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
