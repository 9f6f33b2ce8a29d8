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
    settings = dask.config.get("compute.cluster")
    return {
        "n_workers": settings["n-workers"] or os.cpu_count() or 1,
        "threads_per_worker": settings["threads-per-worker"],
        "memory_limit": settings["memory-limit"],
        "dashboard_address": settings["dashboard-address"],
        "processes": True,
    }
