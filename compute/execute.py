"""Where a planned graph runs: on threads in this process, or on a Dask cluster.

The rule, when the caller passes no client (``compute.execution: auto``):
the current Client, or the scheduler named by Dask's ``scheduler-address``,
if there is one; otherwise this process's threads when the batch's estimated
cost is below ``compute.in-process-seconds``; otherwise a shared LocalCluster.
gmpy2 releases the GIL for big multiplications here, so threads use every
core without copying results between processes, and no cluster is started
for work that does not need one.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from multiprocessing.pool import ThreadPool
from typing import TYPE_CHECKING, Any, TypeVar

import dask
import dask.local
import dask.threaded
from dask.delayed import Delayed

from cluster.connect import cluster_configured, scheduler_address
from cluster.interrupts import in_helper_thread
from cluster.shared import current_client, note_interrupt, shared_client
from compute.capacity import in_process_threads
from compute.config import setting
from compute.kernels import releasing_gil
from compute.progress import cluster_progress, local_progress
from compute.tasks import submitting
from compute.toom_graph import ChunkedGraph, Output

if TYPE_CHECKING:
    from distributed import Client, Future

_Result = TypeVar("_Result")
_pool_lock = threading.Lock()
_pool: ThreadPool | None = None
_pool_threads = 0


def choose_client(
    client: Client | None,
    estimated_seconds: float,
    in_process_seconds: float | None = None,
    fits_local_cluster: Callable[[], bool] | None = None,
) -> Client | None:
    """The client to run on, or None to run in this process.

    Parameters
    ----------
    client : distributed.Client or None
        The caller's client; it always wins.
    estimated_seconds : float
        Estimated single-thread cost of the work.
    in_process_seconds : float, optional
        Cost from which a cluster is started when none is known; by default
        ``compute.in-process-seconds``.
    fits_local_cluster : callable, optional
        Whether the work can run on the LocalCluster that would be started.
        When it says no, the work stays in this process, which has the
        whole machine's memory where a LocalCluster splits it between its
        workers (unless ``compute.execution`` is ``cluster``).

    Raises
    ------
    ValueError
        If ``compute.execution`` is not one of auto, cluster, in-process.
    """
    setting("execution")  # checked even when the caller's client wins
    if client is not None:
        return client
    if runs_in_process(estimated_seconds, in_process_seconds, fits_local_cluster):
        return None
    return current_client() or shared_client()


def runs_in_process(
    estimated_seconds: float,
    in_process_seconds: float | None = None,
    fits_local_cluster: Callable[[], bool] | None = None,
) -> bool:
    """Whether :func:`choose_client` with no client picks this process.

    Answered without starting or connecting to any cluster; the parameters
    are :func:`choose_client`'s.
    """
    execution = setting("execution")
    if execution == "in-process":
        return True
    if current_client() is not None:
        return False
    if execution == "cluster" or cluster_configured():
        return False
    threshold = (
        setting("in-process-seconds")
        if in_process_seconds is None
        else in_process_seconds
    )
    return estimated_seconds < threshold or (
        fits_local_cluster is not None and not fits_local_cluster()
    )


def close_thread_pool() -> None:
    """Close this process's thread pool, if it has one (also done at exit)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()


atexit.register(close_thread_pool)


def _thread_pool() -> ThreadPool:
    """One pool, reused by every call; replaced when ``compute.threads`` changes.

    multiprocessing's ThreadPool has daemon threads: an interrupted script
    exits without waiting for a multiplication still running in one.
    """
    global _pool, _pool_threads
    threads = in_process_threads()
    with _pool_lock:
        if _pool is not None and _pool_threads == threads:
            return _pool
        if _pool is not None:
            _pool.close()  # its workers finish what they hold, then exit
        _pool, _pool_threads = ThreadPool(threads), threads
        return _pool


def run_in_process(
    outputs: Sequence[Delayed],
    progress: bool = False,
    output_bits: Sequence[float] = (),
) -> list[object]:
    """Compute ``outputs`` on this process's threads, optionally with a progress bar.

    The bar (on stderr) weighs each task by its estimated cost, from the
    outputs' estimated bits (``output_bits``, in order).
    """
    # The scheduler is passed as a function: given its name, dask.compute
    # imports distributed to look for a Client, which costs half a second.
    # A single task gains nothing from threads and runs here, saving the handoff.
    single_task = sum(len(output.__dask_graph__()) for output in outputs) == 1
    scheduler = dask.local.get_sync if single_task else dask.threaded.get
    options = {} if single_task else {"pool": _thread_pool()}
    bits = _bits_by_key(outputs, output_bits)
    watched = (
        local_progress(sys.stderr, _graph(outputs), bits)
        if progress
        else contextlib.nullcontext()
    )
    with watched:
        return list(dask.compute(*outputs, scheduler=scheduler, **options))


def interruptible(function: Callable[..., _Result], *args: object) -> _Result:
    """``function(*args)`` in a helper thread, waited on so that Ctrl-C gets through.

    A long GMP call in the main thread holds off Python's signal handling
    until it returns (seconds, for the top split of a large value). Run in a
    daemon thread with gmpy2 allowed to release the GIL, it leaves the main
    thread free to raise KeyboardInterrupt at once.
    """
    return in_helper_thread(releasing_gil(function), *args)


@contextlib.contextmanager
def cluster_work(client: Client, futures: Sequence[object]) -> Iterator[None]:
    """Wait on ``futures`` inside this; leaving it early takes their work away.

    An interrupt or error cancels the futures on the cluster before it goes
    on up; a scheduler lost meanwhile becomes a ConnectionError naming it.
    """
    try:
        yield
    except (asyncio.CancelledError, concurrent.futures.CancelledError) as error:
        if client.status == "running":
            raise
        raise ConnectionError(
            f"lost the Dask scheduler at {scheduler_address(client)} during the "
            "computation; its work is gone, run the call again once it is back"
        ) from error
    except BaseException as error:
        with contextlib.suppress(Exception):
            client.cancel([future for future in futures if future is not None])
        if isinstance(error, KeyboardInterrupt):
            note_interrupt(client)
        raise


def _bits_by_key(outputs: Sequence[Output], bits: Sequence[float]) -> dict[Any, float]:
    """Each output's key with its estimated bits (a chunked one's, per chunk)."""
    by_key: dict[Any, float] = {}
    for output, estimate in zip(outputs, bits, strict=False):
        if isinstance(output, ChunkedGraph):
            by_key.update(dict.fromkeys(output.keys, estimate / len(output.keys)))
        else:
            by_key[output.key] = estimate
    return by_key


def _graph(outputs: Sequence[Output]) -> dict[Any, Any]:
    """The tasks of all ``outputs``, one mapping."""
    graph: dict[Any, Any] = {}
    for output in outputs:
        if isinstance(output, ChunkedGraph):
            graph.update(output.graph.tasks)
        else:
            graph.update(output.__dask_graph__())
    return graph


def run_on_cluster(
    outputs: Sequence[Output],
    client: Client,
    progress: bool = False,
    output_bits: Sequence[float] = (),
) -> list[object]:
    """Compute ``outputs`` on ``client``'s cluster and gather the results here.

    With ``progress``, a bar on stderr as for :func:`run_in_process`.
    """
    if not progress:
        return _run_on_cluster(outputs, client)
    with cluster_progress(
        sys.stderr, client, _graph(outputs), _bits_by_key(outputs, output_bits)
    ):
        return _run_on_cluster(outputs, client)


def _run_on_cluster(outputs: Sequence[Output], client: Client) -> list[object]:
    from compute import wire  # imports distributed: the cluster path only

    wire.register_on(client)
    _settle_releases(client)
    chunked = {
        index: output
        for index, output in enumerate(outputs)
        if isinstance(output, ChunkedGraph)
    }
    if chunked:
        return _run_with_chunked(outputs, chunked, client)
    with submitting():
        futures = client.compute(list(outputs))
    with cluster_work(client, futures):
        if len(futures) == 1:
            return client.gather(futures)
        return _gather_as_completed(client, futures)


def _settle_releases(client: Client) -> None:
    """Let ``client`` send the releases of futures dropped before this call.

    A dropped future queues its release on the client's event loop. A call
    right after it for the same keys must not submit them before that release
    has gone out: the scheduler then forgets the new call's results while
    they are gathered ("Couldn't gather keys", seen 268 times in 300 warm
    calls without this). One pass of the loop, no scheduler round trip.
    """
    client.sync(asyncio.sleep, 0)


def _run_with_chunked(
    outputs: Sequence[Output],
    chunked: Mapping[int, ChunkedGraph],
    client: Client,
) -> list[object]:
    """As :func:`run_on_cluster`, for outputs some of which stay in chunks.

    Each chunked value is received chunk by chunk into one buffer here
    (:meth:`compute.chunked.ChunkedInteger.to_mpz`), each chunk dropped on its
    worker once received.
    """
    from compute.chunked import ChunkedInteger

    plain = [output for index, output in enumerate(outputs) if index not in chunked]
    submitted = {
        index: ChunkedInteger.submit(graph, client) for index, graph in chunked.items()
    }
    every = [future for value in submitted.values() for future in value.chunks]
    with cluster_work(client, every):
        values = iter(_run_on_cluster(plain, client) if plain else [])
        results: list[object] = []
        for index in range(len(outputs)):
            if index in chunked:
                results.append(submitted.pop(index).to_mpz(release=True))
            else:
                results.append(next(values))
        return results


def _gather_as_completed(client: Client, futures: list[Future]) -> list[object]:
    """Each result as its task finishes: transfers overlap the work still running."""
    from distributed import as_completed

    positions: dict[object, list[int]] = {}
    for position, future in enumerate(futures):
        positions.setdefault(future.key, []).append(position)
    results: list[object] = [None] * len(futures)
    # The loop is named: ``client`` need not be the default client.
    # with_results fetches each result as it completes, concurrently with
    # the rest (one result() after another gained nothing: 1.02-1.14x).
    finished = as_completed(futures, loop=client.loop, with_results=True)
    try:
        for future, value in finished:
            if future.status == "cancelled":  # yielded as a value, not raised
                raise concurrent.futures.CancelledError(future.key)
            for position in positions[future.key]:
                results[position] = value
    except (asyncio.CancelledError, concurrent.futures.CancelledError):
        # A lost scheduler cancels the work a moment before the client
        # notices; give it that moment, so that cluster_work can tell a lost
        # scheduler from a cancellation.
        deadline = time.monotonic() + 2
        while client.status == "running" and time.monotonic() < deadline:
            time.sleep(0.02)
        raise
    return results
