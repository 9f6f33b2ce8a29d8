"""Planning: from distinct n to walks and split factorials, by estimated cost.

A batch is sorted and cut into *walks*. A walk starts from one factorial,
computed from scratch, and reaches each further n by multiplying in the range
product over the gap (``b! = a! * (a+1)...b``), which is far cheaper than
computing ``b!`` again. A start whose estimated cost exceeds
``compute.split-seconds`` is *split*: its odd part becomes several prime-power
pieces computed in parallel and multiplied together.

Costs are estimates in seconds of one thread (see ``compute.yaml``); they only
steer granularity, never correctness.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import dask.utils

from compute import toom_graph
from compute.capacity import in_process_threads, machine_bytes
from compute.config import setting
from compute.cost import (
    factorial_seconds,
    needs_lean,
    product_seconds,
    step_seconds,
    working_bytes,
)
from compute.products import KINDS, Kind, Product, factorial_product


@dataclass(frozen=True)
class Split:
    """How one large product is split into pieces computed in parallel."""

    product: Product
    pieces: int
    blocks_per_piece: int
    spread: Spread | None = None
    # A factorial in square form, for memory (see split_for).
    lean: bool = False
    # For a lean split: glibc's fixed heap thresholds, in bytes, or None.
    heap_threshold: int | None = None


@dataclass(frozen=True)
class SmallBatch:
    """Values of one kind computed by GMP one call each, in one task."""

    kind: Kind
    products: tuple[Product, ...]


@dataclass(frozen=True)
class Walk:
    """Factorials of ``targets`` reached from ``start!``.

    ``start!`` is computed by ``gmpy2.fac`` inside the walk's task when
    ``split`` is None, else by the split graph. ``targets`` is ascending and
    begins with ``start`` itself.
    """

    start: int
    split: Split | None
    targets: tuple[int, ...]


@dataclass(frozen=True)
class Spread:
    """The top levels of a split product's tree, run as distributed products.

    ``ways[l]`` is Toom's k for each product at level ``l`` from the top
    (level 0 is the last product); the values entering the first distributed
    level are cut into chunks of ``chunk_bits``.
    """

    ways: tuple[int, ...]
    chunk_bits: int
    # A factorial in square form (compute.graph.split_graph), see spread_for.
    square_form: bool = False


# Threads from which levels below a level spread for memory are spread for
# speed too, when compute.distributed-threads is null. 5e7! on the scale model
# (one-core hosts, 1 Gbit/s), spread for speed alone: 21.4 s at 4 hosts and
# 18.7 s at 16, against 15.7 s and 16.3 s as a plain tree. 1e8! on 16 hosts
# of 1.5 GiB spread only where memory forced it (Toom-8 at the top): its plain
# products of 157 MB below, estimated at 1.256 of the 1.264 GB usable, made
# workers pass 95% of their memory and restart; spread below too, it ran
# exact in 42.7 s.
BELOW_SPREAD_THREADS = 4


def spread_for(
    product: Product, threads: int, worker_bytes: float, pieces: int
) -> Spread | None:
    """How the top of ``product``'s tree spreads over workers, or None.

    A tree level is distributed when one of its products cannot be finished
    by one worker (``compute.memory-factor`` times its size exceeds
    ``worker_bytes``), or, for speed, when the cluster has at least
    ``compute.distributed-threads`` threads, more than the level has
    products, and the product is estimated above
    ``compute.distributed-seconds``. With ``compute.distributed-threads``
    null (the default), a level is spread for speed only below a level
    spread for memory, with :data:`BELOW_SPREAD_THREADS`: on one-core hosts
    with 1 Gbit/s links, a plain tree of products beat Toom levels spread for
    speed alone, while below a spread level the plain products crowd the
    workers that hold the spread value.
    Only the prime form is spread (its last step is a shift). On fewer
    than :data:`BELOW_SPREAD_THREADS` threads, where a spread is bound by its
    work, a factorial is spread in square form (``square_form``,
    :func:`compute.graph.split_graph`): its top level a squaring of the root,
    the levels below the roots' products, half the size of the prime form's.
    3e8! on two 1.4 GB workers: 0.73x the task seconds, 0.77x the time. On
    more threads its extra last stage (the square times the odd part) waits
    for the squaring: 1e8! on 16 hosts of the scale model took 36.96 s in
    square form against 23.10 s in prime form.
    """
    if not product.prime_form or pieces < 2:
        return None
    factor = setting("memory-factor")
    speed_threads = setting("distributed-threads")
    ways: list[int] = []
    level_bytes, products_at_level = product.bytes, 1
    while products_at_level * 2 <= pieces:
        too_big = factor * level_bytes > worker_bytes
        least_threads = speed_threads
        if least_threads is None and ways:
            least_threads = BELOW_SPREAD_THREADS
        idle = (
            least_threads is not None
            and threads >= least_threads
            and products_at_level < threads
            and product_seconds(8 * level_bytes) >= setting("distributed-seconds")
        )
        if not (too_big or idle):
            break
        k = toom_graph.ways_for(max(1, threads // products_at_level))
        if too_big:
            k = max(k, toom_graph.ways_to_fit(level_bytes, worker_bytes, factor))
        ways.append(k)
        level_bytes, products_at_level = level_bytes / 2, products_at_level * 2
    if not ways:
        return None
    square_form = threads < BELOW_SPREAD_THREADS
    return Spread(tuple(ways), toom_graph.default_chunk_bits(), square_form)


def _pieces_for_leaves(pieces: int, leaves: int) -> int:
    """At least ``pieces``, a power-of-two multiple of a spread's ``leaves``.

    Below a spread, a balanced tree of products pairs the pieces down to the
    spread's leaves, each planned as ``1/leaves`` of the product. Any other
    count leaves fewer, larger values: 3e9! as 42 pieces gave 11 values of up
    to 1.09 GB where 16 of 0.70 GB were planned, and their two-thread
    products grew a worker by 6.65 GB against a plan of 6.17 GB.
    """
    if pieces <= leaves:
        return leaves
    return leaves * 2 ** math.ceil(math.log2(pieces / leaves))


def _lean_heap_threshold() -> int | None:
    """``compute.lean-heap-threshold`` in bytes, or None."""
    threshold = setting("lean-heap-threshold")
    return None if threshold is None else int(dask.utils.parse_bytes(threshold))


def split_for(
    n: int, threads: int, worker_bytes: float | None = None, spread: bool = True
) -> Split | None:
    """The split of ``n!`` across ``threads``, or None if one task is cheaper.

    With ``worker_bytes`` (a cluster's usable memory per worker) and
    ``spread`` (the cluster's workers can hold a value spread over them,
    :func:`compute.cost.can_spread`), the top of the split's product tree is
    spread over workers where :func:`spread_for` says so. Otherwise (in this
    process, or on a cluster of one worker), a split whose two-thread
    products would not fit the memory is lean
    (:func:`compute.cost.needs_lean`): its last step is a squaring
    (:func:`compute.kernels.square_form_piece`), so that whatever
    ``gmpy2.fac`` computes on a host, a split computes there too. On one
    thread, a factorial that fits without lean and within
    ``compute.task-seconds`` is one ``gmpy2.fac`` task: pieces would only add
    a product.
    """
    split = split_product(factorial_product(n), threads)
    if split is None:
        return split
    if worker_bytes is not None and spread:
        spread_at = spread_for(split.product, threads, worker_bytes, split.pieces)
        if spread_at is None:
            return split
        # Pieces small enough that one, with its working space, takes at most
        # half a worker: the rest holds that worker's share of the chunks.
        fitting = math.ceil(2 * working_bytes(split.product.bytes) / worker_bytes)
        pieces = max(split.pieces, threads * math.ceil(fitting / threads))
        spread_at = spread_for(split.product, threads, worker_bytes, pieces)
        if spread_at is None:
            return split
        pieces = _pieces_for_leaves(pieces, 2 ** len(spread_at.ways))
        return dataclasses.replace(split, pieces=pieces, spread=spread_at)
    memory = machine_bytes() if worker_bytes is None else worker_bytes
    if needs_lean(split.product.bytes, memory):
        # One piece per thread: each level of the tree above the pieces
        # costs about one more product of the roots, and here no task needs
        # to be short (10**9! as products of two halves: 2 pieces 501 s, 14
        # pieces 644 s; 1e8! on one thread of a 1.5 GiB worker: 1 piece
        # 42.9 s, 2 pieces 46.6 s, medians of 5).
        return dataclasses.replace(
            split,
            lean=True,
            pieces=threads,
            heap_threshold=_lean_heap_threshold(),
        )
    if threads == 1 and product_seconds(split.product.bits) <= setting("task-seconds"):
        # On one thread the pieces run in turn and add a full-size product:
        # 5e7! on one worker of one thread, split 0.925x one gmpy2.fac task.
        return None
    return split


def split_product(
    product: Product, threads: int, seconds: float | None = None
) -> Split | None:
    """The split of ``product`` across ``threads``, or None if one task is cheaper.

    ``seconds`` is its estimated single-thread cost, if the caller has it.
    """
    if seconds is None:
        seconds = product_seconds(product.bits)
    if seconds <= setting("split-seconds") or product.limit < 64:
        return None
    # A multiple of the thread count, so that every thread gets equal work,
    # and enough pieces that none exceeds compute.task-seconds.
    rounds = math.ceil(seconds / (threads * setting("task-seconds")))
    return Split(
        product=product,
        pieces=max(2, threads * rounds),
        blocks_per_piece=setting("blocks-per-piece"),
    )


def plan_products(
    products: Sequence[Product], threads: int | None = None, in_process: bool = False
) -> list[Split | SmallBatch]:
    """Distinct ``products`` as splits (large ones) and small batches by kind.

    Small values are grouped in input order into tasks of balanced estimated
    cost, enough of them to keep ``threads`` busy (as batch walks are). In
    this process (``in_process``), the small values of a kind whose kernel
    keeps the GIL (:data:`compute.products.KINDS`) are one task:
    more would only take turns on the GIL. Every product is in exactly one
    returned item.
    """
    if threads is None:
        threads = in_process_threads()
    each_seconds = [product_seconds(product.bits) for product in products]
    budget = max(
        setting("min-task-seconds"),
        sum(each_seconds) / (threads * setting("tasks-per-thread")),
    )
    planned: list[Split | SmallBatch] = []
    open_batches: dict[Kind, tuple[list[Product], float]] = {}
    for product, product_cost in zip(products, each_seconds, strict=True):
        split = split_product(product, threads, product_cost)
        if split is not None:
            planned.append(split)
            continue
        batch, seconds = open_batches.get(product.kind, ([], 0.0))
        batch.append(product)
        seconds += product_cost
        gil_bound = KINDS[product.kind].gil_bound
        if seconds >= budget and not (in_process and gil_bound):
            planned.append(SmallBatch(product.kind, tuple(batch)))
            batch, seconds = [], 0.0
        open_batches[product.kind] = (batch, seconds)
    planned.extend(
        SmallBatch(kind, tuple(batch))
        for kind, (batch, _) in open_batches.items()
        if batch
    )
    return planned


def products_seconds(products: Sequence[Product]) -> float:
    """Estimated single-thread seconds for all of ``products``."""
    return sum(product_seconds(product.bits) for product in products)


def _cut_walks(
    ns: Sequence[int],
    threads: int,
    budget: float,
    worker_bytes: float | None = None,
    spread: bool = True,
) -> tuple[list[Walk], float]:
    """The walks of ``ns`` and their estimated single-thread seconds in all."""
    walks: list[Walk] = []
    seconds = 0.0
    targets: list[int] = []
    walk_seconds = 0.0
    start_split: Split | None = None
    split_seconds = setting("split-seconds")
    for n in ns:
        fresh = factorial_seconds(n)
        if targets:
            step = step_seconds(targets[-1], n)
            # A split start is its own task, so its walk has no budget of its own.
            within_budget = start_split is not None or walk_seconds + step <= budget
            # A spread start stays in chunks on the workers: nothing walks on.
            spread = start_split is not None and start_split.spread is not None
            if step < fresh and within_budget and not spread:
                targets.append(n)
                walk_seconds += step
                seconds += step
                continue
            walks.append(Walk(targets[0], start_split, tuple(targets)))
        targets = [n]
        seconds += fresh
        start_split = split_for(n, threads, worker_bytes, spread)
        walk_seconds = 0.0 if fresh > split_seconds else fresh
    if targets:
        walks.append(Walk(targets[0], start_split, tuple(targets)))
    return walks, seconds


def plan_batch(
    ns: Sequence[int],
    threads: int | None = None,
    worker_bytes: float | None = None,
    seconds: float | None = None,
    spread: bool = True,
) -> list[Walk]:
    """Cut distinct, ascending ``ns`` into walks of balanced estimated cost.

    Parameters
    ----------
    ns : sequence of int
        Distinct non-negative values in ascending order.
    threads : int, optional
        Worker threads the graph will run on; defaults to
        :func:`compute.capacity.in_process_threads`.
    worker_bytes : float, optional
        Usable memory per worker of the cluster it will run on; None (in
        process) never spreads a product over workers.
    seconds : float, optional
        ``batch_seconds(ns)``, when the caller has it already.
    spread : bool
        Whether the cluster's workers can hold a value spread over them
        (:func:`compute.cost.can_spread`); if not, a factorial too large for
        two-thread products is computed lean (see :func:`split_for`).

    Returns
    -------
    list of Walk
        Every value of ``ns`` appears in exactly one walk's ``targets``.

    Examples
    --------
    >>> [walk.targets for walk in plan_batch([5263, 5310, 7854], threads=2)]
    [(5263, 5310, 7854)]
    """
    if threads is None:
        threads = in_process_threads()
    if seconds is None:
        seconds = batch_seconds(ns)
    budget = max(
        setting("min-task-seconds"), seconds / (threads * setting("tasks-per-thread"))
    )
    return _cut_walks(ns, threads, budget, worker_bytes, spread)[0]


def batch_seconds(ns: Sequence[int]) -> float:
    """Estimated single-thread seconds for the factorials of ``ns``.

    ``ns`` are distinct and ascending; work shared along walks is counted once
    (walks as long as sharing pays, whatever the threads).
    """
    return _cut_walks(ns, 1, math.inf)[1]
