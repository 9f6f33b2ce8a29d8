"""Distributed multiplication: one product as a Dask graph across workers.

A product of two chunked values (lists of delayed chunks, lowest first, see
:mod:`compute.toom`) becomes the stages

``toom-evaluation`` -> ``part-product`` -> ``interpolate`` -> ``carry-summary``
-> ``carry-chain`` -> ``carry``

whose part products run on different workers. Toom-k does ``2k - 1`` part
products of ``1/k`` of the size: about 1.7-1.8x one product's work for k = 3..4,
with the longest task about ``1/k`` of it. Cutting only one operand would cap
the gain at 2x (``a * b/k`` costs about half of ``a * b`` under FFT), so it is
used only when one operand is already much shorter than the other. A squaring
evaluates its one operand once, and its part products are squarings
(``part-square``: about 0.8x a product's time).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dask._task_spec import Task, TaskRef
from dask.delayed import Delayed
from gmpy2 import mpz

from compute import toom
from compute.config import setting
from compute.cost import MAX_WAYS
from compute.tasks import TaskGraph, stage_of

# Chunks in a graph: references to its tasks, or futures already computed.
Chunks = list[TaskRef]


@dataclass(frozen=True)
class ChunkedGraph:
    """A value the graph leaves in chunks on the workers, lowest first."""

    graph: TaskGraph
    chunks: Chunks
    chunk_bits: int

    @property
    def keys(self) -> list[str]:
        return [str(chunk.key) for chunk in self.chunks]


# What a graph computes: a value, or a value left in chunks on the workers.
Output = Delayed | ChunkedGraph


def with_tasks(output: Output, change: Callable[[dict, list], dict]) -> Output:
    """``output`` with its tasks replaced by ``change(tasks, output_keys)``."""
    if isinstance(output, ChunkedGraph):
        graph = TaskGraph()
        graph.tasks = change(output.graph.tasks, output.keys)
        return ChunkedGraph(graph, output.chunks, output.chunk_bits)
    return Delayed(output.key, change(dict(output.__dask_graph__()), [output.key]))


def whole(output: Output) -> Delayed:
    """``output`` as one delayed value: graphs planned without a cluster are."""
    if isinstance(output, ChunkedGraph):
        raise TypeError("a value spread over workers has no single delayed task")
    return output


def chunks_of(
    graph: TaskGraph,
    value: object,
    chunk_bits: int,
    count: int,
    label: int,
    shift: int = 0,
) -> Chunks:
    """A value of ``graph`` (or a literal), times ``2**shift``, as ``count`` chunks."""
    whole = graph.add("chunk", label, toom.to_chunks, value, chunk_bits, count, shift)
    return graph.items("chunk", label, whole, count)


def cut_task(
    graph: TaskGraph,
    value: TaskRef,
    chunk_bits: int,
    count: int,
    label: int,
    shift: int = 0,
) -> Chunks:
    """:func:`chunks_of` a task's value that nothing else takes: the task
    itself cuts it (:func:`compute.toom.cut`), under its own key and stage."""
    task = graph.tasks[value.key]
    if not isinstance(task, Task) or task.func is operator.getitem:
        return chunks_of(graph, value, chunk_bits, count, label, shift)
    graph.tasks[value.key] = Task(
        value.key,
        toom.cut,
        chunk_bits,
        count,
        shift,
        task.func,
        *task.args,
        **task.kwargs,
    )
    return graph.items(stage_of(value.key), label, value, count)


def chunk_count(bits: float, chunk_bits: int) -> int:
    """Chunks of ``chunk_bits`` that hold a value of ``bits`` bits (at least 1)."""
    return max(1, math.ceil(bits / chunk_bits))


def default_chunk_bits() -> int:
    """``compute.chunk-bytes`` in bits, rounded down to whole 64-bit limbs."""
    return max(64, int(setting("chunk-bytes")) * 8 // 64 * 64)


def ways_for(threads: int) -> int:
    """Toom's k for a product that has ``threads`` worker threads to itself.

    The ``2k - 1`` part products run in one round when ``2k - 1 <= threads``;
    below 3 threads, Toom-3 still cuts the largest task to a third.
    """
    return max(3, min(MAX_WAYS, (threads + 1) // 2))


def ways_to_fit(result_bytes: float, worker_bytes: float, factor: float) -> int:
    """The least Toom k whose part products (``2/k`` of the operands) fit a worker."""
    return max(
        2, min(MAX_WAYS, math.ceil(factor * result_bytes / max(worker_bytes, 1)))
    )


def _layout(
    long: int, short: int, ways: int, filled: float | None = None
) -> tuple[str, int, int]:
    """``(scheme, ways, part_chunks)`` for operands of ``long >= short`` chunks.

    ``filled``: how many of the longer operand's chunks its value is expected
    to fill, fractions included (the rest is room kept in case). Toom's parts
    are then cut so that the largest share of the value is least; the top
    part also takes the spare chunks, which cost nothing once assembled if
    empty. A part is whole chunks, so 9.4 filled chunks make parts of 3
    chunks, the top one holding 3.4, rather than parts of 4.
    """
    ways = max(1, min(ways, long))
    part = math.ceil(long / ways)
    if ways == 1:
        return "single", 1, long
    if short <= part:  # b fits one part: cut a only
        return "cut", math.ceil(long / part), part
    if filled is not None:
        part = part_chunks(min(filled, long), ways)
    return "toom", ways, part


def part_chunks(filled: float, ways: int) -> int:
    """Whole chunks per Toom part for a value filling ``filled`` chunks.

    The one of ``floor(filled / ways)`` and the next that leaves the largest
    part (the top one takes what the others leave) least.
    """
    low = max(1, math.floor(filled / ways))
    return min((low, low + 1), key=lambda part: largest_part(filled, ways, part))


def largest_part(filled: float, ways: int, part: int) -> float:
    """Chunks of value in the largest of ``ways`` parts of ``part`` chunks."""
    return max(part, filled - (ways - 1) * part)


def product(
    graph: TaskGraph,
    a: Sequence[object],
    b: Sequence[object],
    chunk_bits: int,
    ways: int,
    label: int,
    keep: int | None = None,
    filled: float | None = None,
    *,
    squaring: bool = False,
) -> Chunks:
    """The ``keep`` chunks (default ``len(a) + len(b)``) of ``a * b``, by Toom-k.

    ``ways`` 1 multiplies in one task. ``ways`` >= 2 splits the work: Toom-k
    for operands of similar length, a cut of the longer one into parts as
    long as the shorter one otherwise. ``filled`` is how many chunks the
    longer value is expected to fill, when it has chunks to spare
    (fractions included). ``squaring`` (``b`` is ``a``): see :func:`square`.
    """
    if len(a) < len(b):
        a, b = b, a
    keep = len(a) + len(b) if keep is None else keep
    scheme, ways, part = _layout(len(a), len(b), ways, filled)

    def part_product(x: Sequence[object], y: Sequence[object], width: int) -> Chunks:
        """The chunks of ``x * y``, ``width`` of them (signed)."""
        if squaring:
            task = graph.add(
                "part-square", label, toom.part_square, chunk_bits, list(x), width
            )
            return graph.items("part-square", label, task, width)
        task = graph.add(
            "part-product",
            label,
            toom.part_product,
            chunk_bits,
            list(x),
            list(y),
            width,
        )
        return graph.items("part-product", label, task, width)

    if scheme == "single":
        return part_product(a, b, keep)
    if scheme == "cut":
        width = part + len(b)
        products = [
            part_product(a[start : start + part], b, width)
            for start in range(0, len(a), part)
        ]
        matrix = tuple(tuple(int(i == j) for j in range(ways)) for i in range(ways))
        return _recombine(
            graph, products, width, matrix, 1, part, keep, chunk_bits, label
        )
    top = max(part, len(a) - (ways - 1) * part)  # slices of the top part
    size = 2 * ways - 1
    a_points = _evaluated(graph, a, ways, part, top, label)
    b_points = a_points if squaring else _evaluated(graph, b, ways, part, top, label)
    matrix, divisor = toom.interpolation(ways)
    # Evaluated parts grow by a few bits (|A(p)| < 2**(top*C + 8)), so each
    # part product fits 2 * top + 1 chunks.
    width = 2 * top + 1
    products = [part_product(a_points[j], b_points[j], width) for j in range(size)]
    return _recombine(
        graph, products, width, matrix, divisor, part, keep, chunk_bits, label
    )


def square(
    graph: TaskGraph,
    a: Sequence[object],
    chunk_bits: int,
    ways: int,
    label: int,
    filled: float | None = None,
) -> Chunks:
    """The ``2 * len(a)`` chunks of ``a ** 2``, by Toom-k as :func:`product`
    does ``a * a``, with the operand evaluated once and each part product a
    squaring (``part-square``)."""
    return product(graph, a, a, chunk_bits, ways, label, None, filled, squaring=True)


def _evaluated(
    graph: TaskGraph,
    operand: Sequence[object],
    ways: int,
    part: int,
    top: int,
    label: int,
) -> list[Chunks]:
    """The operand's Toom-k evaluation, one task per slice across its parts:
    for each of the ``2 * ways - 1`` points, its ``top`` chunks."""
    zero = mpz(0)
    size = 2 * ways - 1
    by_slice = []
    for s in range(top):
        slices = [
            operand[i * part + s]
            if (s < part or i == ways - 1) and i * part + s < len(operand)
            else zero
            for i in range(ways)
        ]
        values = graph.add("toom-evaluation", label, toom.evaluate_slice, ways, slices)
        by_slice.append(graph.items("toom-evaluation", label, values, size))
    return [[by_slice[s][j] for s in range(top)] for j in range(size)]


def _recombine(
    graph: TaskGraph,
    products: Sequence[Chunks],
    width: int,
    matrix: Sequence[Sequence[int]],
    divisor: int,
    offset: int,
    keep: int,
    chunk_bits: int,
    label: int,
) -> Chunks:
    """``sum_i (sum_j M[i][j] w_j) / D * 2**(i*offset*C)`` as ``keep`` chunks,
    from the part products ``w_j`` as ``width`` chunks each."""
    total = (len(matrix) - 1) * offset + width
    diagonal = all(
        entry == 0
        for i, row in enumerate(matrix)
        for j, entry in enumerate(row)
        if i != j
    )
    if diagonal:  # a cut: each coefficient is one part product
        rows = [list(product) for product in products]
        weights = [row[i] for i, row in enumerate(matrix)]
    else:
        # Each part-product chunk is read once, by its position's task. Read
        # by every row instead, Toom-8's 191 nonzero entries sent each chunk
        # to up to 15 tasks (5e7! on 16 hosts: 3.6 of the 6.4 GB moved).
        by_position = [
            graph.items(
                "interpolate",
                label,
                graph.add(
                    "interpolate",
                    label,
                    toom.combine_rows,
                    matrix,
                    [chunks[t] for chunks in products],
                ),
                len(matrix),
            )
            for t in range(width)
        ]
        rows = [[by_position[t][i] for t in range(width)] for i in range(len(matrix))]
        weights = [1] * len(matrix)
    combined = []
    for u in range(total):
        coefficients, chunks = [], []
        for i, row in enumerate(rows):
            t = u - i * offset
            if 0 <= t < width:
                coefficients.append(weights[i])
                chunks.append(row[t])
        combined.append(
            graph.add("interpolate", label, toom.combine, tuple(coefficients), chunks)
        )
    bound = toom.carry_bound(matrix)
    summaries = [
        graph.add(
            "carry-summary", label, toom.carry_summary, c, chunk_bits, divisor, bound
        )
        for c in combined
    ]
    chain = graph.add(
        "carry-chain", label, toom.carry_chain, summaries, chunk_bits, divisor, keep
    )
    return [
        graph.add(
            "carry", label, toom.carry_apply, combined[u], chain, u, chunk_bits, divisor
        )
        for u in range(min(keep, total))
    ] + [graph.add("carry", label, toom.zero_chunk, u) for u in range(total, keep)]
