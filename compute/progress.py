"""Progress bars on a terminal, advanced by each task's estimated cost.

A bar shows the estimated single-thread seconds of the finished tasks, plus
for each running task the share of its estimate that its time so far
covers (at most 90%), over the estimate of the whole graph. So the pieces of
one large n move the bar while they run, and the last multiplication, which
holds much of the work in one task, weighs what it costs, not one task's
share of a count.

A task's estimate comes from the cost model (:mod:`compute.cost`): each
output's estimated bits are shared out down the graph in proportion to the
leaf tasks below each dependency; a leaf costs a product of its bits, a
multiplication of its two largest operands, anything else a linear pass.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from dask.callbacks import Callback

from compute.cost import multiply_seconds, product_seconds
from compute.tasks import stage_of

if TYPE_CHECKING:
    from distributed import Client

# Stages whose task multiplies its operands (see compute.tasks for the keys).
# Told the fraction of a piece of work done so far, from 0 to 1.
ProgressCallback = Callable[[float], None]

MULTIPLY_STAGES = frozenset(
    {"multiply", "part-product", "part-square", "divide", "square"}
)
# A linear pass (chunking, evaluation, carries), per bit of its output.
LINEAR_SECONDS_PER_BIT = 2e-10
# A running task counts at most this share of its estimate: estimates are off
# by tens of percent either way, and the bar must not stall at 100%.
RUNNING_SHARE = 0.9
REDRAW_SECONDS = 0.1
# A cluster's scheduler is asked this often: each answer is a round trip.
ASK_SECONDS = 0.3
WIDTH = 40
# The time left is shown from this share of the work and this many seconds:
# earlier, a first task's pace says little of the rest.
LEFT_FROM_FRACTION = 0.05
LEFT_FROM_SECONDS = 10.0


def _dependencies(graph: Mapping[Any, Any]) -> dict[Any, list[Any]]:
    return {
        key: [d for d in getattr(node, "dependencies", ()) if d in graph]
        for key, node in graph.items()
    }


def _top_down(dependencies: Mapping[Any, list[Any]]) -> list[Any]:
    """Keys with every task before the tasks it depends on."""
    order: list[Any] = []
    seen: set[Any] = set()
    for root in dependencies:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(dependencies[root]))]
        while stack:
            key, below = stack[-1]
            child = next(below, None)
            if child is None:
                order.append(key)
                stack.pop()
            elif child not in seen:
                seen.add(child)
                stack.append((child, iter(dependencies[child])))
    return order[::-1]


def task_weights(
    graph: Mapping[Any, Any], output_bits: Mapping[Any, float]
) -> dict[Any, float]:
    """Estimated single-thread seconds of each task of ``graph``.

    ``output_bits`` gives the estimated bits of each output key; tasks below
    no output get none and weigh a linear pass of nothing.
    """
    dependencies = _dependencies(graph)
    order = _top_down(dependencies)
    leaves: dict[Any, int] = {}
    for key in reversed(order):  # dependencies first
        below = dependencies[key]
        leaves[key] = sum(leaves[d] for d in below) if below else 1
    bits = {key: float(output_bits.get(key, 0.0)) for key in graph}
    for key in order:
        below = dependencies[key]
        share = sum(leaves[d] for d in below)
        for dependency in below:
            part = bits[key] * leaves[dependency] / share
            bits[dependency] = max(bits[dependency], part)
    weights = {}
    for key in order:
        below = sorted((bits[d] for d in dependencies[key]), reverse=True)
        if not below:
            weights[key] = product_seconds(bits[key]) if bits[key] else 0.0
        elif stage_of(key) in MULTIPLY_STAGES and len(below) >= 2:
            weights[key] = multiply_seconds(below[0], sum(below[1:]))
        else:
            weights[key] = LINEAR_SECONDS_PER_BIT * bits[key]
    return weights


class TextBar:
    """``[####    ] |  42% Completed |  31.0 s, about 43 s left``, redrawn in
    place on ``stream``.

    ``measure()`` gives the fraction done; it is asked every 0.1 s by a
    helper thread. Leaving the ``with`` block normally draws 100%.
    """

    def __init__(self, stream: TextIO, label: str, measure: Callable[[], float]):
        self.stream, self.label, self.measure = stream, label, measure
        self._start = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._redraw, daemon=True)
        self._drawn = 0

    def __enter__(self) -> TextBar:
        self._start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        self._done.set()
        self._thread.join()
        self._draw(1.0 if kind is None else self._fraction())
        with contextlib.suppress(ValueError, OSError):  # a closed stream at exit
            self.stream.write("\n")
            self.stream.flush()

    def _fraction(self) -> float:
        try:
            return min(max(self.measure(), 0.0), 1.0)
        except Exception:  # a lost cluster: the work itself reports it
            return 0.0

    def _redraw(self) -> None:
        while not self._done.wait(REDRAW_SECONDS):
            self._draw(self._fraction())

    def _draw(self, fraction: float) -> None:
        seconds = time.monotonic() - self._start
        bar = "#" * int(WIDTH * fraction)
        text = (
            f"[{bar:<{WIDTH}}] | {int(100 * fraction):3d}% {self.label} | "
            f"{seconds:6.1f} s{_time_left(seconds, fraction)}"
        )
        self._drawn = max(self._drawn, len(text))
        with contextlib.suppress(ValueError, OSError):
            self.stream.write(f"\r{text:<{self._drawn}}")
            self.stream.flush()


def _time_left(seconds: float, fraction: float) -> str:
    """``", about 3 min left"`` at the pace so far, once there is one to go by."""
    if fraction >= 1.0 or fraction < LEFT_FROM_FRACTION or seconds < LEFT_FROM_SECONDS:
        return ""
    left = seconds * (1.0 - fraction) / fraction
    if left < 90:
        return f", about {left:.0f} s left"
    if left < 5400:
        return f", about {left / 60:.0f} min left"
    return f", about {left / 3600:.1f} h left"


class _Tally:
    """Finished and running tasks against their weights."""

    def __init__(self, weights: Mapping[Any, float]) -> None:
        self.weights = weights
        self.total = sum(weights.values()) or 1.0
        self.done: set[Any] = set()
        self.done_weight = 0.0
        self.started: dict[Any, float] = {}

    def start(self, key: Any) -> None:
        if key in self.weights and key not in self.done:
            self.started.setdefault(key, time.monotonic())

    def finish(self, key: Any) -> None:
        if key in self.weights and key not in self.done:
            self.done.add(key)
            self.done_weight += self.weights[key]
            self.started.pop(key, None)

    def fraction(self) -> float:
        now = time.monotonic()
        running = sum(
            self.weights[key]
            * min(RUNNING_SHARE, (now - since) / max(self.weights[key], 1e-3))
            for key, since in list(self.started.items())
        )
        return (self.done_weight + running) / self.total


class _LocalTally(Callback):
    """dask's local scheduler hooks, feeding a :class:`_Tally`."""

    def __init__(self, tally: _Tally) -> None:
        super().__init__()
        self.tally = tally

    def _pretask(self, key: Any, dsk: Any, state: Any) -> None:
        self.tally.start(key)

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, id: Any) -> None:
        self.tally.finish(key)


@contextlib.contextmanager
def local_progress(
    stream: TextIO, graph: Mapping[Any, Any], output_bits: Mapping[Any, float]
) -> Iterator[None]:
    """A bar of the graph's work in this process, around its computation."""
    tally = _Tally(task_weights(graph, output_bits))
    with _LocalTally(tally), TextBar(stream, "Completed", tally.fraction):
        yield


class SchedulerTally:
    """A scheduler plugin: the :class:`_Tally` of one graph, on the scheduler.

    Registered before the graph is submitted; a task already in memory
    (computed before, by a call with the same keys) counts as done.
    """

    def __init__(self, weights: Mapping[Any, float]) -> None:
        self.name = f"compute-progress-{uuid.uuid4().hex}"
        self.weights = dict(weights)
        self._tally: _Tally | None = None
        self._scheduler: Any = None

    async def start(self, scheduler: Any) -> None:
        self._scheduler = scheduler
        self._tally = _Tally(self.weights)

    def transition(self, key: Any, start: str, finish: str, *a: Any, **k: Any) -> None:
        if self._tally is None:
            return
        if finish == "processing":
            self._tally.start(key)
        elif finish == "memory":
            self._tally.finish(key)

    def fraction(self) -> float:
        assert self._tally is not None
        for key in set(self._tally.weights) - self._tally.done:
            task = self._scheduler.tasks.get(key)
            if task is not None and task.state == "memory":
                self._tally.finish(key)
        return self._tally.fraction()


def _at_most_every(seconds: float, ask: Callable[[], float]) -> Callable[[], float]:
    """``ask``, called again only once ``seconds`` have passed; else its last answer."""
    last = [0.0, -float("inf")]  # answer, when

    def answer() -> float:
        now = time.monotonic()
        if now - last[1] >= seconds:
            last[0], last[1] = ask(), now
        return last[0]

    return answer


def _fraction_on_scheduler(name: str, dask_scheduler: Any = None) -> float:
    """Run by ``Client.run_on_scheduler``, which passes the scheduler by keyword."""
    return dask_scheduler.plugins[name].fraction()


@contextlib.contextmanager
def cluster_progress(
    stream: TextIO,
    client: Client,
    graph: Mapping[Any, Any],
    output_bits: Mapping[Any, float],
) -> Iterator[None]:
    """A bar of the graph's work on ``client``'s cluster; submit inside it."""
    from distributed.diagnostics.plugin import SchedulerPlugin

    plugin_type = type("SchedulerTally", (SchedulerTally, SchedulerPlugin), {})
    plugin = plugin_type(task_weights(graph, output_bits))
    client.register_plugin(plugin, name=plugin.name)
    asked = _at_most_every(
        ASK_SECONDS,
        lambda: client.run_on_scheduler(_fraction_on_scheduler, plugin.name),
    )
    try:
        with TextBar(stream, "Completed", asked):
            yield
    finally:
        with contextlib.suppress(Exception):  # a lost scheduler forgets it anyway
            client.unregister_scheduler_plugin(plugin.name)
