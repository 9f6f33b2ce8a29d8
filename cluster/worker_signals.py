"""Worker preload: Ctrl-C belongs to the process that started the workers.

A terminal sends SIGINT to its whole foreground process group, which holds
the LocalCluster's worker processes too. Each would print its own
KeyboardInterrupt traceback. Workers of a LocalCluster that
:func:`cluster.connect` starts load this module (``distributed.worker.preload``),
ignore SIGINT, and are stopped by their nanny when the starting process
shuts the cluster down.
"""

from __future__ import annotations

import signal
import threading
from typing import Any


def dask_setup(worker: Any) -> None:
    """Ignore SIGINT in this worker process (called by distributed's preloading)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
