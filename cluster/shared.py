"""The client that compute functions use when the caller gives none."""

from __future__ import annotations

import atexit
import sys
import threading
from typing import TYPE_CHECKING

from cluster.connect import connect

if TYPE_CHECKING:
    from distributed import Client

_lock = threading.Lock()
_shared: Client | None = None


def close_shared() -> None:
    """Close the shared client, and any LocalCluster it started, if there is one."""
    global _shared
    with _lock:
        client, _shared = _shared, None
    if client is not None:
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
    Starting a LocalCluster prints its dashboard link to standard error.
    """
    global _shared
    with _lock:
        if _shared is None or _shared.status not in ("running", "connecting"):
            if _shared is None:
                atexit.register(close_shared)
            _shared = connect()
            if _shared.cluster is not None:
                workers = len(_shared.cluster.workers)
                print(
                    f"compute: started a local Dask cluster of {workers} workers; "
                    f"dashboard: {_shared.dashboard_link}",
                    file=sys.stderr,
                )
        return _shared
