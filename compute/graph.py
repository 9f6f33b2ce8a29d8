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
from compute.plan import Split, Walk


def _task(stage: str, n: int, function: Callable, *args: object) -> Delayed:
    key = f"{stage}-{n}-{tokenize(function.__name__, *args)}"
    return delayed(function, pure=True)(*args, dask_key_name=key)


def split_graph(split: Split) -> Delayed:
    """``n!`` as prime-power pieces, a balanced tree of products, one shift."""
    n = split.n
    level = [
        _task(
            "prime-power-product",
            n,
            kernels.factorial_piece,
            n,
            piece,
            split.pieces,
            split.blocks_per_piece,
        )
        for piece in range(split.pieces)
    ]
    while len(level) > 2:
        paired = [
            _task("multiply", n, kernels.multiply, a, b)
            for a, b in zip(level[0::2], level[1::2], strict=False)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    powers_of_two = n - n.bit_count()  # the exponent of 2 in n!
    return _task("multiply", n, kernels.multiply_and_shift, *level, powers_of_two)


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
