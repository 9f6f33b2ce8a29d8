"""The package's Dask config namespace ``compute``, shipped as ``compute.yaml``."""

from __future__ import annotations

import os
from typing import Any

import dask.config
import yaml

_DEFAULTS_FILE = os.path.join(os.path.dirname(__file__), "compute.yaml")

with open(_DEFAULTS_FILE) as defaults_file:
    dask.config.update_defaults(yaml.safe_load(defaults_file))


def setting(key: str) -> Any:
    """The current value of ``compute.<key>`` from Dask's config."""
    return dask.config.get(f"compute.{key}")
