"""Where work runs: an explicit address, Dask's configured one, or a LocalCluster."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import dask.config
from dask.utils import parse_timedelta

from cluster.config import local_cluster_defaults, use_distributed_defaults
from cluster.main_guard import check_main_guard

if TYPE_CHECKING:
    from distributed import Client

logger = logging.getLogger(__name__)
_WORKER_SIGNALS = "cluster.worker_signals"  # workers leave Ctrl-C to us


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
        ``distributed.comm.timeouts.connect`` (15 s here); the message names it.

    Examples
    --------
    >>> from cluster import connect
    >>> with connect(n_workers=1, dashboard_address="127.0.0.1:0") as client:
    ...     print(client.dashboard_link.endswith("/status"))
    True
    """
    from distributed import Client  # imported only when a cluster is used

    use_distributed_defaults()
    address = address or configured_address()
    if address is not None:
        if local_cluster_kwargs:
            raise ValueError(
                f"LocalCluster keyword arguments {sorted(local_cluster_kwargs)} "
                f"cannot be used with the scheduler at {address!r}"
            )
        client = _connect_to(address)
        logger.info(
            "connected to the Dask scheduler at %s; dashboard: %s",
            address,
            client.dashboard_link,
        )
        return client
    # A Client given no address starts its own LocalCluster from these
    # keywords and shuts it down when it closes.
    check_main_guard()
    preload = [*dask.config.get("distributed.worker.preload"), _WORKER_SIGNALS]
    client = Client(
        **{**local_cluster_defaults(), "preload": preload, **local_cluster_kwargs}
    )
    logger.info(
        "started a local Dask cluster of %d workers; dashboard: %s",
        len(client.scheduler_info(n_workers=-1)["workers"]),
        client.dashboard_link,
    )
    return client


def scheduler_address(client: Client) -> str:
    """The address of ``client``'s scheduler, as the client dialled it."""
    scheduler = client.scheduler
    address = None if scheduler is None else scheduler.address
    return address or "an unknown scheduler"


def _connect_to(address: str) -> Client:
    """A client of the scheduler at ``address``, or a clear error, within a bound."""
    from distributed import Client
    from distributed.security import Security

    timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"))
    if address.startswith("tls://"):
        security = Security()  # filled from distributed.comm.tls.* config
        ca_file = getattr(security, "tls_ca_file", None)
        if not (ca_file and getattr(security, "tls_client_cert", None)):
            raise ValueError(
                f"the scheduler at {address} uses TLS, but no certificates are "
                "configured for this client: set DASK_CONFIG to a directory made "
                "by `python -m cluster certs DIR` (or distributed.comm.tls.*)"
            )
    try:
        return Client(address)
    except OSError as error:
        raise OSError(
            f"could not connect to the Dask scheduler at {address} within "
            f"{timeout:g} s (distributed.comm.timeouts.connect); is it running, and "
            f"do this client's TLS settings match it? ({error})"
        ) from error
