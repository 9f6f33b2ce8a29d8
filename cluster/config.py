"""This package's Dask config, shipped as ``cluster.yaml``.

Its ``compute.cluster`` section is registered at import. Its ``distributed``
section overrides a few of distributed's own defaults; it is registered once
distributed itself is imported (:func:`use_distributed_defaults`), because
distributed registers its defaults at import and would otherwise replace ours.
"""

from __future__ import annotations

import logging
import numbers
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

import dask.config
import dask.system
import yaml
from dask.utils import parse_bytes, parse_timedelta

logger = logging.getLogger(__name__)

with open(os.path.join(os.path.dirname(__file__), "cluster.yaml")) as defaults_file:
    _DEFAULTS = yaml.safe_load(defaults_file)

_registered: list[dict] = []
_MISSING = object()


def register_defaults(defaults: dict) -> None:
    """Add ``defaults`` to Dask's config, a value the user set kept, and keep them.

    Registered inside a ``dask.config.set`` block of keys under the same
    name (the package's first use there), they would leave with the block:
    :func:`checked_setting` puts them back when a key is missing.
    """
    _registered.append(defaults)
    dask.config.update_defaults(defaults)


register_defaults({"compute": _DEFAULTS["compute"]})
_distributed_lock = threading.Lock()
_distributed_registered = False


def use_distributed_defaults() -> None:
    """Register our ``distributed.*`` defaults; call after importing distributed.

    As with any Dask default, a value the user has set is kept.
    """
    global _distributed_registered
    import distributed  # noqa: F401  (its defaults first, then ours over them)

    with _distributed_lock:
        if not _distributed_registered:
            register_defaults({"distributed": _DEFAULTS["distributed"]})
            _distributed_registered = True


def _number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _non_negative(value: object, parse: Callable[[str], float]) -> bool:
    """A number >= 0, or a string that ``parse`` reads as one (2ms, 4MiB)."""
    if _number(value):
        return value >= 0  # type: ignore[operator]
    try:
        return isinstance(value, str) and parse(value) >= 0
    except (ValueError, KeyError):  # parse_timedelta raises KeyError for units
        return False


def _count(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _count_or_null(value: object) -> bool:
    return value is None or (_count(value) and value >= 1)  # type: ignore[operator]


# What each kind of setting accepts, and how the error message says it.
KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seconds": (lambda v: _number(v) and v >= 0, "a number of seconds >= 0"),
    "positive": (lambda v: _number(v) and v > 0, "a number > 0"),
    "count": (lambda v: _count(v) and v >= 1, "a whole number >= 1"),
    "whole": (lambda v: _count(v) and v >= 0, "a whole number >= 0"),
    "flag": (lambda v: isinstance(v, bool), "true or false"),
    "count-or-null": (_count_or_null, "a whole number >= 1, or null for the CPU count"),
    "count-or-off": (_count_or_null, "a whole number >= 1, or null (off)"),
    "execution": (
        lambda v: v in ("auto", "cluster", "in-process"),
        "one of auto, cluster, in-process",
    ),
    "text": (lambda v: isinstance(v, str), "a string"),
    "job-queue": (
        lambda v: v in (None, "slurm", "pbs"),
        "null (a LocalCluster), slurm or pbs",
    ),
    "duration": (
        lambda v: _non_negative(v, parse_timedelta),
        "a duration such as 2ms, or a number of seconds >= 0",
    ),
    "bytes-or-null": (
        lambda v: v is None or _non_negative(v, parse_bytes),
        "a size such as 4MiB, a number of bytes, or null",
    ),
    "auto-or-bytes": (
        lambda v: v == "auto" or _non_negative(v, parse_bytes),
        "auto, a size such as 50GB, or a number of bytes (0: none)",
    ),
    "memory": (
        lambda v: v is None or isinstance(v, str) or (_number(v) and v >= 0),
        "auto, a size such as 4GiB, a number of bytes, or null",
    ),
}


def checked_setting(key: str, kind: str) -> Any:
    """The value of Dask config ``key``, or a ValueError saying what it must be.

    Values are checked when read, so a bad one is named with its key.

    Examples
    --------
    >>> with dask.config.set({"compute.cluster.n-workers": -1}):
    ...     checked_setting("compute.cluster.n-workers", "count-or-null")
    Traceback (most recent call last):
    ...
    ValueError: Dask config compute.cluster.n-workers = -1 is not valid: expected a whole number >= 1, or null for the CPU count
    """  # noqa: E501
    value = dask.config.get(key, _MISSING)
    if value is _MISSING:
        for defaults in _registered:
            dask.config.update(dask.config.config, defaults, priority="old")
        value = dask.config.get(key)
    valid, expected = KINDS[kind]
    if not valid(value):
        raise ValueError(
            f"Dask config {key} = {value!r} is not valid: expected {expected}"
        )
    return value


def job_queue() -> str | None:
    """``compute.cluster.job-queue``: ``slurm``, ``pbs``, or None (a LocalCluster)."""
    return checked_setting("compute.cluster.job-queue", "job-queue")


def local_cluster_defaults() -> dict[str, Any]:
    """LocalCluster keyword arguments that suit this machine.

    Read from ``compute.cluster.*`` in Dask's config; ``n-workers: null``
    becomes ``dask.system.CPU_COUNT`` (which respects cgroups and affinity).
    """

    def setting(key: str, kind: str) -> Any:
        # One key at a time: dask.config.get treats "-" and "_" alike, a
        # plain dict lookup would not (DASK_..._N_WORKERS sets "n_workers").
        return checked_setting(f"compute.cluster.{key}", kind)

    return {
        "n_workers": setting("n-workers", "count-or-null") or dask.system.CPU_COUNT,
        "threads_per_worker": setting("threads-per-worker", "count"),
        "memory_limit": setting("memory-limit", "memory"),
        "dashboard_address": setting("dashboard-address", "text"),
        "processes": True,
    }


def free_dashboard(address: Any) -> Any:
    """``address``, or the same host with a free port if its port is taken.

    distributed would do the same, with a UserWarning on stderr for what is a
    normal event (a second cluster on this machine); we say it at INFO.
    """
    if not isinstance(address, str) or ":" not in address:
        return address
    host, _, port = address.rpartition(":")
    if not port.isdigit() or int(port) == 0:
        return address
    with socket.socket() as probe:
        try:
            probe.bind((host or "0.0.0.0", int(port)))
        except OSError:
            logger.info("port %s is taken; the dashboard uses a free port", port)
            return f"{host}:0"
    return address
