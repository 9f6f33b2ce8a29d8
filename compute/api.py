"""The public functions: validate, plan, build the graph, run it, reorder."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from dask.delayed import Delayed
from gmpy2 import mpz

from cluster.connect import cluster_configured, scheduler_address
from cluster.shared import current_client, shared_client
from compute.capacity import (
    cluster_memory,
    in_process_threads,
    local_cluster_memory,
    machine_bytes,
)
from compute.chunked import ChunkedInteger
from compute.config import setting
from compute.cost import factorial_bits, factorial_seconds
from compute.distributed import (
    ChunkedGraph,
    Output,
    chunk_count,
    chunks_of,
    default_chunk_bits,
    whole,
)
from compute.execute import (
    choose_client,
    run_in_process,
    run_on_cluster,
    runs_in_process,
)
from compute.graph import Located, batch_graph, pick, products_graph
from compute.plan import batch_seconds, plan_batch, plan_products, products_seconds
from compute.products import Product
from compute.tasks import TaskGraph
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
    build: Callable[[int, float | None], tuple[list[Output], dict[_Key, Located]]],
    check: Callable[[float, float | None, str], None],
    progress: bool,
    bits_of: Callable[[_Key], float],
) -> tuple[list[object], dict[_Key, Located], Client | None]:
    """Choose where to run, build the graph for its threads, and run it.

    ``build(threads, worker_bytes)`` gives the outputs and where each value
    will be (``worker_bytes`` None in this process); ``check(worker_bytes,
    cluster_bytes, where)`` refuses work too large for where it runs
    before anything is sent (``cluster_bytes`` None in this process);
    ``bits_of(value)`` weighs the progress bar.
    """

    client = choose_client(
        client, seconds, fits_local_cluster=lambda: _fits_local_cluster(check)
    )
    if client is None:
        check(machine_bytes(), None, "this machine")
        outputs, located = build(in_process_threads(), None)
        bits = _output_bits(len(outputs), located, bits_of)
        computed = run_in_process([whole(o) for o in outputs], progress, bits)
        return computed, located, None
    worker_bytes, cluster_bytes, threads = cluster_memory(client)
    check(worker_bytes, cluster_bytes, f"the cluster at {scheduler_address(client)}")
    outputs, located = build(threads, worker_bytes)
    bits = _output_bits(len(outputs), located, bits_of)
    return run_on_cluster(outputs, client, progress, bits), located, client


def _output_bits(
    count: int, located: dict[_Key, Located], bits_of: Callable[[_Key], float]
) -> list[float]:
    """The estimated bits each output holds: the values located in it."""
    bits = [0.0] * count
    for value, spot in located.items():
        bits[spot.output] += bits_of(value)
    return bits


def _fits_local_cluster(check: Callable[[float, float | None, str], None]) -> bool:
    """Whether the LocalCluster that would be started passes ``check``.

    Also True when this process would not pass it either: the cluster's
    refusal is then the one to give.
    """
    worker_bytes, cluster_bytes, _ = local_cluster_memory()
    return _passes(check, worker_bytes, cluster_bytes) or not _passes(
        check, machine_bytes(), None
    )


def _passes(
    check: Callable[[float, float | None, str], None],
    worker_bytes: float,
    cluster_bytes: float | None,
) -> bool:
    try:
        check(worker_bytes, cluster_bytes, "")
    except ValueError:
        return False
    return True


def _refusal_before_any_cluster(
    check: Callable[[float, float | None, str], None],
) -> str | None:
    """Why the default choice of where to run would refuse, or None.

    Decided from this machine's figures without starting a cluster: the
    work is refused when neither this process nor the LocalCluster that
    would be started passes ``check``, and the message names this machine.
    A current client or a configured scheduler is not asked: its own
    figures decide once it is reached.
    """
    if current_client() is not None or cluster_configured():
        return None
    execution = setting("execution")
    here = execution != "cluster" and _passes(check, machine_bytes(), None)
    worker_bytes, cluster_bytes, _ = local_cluster_memory()
    local = execution != "in-process" and _passes(check, worker_bytes, cluster_bytes)
    if here or local:
        return None
    try:
        if execution == "cluster":
            check(worker_bytes, cluster_bytes, "a local cluster of this machine")
        check(machine_bytes(), None, "this machine")
    except ValueError as refusal:
        return str(refusal)
    return None


def factorial_refusal(n: int) -> str | None:
    """Why ``n!`` would be refused with no client given, or None if it would run.

    For the command line, which prints a summary instead; decided before any
    cluster is started (see :func:`_refusal_before_any_cluster`).
    """
    try:
        check_fits_here([n], positions=False, spread=True)
    except ValueError as refusal:
        return str(refusal)
    return _refusal_before_any_cluster(_factorials_check([n], positions=False))


def product_refusal(product: Product) -> str | None:
    """As :func:`factorial_refusal`, for a product of another kind."""
    try:
        check_products_here([product], positions=False)
    except ValueError as refusal:
        return str(refusal)
    return _refusal_before_any_cluster(
        lambda worker_bytes, _, where: check_sizes(
            _sizes([product], False), worker_bytes, machine_bytes(), where
        )
    )


def _factorials_check(
    values: list[int], positions: bool
) -> Callable[[float, float | None, str], None]:
    """The memory check of ``values``' factorials, as :func:`_run_planned` takes it."""

    def check(worker_bytes: float, cluster_bytes: float | None, where: str) -> None:
        # In this process (no cluster_bytes) a factorial may be computed lean.
        check_fits(
            values,
            worker_bytes,
            machine_bytes(),
            where,
            positions,
            cluster_bytes,
            lean=cluster_bytes is None,
        )

    return check


def factorials_run_here(values: list[int]) -> bool:
    """Whether ``factorial_many(values)`` with no client runs in this process.

    Answered without starting or connecting to any cluster.
    """
    distinct = sorted(set(values))
    check = _factorials_check(distinct, positions=False)
    return runs_in_process(
        batch_seconds(distinct), fits_local_cluster=lambda: _fits_local_cluster(check)
    )


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
    # is checked before a cluster is chosen, let alone started; a result too
    # large for one worker may still be spread over a cluster's workers.
    check_fits_here(values, positions, spread=True)
    distinct = sorted(set(values))
    seconds = batch_seconds(distinct)
    computed, located, client = _run_planned(
        client,
        seconds,
        lambda threads, worker_bytes: batch_graph(
            plan_batch(distinct, threads, worker_bytes, seconds)
        ),
        _factorials_check(values, positions),
        progress,
        factorial_bits,
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
        lambda threads, worker_bytes: products_graph(
            plan_products(distinct, threads, in_process=worker_bytes is None)
        ),
        lambda worker_bytes, _, where: check_sizes(
            _sizes(products, positions), worker_bytes, machine_bytes(), where
        ),
        progress,
        lambda product: product.bits,
    )
    by_product = {product: pick(computed, located[product]) for product in distinct}
    return [by_product[product] for product in products], client


def factorial(n: int, *, client: Client | None = None) -> mpz:
    """Exact ``n!`` as a ``gmpy2.mpz``, computed where the config says.

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


def factorial_chunked(n: int, *, client: Client | None = None) -> ChunkedInteger:
    """Exact ``n!`` left on the cluster's workers as a :class:`ChunkedInteger`.

    For values too large for one process: no process ever holds it whole
    unless asked (``.to_mpz()``); ``compute.write_result(value, path,
    format="bin")`` streams it to a file. Large n are spread over the
    workers as for :func:`factorial`; smaller ones are computed as usual and
    cut into chunks.

    Parameters
    ----------
    n : int
        A non-negative integer.
    client : distributed.Client, optional
        The cluster; by default the one :func:`factorial` would use, and a
        shared LocalCluster when that would be this process.

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n`` is negative, or ``n!`` cannot fit in the cluster.

    Returns
    -------
    ChunkedInteger
        ``n!`` as chunks on the workers of ``client``.

    Examples
    --------
    >>> import cluster, compute, gmpy2
    >>> with cluster.connect(processes=False, n_workers=1) as client:
    ...     value = compute.factorial_chunked(3000, client=client)
    ...     value.to_mpz() == gmpy2.fac(3000)
    True
    """
    value = as_count(n)
    check_fits_here([value], positions=False, spread=True)
    client = choose_client(client, factorial_seconds(value), 0.0) or shared_client()
    worker_bytes, cluster_bytes, threads = cluster_memory(client)
    where = f"the cluster at {scheduler_address(client)}"
    check_fits([value], worker_bytes, math.inf, where, False, cluster_bytes)
    outputs, located = batch_graph(plan_batch([value], threads, worker_bytes))
    output = outputs[located[value].output]
    from compute import wire  # imports distributed: the cluster path only

    wire.register_on(client)
    if not isinstance(output, ChunkedGraph):
        graph = TaskGraph()
        chunk_bits = default_chunk_bits()
        count = chunk_count(factorial_bits(value) + 64, chunk_bits)
        chunks = chunks_of(graph, graph.include(output), chunk_bits, count, value)
        output = ChunkedGraph(graph, chunks, chunk_bits)
    return ChunkedInteger.submit(output, client)


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
    return whole(outputs[located[value].output])
