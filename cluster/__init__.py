"""Where work runs: a local cluster by default, or the scheduler Dask's config names."""

from cluster.connect import connect, scheduler_address

__all__ = ["connect", "scheduler_address"]
