"""The client that compute functions use when the caller gives none."""

from __future__ import annotations

import atexit
import sys
import threading
from typing import TYPE_CHECKING

from cluster.connect import connect
from cluster.interrupts import (
    cancellations_unlogged,
    ended_by_interrupt,
    quiet_for_exit,
    stop_local_workers,
)

if TYPE_CHECKING:
    from distributed import Client

_lock = threading.Lock()
_shared: Client | None = None
_interrupted = False


def note_interrupt(client: Client) -> None:
    """Work on ``client`` was interrupted: if it is ours, close it fast at exit.

    Workers may be inside a long GMP call that holds their GIL and cannot
    hear a polite request to stop; their work is abandoned anyway.
    """
    global _interrupted
    if client is _shared:
        _interrupted = True


def close_shared() -> None:
    """Close the shared client, and any LocalCluster it started, if there is one.

    After an interrupt (:func:`note_interrupt`), its busy workers are stopped
    at once rather than asked to finish.
    """
    global _shared, _interrupted
    with _lock:
        client, _shared = _shared, None
        interrupted, _interrupted = _interrupted, False
    if client is None:
        return
    if interrupted or ended_by_interrupt():  # a script ended by Ctrl-C
        quiet_for_exit()
        stop_local_workers(client)
    if client.status == "running":
        client.close(timeout=10)
        return
    # The scheduler was lost (its link cut, say): closing cancels the client's
    # attempt to reconnect, which distributed would log as an ERROR with a
    # CancelledError traceback after our own clear ConnectionError.
    with cancellations_unlogged("distributed.client"):
        client.close(timeout=10)


def current_client() -> Client | None:
    """The current Dask Client of this process, or None.

    A process that never imported distributed has none, so this does not
    import it (that import alone costs about half a second).
    """
    if "distributed" not in sys.modules:
        return None
    from distributed import Client

    try:
        return Client.current()
    except ValueError:
        return None


def shared_client() -> Client:
    """A client from :func:`cluster.connect`, made once and reused.

    It is closed, with any LocalCluster it started, when the process exits.
    Starting a LocalCluster logs its dashboard link (logger ``cluster.connect``,
    level INFO).
    """
    global _shared
    with _lock:
        if _shared is None or _shared.status not in ("running", "connecting"):
            first = _shared is None
            _shared = connect()
            if first:
                # Registered after connect() imported distributed, so this runs
                # before distributed's own exit handlers (atexit is last in,
                # first out): the client closes while its cluster is still up.
                atexit.register(close_shared)
        return _shared
