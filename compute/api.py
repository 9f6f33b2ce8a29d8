"""The public functions: validate, plan, build the graph, run it, reorder."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from dask.delayed import Delayed
from gmpy2 import mpz

from cluster.connect import scheduler_address
from compute.capacity import cluster_capacity, in_process_threads, machine_bytes
from compute.execute import choose_client, run_in_process, run_on_cluster
from compute.graph import Located, batch_graph, pick, products_graph
from compute.plan import batch_seconds, plan_batch, plan_products, products_seconds
from compute.products import Product
from compute.validate import (
    as_count,
    as_counts,
    check_fits,
    check_fits_here,
    check_sizes,
)

if TYPE_CHECKING:
    from distributed import Client


_Key = TypeVar("_Key")


def _run_planned(
    client: Client | None,
    seconds: float,
    build: Callable[[int], tuple[list[Delayed], dict[_Key, Located]]],
    check_cluster: Callable[[float, str], None],
    progress: bool,
) -> tuple[list[object], dict[_Key, Located], Client | None]:
    """Choose where to run, build the graph for its threads, and run it.

    ``build(threads)`` gives the outputs and where each value will be;
    ``check_cluster(worker_bytes, where)`` refuses work too large for the
    chosen cluster's workers before anything is sent.
    """
    client = choose_client(client, seconds)
    if client is None:
        outputs, located = build(in_process_threads())
        return run_in_process(outputs, progress), located, None
    worker_bytes, threads = cluster_capacity(client)
    check_cluster(worker_bytes, f"the cluster at {scheduler_address(client)}")
    outputs, located = build(threads)
    return run_on_cluster(outputs, client, progress), located, client


def run_batch(
    values: list[int],
    client: Client | None,
    progress: bool = False,
    positions: bool = True,
) -> tuple[list[mpz], Client | None]:
    """Factorials of validated ``values`` in order, and the client used (or None).

    Shared by the public functions and the command line; ``progress`` shows a
    progress bar while the work runs, ``positions`` names an offending n's
    position in errors (for batches).
    """
    # This machine's memory bounds every result that comes back here, so it
    # is checked before a cluster is chosen, let alone started.
    check_fits_here(values, positions)
    distinct = sorted(set(values))
    computed, located, client = _run_planned(
        client,
        batch_seconds(distinct),
        lambda threads: batch_graph(plan_batch(distinct, threads)),
        lambda worker_bytes, where: check_fits(
            values, worker_bytes, machine_bytes(), where, positions
        ),
        progress,
    )
    by_n = {n: pick(computed, located[n]) for n in distinct}
    return [by_n[n] for n in values], client


def _sizes(
    products: list[Product], positions: bool
) -> list[tuple[object, str, str, float]]:
    return [
        (
            product,
            f"{product.label}{f' at position {i}' if positions else ''}",
            "the result",
            product.bytes,
        )
        for i, product in enumerate(products)
    ]


def check_products_here(products: list[Product], positions: bool = True) -> None:
    """Refuse ``products`` whose values cannot fit in this machine's memory."""
    memory = machine_bytes()
    check_sizes(_sizes(products, positions), memory, memory, "this machine")


def run_products(
    products: list[Product],
    client: Client | None,
    progress: bool = False,
    positions: bool = True,
) -> tuple[list[mpz], Client | None]:
    """Values of validated ``products`` in order, and the client used (or None).

    The engine behind every function but the factorial (whose batches also
    share work along walks): the same memory checks, choice of where to run,
    and progress bar as :func:`run_batch`.
    """
    check_products_here(products, positions)
    distinct = list(dict.fromkeys(products))
    computed, located, client = _run_planned(
        client,
        products_seconds(distinct),
        lambda threads: products_graph(plan_products(distinct, threads)),
        lambda worker_bytes, where: check_sizes(
            _sizes(products, positions), worker_bytes, machine_bytes(), where
        ),
        progress,
    )
    by_product = {product: pick(computed, located[product]) for product in distinct}
    return [by_product[product] for product in products], client


def factorial(n: int, *, client: Client | None = None) -> mpz:
    """Exact ``n!`` computed on a Dask cluster.

    Parameters
    ----------
    n : int
        A non-negative integer (any ``numbers.Integral``; ``True`` counts as 1
        as in :func:`math.factorial`).
    client : distributed.Client, optional
        Where to run. By default (``compute.execution: auto``): the current
        Client or the scheduler Dask's config names, if any; else this
        process's threads when the estimated cost is below
        ``compute.in-process-seconds``; else a shared LocalCluster from
        :func:`cluster.connect`, shut down when the process exits.

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
    return run_batch([as_count(n)], client, positions=False)[0][0]


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
    return run_batch(values, client)[0]


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
    check_fits_here([value], positions=False)
    outputs, located = batch_graph(plan_batch([value]))
    return outputs[located[value].output]
