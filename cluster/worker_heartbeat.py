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

The scheduler can also close first, with a heartbeat on its way (seen once
more at a command's exit in ``make test``: "Stream is closed" on the
scheduler's side). That scheduler lives in the process that started the
cluster and ends only with it, so for these workers a failed heartbeat
always means the cluster is being shut down: :func:`dask_setup` drops that
one log record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

_HEARTBEAT_WAIT = 2.0  # seconds; a heartbeat answers in about a millisecond
_HEARTBEAT_FAILED = "Failed to communicate with scheduler during heartbeat"


class ShutdownHeartbeatFilter(logging.Filter):
    """Drops distributed's record of a heartbeat cut off by the shutdown."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_HEARTBEAT_FAILED)


def dask_setup(worker: Any) -> None:
    """Install :class:`ShutdownHeartbeatFilter` on ``distributed.worker`` (once)."""
    log = logging.getLogger("distributed.worker")
    if not any(isinstance(f, ShutdownHeartbeatFilter) for f in log.filters):
        log.addFilter(ShutdownHeartbeatFilter())


async def dask_teardown(worker: Any) -> None:
    """Stop ``worker``'s heartbeat and wait for one in flight (distributed's hook)."""
    heartbeat = worker.periodic_callbacks.get("heartbeat")
    if heartbeat is None:
        return
    heartbeat.stop()
    deadline = time.monotonic() + _HEARTBEAT_WAIT
    while worker.rpc.active and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
