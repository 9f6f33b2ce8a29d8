"""The package's Dask config namespace ``compute``, shipped as ``compute.yaml``."""

from __future__ import annotations

import os
from typing import Any

import yaml

from cluster.config import checked_setting, register_defaults

_DEFAULTS_FILE = os.path.join(os.path.dirname(__file__), "compute.yaml")

with open(_DEFAULTS_FILE) as defaults_file:
    register_defaults(yaml.safe_load(defaults_file))


# The kind of value each key takes (see cluster.config.KINDS).
_KINDS = {
    "split-seconds": "seconds",
    "task-seconds": "positive",
    "blocks-per-piece": "count",
    "min-task-seconds": "seconds",
    "tasks-per-thread": "count",
    "fac-seconds-per-bit": "positive",
    "multiply-seconds-per-bit": "positive",
    "memory-factor": "positive",
    "lean-memory-factor": "positive",
    "lean-heap-threshold": "bytes-or-null",
    "threads": "count-or-null",
    "execution": "execution",
    "in-process-seconds": "seconds",
    "checkpoint-seconds": "seconds",
    "check-products": "flag",
    "check-retries": "whole",
    "decimal.seconds-per-bit": "positive",
    "decimal.in-process-seconds": "seconds",
    "decimal.part-digits": "count",
    "decimal.parts-per-thread": "count",
    "chunk-bytes": "count",
    "distributed-threads": "count-or-off",
    "distributed-seconds": "seconds",
    "scratch-space": "auto-or-bytes",
}


def setting(key: str) -> Any:
    """The value of ``compute.<key>`` from Dask's config, checked when read.

    Raises
    ------
    ValueError
        If the value is not of the key's kind; the message names the key,
        the value and what is expected.
    """
    return checked_setting(f"compute.{key}", _KINDS[key])
