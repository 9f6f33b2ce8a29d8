"""Where work runs: a local cluster by default, or the scheduler Dask's config names."""

from cluster.connect import connect, scheduler_address
from cluster.status import show_status_lines

__all__ = ["connect", "scheduler_address", "show_status_lines"]
