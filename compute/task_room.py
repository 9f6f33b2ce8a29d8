"""Workers that spill make room for a large task when it starts.

distributed spills a worker's stored values when its process passes the
``spill`` share of its limit, and pauses the worker with a WARNING when it
passes ``pause``; both are checked every ``monitor-interval`` (100 ms). A
product of gigabytes grows faster than that: it can take the process from
below ``spill`` to above ``pause`` between two checks (3e9! paused a worker
once in 88 minutes, 5e7! on 576 MiB workers in a quarter of its runs). And
when distributed spills and the process stays above ``target`` with nothing
left to spill, it warns that unmanaged memory is high. So when a product
task starts on a spilling worker, this plugin spills at once the oldest
stored values that its working space would otherwise push past ``spill``
(less :data:`SPILL_MARGIN`), and keeps that room reserved until the task
ends. Its inputs stay in memory. Small tasks, and products with room to
spare, spill nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from dask.utils import format_bytes
from distributed.diagnostics.plugin import WorkerPlugin

from compute.capacity import WORKER_PROCESS_BYTES
from compute.tasks import stage_of

if TYPE_CHECKING:
    from distributed import Client

logger = logging.getLogger(__name__)

# New memory a task takes at its peak beside its inputs, per byte of inputs,
# by stage (measured on 250 MB and 1 GB of inputs): a part product assembles
# its operands, multiplies them on one thread and cuts the product into
# chunks (5.1x); a part square does so with one operand, half the inputs of
# a part product of its size (8.8x, on 250 MB); `multiply` splits a large
# product over two threads (6.6x).
WORKING_BYTES_PER_INPUT_BYTE = {
    "part-product": 5.1,
    "part-square": 8.8,
    "multiply": 6.6,
}

# Room kept below distributed's spill threshold, as a share of the limit.
SPILL_MARGIN = 0.05

# Seconds of spilling before the event loop is let run (as distributed's own
# spilling does: a longer block makes the worker warn that its loop stalled).
SPILL_SLICE_SECONDS = 0.2


class RoomForLargeTasks(WorkerPlugin):
    """Spills stored values when a product task starts, so that its working
    space, the values beside it and the process stay below the spill
    threshold.

    A worker without a memory limit, a spill or pause threshold, or a spill
    buffer is left as it is.
    """

    name = "compute-room-for-large-tasks"

    def __init__(self) -> None:
        self.reserved: dict[Any, float] = {}
        self.inputs: dict[Any, set[Any]] = {}
        self.spilling: set[asyncio.Task[None]] = set()

    def setup(self, worker: Any) -> None:
        """Note the worker; its limit and thresholds are read as tasks start."""
        self.worker = worker
        self.reserved = {}
        self.inputs = {}

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        """Reserve room for a product task that starts executing; free it when
        the task leaves that state."""
        if start == "executing":
            self.reserved.pop(key, None)
            self.inputs.pop(key, None)
            return
        if finish != "executing":
            return
        factor = WORKING_BYTES_PER_INPUT_BYTE.get(stage_of(key))
        room = self._room()
        task = self.worker.state.tasks.get(key)
        if factor is None or room is None or task is None:
            return
        inputs = {dependency.key for dependency in task.dependencies}
        self.inputs[key] = inputs
        self.reserved[key] = factor * sum(
            dependency.nbytes or 0 for dependency in task.dependencies
        )
        stored = self.worker.data.fast
        for input_key in inputs & stored.keys():  # the most recently used spill last
            stored[input_key]
        if self._over(room):
            spilling = asyncio.get_running_loop().create_task(self._spill(key, room))
            self.spilling.add(spilling)  # the loop keeps only a weak reference
            spilling.add_done_callback(self.spilling.discard)

    def _over(self, room: float) -> bool:
        """Whether values other than running tasks' inputs take more than the
        room their reservations leave."""
        stored = self.worker.data.fast
        inputs = set().union(*self.inputs.values()) & stored.keys()
        held = sum(stored.weights[key] for key in inputs)
        return stored.total_weight > max(room - sum(self.reserved.values()), held)

    def _room(self) -> float | None:
        """Bytes below the spill threshold (else the pause), less the margin and
        the process itself."""
        memory = self.worker.memory_manager
        ceiling = memory.memory_spill_fraction or memory.memory_pause_fraction
        if (
            not memory.memory_limit
            or not ceiling
            or not hasattr(self.worker.data, "fast")
        ):
            return None
        return (ceiling - SPILL_MARGIN) * memory.memory_limit - WORKER_PROCESS_BYTES

    async def _spill(self, key: Any, room: float) -> None:
        stored = self.worker.data
        spilled = 0
        sliced = time.monotonic()
        while key in self.reserved and self._over(room):
            # The oldest; -1 when it cannot (logged), 0 when another thread
            # took the value first.
            weight = stored.evict()
            if weight <= 0:
                break
            spilled += weight
            if time.monotonic() - sliced > SPILL_SLICE_SECONDS:
                await asyncio.sleep(0)
                sliced = time.monotonic()
        logger.debug(
            "spilled %s to make room for %s (%s reserved)",
            format_bytes(spilled),
            key,
            format_bytes(int(self.reserved.get(key, 0))),
        )


def make_room_for_large_tasks(client: Client) -> None:
    """Room made for product tasks as they start, on every worker of
    ``client``'s cluster, from now on."""
    client.register_plugin(RoomForLargeTasks(), name=RoomForLargeTasks.name)
