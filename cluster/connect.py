"""Where work runs: an explicit address, Dask's configured one, or a LocalCluster."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dask.config
from dask.utils import parse_timedelta

from cluster.config import local_cluster_defaults

if TYPE_CHECKING:
    from distributed import Client


def configured_address() -> str | None:
    """The scheduler address from Dask's config key ``scheduler-address``.

    It is set by ``DASK_SCHEDULER_ADDRESS`` or by ``scheduler-address`` in a
    Dask YAML file (``~/.config/dask``, ``$DASK_CONFIG``). Environment
    variables set after ``import dask`` need ``dask.config.refresh()``.
    """
    return dask.config.get("scheduler-address", None) or None


def connect(address: str | None = None, **local_cluster_kwargs: Any) -> Client:
    """Connect to a Dask scheduler, or start a LocalCluster on this machine.

    The first of these wins: ``address``; Dask's config key
    ``scheduler-address``; a new LocalCluster of worker processes with
    defaults from ``compute.cluster.*`` (one single-threaded worker per CPU,
    dashboard on port 8787 or a free one), updated by ``local_cluster_kwargs``.
    Security for ``tls://`` addresses comes from Dask's config
    (``distributed.comm.tls.*``).

    Parameters
    ----------
    address : str, optional
        A scheduler address such as ``tcp://10.0.0.5:8786``.
    **local_cluster_kwargs
        Keyword arguments for :class:`distributed.LocalCluster`, used only
        when a LocalCluster is started.

    Returns
    -------
    distributed.Client
        Closing it (or leaving its ``with`` block) also shuts down a
        LocalCluster that it started.

    Raises
    ------
    ValueError
        If LocalCluster keyword arguments are given while a scheduler address
        is given or configured.
        Also if the address is ``tls://`` and this client has no certificates.
    OSError
        If the scheduler cannot be reached within
        ``compute.cluster.connect-timeout`` (15 s); the message names it.

    Examples
    --------
    >>> from cluster import connect
    >>> with connect(n_workers=1, dashboard_address="127.0.0.1:0") as client:
    ...     print(client.dashboard_link.endswith("/status"))
    True
    """
    from distributed import Client  # imported only when a cluster is used

    address = address or configured_address()
    if address is not None:
        if local_cluster_kwargs:
            raise ValueError(
                f"LocalCluster keyword arguments {sorted(local_cluster_kwargs)} "
                f"cannot be used with the scheduler at {address!r}"
            )
        return _connect_to(address)
    # A Client given no address starts its own LocalCluster from these
    # keywords and shuts it down when it closes.
    trim = dask.config.get("compute.cluster.malloc-trim-threshold")
    worker_environ = {
        "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": trim
    }
    with dask.config.set(worker_environ):
        return Client(**{**local_cluster_defaults(), **local_cluster_kwargs})


def _connect_to(address: str) -> Client:
    """A client of the scheduler at ``address``, or a clear error, within a bound."""
    from distributed import Client
    from distributed.security import Security

    timeout = parse_timedelta(dask.config.get("compute.cluster.connect-timeout"))
    if address.startswith("tls://"):
        security = Security()
        if not (security.tls_ca_file and security.tls_client_cert):
            raise ValueError(
                f"the scheduler at {address} uses TLS, but no certificates are "
                "configured for this client: set DASK_CONFIG to a directory made "
                "by `python -m cluster certs DIR` (or distributed.comm.tls.*)"
            )
    try:
        return Client(address, timeout=timeout)
    except OSError as error:
        raise OSError(
            f"could not connect to the Dask scheduler at {address} within "
            f"{timeout:g} s (compute.cluster.connect-timeout); is it running, and "
            f"do this client's TLS settings match it? ({error})"
        ) from error
