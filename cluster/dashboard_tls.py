"""A scheduler and worker preload: their HTTP dashboards served over HTTPS.

``python -m cluster certs`` names this module in ``distributed.scheduler.preload``
and ``distributed.worker.preload``. distributed serves a dashboard over
HTTPS when ``distributed.scheduler.dashboard.tls.cert`` and ``.key`` name
files (Tornado loads files, not PEM text), while our ``dask.yaml`` holds the
certificate and key inline so that its directory works wherever it is
copied. Imported before the server starts its HTTP server, this module
writes them to owner-only files in a private temporary directory and points
those keys at them; once the server has started (:func:`dask_setup`), the
files are removed. A dashboard certificate the user configured wins.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import dask.config

_DASHBOARD_TLS = "distributed.scheduler.dashboard.tls"
_ROLES = ("scheduler", "worker")
_folder: Path | None = None


def _material() -> tuple[str, str] | None:
    """The certificate and key (text or paths) of this server's role, or None."""
    for role in _ROLES:
        cert = dask.config.get(f"distributed.comm.tls.{role}.cert", None)
        key = dask.config.get(f"distributed.comm.tls.{role}.key", None)
        if cert and key:
            return cert, key
    return None


def _as_file(folder: Path, name: str, text_or_path: str) -> str:
    """A path holding ``text_or_path``: itself when it is already a path."""
    if "\n" not in text_or_path:
        return text_or_path
    path = folder / name
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text_or_path)
    return str(path)


def serve_dashboard_over_tls() -> None:
    """Point the dashboard's TLS keys at this server's certificate and key."""
    global _folder
    if dask.config.get(f"{_DASHBOARD_TLS}.cert", None):
        return
    material = _material()
    if material is None:
        return
    cert, key = material
    if "\n" in cert or "\n" in key:
        _folder = Path(tempfile.mkdtemp(prefix="compute-dashboard-tls-"))
        atexit.register(_remove_files)
        cert, key = (
            _as_file(_folder, "cert.pem", cert),
            _as_file(_folder, "key.pem", key),
        )
    dask.config.set({f"{_DASHBOARD_TLS}.cert": cert, f"{_DASHBOARD_TLS}.key": key})


def _remove_files() -> None:
    global _folder
    if _folder is not None:
        shutil.rmtree(_folder, ignore_errors=True)
        _folder = None


def dask_setup(server: Any) -> None:
    """distributed's preload hook: the server has loaded its files; remove them."""
    _remove_files()


serve_dashboard_over_tls()
