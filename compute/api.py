"""The public functions: validate, plan, build the graph, run it, reorder."""

from __future__ import annotations

from collections.abc import Iterable

import psutil
from dask.delayed import Delayed
from distributed import Client
from gmpy2 import mpz

from cluster.shared import client_for
from compute.graph import batch_graph, pick
from compute.plan import plan_batch
from compute.validate import as_count, as_counts, check_fits


def _machine_bytes() -> float:
    return float(psutil.virtual_memory().total)


def _capacity(client: Client) -> tuple[float, int]:
    """Largest worker memory limit and total worker threads of ``client``'s cluster."""
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    limits = [worker.get("memory_limit") or 0 for worker in workers]
    threads = sum(worker.get("nthreads", 1) for worker in workers)
    worker_bytes = max(limits) if limits and all(limits) else _machine_bytes()
    return float(worker_bytes), max(threads, 1)


def _run(values: list[int], client: Client | None) -> list[mpz]:
    client = client_for(client)
    worker_bytes, threads = _capacity(client)
    where = f"the cluster at {client.scheduler.address}"
    check_fits(values, worker_bytes, _machine_bytes(), where)
    distinct = sorted(set(values))
    outputs, located = batch_graph(plan_batch(distinct, threads))
    futures = client.compute(outputs)
    try:
        computed = client.gather(futures)
    except BaseException:
        # Interrupted or failed: take the work off the cluster before leaving.
        client.cancel(futures)
        raise
    by_n = {n: pick(computed, located[n]) for n in distinct}
    return [by_n[n] for n in values]


def factorial(n: int, *, client: Client | None = None) -> mpz:
    """Exact ``n!`` computed on a Dask cluster.

    Parameters
    ----------
    n : int
        A non-negative integer (any ``numbers.Integral``; ``True`` counts as 1
        as in :func:`math.factorial`).
    client : distributed.Client, optional
        Where to run. By default the current Client, else a shared one from
        :func:`cluster.connect` (the scheduler Dask's config names, or a
        LocalCluster on this machine, shut down when the process exits).

    Returns
    -------
    gmpy2.mpz
        Equal to ``gmpy2.fac(n)``.

    Raises
    ------
    TypeError
        If ``n`` is not an integer (floats such as ``5.0`` included).
    ValueError
        If ``n`` is negative, or its factorial cannot fit in the workers'
        memory (checked before any work is submitted).

    Examples
    --------
    >>> import compute
    >>> compute.factorial(20)
    mpz(2432902008176640000)
    """
    return _run([as_count(n)], client)[0]


def factorial_many(ns: Iterable[int], *, client: Client | None = None) -> list[mpz]:
    """Exact factorials of many n, in input order, sharing work across the batch.

    The distinct values are sorted; each is reached from the one below it by
    multiplying in the product over the gap, and large ones are split into
    pieces that run in parallel.

    Parameters
    ----------
    ns : iterable of int
        Python ints, numpy integer scalars, a numpy integer array, or any
        ``numbers.Integral``; duplicates are allowed.
    client : distributed.Client, optional
        As for :func:`factorial`.

    Returns
    -------
    list of gmpy2.mpz
        ``[gmpy2.fac(n) for n in ns]``; ``[]`` for empty input.

    Raises
    ------
    TypeError
        If ``ns`` is not an iterable, or an item is not an integer; the message
        names the item and its position.
    ValueError
        If an item is negative, or a result cannot fit in memory.

    Examples
    --------
    >>> import compute
    >>> [int(x) for x in compute.factorial_many([3, 0, 5, 3])]
    [6, 1, 120, 6]
    """
    values = as_counts(ns)
    if not values:
        return []
    return _run(values, client)


def factorial_delayed(n: int) -> Delayed:
    """The graph of ``n!`` as a :class:`dask.delayed.Delayed`.

    It runs on any Dask scheduler: ``.compute(scheduler="sync")``, the
    threaded scheduler, or a distributed Client. Large n are split into
    pieces planned for ``compute.threads`` workers (default: this machine's
    CPU count).

    Parameters
    ----------
    n : int
        A non-negative integer.

    Returns
    -------
    dask.delayed.Delayed
        Computes to ``gmpy2.fac(n)``.

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n`` is negative, or ``n!`` cannot fit in this machine's memory.

    Examples
    --------
    >>> import compute
    >>> compute.factorial_delayed(10).compute(scheduler="sync")
    mpz(3628800)
    """
    value = as_count(n)
    check_fits([value], _machine_bytes(), _machine_bytes(), "this machine")
    outputs, located = batch_graph(plan_batch([value]))
    return outputs[located[value].output]
