"""Workers that spill keep their stored values within a share of their limit.

distributed keeps a worker's stored values in memory up to its target (0.6
of its limit), and spills them to disk beyond that, at once. A spilling
run plans each task to fit the same target share, transfers beside it
(:func:`compute.capacity.spill_task_bytes`), so the two together could pass
the pause threshold (0.8) where distributed pauses the worker and warns.
A spilling run caps the stored values at what is left below the pause
(:func:`compute.capacity.spill_stored_share`), on every worker of its
cluster, those that join later included, for the cluster's life.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from distributed.diagnostics.plugin import WorkerPlugin

if TYPE_CHECKING:
    from distributed import Client


class CappedStoredMemory(WorkerPlugin):
    """Caps the memory a worker keeps its stored values in at ``share`` of its
    limit, spilling the oldest beyond it at once.

    A worker without a limit, or that does not spill, is left as it is; so
    is one whose cap is already lower.
    """

    name = "compute-capped-stored-memory"

    def __init__(self, share: float) -> None:
        self.share = share

    def setup(self, worker: Any) -> None:
        """Lower the cap of the worker's spill buffer, then spill beyond it."""
        stored = worker.data  # a zict.Buffer when the worker spills
        limit = worker.memory_manager.memory_limit
        if not limit or not hasattr(stored, "evict_until_below_target"):
            return
        cap = self.share * limit
        if cap < stored.n:
            stored.n = cap
            stored.evict_until_below_target()


def cap_stored_memory(client: Client, share: float) -> None:
    """Stored values within ``share`` of each limit on every worker of
    ``client``'s cluster, from now on."""
    client.register_plugin(CappedStoredMemory(share), name=CappedStoredMemory.name)
