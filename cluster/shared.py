"""The client that compute functions use when the caller gives none."""

from __future__ import annotations

import atexit
import threading

from distributed import Client

from cluster.connect import connect

_lock = threading.Lock()
_shared: Client | None = None


def close_shared() -> None:
    """Close the shared client, and any LocalCluster it started, if there is one."""
    global _shared
    with _lock:
        client, _shared = _shared, None
    if client is not None:
        client.close(timeout=10)


def client_for(client: Client | None) -> Client:
    """``client`` if given, else the current Client, else a shared one.

    The shared client comes from :func:`cluster.connect` on first use, is
    reused by later calls in this process, and is closed (with any
    LocalCluster it started) when the process exits.
    """
    global _shared
    if client is not None:
        return client
    try:
        return Client.current()
    except ValueError:
        pass
    with _lock:
        if _shared is None or _shared.status not in ("running", "connecting"):
            if _shared is None:
                atexit.register(close_shared)
            _shared = connect()
        return _shared
