"""The client of a LocalCluster that :func:`cluster.connect` starts.

Imported only when such a cluster starts (it imports distributed).
"""

from __future__ import annotations

import atexit
import weakref
from typing import Any

from distributed import Client

from cluster.interrupts import (
    cancellations_unlogged,
    closed_by_interrupt,
    ended_by_interrupt,
    stop_local_workers,
)


class LocalClusterClient(Client):
    """A ``distributed.Client`` that closes its LocalCluster at once after Ctrl-C.

    Closed while a KeyboardInterrupt goes up through the ``with`` block (or
    ``finally``) that holds it, or still open when a script that Ctrl-C
    ended exits, it kills its worker processes first: a worker asked to
    close politely finishes its GMP call first, and logs each task it
    abandons.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _open.add(self)

    def close(self, *args: Any, **kwargs: Any) -> Any:
        if not closed_by_interrupt():
            return super().close(*args, **kwargs)
        # The scheduler's sends to the killed workers fail as it closes; worker
        # threads of this process (processes=False) are closed politely.
        with cancellations_unlogged(
            "distributed.batched", "distributed.worker.state_machine"
        ):
            stop_local_workers(self)
            return super().close(*args, **kwargs)


_open: weakref.WeakSet[LocalClusterClient] = weakref.WeakSet()


def _stop_workers_after_interrupt() -> None:
    if ended_by_interrupt():
        for client in list(_open):
            stop_local_workers(client)


# Registered after distributed's own exit handlers, which close clusters
# politely, so that it runs before them (atexit is last in, first out).
atexit.register(_stop_workers_after_interrupt)
