"""The ``compute.cluster`` section of Dask's config, shipped as ``cluster.yaml``."""

from __future__ import annotations

import os
from typing import Any

import dask.config
import yaml

with open(os.path.join(os.path.dirname(__file__), "cluster.yaml")) as defaults_file:
    dask.config.update_defaults(yaml.safe_load(defaults_file))


def local_cluster_defaults() -> dict[str, Any]:
    """LocalCluster keyword arguments that suit this machine.

    Read from ``compute.cluster.*`` in Dask's config; ``n-workers: null``
    becomes the CPU count.
    """

    def setting(key: str) -> Any:
        # One key at a time: dask.config.get treats "-" and "_" alike, a
        # plain dict lookup would not (DASK_..._N_WORKERS sets "n_workers").
        return dask.config.get(f"compute.cluster.{key}")

    return {
        "n_workers": setting("n-workers") or os.cpu_count() or 1,
        "threads_per_worker": setting("threads-per-worker"),
        "memory_limit": setting("memory-limit"),
        "dashboard_address": setting("dashboard-address"),
        "processes": True,
    }
