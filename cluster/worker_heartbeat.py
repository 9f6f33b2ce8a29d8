"""Worker preload: no heartbeat is in flight when a worker closes its connections.

A worker that closes while its heartbeat waits for the scheduler's answer
closes that connection under it, and distributed logs "Failed to communicate
with scheduler during heartbeat." as an ERROR with a traceback, though
nothing failed: the cluster was being shut down on purpose (seen once in a
script's exit, in ``make test``). A worker runs its preloads' teardown
before it stops its periodic callbacks and closes its connections, so the
teardown here stops the heartbeat and lets one already sent finish, for at
most ``_HEARTBEAT_WAIT`` seconds. Workers of a LocalCluster that
:func:`cluster.connect` starts load this module.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

_HEARTBEAT_WAIT = 2.0  # seconds; a heartbeat answers in about a millisecond


async def dask_teardown(worker: Any) -> None:
    """Stop ``worker``'s heartbeat and wait for one in flight (distributed's hook)."""
    heartbeat = worker.periodic_callbacks.get("heartbeat")
    if heartbeat is None:
        return
    heartbeat.stop()
    deadline = time.monotonic() + _HEARTBEAT_WAIT
    while worker.rpc.active and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
