"""Named tasks: one key scheme for every graph of the package.

Keys read ``<stage>-<label>-<token>``, so the dashboard's task stream and
progress bars group tasks by stage (``prime-power-product``, ``multiply``,
``part-product``, ...) and the label (usually n) tells whose work it is.

Small graphs are ``dask.delayed`` objects (:func:`task`). A distributed
product has tens of thousands of tasks, and each ``delayed`` call merges and
culls the graphs of its arguments (a graph of 10**8! took 67 s to build
that way), so those are built key by key into one plain graph
(:class:`TaskGraph`), then submitted with ``Client.get``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from dask._task_spec import DataNode, Task, TaskRef, parse_input
from dask.base import tokenize
from dask.delayed import Delayed, delayed
from dask.typing import Key


def _key(stage: str, label: int, function: Callable, args: tuple) -> str:
    return f"{stage}-{label}-{tokenize(function.__name__, *args)}"


def task(stage: str, label: int, function: Callable, *args: object) -> Delayed:
    """``function(*args)`` as one pure delayed task keyed by stage and label."""
    key = _key(stage, label, function, args)
    return delayed(function, pure=True)(*args, dask_key_name=key)


def plain_values(label: int, values: tuple[tuple[int, ...], ...]) -> Delayed:
    """``values``, many plain ints, as one graph node that dask does not search.

    Passed straight to :func:`task`, a batch's thousand argument tuples would
    be searched for dask objects and tokenized item by item (5.5 ms for
    1000 pairs, against 0.3 ms this way: their ``repr`` is tokenized once).
    """
    key = f"arguments-{label}-{tokenize(repr(values))}"
    return delayed(values, traverse=False, name=key)


def computed_count(value: Delayed) -> int:
    """How many of ``value``'s graph nodes run a function (literals are not counted)."""
    return sum(
        not isinstance(node, DataNode) for node in value.__dask_graph__().values()
    )


class TaskGraph:
    """A plain task graph, built one named task at a time.

    Arguments may hold :class:`dask._task_spec.TaskRef` (a task of this
    graph), ``distributed.Future`` (a value already on the cluster) and
    lists of them.
    """

    def __init__(self) -> None:
        self.tasks: dict[Key, object] = {}

    def add(self, stage: str, label: int, function: Callable, *args: object) -> TaskRef:
        """``function(*args)`` as a task of this graph; a reference to it."""
        key = _key(stage, label, function, args)
        if key not in self.tasks:
            self.tasks[key] = Task(key, function, *(parse_input(arg) for arg in args))
        return TaskRef(key)

    def items(
        self, stage: str, label: int, values: TaskRef, count: int
    ) -> list[TaskRef]:
        """The ``count`` items of a task that returns a tuple, each its own key."""
        return [
            self.add(stage, label, operator.getitem, values, index)
            for index in range(count)
        ]

    def include(self, value: Delayed) -> TaskRef:
        """A delayed value's tasks, taken into this graph; a reference to it."""
        self.tasks.update(value.__dask_graph__().items())
        return TaskRef(value.key)
