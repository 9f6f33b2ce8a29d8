"""Named ``dask.delayed`` tasks: one key scheme for every graph of the package.

Keys read ``<stage>-<label>-<token>``, so the dashboard's task stream and
progress bars group tasks by stage (``prime-power-product``, ``multiply``,
``part-product``, ...) and the label (usually n) tells whose work it is.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from dask.base import tokenize
from dask.delayed import Delayed, delayed


def task(stage: str, label: int, function: Callable, *args: object) -> Delayed:
    """``function(*args)`` as one pure delayed task keyed by stage and label."""
    key = f"{stage}-{label}-{tokenize(function.__name__, *args)}"
    return delayed(function, pure=True)(*args, dask_key_name=key)


def items(stage: str, label: int, values: Delayed, count: int) -> list[Delayed]:
    """The ``count`` items of a task that returns a tuple, each its own key."""
    return [
        task(stage, label, operator.getitem, values, index) for index in range(count)
    ]
