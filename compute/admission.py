"""Admission: work is refused on memory or disk grounds before anything is sent.

Each result's estimated size, and the working memory to compute it
(:mod:`compute.cost`), are checked against where it would run: one worker,
all the workers when a value may be spread over them, and this process,
which receives every result; files to be written, against their disks. The
messages name the value, the figures and the place.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from compute.capacity import disk_free_bytes, machine_bytes, spill_task_bytes
from compute.cost import (
    MAX_WAYS,
    can_spread,
    factorial_bytes,
    lean_working_bytes,
    needs_lean,
    spread_bytes,
    working_bytes,
)
from compute.validate import short_repr, subject_of

# Where a factorial too large to come back to this process can go.
FACTORIAL_ELSEWHERE = (
    ": compute.factorial_chunked(n) keeps it in chunks on the cluster's workers "
    "and compute.write_result(value, path, format='bin') writes it from there "
    "(on the command line: compute factorial N --output F --format bin)"
)


class ResultSize(NamedTuple):
    """One result, as the memory checks weigh it."""

    key: object  # equal keys count once towards the total
    subject: str  # what it is: "n = 5", "binomial(10, 3) at position 2"
    noun: str  # how to refer to its value: "its factorial", "the result"
    bytes: float  # its estimated size


class DiskNeed(NamedTuple):
    """A file a run will write, as the disk check weighs it."""

    what: str  # "3000000000! as bin file f.bin", "its checkpoint .f.bin.checkpoint"
    folder: Path  # where it goes
    bytes: float  # its estimated size, at most


def check_disk_room(needs: Sequence[DiskNeed]) -> None:
    """Refuse files that would not fit their disks together, before any work.

    Files on the same disk are counted together: a run's output file and its
    checkpoint are both there at its end.

    Raises
    ------
    ValueError
        Naming the files, what they need together and what the disk has free.
    """
    by_disk: dict[int, tuple[float, list[DiskNeed]]] = {}
    for need in needs:
        device, free = disk_free_bytes(need.folder)
        by_disk.setdefault(device, (free, []))[1].append(need)
    for free, on_disk in by_disk.values():
        total = sum(need.bytes for need in on_disk)
        if total > free:
            named = [f"{need.what} ({format_bytes(need.bytes)})" for need in on_disk]
            files = " and ".join(
                [", ".join(named[:-1]), named[-1]] if named[:-1] else named
            )
            raise ValueError(
                f"not enough free disk for {files}: {format_bytes(total)} needed on "
                f"the disk of {on_disk[0].folder}, which has {format_bytes(free)} "
                "free"
            )


def format_bytes(size: float) -> str:
    """``size`` in decimal units, three significant digits (``'28.5 GB'``)."""
    if math.isinf(size):
        return "an astronomical number of bytes"
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if size < 1000:
            return f"{size:.3g} {unit}"
        size /= 1000
    return f"{size:.3g} EB"


def check_fits(
    ns: list[int],
    worker_bytes: float,
    client_bytes: float,
    where: str,
    *,
    positions: bool = True,
    cluster_bytes: float | None = None,
    lean: bool = False,
    scratch_bytes: float = 0.0,
) -> None:
    """Refuse the batch if a result cannot fit in memory, before any work.

    Parameters
    ----------
    ns : list of int
        Validated, non-negative values.
    worker_bytes : float
        Memory available to the worker that finishes the largest factorial.
    client_bytes : float
        Memory available to this process, which receives every result.
    where : str
        Describes the cluster in the error message.
    positions : bool
        Name the position of the offending n (for batches).
    cluster_bytes : float, optional
        Memory of all the workers together, when a result too large for one
        worker may be spread over them (:func:`compute.cost.spread_bytes`).
    lean : bool
        A result too large for two-thread products may be computed lean
        (:func:`compute.cost.lean_working_bytes`): in this process, and on a
        cluster that cannot spread it (:func:`compute.cost.can_spread`).

    Raises
    ------
    ValueError
        If ``memory-factor`` times the largest result exceeds ``worker_bytes``
        (and it cannot be spread), or the results together exceed
        ``client_bytes``.
    """
    sizes = [
        ResultSize(
            n,
            f"{subject_of(position if positions else None)} = {short_repr.repr(n)}",
            "its factorial",
            factorial_bytes(n),
        )
        for position, n in enumerate(ns)
    ]
    check_sizes(
        sizes,
        worker_bytes,
        client_bytes,
        where,
        cluster_bytes=cluster_bytes,
        lean=lean,
        scratch_bytes=scratch_bytes,
        too_large_hint=FACTORIAL_ELSEWHERE if len(ns) == 1 else "",
    )


def check_sizes(
    sizes: Sequence[ResultSize],
    worker_bytes: float,
    client_bytes: float,
    where: str,
    *,
    cluster_bytes: float | None = None,
    lean: bool = False,
    scratch_bytes: float = 0.0,
    too_large_hint: str = "",
) -> None:
    """Refuse results that cannot fit in memory, before any work.

    Parameters
    ----------
    sizes : list of ResultSize
        Each result's estimated size.
    worker_bytes, client_bytes, where, cluster_bytes, lean, scratch_bytes
        As for :func:`check_fits`.
    too_large_hint : str
        Appended to the message when one result alone is more than this
        process can hold: where else it may go.

    Raises
    ------
    ValueError
        As for :func:`check_fits`, naming the subject.
    """
    if not sizes:
        return
    biggest = max(sizes, key=lambda size: size.bytes)
    subject, noun, largest = biggest.subject, biggest.noun, biggest.bytes
    need = working_bytes(largest)
    if lean and needs_lean(largest, worker_bytes):
        need = lean_working_bytes(largest)
    spread_need = ""
    if (
        need > worker_bytes
        and cluster_bytes
        and can_spread(worker_bytes, cluster_bytes)
    ):
        per_worker, in_all = spread_bytes(largest, worker_bytes / cluster_bytes)
        if per_worker <= worker_bytes and in_all <= cluster_bytes:
            need = 0.0  # spread over the workers
        elif _fits_with_disks(
            largest, in_all, worker_bytes, cluster_bytes, scratch_bytes
        ):
            need = 0.0  # spread over the workers and their disks
        spread_need = (
            f" on one worker, or {format_bytes(per_worker)} per worker spread "
            "over the cluster's workers"
        )
        if scratch_bytes:
            spread_need += (
                f", or {format_bytes(in_all)} of memory and scratch disk "
                f"together ({format_bytes(working_bytes(largest / MAX_WAYS))} "
                "for its largest task)"
            )
    if need > worker_bytes:
        offers = f"{format_bytes(worker_bytes)} per worker"
        if spread_need and scratch_bytes:
            offers += (
                f", {format_bytes(cluster_bytes or 0.0)} of memory in all and "
                f"{format_bytes(scratch_bytes)} of scratch disk"
            )
        raise ValueError(
            f"{subject} is too large: {noun} has about "
            f"{format_bytes(largest)} and needs about "
            f"{format_bytes(need)}{spread_need or ' to compute'}, but {where} offers "
            f"{offers}"
        )
    if largest > client_bytes:
        raise ValueError(
            f"{subject} is too large: {noun} has about {format_bytes(largest)}, "
            f"more than this process can hold ({format_bytes(client_bytes)})"
            f"{too_large_hint}"
        )
    total = sum({size.key: size.bytes for size in sizes}.values())
    if total > client_bytes:
        raise ValueError(
            f"the results together need about {format_bytes(total)}, more "
            f"than this process can hold ({format_bytes(client_bytes)})"
        )


def spills(
    result_bytes: float,
    worker_bytes: float,
    cluster_bytes: float | None,
    scratch_bytes: float,
) -> bool:
    """Whether a result spread over a cluster's workers fits only with their
    disks: its chunks exceed their memory, not their memory and
    ``scratch_bytes`` together, and its largest task
    (:func:`compute.cost.spread_bytes`) fits below the share of a worker
    that leaves distributed room to spill
    (:func:`compute.capacity.spill_task_bytes`)."""
    if not (scratch_bytes and can_spread(worker_bytes, cluster_bytes)):
        return False
    assert cluster_bytes is not None
    per_worker, in_all = spread_bytes(result_bytes, worker_bytes / cluster_bytes)
    fits_memory = per_worker <= worker_bytes and in_all <= cluster_bytes
    return not fits_memory and _fits_with_disks(
        result_bytes, in_all, worker_bytes, cluster_bytes, scratch_bytes
    )


def _fits_with_disks(
    result_bytes: float,
    spread_in_all: float,
    worker_bytes: float,
    cluster_bytes: float,
    scratch_bytes: float,
) -> bool:
    """Whether a spread result's ``spread_in_all`` bytes fit the workers'
    memory and ``scratch_bytes`` together, and its largest task fits below
    the share of a worker that leaves distributed room to spill."""
    return spread_in_all <= cluster_bytes + scratch_bytes and working_bytes(
        result_bytes / MAX_WAYS
    ) <= spill_task_bytes(worker_bytes)


def check_fits_here(
    ns: list[int], positions: bool = True, spread: bool = False
) -> None:
    """:func:`check_fits` against this machine's memory, for work done here.

    With ``spread``, only what this process must hold to receive the
    results is checked: a result too large for one worker may be spread
    over a cluster's workers, checked once the cluster is known.
    """
    memory = machine_bytes()
    worker_bytes = math.inf if spread else memory
    check_fits(ns, worker_bytes, memory, "this machine", positions=positions)
