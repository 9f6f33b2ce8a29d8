"""Where work runs: an explicit address, Dask's configured one, or a LocalCluster."""

from __future__ import annotations

import logging
import socket
import time
import warnings
from functools import partial
from multiprocessing import resource_tracker
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask.config
from dask.utils import parse_timedelta

from cluster.config import (
    checked_setting,
    free_dashboard,
    job_queue,
    local_cluster_defaults,
    use_distributed_defaults,
)
from cluster.interrupts import (
    in_spawning_thread,
    quiet_abandoned_gathers,
    quiet_exit_after_interrupt,
    quiet_regathers,
)
from cluster.main_guard import check_main_guard, forget_unimportable_main

if TYPE_CHECKING:
    from distributed import Client

logger = logging.getLogger(__name__)
_WORKER_SIGNALS = "cluster.worker_signals"  # workers leave Ctrl-C to us
_WORKER_HEARTBEAT = "cluster.worker_heartbeat"  # no heartbeat cut off at close
_TRIM_KEY = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
# distributed's own value for _TRIM_KEY: glibc gives freed memory back at once.
_DISTRIBUTED_TRIM = 65536
# Workers with less memory than this keep distributed's _TRIM_KEY. Ours
# (null, glibc's adaptive default) keeps freed memory for reuse: faster (prime
# pieces 1.08 s against 1.25 s at n = 10**7), but what glibc keeps counts
# against the worker's limit: n = 5e7 on four 1 GiB workers peaked 20% higher,
# with "Unmanaged memory use is high" warnings.
ROOMY_WORKER_BYTES = 4 * 2**30
_PORT_TAKEN = r"Port \d+ is already in use"


def configured_address() -> str | None:
    """The scheduler address from Dask's config key ``scheduler-address``.

    It is set by ``DASK_SCHEDULER_ADDRESS`` or by ``scheduler-address`` in a
    Dask YAML file (``~/.config/dask``, ``$DASK_CONFIG``). Environment
    variables set after ``import dask`` need ``dask.config.refresh()``.
    """
    return dask.config.get("scheduler-address", None) or None


def cluster_configured() -> bool:
    """Whether Dask's config names where work runs: a scheduler or a job queue.

    Either way this machine's memory is not the measure of the work.
    """
    return configured_address() is not None or job_queue() is not None


def connect(address: str | None = None, **local_cluster_kwargs: Any) -> Client:
    """Connect to a Dask scheduler, or start a LocalCluster on this machine.

    The first of these wins: ``address``; Dask's config key
    ``scheduler-address``; with ``compute.cluster.job-queue`` set to ``slurm``
    or ``pbs``, workers as batch jobs through dask-jobqueue, sized by its
    ``jobqueue.<queue>.*`` keys (``cluster/jobqueue.py``); a new LocalCluster
    of worker processes with defaults from ``compute.cluster.*`` (one
    single-threaded worker per CPU, dashboard on port 8787 or a free one),
    updated by ``local_cluster_kwargs``.
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
        LocalCluster that it started, or cancels the jobs it asked for.

    Raises
    ------
    ValueError
        If LocalCluster keyword arguments are given while a scheduler address
        or a job queue is given or configured; if a job queue lacks
        ``jobqueue.<queue>.cores`` or ``.memory``; if the address is
        ``tls://`` and this client has no certificates (or they name missing
        files); if the address is ``tcp://`` and this client requires
        encryption.
    OSError
        If the scheduler cannot be reached: the message names its address
        and why (no answer within ``distributed.comm.timeouts.connect``, 15 s
        here; nothing listening; TLS against plain or plain against TLS; a
        certificate from another CA).
    TimeoutError
        If a job queue's first jobs do not start their workers within
        ``compute.cluster.job-wait``.
    ImportError
        If a job queue is configured and dask-jobqueue is not installed.

    Examples
    --------
    >>> from cluster import connect
    >>> with connect(n_workers=1, dashboard_address="127.0.0.1:0") as client:
    ...     print(client.dashboard_link.endswith("/status"))
    True
    """
    # distributed registers its exit handlers (closing clusters) on import:
    # imported first, so that ours, registered after, runs before them.
    import distributed  # noqa: F401 (imported only when a cluster is used)

    quiet_exit_after_interrupt()
    use_distributed_defaults()
    # Checked before any client exists, so a bad value leaves none behind.
    interval = checked_setting("compute.cluster.client-send-interval", "duration")
    address = address or configured_address()
    queue = None if address is not None else job_queue()
    if local_cluster_kwargs and (address or queue):
        where = (
            f"the scheduler at {address!r}"
            if address
            else f"compute.cluster.job-queue = {queue}"
        )
        raise ValueError(
            f"LocalCluster keyword arguments {sorted(local_cluster_kwargs)} "
            f"cannot be used with {where}"
        )
    if address is not None:
        client = _connect_to(address)
        logger.info(
            "connected to the Dask scheduler at %s; dashboard: %s",
            address,
            client.dashboard_link,
        )
    elif queue is not None:
        from cluster.jobqueue import job_queue_client

        quiet_regathers()  # the jobs' scheduler runs in this process
        client = job_queue_client(queue)
    else:
        quiet_regathers()  # so does a LocalCluster's
        client = _start_local_cluster(local_cluster_kwargs)
    client = _send_promptly(client, interval)
    quiet_abandoned_gathers()
    return client


def _start_local_cluster(local_cluster_kwargs: dict[str, Any]) -> Client:
    """A client of a new LocalCluster, which it shuts down when it closes."""
    # Imported only when a cluster is used (it imports distributed).
    from cluster.local_client import LocalClusterClient

    check_main_guard()
    forget_unimportable_main()
    preload = [
        *dask.config.get("distributed.worker.preload"),
        _WORKER_SIGNALS,
        _WORKER_HEARTBEAT,
    ]
    options = {**local_cluster_defaults(), "preload": preload, **local_cluster_kwargs}
    options["dashboard_address"] = free_dashboard(options.get("dashboard_address"))
    with dask.config.set(_worker_malloc(options)), warnings.catch_warnings():
        # The port checked free above may be taken by another process before
        # the scheduler binds it; distributed then takes a free port, as we
        # would, and the link we log shows it.
        warnings.filterwarnings("ignore", _PORT_TAKEN, UserWarning)
        # Started from a thread that blocks SIGINT, the cluster's threads and
        # worker processes never hear a Ctrl-C meant for this process. The
        # first spawn starts multiprocessing's resource tracker, and that
        # unblocks SIGINT in the spawning thread afterwards: start it first.
        resource_tracker.ensure_running()
        client = in_spawning_thread(partial(LocalClusterClient, **options))
    logger.info(
        "started a local Dask cluster of %d workers; dashboard: %s",
        len(client.scheduler_info(n_workers=-1)["workers"]),
        client.dashboard_link,
    )
    return client


def _send_promptly(client: Client, interval: str | float) -> Client:
    """``client``, sending its batched messages to the scheduler more often.

    At most every ``interval`` (``compute.cluster.client-send-interval``, see
    ``cluster.yaml``) instead of the 10 ms that distributed fixes in its code.
    A client of another version without this batched stream is left as is.
    """
    from distributed.batched import BatchedSend

    stream = getattr(client, "scheduler_comm", None)
    if isinstance(stream, BatchedSend):
        stream.interval = parse_timedelta(interval)
    else:
        logger.debug("client-send-interval not applied: no batched stream")
    return client


def _worker_malloc(options: dict[str, Any]) -> dict[str, Any]:
    """Dask config for the nannies of a LocalCluster started with ``options``.

    Small workers (below ROOMY_WORKER_BYTES each) get distributed's trim
    threshold back where the setting is ours (null); a number the user set
    is kept either way.
    """
    from distributed.worker_memory import parse_memory_limit

    if dask.config.get(_TRIM_KEY, None) is not None:
        return {}
    limit = parse_memory_limit(
        options.get("memory_limit", "auto"),
        options.get("threads_per_worker") or 1,
        logger=logger,
    )
    if limit is None or limit >= ROOMY_WORKER_BYTES:
        return {}
    return {_TRIM_KEY: _DISTRIBUTED_TRIM}


def scheduler_address(client: Client) -> str:
    """The address of ``client``'s scheduler, as the client dialled it.

    Parameters
    ----------
    client : distributed.Client
        Any client.

    Returns
    -------
    str
        Its scheduler's address (``tcp://127.0.0.1:8786``), or
        ``"an unknown scheduler"`` when the client has none.

    Examples
    --------
    >>> import cluster
    >>> with cluster.connect(processes=False, n_workers=1) as client:
    ...     cluster.scheduler_address(client).startswith("inproc://")
    True
    """
    scheduler = client.scheduler
    address = None if scheduler is None else scheduler.address
    return address or "an unknown scheduler"


def _tls_material_problem(security: Any) -> str | None:
    """What is missing from this client's TLS settings, or None."""
    material = {
        "distributed.comm.tls.ca-file": getattr(security, "tls_ca_file", None),
        "distributed.comm.tls.client.cert": getattr(security, "tls_client_cert", None),
    }
    for key, value in material.items():
        if not value:
            return f"no {key} is configured"
        if "\n" not in value and not Path(value).is_file():
            return f"{key} names {value!r}, which is not a readable file"
    return None


def _why(error: BaseException, address: str) -> str:
    """A plain reason for a failed connection, from the chain of causes."""
    chain: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    text = " ".join(f"{type(c).__name__} {c}" for c in chain)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return (
            "its TLS certificate is not signed by this client's CA, or this "
            "client's by its CA: both ends need the same `python -m cluster "
            "certs` directory"
        )
    if any(
        sign in text
        for sign in (
            "WRONG_VERSION_NUMBER",
            "record layer failure",
            "cannot convert to SSL",  # the plain peer spoke first
        )
    ):
        return (
            "it does not speak TLS: address it as "
            f"{address.replace('tls://', 'tcp://', 1)} (or start it with TLS)"
        )
    if address.startswith("tcp://") and "ConnectionResetError" in text:
        return (
            "it closed the connection at once: it probably requires TLS; address "
            "it as tls:// with its certificates (DASK_CONFIG)"
        )
    if "ConnectionRefusedError" in text:
        return _REFUSED
    return str(error)


_REFUSED = "connection refused: nothing listens there; is the scheduler running?"


def _with_scheme(address: str) -> str:
    """``address`` with Dask's default protocol when it names none."""
    return address if "://" in address else f"tcp://{address}"


def _refused_at_once(address: str) -> bool:
    """Whether a TCP connection to the address is refused outright.

    distributed retries refused connections until its connect timeout (15 s
    here), which makes a stopped scheduler look like an unreachable one. A
    refusal comes back at once, so one plain attempt tells them apart; an
    address that does not answer at all is left to distributed's timeout.
    """
    from distributed.comm import parse_address, parse_host_port

    scheme, location = parse_address(address)
    # A TLS scheduler logs a WARNING for every connection closed before its
    # TLS handshake: such addresses keep distributed's own wait.
    if scheme != "tcp":
        return False
    host, port = parse_host_port(location)
    try:
        with socket.create_connection((host, port), timeout=_PROBE_SECONDS):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


# Long enough for any host that answers; a silent one is left to distributed.
_PROBE_SECONDS = 1.0


def _check_security_for(address: str) -> None:
    """Refuse an address that this client's TLS settings cannot dial."""
    from distributed.security import Security

    security = Security()  # filled from distributed.comm.tls.* config
    if address.startswith("tls://"):
        problem = _tls_material_problem(security)
        if problem is not None:
            raise ValueError(
                f"the address {address} asks for TLS, but {problem}: set "
                "DASK_CONFIG to a directory made by `python -m cluster certs DIR` "
                "(or set distributed.comm.tls.*)"
            )
    elif security.require_encryption:
        raise ValueError(
            f"this client requires encryption (distributed.comm.require-encryption, "
            f"as a `python -m cluster certs` config sets), so it will not connect "
            f"to {address}: address the scheduler as "
            f"{address.replace('tcp://', 'tls://', 1)}"
        )


def _connect_to(address: str) -> Client:
    """A client of the scheduler at ``address``, or a clear error, within a bound."""
    from distributed import Client

    timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"))
    address = _with_scheme(address)
    _check_security_for(address)
    if _refused_at_once(address):
        raise OSError(
            f"could not connect to the Dask scheduler at {address}: {_REFUSED}"
        )
    # Results come from the workers that hold them, across one link, not
    # through a scheduler on another host (two links and its CPU), unless the
    # user's Dask config says otherwise. A scheduler in this process (a
    # LocalCluster's, a job queue's) adds no link, and keeps distributed's way.
    direct = dask.config.get("distributed.client.direct-to-workers", None)
    start = time.monotonic()
    try:
        return Client(address, direct_to_workers=True if direct is None else direct)
    except (OSError, ValueError) as error:
        if isinstance(error, ValueError) and "cannot convert to SSL" not in str(error):
            raise  # not a connection failure
        elapsed = time.monotonic() - start
        if elapsed >= 0.9 * timeout:
            reason = (
                f"no answer within {timeout:g} s (distributed.comm.timeouts.connect)"
                "; is it running and reachable from here?"
            )
        else:
            reason = _why(error, address)
        raise OSError(
            f"could not connect to the Dask scheduler at {address}: {reason}"
        ) from error
