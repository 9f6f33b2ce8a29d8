"""The engine behind every public function and the command line.

Validated work is checked for memory, a place to run is chosen (this
process's threads or a Dask cluster), its graph is planned for that place's
threads and memory, run, and the results put back in the caller's order.
Refusals can also be asked for before any cluster starts, as the command
line does.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from gmpy2 import mpz

from cluster.connect import cluster_configured, scheduler_address
from cluster.shared import current_client, shared_client
from compute.admission import (
    ResultSize,
    check_fits,
    check_fits_here,
    check_sizes,
    format_bytes,
    spills,
)
from compute.capacity import (
    cluster_memory,
    cluster_scratch_bytes,
    in_process_threads,
    local_cluster_memory,
    local_scratch_bytes,
    machine_bytes,
    spill_task_bytes,
)
from compute.checkpoint import (
    SAVED_STAGES,
    SPILLING_SAVED_STAGES,
    checkpointed_outputs,
)
from compute.checks import checked_outputs
from compute.chunked import ChunkedInteger
from compute.config import setting
from compute.cost import (
    can_spread,
    factorial_bits,
    factorial_bytes,
    factorial_seconds,
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
from compute.progress import cluster_progress
from compute.tasks import TaskGraph
from compute.toom_graph import (
    ChunkedGraph,
    Output,
    chunk_count,
    cut_task,
    default_chunk_bits,
    whole,
)

if TYPE_CHECKING:
    from distributed import Client


logger = logging.getLogger(__name__)
_Key = TypeVar("_Key")
# check(worker_bytes, cluster_bytes, where) refuses work too large for where
# it would run (cluster_bytes None in this process) with a ValueError.
MemoryCheck = Callable[[float, float | None, str], None]


def _run_planned(
    client: Client | None,
    seconds: float,
    build: Callable[
        [int, float | None, float | None], tuple[list[Output], dict[_Key, Located]]
    ],
    check: MemoryCheck,
    progress: bool,
    bits_of: Callable[[_Key], float],
    checkpoint: Path | None = None,
) -> tuple[list[object], dict[_Key, Located], Client | None]:
    """Choose where to run, build the graph for its threads, and run it.

    ``build(threads, worker_bytes, cluster_bytes)`` gives the outputs and
    where each value will be (both None in this process); ``check(worker_bytes,
    cluster_bytes, where)`` refuses work too large for where it runs
    before anything is sent (``cluster_bytes`` None in this process);
    ``bits_of(value)`` weighs the progress bar; with a ``checkpoint``
    directory, saved results are used and new ones saved
    (:mod:`compute.checkpoint`).
    """

    client = choose_client(
        client, seconds, fits_local_cluster=lambda: _fits_local_cluster(check)
    )
    if client is None:
        check(machine_bytes(), None, "this machine")
        outputs, located = build(in_process_threads(), None, None)
        outputs = checked_outputs(outputs)
        if checkpoint is not None:
            outputs = checkpointed_outputs(outputs, checkpoint)
        bits = _output_bits(len(outputs), located, bits_of)
        computed = run_in_process([whole(o) for o in outputs], progress, bits)
        return computed, located, None
    worker_bytes, cluster_bytes, threads = cluster_memory(client)
    check(worker_bytes, cluster_bytes, f"the cluster at {scheduler_address(client)}")
    outputs, located = build(threads, worker_bytes, cluster_bytes)
    outputs = checked_outputs(outputs)
    if checkpoint is not None:
        outputs = checkpointed_outputs(outputs, checkpoint)
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


def _fits_local_cluster(check: MemoryCheck) -> bool:
    """Whether the LocalCluster that would be started passes ``check``.

    Also True when this process would not pass it either: the cluster's
    refusal is then the one to give.
    """
    worker_bytes, cluster_bytes, _ = local_cluster_memory()
    return _passes(check, worker_bytes, cluster_bytes) or not _passes(
        check, machine_bytes(), None
    )


def _passes(
    check: MemoryCheck,
    worker_bytes: float,
    cluster_bytes: float | None,
) -> bool:
    try:
        check(worker_bytes, cluster_bytes, "")
    except ValueError:
        return False
    return True


def _refusal_before_any_cluster(
    check: MemoryCheck, cluster_first: bool = False
) -> str | None:
    """Why the default choice of where to run would refuse, or None.

    Decided from this machine's figures without starting a cluster: the
    work is refused when neither this process nor the LocalCluster that
    would be started passes ``check``, and the message names this machine
    (the LocalCluster, with ``cluster_first`` or ``compute.execution:
    cluster``). A current client or a configured scheduler is not asked:
    its own figures decide once it is reached.
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
        if execution == "cluster" or cluster_first:
            check(worker_bytes, cluster_bytes, "a local cluster of this machine")
        check(machine_bytes(), None, "this machine")
    except ValueError as refusal:
        return str(refusal)
    return None


def factorial_refusal(
    n: int,
    chunked: bool = False,
    reserved: Sequence[tuple[str | os.PathLike[str], float]] = (),
) -> str | None:
    """Why ``n!`` would be refused with no client given, or None if it would run.

    For the command line, which prints a summary instead; decided before any
    cluster is started (see :func:`_refusal_before_any_cluster`). A
    ``chunked`` result (:func:`run_chunked_factorial`) never comes whole to
    this process, and may also fill the LocalCluster's scratch disk
    (:func:`compute.capacity.local_scratch_bytes`), less what the run's own
    ``reserved`` files (folder, bytes) will take there.
    """
    if not chunked:
        try:
            check_fits_here([n], positions=False, spread=True)
        except ValueError as refusal:
            return str(refusal)
    scratch = local_scratch_bytes(reserved) if chunked else 0.0
    check = _factorials_check(
        [n],
        positions=False,
        scratch_bytes=scratch,
        caller_bytes=math.inf if chunked else None,
    )
    return _refusal_before_any_cluster(check, cluster_first=chunked)


def product_refusal(product: Product) -> str | None:
    """As :func:`factorial_refusal`, for a product of another kind."""
    try:
        check_products_here([product], positions=False)
    except ValueError as refusal:
        return str(refusal)
    return _refusal_before_any_cluster(_products_check([product], positions=False))


def _factorials_check(
    values: list[int],
    positions: bool,
    scratch_bytes: float = 0.0,
    caller_bytes: float | None = None,
) -> MemoryCheck:
    """The memory check of ``values``' factorials, as :func:`_run_planned`
    takes it; a cluster's workers may spill to ``scratch_bytes`` of disk.

    The caller receives the values whole and must hold them
    (``caller_bytes``, this machine's memory unless given): a value left in
    chunks on the workers is checked with ``math.inf``.
    """
    held_here = machine_bytes() if caller_bytes is None else caller_bytes

    def check(worker_bytes: float, cluster_bytes: float | None, where: str) -> None:
        # A factorial may be computed lean where it cannot be spread: in this
        # process (no cluster_bytes), or on a cluster of one worker.
        check_fits(
            values,
            worker_bytes,
            held_here,
            where,
            positions=positions,
            cluster_bytes=cluster_bytes,
            lean=not can_spread(worker_bytes, cluster_bytes),
            scratch_bytes=0.0 if cluster_bytes is None else scratch_bytes,
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
    checkpoint: Path | None = None,
) -> tuple[list[mpz], Client | None]:
    """Factorials of validated ``values`` in order, and the client used (or None).

    Shared by the public functions and the command line; ``progress`` shows a
    progress bar while the work runs, ``positions`` names an offending n's
    position in errors (for batches); ``checkpoint`` is a prepared run
    directory (:func:`compute.checkpoint.prepare`).
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
        lambda threads, worker_bytes, cluster_bytes: batch_graph(
            plan_batch(
                distinct,
                threads,
                worker_bytes,
                seconds,
                spread=can_spread(worker_bytes, cluster_bytes),
            )
        ),
        _factorials_check(values, positions),
        progress,
        factorial_bits,
        checkpoint,
    )
    by_n = {n: pick(computed, located[n]) for n in distinct}
    return [by_n[n] for n in values], client


def _sizes(products: list[Product], positions: bool) -> list[ResultSize]:
    return [
        ResultSize(
            product,
            f"{product.label}{f' at position {i}' if positions else ''}",
            "the result",
            product.bytes,
        )
        for i, product in enumerate(products)
    ]


def _products_check(products: list[Product], positions: bool) -> MemoryCheck:
    """The memory check of ``products``, as :func:`_run_planned` takes it."""

    def check(worker_bytes: float, cluster_bytes: float | None, where: str) -> None:
        check_sizes(_sizes(products, positions), worker_bytes, machine_bytes(), where)

    return check


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
        lambda threads, worker_bytes, _: products_graph(
            plan_products(distinct, threads, in_process=worker_bytes is None)
        ),
        _products_check(products, positions),
        progress,
        lambda product: product.bits,
    )
    by_product = {product: pick(computed, located[product]) for product in distinct}
    return [by_product[product] for product in products], client


def run_chunked_factorial(
    value: int,
    client: Client | None,
    checkpoint: Path | None = None,
    progress: bool = False,
) -> ChunkedInteger:
    """``value!`` (validated) as a :class:`ChunkedInteger` on a cluster's workers.

    On ``client``, else where :func:`run_batch` would run it, and a shared
    LocalCluster when that would be this process; ``checkpoint`` as for
    :func:`run_batch`. With ``progress``, a bar on stderr until every chunk
    is computed.
    """
    if client is None:
        refusal = factorial_refusal(value, chunked=True)
        if refusal is not None:
            raise ValueError(refusal)
    client = choose_client(client, factorial_seconds(value), 0.0) or shared_client()
    worker_bytes, cluster_bytes, threads = cluster_memory(client)
    where = f"the cluster at {scheduler_address(client)}"
    spread = can_spread(worker_bytes, cluster_bytes)
    result_bytes = factorial_bytes(value)
    # Asked of the workers only when their memory is not enough.
    scratch = 0.0
    if spread and spills(result_bytes, worker_bytes, cluster_bytes, math.inf):
        scratch = cluster_scratch_bytes(client)
    check_fits(
        [value],
        worker_bytes,
        math.inf,
        where,
        positions=False,
        cluster_bytes=cluster_bytes,
        lean=not spread,
        scratch_bytes=scratch,
    )
    plan_bytes, saved_stages = worker_bytes, SAVED_STAGES
    if spills(result_bytes, worker_bytes, cluster_bytes, scratch):
        saved_stages = SPILLING_SAVED_STAGES
        plan_bytes = spill_task_bytes(worker_bytes)
        # Both import distributed.
        from compute.task_room import make_room_for_large_tasks
        from compute.worker_heaps import fix_worker_heaps

        fix_worker_heaps(client)
        make_room_for_large_tasks(client)
        logger.info(
            "%s! (about %s) does not fit the workers' memory: they spill its "
            "chunks to disk, each task planned within %s",
            value,
            format_bytes(result_bytes),
            format_bytes(plan_bytes),
        )
    plan = plan_batch([value], threads, plan_bytes, spread=spread)
    outputs, located = batch_graph(plan)
    output = outputs[located[value].output]
    from compute import wire  # imports distributed: the cluster path only

    wire.register_on(client)
    if not isinstance(output, ChunkedGraph):
        graph = TaskGraph()
        chunk_bits = default_chunk_bits()
        count = chunk_count(factorial_bits(value) + 64, chunk_bits)
        chunks = cut_task(graph, graph.include(output), chunk_bits, count, value)
        output = ChunkedGraph(graph, chunks, chunk_bits)
    [output] = checked_outputs([output])
    assert isinstance(output, ChunkedGraph)
    if checkpoint is not None:
        [checkpointed] = checkpointed_outputs([output], checkpoint, saved_stages)
        assert isinstance(checkpointed, ChunkedGraph)
        output = checkpointed
    if not progress:
        return ChunkedInteger.submit(output, client)
    bits = dict.fromkeys(output.keys, float(output.chunk_bits))
    with cluster_progress(sys.stderr, client, output.graph.tasks, bits):
        return ChunkedInteger.submit(output, client).wait()
