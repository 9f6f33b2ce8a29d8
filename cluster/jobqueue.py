"""Workers as batch jobs: a dask-jobqueue cluster, from Dask's config alone.

With ``compute.cluster.job-queue: slurm`` (or ``pbs``) and no scheduler
address configured, :func:`cluster.connect` starts the scheduler in this
process and asks the queue for workers, sized by dask-jobqueue's own keys
``jobqueue.<queue>.*`` (cores, memory, walltime, queue, account...). What this
module adds to dask-jobqueue's defaults:

- one single-threaded worker process per core of a job (``processes`` =
  ``cores`` unless set): gmpy2 holds the GIL between big products, and the
  memory limit of each worker is then the job's memory per core, the figure
  that ``compute.memory-factor`` and the spread rules work with;
- workers retire themselves before the job's walltime (``--lifetime``, a
  tenth of it early, at most 5 minutes, staggered by half that), so that the
  queue's kill never cuts a product in half: their results move to other
  workers and ``adapt`` submits a fresh job;
- ``adapt`` between ``compute.cluster.minimum-jobs`` and ``maximum-jobs``,
  and a bounded wait (``compute.cluster.job-wait``) for the first workers;
- the dashboard on the scheduler's host (``scheduler-options`` ``host`` or
  ``interface``, or ``jobqueue.<queue>.interface``) or else on loopback, never
  on every interface (dask-jobqueue's default), port 8787 or a free one,
  unless ``scheduler-options`` names its address;
- with ``distributed.comm.require-encryption`` (a ``python -m cluster certs``
  config), the scheduler and the workers on ``tls://``: the workers read the
  certificates from the same config, which their jobs inherit;
- closing the client cancels every job (``scancel``/``qdel``).
"""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from types import ModuleType
from typing import Any

import dask.config
from dask.utils import parse_timedelta
from distributed import Adaptive, Client, Status
from distributed.security import Security

from cluster.config import checked_setting, free_dashboard
from cluster.interrupts import cancellations_unlogged

logger = logging.getLogger(__name__)
# compute.cluster.job-queue -> dask-jobqueue's class for it.
CLUSTER_CLASSES = {"slurm": "SLURMCluster", "pbs": "PBSCluster"}
# The share of a walltime that a worker keeps for retiring, at most 5 minutes.
RETIRE_SHARE = 0.1
RETIRE_SECONDS = 300.0
# How often the wait for the first workers looks for a refused job.
_POLL_SECONDS = 1.0


_WALLTIME = re.compile(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?")


def walltime_seconds(walltime: str, key: str) -> float:
    """Seconds of a walltime as SLURM and PBS write it.

    ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM`` or ``D-HH:MM:SS``.

    Examples
    --------
    >>> walltime_seconds("00:30:00", "jobqueue.slurm.walltime")
    1800.0
    >>> walltime_seconds("1-02", "jobqueue.slurm.walltime")
    93600.0
    """
    match = _WALLTIME.fullmatch(walltime.strip())
    if match is None:
        raise ValueError(
            f"Dask config {key} = {walltime!r} is not a walltime: expected "
            "HH:MM:SS, MM:SS, MM or D-HH:MM:SS"
        )
    days, first, second, third = (int(g or 0) for g in match.groups())
    if match[1] is not None:  # D-HH[:MM[:SS]]
        return float(86400 * days + 3600 * first + 60 * second + third)
    if match[4] is not None:  # HH:MM:SS
        return float(3600 * first + 60 * second + third)
    return float(60 * first + second)  # MM[:SS]


def cluster_options(queue: str) -> dict[str, Any]:
    """Keyword arguments added to ``jobqueue.<queue>.*`` for the cluster class.

    Raises
    ------
    ValueError
        If ``jobqueue.<queue>.cores`` or ``.memory`` is not set: every job
        needs both, and dask-jobqueue would say so without naming the key.
    """
    settings = dask.config.get(f"jobqueue.{queue}", {})
    missing = [key for key in ("cores", "memory") if not settings.get(key)]
    if missing:
        names = " and ".join(f"jobqueue.{queue}.{key}" for key in missing)
        raise ValueError(
            f"compute.cluster.job-queue is {queue}, but {names} "
            f"{'is' if len(missing) == 1 else 'are'} not set: "
            f"each job needs its cores and memory (for example cores: 8 and "
            f"memory: 32GiB in a Dask YAML file)"
        )
    options: dict[str, Any] = {
        "processes": settings.get("processes") or settings["cores"]
    }
    extra_args = list(settings.get("worker-extra-args") or [])
    if "--lifetime" not in extra_args and settings.get("walltime"):
        walltime = walltime_seconds(
            str(settings["walltime"]), f"jobqueue.{queue}.walltime"
        )
        options["worker_extra_args"] = [*extra_args, *_lifetime_arguments(walltime)]
    scheduler_options = _scheduler_options(settings)
    if scheduler_options != (settings.get("scheduler-options") or {}):
        options["scheduler_options"] = scheduler_options
    return options


def _lifetime_arguments(walltime: float) -> list[str]:
    """``dask worker`` arguments that retire a worker before its walltime.

    Staggered, so that jobs started together do not all retire at once.
    """
    keep = min(RETIRE_SECONDS, RETIRE_SHARE * walltime)
    return [
        "--lifetime", f"{walltime - keep:.0f}s",
        "--lifetime-stagger", f"{keep / 2:.0f}s",
    ]  # fmt: skip


def _scheduler_options(settings: dict[str, Any]) -> dict[str, Any]:
    """The scheduler's options: the user's, the dashboard on the scheduler's
    host, and TLS when this config requires encryption."""
    scheduler_options = dict(settings.get("scheduler-options") or {})
    if "dashboard_address" not in scheduler_options:
        address = checked_setting("compute.cluster.dashboard-address", "text")
        host = _scheduler_host(scheduler_options, settings.get("interface"))
        if host:  # where the link points
            address = f"{host}:{address.rpartition(':')[2]}"
        scheduler_options["dashboard_address"] = free_dashboard(address)
    security = Security()  # distributed.comm.tls.*, as `python -m cluster certs`
    if security.require_encryption and not settings.get("protocol"):
        # Workers take tls:// from the scheduler's address and read the same
        # certificates from the config their jobs inherit (DASK_CONFIG):
        # given them, dask-jobqueue would write inline keys to files.
        scheduler_options.setdefault("protocol", "tls://")
        scheduler_options.setdefault("security", security)
    return scheduler_options


def _scheduler_host(options: dict[str, Any], interface: str | None) -> str | None:
    """The address the scheduler listens on, if the settings name it."""
    from distributed.utils import get_ip_interface

    if options.get("host"):
        return str(options["host"])
    interface = options.get("interface") or interface
    return get_ip_interface(interface) if interface else None


class JobQueueClient(Client):
    """A client that closes the job-queue cluster it was made for: every job
    is cancelled."""

    adaptive: Adaptive | None = None  # the cluster's, once adapting

    refusals: logging.Filter | None = None  # on tornado's log while it runs

    def close(self, timeout: Any = None) -> Any:
        if self.adaptive is not None:
            self.adaptive.stop()  # no more jobs, refused or not
        # The scheduler runs in this process: closing it and this client cuts
        # off the streams of workers still retiring and its own stream to this
        # client, which distributed logs with tracebacks.
        with cancellations_unlogged("distributed.scheduler", "distributed.batched"):
            try:
                return super().close() if timeout is None else super().close(timeout)
            finally:
                cluster = self.cluster
                if cluster is not None and cluster.status not in _CLOSED:
                    _settle_unjoined_jobs(cluster)
                    cluster.close(timeout=30)
                if self.refusals is not None:
                    logging.getLogger("tornado.application").removeFilter(self.refusals)


_CLOSED = (Status.closing, Status.closed)


def _settle_unjoined_jobs(cluster: Any) -> None:
    """Cancel the jobs whose workers never joined, and mark them so.

    SpecCluster's close asserts that every job it made has closed or failed,
    but dask-jobqueue's close of a job only cancels it: a job refused by the
    queue (never submitted) or still queued would fail that assertion.
    """
    joined = [
        str(w["name"]) for w in cluster.scheduler_info.get("workers", {}).values()
    ]
    for name, job in list(cluster.workers.items()):
        if job.status == Status.created:  # refused: nothing to cancel
            job.status = Status.failed
        elif not any(w == name or w.startswith(f"{name}-") for w in joined):
            cluster.sync(job.close)  # scancel / qdel of a queued job
            job.status = Status.closed
        else:
            continue
        del cluster.workers[name]


class _QueueRefusals(logging.Filter):
    """Takes the queue's refusals of a job out of tornado's log (a filter).

    dask-jobqueue submits jobs from a callback, and a refused ``sbatch`` or
    ``qsub`` ends up as an ERROR with a traceback from tornado. Each refusal is
    kept here, with the queue's own words; once the cluster has started, it is
    logged as one WARNING line instead.
    """

    def __init__(self, queue: str) -> None:
        super().__init__()
        self.queue = queue
        self.refusals: list[str] = []
        self.started = False

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        text = str(error)
        if not isinstance(error, RuntimeError) or _REFUSED not in text:
            return True
        said = text.partition("stderr:")[2].strip() or text
        self.refusals.append("; ".join(said.splitlines()))
        if self.started:
            logger.warning("the %s queue refused a job: %s", self.queue, said)
        return False


# How dask-jobqueue words a submission command that failed.
_REFUSED = "Command exited with non-zero exit code"


def _import_dask_jobqueue(queue: str) -> ModuleType:
    """dask-jobqueue, imported with this process's Ctrl-C handling kept.

    Its SLURM module replaces the SIGINT handler at import with one that
    exits silently with status 0: a Ctrl-C would then look like success.
    """
    main = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if main else None
    try:
        import dask_jobqueue
    except ImportError as error:
        raise ImportError(
            f"compute.cluster.job-queue is {queue}: that needs dask-jobqueue "
            "(pip install 'compute[hpc]')"
        ) from error
    finally:
        if main and handler is not None:
            signal.signal(signal.SIGINT, handler)
    return dask_jobqueue


def _wait_for_first_workers(
    client: JobQueueClient,
    refusals: _QueueRefusals,
    queue: str,
    jobs: int,
    workers: int,
    wait: float,
) -> None:
    """Wait for the first jobs' workers; close the client (cancelling the
    jobs) and raise if the queue refuses a job or ``wait`` seconds pass."""
    deadline = time.monotonic() + wait
    while True:
        if refusals.refusals:
            client.close()
            raise RuntimeError(
                f"the {queue} queue refused the job: {refusals.refusals[0]} "
                f"(see jobqueue.{queue}.* in Dask's config)"
            )
        try:
            client.wait_for_workers(workers, timeout=_POLL_SECONDS)
            return
        except TimeoutError:
            if time.monotonic() < deadline:
                continue
        client.close()
        raise TimeoutError(
            f"the {jobs} {queue} job(s) asked for did not start {workers} "
            f"worker(s) within {wait:g} s (compute.cluster.job-wait); they are "
            "cancelled. Is the queue busy, or do the jobs fail? See their logs "
            f"(jobqueue.{queue}.log-directory)"
        )


def job_queue_client(queue: str) -> Client:
    """A client of a new job-queue cluster, its first workers started.

    Raises
    ------
    ImportError
        If dask-jobqueue is not installed.
    RuntimeError
        If the queue refuses a job (``sbatch`` or ``qsub`` fails): the
        message gives the queue's own words.
    TimeoutError
        If the minimum of jobs has not started its workers within
        ``compute.cluster.job-wait``; the jobs are cancelled first.
    """
    dask_jobqueue = _import_dask_jobqueue(queue)
    minimum = checked_setting("compute.cluster.minimum-jobs", "count")
    maximum = checked_setting("compute.cluster.maximum-jobs", "count")
    if maximum < minimum:
        raise ValueError(
            f"Dask config compute.cluster.maximum-jobs = {maximum} is below "
            f"compute.cluster.minimum-jobs = {minimum}"
        )
    wait = parse_timedelta(checked_setting("compute.cluster.job-wait", "duration"))
    options = cluster_options(queue)
    cluster = getattr(dask_jobqueue, CLUSTER_CLASSES[queue])(**options)

    refusals = _QueueRefusals(queue)
    logging.getLogger("tornado.application").addFilter(refusals)
    client = JobQueueClient(cluster)
    client.refusals = refusals
    client.adaptive = cluster.adapt(minimum_jobs=minimum, maximum_jobs=maximum)
    workers = minimum * options["processes"]
    _wait_for_first_workers(client, refusals, queue, minimum, workers, wait)
    refusals.started = True
    logger.info(
        "started %d %s job(s) of %d worker(s) each (adapting up to %d jobs); "
        "dashboard: %s",
        minimum,
        queue,
        options["processes"],
        maximum,
        client.dashboard_link,
    )
    return client
