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
