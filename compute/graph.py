"""Graph building: turn a plan into ``dask.delayed`` tasks named by stage.

Keys read ``<stage>-<n>-<token>`` so the dashboard's task stream groups them
as ``factorial``, ``prime-power-product``, ``multiply`` and ``walk``.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dask._task_spec import TaskRef
from dask.delayed import Delayed

from compute import kernels, toom, toom_graph
from compute.plan import SmallBatch, Split, Walk
from compute.products import KINDS, Kind, Product
from compute.tasks import TaskGraph, task_of_values
from compute.tasks import task as _task
from compute.toom_graph import ChunkedGraph, Output

# A spread value is given this share more chunks than its estimated bits
# (kernels.piece_bits: within 0.2% for pieces of 2e7!, exact up to 4e6).
SPREAD_SLACK = 0.01


def _piece_stage(product: Product) -> str:
    return (
        "prime-power-product"
        if product.kind is Kind.FACTORIAL
        else f"{product.kind}-piece"
    )


def _pieces(
    split: Split,
    prime_kernel: Callable[..., object] = kernels.prime_piece,
    *extra: object,
) -> list[Delayed]:
    """The split's pieces; a prime kernel gets ``extra`` after its own arguments."""
    product, label = split.product, split.product.arguments[0]
    stage = _piece_stage(product)
    if product.prime_form:
        return [
            _task(
                stage,
                label,
                prime_kernel,
                product.limit,
                product.prime_terms,
                piece,
                split.pieces,
                split.blocks_per_piece,
                *extra,
            )
            for piece in range(split.pieces)
        ]
    low, high, _ = product.range  # type: ignore[misc]
    return [
        _task(stage, label, kernels.range_piece, low, high, piece, split.pieces)
        for piece in range(split.pieces)
    ]


def _square_form_graph(split: Split) -> Delayed:
    """A lean factorial: pieces as ``(root, odd)``, a tree of them, one squaring.

    The general products of a split's tree each hold about 4.5 times their
    size at their peak; here the last, full-size step is a squaring and a
    product by the small odd part instead (see
    :func:`compute.kernels.square_form_piece`).
    """
    product, label = split.product, split.product.arguments[0]
    level = _pieces(split, kernels.square_form_piece, split.heap_threshold)
    while len(level) > 1:
        level = kernels.tree_level(
            level,
            lambda a, b: _task("multiply", label, kernels.multiply_square_forms, a, b),
        )
    return _task(
        "square", label, kernels.square_multiply_shift, level[0], product.shift
    )


def split_graph(split: Split) -> Output:
    """A large product as pieces, a balanced tree of products, and one last step.

    The last step applies the power of two as a shift (prime form), or divides
    exactly by the factorials that the range leaves over (range form). With a
    spread, the top levels of the tree are distributed products and the
    value stays in chunks on the workers; a factorial may then be spread in
    square form (:func:`_spread_square_form`, see
    :func:`compute.plan.spread_for`).
    """
    product, label = split.product, split.product.arguments[0]
    if split.lean and split.spread is None and product.kind is Kind.FACTORIAL:
        return _square_form_graph(split)
    if (
        split.spread is not None
        and split.spread.square_form
        and product.kind is Kind.FACTORIAL
    ):
        return _spread_square_form(split)
    level = _pieces(split)
    keep = 2 ** len(split.spread.ways) if split.spread is not None else 2
    while len(level) > keep:
        level = kernels.tree_level(
            level, lambda a, b: _task("multiply", label, kernels.multiply, a, b)
        )
    if split.spread is not None:
        return _spread_top(split, level)
    if product.prime_form:
        return _task(
            "multiply",
            label,
            kernels.multiply_and_shift,
            *level,
            product.shift,
        )
    divisors = product.range[2]  # type: ignore[index]
    if not divisors:
        return _task("multiply", label, kernels.multiply, *level)
    divisor = _task("factorial", label, kernels.factorials_product, divisors)
    return _task("divide", label, kernels.multiply_and_divide, *level, divisor)


# A spread value: its chunks, and the bits its value is estimated to fill.
_Sized = tuple[toom_graph.Chunks, float]


def _spread_top(split: Split, level: list[Delayed]) -> ChunkedGraph:
    """The top levels as distributed products of chunked values; shift in the chunks.

    Each value gets chunks for its pieces' estimated bits
    (:func:`compute.kernels.piece_bits`) and a little room, and Toom's parts
    are cut from the chunks the value fills, so that each holds its share of
    the value (n = 5e7 on 4 workers: parts of 268 Mbit for 201 Mbit of value
    when the chunk counts, with 25% of room, set them).
    """
    product, label, spread = split.product, split.product.arguments[0], split.spread
    assert spread is not None
    chunk_bits = spread.chunk_bits
    whole_chunks, low_shift = divmod(product.shift, chunk_bits)
    odd_bits = product.bits - product.shift
    graph = TaskGraph()
    values: list[_Sized] = []
    leaves = zip(level, _leaf_bits(split, len(level)), strict=True)
    for index, (value, value_bits) in enumerate(leaves):
        shift = low_shift if index == 0 else 0
        estimate = value_bits * (1 + SPREAD_SLACK) + shift + 64
        count = toom_graph.chunk_count(estimate, chunk_bits)
        reference = graph.include(value)
        chunks = toom_graph.cut_task(graph, reference, chunk_bits, count, label, shift)
        values.append((chunks, value_bits + shift))
    # The whole value's size is known to a bit: the top keeps no slack.
    keep = toom_graph.chunk_count(odd_bits + low_shift + 64, chunk_bits)
    chunks, _ = _spread_levels(graph, values, spread.ways, chunk_bits, label, keep)
    zeros = [graph.add("chunk", label, toom.zero_chunk, i) for i in range(whole_chunks)]
    return ChunkedGraph(graph, zeros + chunks, chunk_bits)


def _leaf_bits(split: Split, leaves: int) -> list[float]:
    """Estimated bits of each of the ``leaves`` values that the split's pieces
    are paired down to (:func:`compute.kernels.piece_bits`)."""
    product = split.product
    bits = kernels.piece_bits(
        product.limit, split.pieces, split.blocks_per_piece, product.prime_terms
    )
    while len(bits) > leaves:
        bits = kernels.tree_level(bits, operator.add)
    return bits


def _spread_levels(
    graph: TaskGraph,
    values: list[_Sized],
    ways: Sequence[int],
    chunk_bits: int,
    label: int,
    top_keep: int | None = None,
) -> _Sized:
    """The product of spread ``values`` by a tree of distributed products,
    Toom's ``ways`` from the top; the last one keeps ``top_keep`` chunks."""
    for level_ways in reversed(ways):
        multiply = functools.partial(
            _sized_product,
            graph,
            chunk_bits=chunk_bits,
            ways=level_ways,
            label=label,
            keep=top_keep if len(values) == 2 else None,
        )
        values = kernels.tree_level(values, multiply)
    [value] = values
    return value


def _spread_square_form(split: Split) -> ChunkedGraph:
    """A factorial spread over workers as ``root**2 * odd``, shift in the chunks.

    Its pieces are square forms (as a lean split's), paired down to one form
    per leaf of the spread's lower levels; each leaf's root is cut into
    chunks, its odd part kept whole. The roots' tree takes the lower levels,
    with products of half the size of the prime form's at the same level, the
    top level squares the root, and the square is multiplied by the odd
    parts' product (about n bits), cut into parts as long as it.
    3e8! on two 1.4 GB workers (Toom 15, 8, 4, 3): 0.73x the prime form's
    task seconds, 0.77x its time.
    """
    product, label, spread = split.product, split.product.arguments[0], split.spread
    assert spread is not None
    chunk_bits = spread.chunk_bits
    whole_chunks, low_shift = divmod(product.shift, chunk_bits)
    level = _pieces(split, kernels.square_form_piece)
    while len(level) > 2 ** (len(spread.ways) - 1):
        level = kernels.tree_level(
            level,
            lambda a, b: _task(
                "multiply", label, kernels.multiply_square_forms, a, b, False
            ),
        )
    graph = TaskGraph()
    roots: list[_Sized] = []
    odds: list[TaskRef] = []
    for form, form_bits in zip(level, _leaf_bits(split, len(level)), strict=True):
        root_bits = form_bits / 2  # of root**2 * odd, odd at least 1
        count = toom_graph.chunk_count(root_bits * (1 + SPREAD_SLACK) + 64, chunk_bits)
        parts = graph.add(
            "chunk", label, toom.cut_form, graph.include(form), chunk_bits, count
        )
        items = graph.items("chunk", label, parts, count + 1)
        roots.append((items[:count], root_bits))
        odds.append(items[count])
    root, root_bits = _spread_levels(graph, roots, spread.ways[1:], chunk_bits, label)
    square = toom_graph.square(
        graph,
        root,
        chunk_bits=chunk_bits,
        ways=spread.ways[0],
        label=label,
        filled=root_bits / chunk_bits,
    )
    while len(odds) > 1:
        odds = kernels.tree_level(
            odds, lambda a, b: graph.add("multiply", label, kernels.multiply, a, b)
        )
    odd_bits = (
        kernels.odd_part_bits(
            product.limit, split.pieces, split.blocks_per_piece, product.terms
        )
        * (1 + SPREAD_SLACK)
        + low_shift
        + 64
    )
    odd = toom_graph.cut_task(
        graph,
        odds[0],
        chunk_bits,
        toom_graph.chunk_count(odd_bits, chunk_bits),
        label,
        low_shift,
    )
    value = toom_graph.product(
        graph,
        square,
        odd,
        chunk_bits=chunk_bits,
        ways=max(1, len(square) // len(odd)),  # a cut: parts as long as odd
        label=label,
        keep=toom_graph.chunk_count(
            product.bits - product.shift + low_shift + 64, chunk_bits
        ),
    )
    zeros = [graph.add("chunk", label, toom.zero_chunk, i) for i in range(whole_chunks)]
    return ChunkedGraph(graph, zeros + value, chunk_bits)


def _sized_product(
    graph: TaskGraph,
    a: _Sized,
    b: _Sized,
    *,
    chunk_bits: int,
    ways: int,
    label: int,
    keep: int | None,
) -> _Sized:
    """A distributed product of two spread values, Toom's parts cut by their bits."""
    chunks = toom_graph.product(
        graph,
        a[0],
        b[0],
        chunk_bits=chunk_bits,
        ways=ways,
        label=label,
        keep=keep,
        filled=max(a[1], b[1]) / chunk_bits,
    )
    return chunks, a[1] + b[1]


@dataclass(frozen=True)
class Located:
    """Where one n's factorial is in the computed outputs."""

    output: int
    item: int | None  # index into a walk's list, or None for a single value


def walk_graph(walk: Walk) -> tuple[list[Output], dict[int, Located]]:
    """Tasks for one walk, and where each of its targets will be found."""
    if walk.split is None and len(walk.targets) == 1:
        return [
            task_of_values("factorial", walk.start, kernels.factorial_small, walk.start)
        ], {walk.start: Located(0, None)}
    if walk.split is None:
        task = task_of_values(
            "walk", walk.start, kernels.walk_factorials, walk.start, None, walk.targets
        )
        return [task], {n: Located(0, i) for i, n in enumerate(walk.targets)}
    start = split_graph(walk.split)
    outputs, where = [start], {walk.start: Located(0, None)}
    if len(walk.targets) > 1:
        rest = walk.targets[1:]
        outputs.append(
            _task("walk", walk.start, kernels.walk_factorials, walk.start, start, rest)
        )
        where.update({n: Located(1, i) for i, n in enumerate(rest)})
    return outputs, where


def batch_graph(walks: Sequence[Walk]) -> tuple[list[Output], dict[int, Located]]:
    """All tasks of a planned batch, and where each n's factorial will be."""
    outputs: list[Output] = []
    where: dict[int, Located] = {}
    for walk in walks:
        walk_outputs, walk_where = walk_graph(walk)
        offset = len(outputs)
        outputs.extend(walk_outputs)
        where.update(
            {
                n: Located(offset + spot.output, spot.item)
                for n, spot in walk_where.items()
            }
        )
    return outputs, where


def pick(computed: Sequence[object], spot: Located) -> object:
    """The value at ``spot`` among the computed outputs."""
    value = computed[spot.output]
    return value if spot.item is None else value[spot.item]  # type: ignore[index]


def products_graph(
    planned: Sequence[Split | SmallBatch],
) -> tuple[list[Output], dict[Product, Located]]:
    """All tasks of planned products, and where each product's value will be."""
    outputs: list[Output] = []
    where: dict[Product, Located] = {}
    for item in planned:
        if isinstance(item, Split):
            where[item.product] = Located(len(outputs), None)
            outputs.append(split_graph(item))
            continue
        arguments = tuple(product.arguments for product in item.products)
        label = arguments[0][0] if arguments[0] else 0
        where.update(
            {
                product: Located(len(outputs), index)
                for index, product in enumerate(item.products)
            }
        )
        outputs.append(
            task_of_values(
                item.kind,
                label,
                kernels.small_values,
                KINDS[item.kind].small_kernel,
                arguments,
            )
        )
    return outputs, where
