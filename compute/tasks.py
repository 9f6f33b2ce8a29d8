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

import contextlib
import operator
from collections.abc import Callable, Iterator

import dask.config
from dask._task_spec import Task, TaskRef, parse_input
from dask.base import tokenize
from dask.delayed import Delayed, delayed
from dask.typing import Key

# A label past this many bits is shown by its size (the token still tells
# keys apart): a key of thousands of digits helps no one on the dashboard,
# and Python's str() refuses ints above 4300 digits.
_LABEL_BITS = 100


@contextlib.contextmanager
def submitting() -> Iterator[None]:
    """Submit a graph of this package's tasks inside this.

    Its tasks hold integers and names, no data, so its size grows with its
    task count alone (3e9!: 15.3 MiB for some 100,000 tasks), and
    distributed's warning about a large graph, whose advice is to load data
    with Dask rather than embed it in the graph, has nothing to offer.
    """
    with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1PiB"}):
        yield


def _prefix(stage: str, label: int) -> str:
    shown = f"{label.bit_length()}bit" if label.bit_length() > _LABEL_BITS else label
    return f"{stage}-{shown}"


def _key(stage: str, label: int, function: Callable, args: tuple) -> str:
    try:
        token = tokenize(function.__name__, *args)
    except ValueError:  # an int above Python's 4300 digits for str(); hex has no limit
        token = tokenize(function.__name__, *_in_hex(args))  # type: ignore[misc]
    return f"{_prefix(stage, label)}-{token}"


def stage_of(key: object) -> str:
    """The stage of a ``<stage>-<label>-<token>`` key ('' for other keys).

    Examples
    --------
    >>> stage_of("part-product-100000000-4f2a")
    'part-product'
    >>> stage_of("finalize-abc")
    ''
    """
    parts = (key if isinstance(key, str) else str(key)).rsplit("-", 2)
    return parts[0] if len(parts) == 3 else ""


def submitted_key(stage: str, label: object, run: str) -> str:
    """The key of a task submitted on its own in run ``run`` (a unique token).

    Examples
    --------
    >>> submitted_key("decimal-digits", 0, "5f1c")
    'decimal-digits-0-5f1c'
    """
    return f"{stage}-{label}-{run}"


def task(stage: str, label: int, function: Callable, *args: object) -> Delayed:
    """``function(*args)`` as one pure delayed task keyed by stage and label."""
    key = _key(stage, label, function, args)
    return delayed(function, pure=True)(*args, dask_key_name=key)


def task_of_values(
    stage: str, label: int, function: Callable, *args: object
) -> Delayed:
    """As :func:`task`, for arguments that are plain values, never dask objects.

    :func:`task` searches its arguments for dask objects and tokenizes them
    item by item: 5.5 ms for a batch's 1000 argument pairs, against 0.3 ms
    here, where their ``repr`` is tokenized once. The arguments stay inside
    the one task: as a graph node of their own they would be a key of their
    own on a cluster, which the task would wait for (1000 binomials on the
    default cluster: 7% slower).
    """
    try:
        text = repr(args)
    except ValueError:  # as in _key
        text = repr(_in_hex(args))
    key = _key(stage, label, function, (text,))
    return Delayed(key, {key: Task(key, function, *args)})


def _in_hex(value: object) -> object:
    """``value`` with every int in it, at any depth of tuples, as a hex string."""
    if isinstance(value, tuple):
        return tuple(_in_hex(item) for item in value)
    return hex(value) if isinstance(value, int) else value


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
