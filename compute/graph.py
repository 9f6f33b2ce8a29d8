"""Graph building: turn a plan into ``dask.delayed`` tasks named by stage.

Keys read ``<stage>-<n>-<token>`` so the dashboard's task stream groups them
as ``factorial``, ``prime-power-product``, ``multiply`` and ``walk``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dask.base import tokenize
from dask.delayed import Delayed, delayed

from compute import kernels
from compute.plan import SmallBatch, Split, Walk
from compute.products import Product


def _task(stage: str, n: int, function: Callable, *args: object) -> Delayed:
    key = f"{stage}-{n}-{tokenize(function.__name__, *args)}"
    return delayed(function, pure=True)(*args, dask_key_name=key)


def _piece_stage(product: Product) -> str:
    return (
        "prime-power-product"
        if product.kind == "factorial"
        else f"{product.kind}-piece"
    )


def _pieces(split: Split) -> list[Delayed]:
    product, label = split.product, split.product.arguments[0]
    stage = _piece_stage(product)
    if product.prime_form:
        terms = None if product.kind == "primorial" else product.terms
        return [
            _task(
                stage,
                label,
                kernels.prime_piece,
                product.limit,
                terms,
                piece,
                split.pieces,
                split.blocks_per_piece,
            )
            for piece in range(split.pieces)
        ]
    low, high, _ = product.range  # type: ignore[misc]
    return [
        _task(stage, label, kernels.range_piece, low, high, piece, split.pieces)
        for piece in range(split.pieces)
    ]


def split_graph(split: Split) -> Delayed:
    """A large product as pieces, a balanced tree of products, and one last step.

    The last step applies the power of two as a shift (prime form), or divides
    exactly by the factorials that the range leaves over (range form).
    """
    product, label = split.product, split.product.arguments[0]
    level = _pieces(split)
    while len(level) > 2:
        paired = [
            _task("multiply", label, kernels.multiply, a, b)
            for a, b in zip(level[0::2], level[1::2], strict=False)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    if product.prime_form:
        return _task(
            "multiply", label, kernels.multiply_and_shift, *level, product.shift
        )
    divisors = product.range[2]  # type: ignore[index]
    if not divisors:
        return _task("multiply", label, kernels.multiply, *level)
    divisor = _task("factorial", label, kernels.factorials_product, divisors)
    return _task("divide", label, kernels.multiply_and_divide, *level, divisor)


@dataclass(frozen=True)
class Located:
    """Where one n's factorial is in the computed outputs."""

    output: int
    item: int | None  # index into a walk's list, or None for a single value


def walk_graph(walk: Walk) -> tuple[list[Delayed], dict[int, Located]]:
    """Tasks for one walk, and where each of its targets will be found."""
    if walk.split is None and len(walk.targets) == 1:
        return [_task("factorial", walk.start, kernels.factorial_small, walk.start)], {
            walk.start: Located(0, None)
        }
    if walk.split is None:
        task = _task(
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


def batch_graph(walks: Sequence[Walk]) -> tuple[list[Delayed], dict[int, Located]]:
    """All tasks of a planned batch, and where each n's factorial will be."""
    outputs: list[Delayed] = []
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
) -> tuple[list[Delayed], dict[Product, Located]]:
    """All tasks of planned products, and where each product's value will be."""
    outputs: list[Delayed] = []
    where: dict[Product, Located] = {}
    for item in planned:
        if isinstance(item, Split):
            where[item.product] = Located(len(outputs), None)
            outputs.append(split_graph(item))
            continue
        arguments = [product.arguments for product in item.products]
        where.update(
            {
                product: Located(len(outputs), index)
                for index, product in enumerate(item.products)
            }
        )
        outputs.append(
            _task(
                item.kind,
                arguments[0][0] if arguments[0] else 0,
                kernels.small_values,
                item.kind,
                arguments,
            )
        )
    return outputs, where
