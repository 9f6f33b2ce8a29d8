"""Decimal conversion of big integers, split across a Dask cluster.

GMP converts to decimal by divide and conquer, on one thread: ``10**7!``
(66 million digits) takes about 16 s, ``10**8!`` minutes. Both the division
and the conversion hold the GIL, so threads in one process gain nothing;
worker processes do. Here the value is split by powers of ten into
``2**depth`` parts: a tree of ``decimal-split`` tasks (``divmod`` by
``10**(width * 2**level)``) whose leaves, ``decimal-digits`` tasks, convert
one part each with GMP. Every part but the leading one is zero-padded to
``width`` digits, so the parts, in order, are the decimal digits of the value.
"""

from __future__ import annotations

import functools
import math
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dask.config
from dask.utils import parse_timedelta
from gmpy2 import mpz

from compute.capacity import cluster_capacity
from compute.config import setting
from compute.cost import decimal_seconds
from compute.execute import choose_client, cluster_work, interruptible
from compute.kernels import decimal_digits, split_decimal
from compute.output import digit_count
from compute.progress import ProgressCallback
from compute.tasks import submitted_key
from compute.validate import as_mpz

if TYPE_CHECKING:
    from distributed import Client, Future

# Characters handed out at a time when a whole decimal string is sliced.
_SLICE = 1 << 20


@dataclass(frozen=True)
class DecimalPlan:
    """How a value of ``digits`` decimal digits is split into parts."""

    digits: int
    depth: int  # levels of splits: 2**depth parts
    width: int  # digits of every part but the leading one

    @property
    def parts(self) -> int:
        return 1 << self.depth


def plan_decimal(digits: int, threads: int) -> DecimalPlan:
    """Split ``digits`` into enough parts to keep ``threads`` busy, none too big.

    The leading part has ``digits - width * (parts - 1)`` digits; keeping
    ``width >= parts`` makes that at least one.

    Examples
    --------
    >>> plan_decimal(66_000_000, threads=2)
    DecimalPlan(digits=66000000, depth=3, width=8250000)
    """
    wanted = max(
        threads * setting("decimal.parts-per-thread"),
        math.ceil(digits / setting("decimal.part-digits")),
    )
    depth = max(0, math.ceil(math.log2(wanted)))
    while depth and (1 << depth) > math.ceil(digits / (1 << depth)):
        depth -= 1
    return DecimalPlan(digits, depth, math.ceil(digits / (1 << depth)))


def _powers(plan: DecimalPlan) -> list[mpz]:
    """``10**(width * 2**level)`` for each level of splits, by repeated squaring."""
    powers = [mpz(10) ** plan.width] if plan.depth else []
    while len(powers) < plan.depth:
        powers.append(powers[-1] * powers[-1])
    return powers


def _split_here(
    value: mpz, plan: DecimalPlan, powers: list[mpz], levels: int
) -> list[tuple[mpz, int]]:
    """The top ``levels`` levels of splits, done here: (piece, first part) pairs."""
    pieces = [(value, 0)]
    for level in reversed(range(plan.depth - levels, plan.depth)):
        span = 1 << level
        pieces = [
            (part, first + side * span)
            for piece, first in pieces
            for side, part in enumerate(split_decimal((piece,), 0, powers[level]))
        ]
    return pieces


@dataclass(frozen=True)
class _Placement:
    """One top-level piece, the worker that converts it, and its first part."""

    worker: str
    first: int  # index of the piece's first part among all parts
    scattered: list[Future]  # the piece (as a 1-tuple), then the powers below it


def _workers(client: Client) -> list[str]:
    """The cluster's worker addresses, waiting for one if none has joined yet."""
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    if not workers:  # a remote scheduler whose workers are still coming
        timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"))
        client.wait_for_workers(1, timeout=timeout)
        workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    return workers


def _levels_here(plan: DecimalPlan, workers: int) -> int:
    """Levels of splits made here: one per doubling of the workers."""
    return min(plan.depth, math.ceil(math.log2(workers)))


def _place_pieces(
    client: Client, value: mpz, plan: DecimalPlan, tally: _Tally | None
) -> list[_Placement]:
    """Make the top splits here and scatter each piece to its own worker.

    One level of splits per doubling of the workers. Everything is scattered
    before any task starts to hold a worker's GIL.
    """
    workers = _workers(client)
    levels = _levels_here(plan, len(workers))
    # Long GMP work in this process: interruptible by Ctrl-C.
    powers = interruptible(_powers, plan)
    if tally is not None:
        tally.add(tally.step)
    pieces = interruptible(_split_here, value, plan, powers, levels)
    if tally is not None:
        tally.add(tally.step * levels)
    below = powers[: plan.depth - levels]
    placements = []
    for number, (piece, first) in enumerate(pieces):
        worker = workers[number % len(workers)]
        scattered = client.scatter([(piece,), *below], workers=[worker], hash=False)
        placements.append(_Placement(worker, first, scattered))
    return placements


def _submit_on_piece_worker(
    client: Client,
    placement: _Placement,
    plan: DecimalPlan,
    run: str,
    tally: _Tally | None,
    stage: str,
    label: object,
    function: Callable,
    *args: object,
) -> Future:
    """``function(*args)`` on the piece's worker, watched by the progress tally."""
    future = client.submit(
        function,
        *args,
        key=submitted_key(stage, label, run),
        workers=[placement.worker],
        allow_other_workers=True,
        pure=False,
    )
    if tally is not None:
        # Level `level` from the bottom has 2**(depth - level) splits; the
        # leaves are one level more.
        below = int(str(label).split("-")[0]) if stage == "decimal-split" else -1
        tally.watch(future, tally.level(plan.depth - 1 - below))
    return future


def _piece_leaves(
    client: Client,
    placement: _Placement,
    plan: DecimalPlan,
    run: str,
    tally: _Tally | None,
) -> list[Future]:
    """On the piece's worker: a tree of ``decimal-split`` tasks, then the leaves."""
    submit = functools.partial(
        _submit_on_piece_worker, client, placement, plan, run, tally
    )
    root, *powers = placement.scattered
    nodes = [(root, 0, placement.first)]  # (pair, side, first part), in order
    for level in reversed(range(len(powers))):
        span = 1 << level
        children = []
        for pair, side, start in nodes:
            split = submit(
                "decimal-split",
                f"{level}-{start}",
                split_decimal,
                pair,
                side,
                powers[level],
            )
            children += [(split, 0, start), (split, 1, start + span)]
        nodes = children
    return [
        submit(
            "decimal-digits",
            start,
            decimal_digits,
            pair,
            side,
            None if start == 0 else plan.width,
        )
        for pair, side, start in nodes
    ]


def _submit_parts(
    client: Client, value: mpz, plan: DecimalPlan, tally: _Tally | None
) -> list[Future]:
    """Submit the conversion; return the leaf futures, in order.

    This process makes the top splits and hands each worker its pieces with
    the powers of ten below them. Each worker then splits and converts its
    own pieces, with no data moving between workers: a worker inside a long
    GMP call holds the GIL and could not serve it.
    """
    run = uuid.uuid4().hex
    return [
        leaf
        for placement in _place_pieces(client, value, plan, tally)
        for leaf in _piece_leaves(client, placement, plan, run, tally)
    ]


# Reports the share of a conversion done, from 0 to 1, as its parts finish.


class _Tally:
    """The share of a conversion done, reported as its steps finish.

    Each level of splits divides values of the whole size in all, and so
    costs about the same: the powers of ten, each level of splits and the
    parts' own conversion count ``1 / (depth + 2)`` each, shared equally by
    the tasks of a level.
    """

    def __init__(self, plan: DecimalPlan, on_progress: ProgressCallback) -> None:
        self.step = 1 / (plan.depth + 2)
        self.done = 0.0
        self.on_progress = on_progress
        self._lock = threading.Lock()

    def add(self, share: float) -> None:
        with self._lock:
            self.done += share
            self.on_progress(min(self.done, 1.0))

    def level(self, level: int) -> float:
        """The share of one task at ``level`` (``2**level`` tasks; 0 = the top)."""
        return self.step / (1 << level)

    def watch(self, future: Future, share: float) -> None:
        future.add_done_callback(lambda _: self.add(share))


def _cluster_chunks(
    value: mpz, client: Client, on_progress: ProgressCallback | None = None
) -> Iterator[str]:
    from compute import wire  # imports distributed: the cluster path only

    wire.register_on(client)  # before the pieces are scattered
    plan = plan_decimal(digit_count(value), cluster_capacity(client)[1])
    tally = None if on_progress is None else _Tally(plan, on_progress)
    leaves: list[Future | None] = list(_submit_parts(client, value, plan, tally))
    with cluster_work(client, leaves):
        for position in range(len(leaves)):
            leaf, leaves[position] = leaves[position], None  # released once read
            assert leaf is not None
            yield leaf.result()


def decimal_chunks(value: int, *, client: Client | None = None) -> Iterator[str]:
    """The decimal digits of ``value``, in order, as a stream of strings.

    Concatenated, the strings equal ``str(value)``. Large values are
    converted on a Dask cluster, their parts in parallel, and handed over
    part by part, so that a caller writing them out holds one part at a time.

    Parameters
    ----------
    value : int or gmpy2.mpz
        Any integer.
    client : distributed.Client, optional
        Where to convert. By default: the current Client or the scheduler
        Dask's config names, if any; else this process for values estimated
        below ``compute.decimal.in-process-seconds``, else a shared
        LocalCluster. (This process has one thread for it: GMP's conversion
        holds the GIL.)

    Yields
    ------
    str
        Consecutive runs of digits; the first may start with ``-``.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``5.5``, ``"12"`` ...), at the call.

    Examples
    --------
    >>> import gmpy2
    >>> "".join(decimal_chunks(gmpy2.fac(30)))
    '265252859812191058636308480000000'
    """
    # Checked here, at the call, not at the first step of the iteration.
    return digits_reporting(as_mpz(value), client)


def digits_reporting(
    signed: mpz, client: Client | None, on_progress: ProgressCallback | None = None
) -> Iterator[str]:
    """As :func:`decimal_chunks`, calling ``on_progress`` as the parts finish."""
    if signed < 0:
        yield "-"
    magnitude = abs(signed)
    chosen = choose_client(
        client,
        decimal_seconds(magnitude.bit_length()),
        setting("decimal.in-process-seconds"),
    )
    if chosen is None:
        text = magnitude.digits(10)  # one GMP call: done when it returns
        if on_progress is not None:
            on_progress(1.0)
        for start in range(0, len(text), _SLICE):
            yield text[start : start + _SLICE]
        return
    yield from _cluster_chunks(magnitude, chosen, on_progress)


def to_decimal(value: int, *, client: Client | None = None) -> str:
    """``str(value)`` with no digit limit, converted in parallel when large.

    Parameters
    ----------
    value : int or gmpy2.mpz
        Any integer.
    client : distributed.Client, optional
        As for :func:`decimal_chunks`.

    Returns
    -------
    str
        The decimal digits, with a leading ``-`` for a negative value.

    Raises
    ------
    TypeError
        If ``value`` is not an integer.

    Examples
    --------
    >>> to_decimal(-(10**30))
    '-1000000000000000000000000000000'
    """
    return "".join(decimal_chunks(value, client=client))
