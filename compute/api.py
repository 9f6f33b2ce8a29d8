"""The factorial functions of the public API: check the input, hand it to
the engine (:mod:`compute.engine`), or build its graph for any scheduler."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from gmpy2 import mpz

from compute.checkpoint import prepare, remove
from compute.chunked import ChunkedInteger
from compute.engine import run_batch, run_chunked_factorial
from compute.validate import as_count, as_counts

if TYPE_CHECKING:
    from distributed import Client


def factorial(
    n: int,
    *,
    client: Client | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
) -> mpz:
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
    checkpoint : str or path-like, optional
        A directory (created if missing; its folder must exist) where the
        finished pieces and products are kept as they finish. A call killed
        or interrupted and made again with the same directory takes up what
        it holds; damaged files are found by their residues and computed
        again. Its files are removed once the result is returned. On a
        cluster, the workers must see it at the same path.

    Returns
    -------
    gmpy2.mpz
        Equal to ``gmpy2.fac(n)``.

    Raises
    ------
    TypeError
        If ``n`` is not an integer (floats such as ``5.0`` included), or
        ``checkpoint`` is not a path.
    ValueError
        If ``n`` is negative, its factorial cannot fit in the workers'
        memory, or ``checkpoint`` cannot be a directory (checked before any
        work is submitted).

    Examples
    --------
    >>> import compute, tempfile, os
    >>> compute.factorial(20)
    mpz(2432902008176640000)
    >>> scratch = tempfile.TemporaryDirectory()
    >>> folder = os.path.join(scratch.name, "run")
    >>> compute.factorial(30, checkpoint=folder) == compute.factorial(30)
    True
    >>> scratch.cleanup()
    """
    n = as_count(n)
    if checkpoint is None:
        return run_batch([n], client, positions=False)[0][0]
    if not isinstance(checkpoint, str | os.PathLike):
        raise TypeError(f"checkpoint must be a path, got {type(checkpoint).__name__}")
    directory = Path(checkpoint)
    prepare(directory, f"{n}!")
    value = run_batch([n], client, positions=False, checkpoint=directory)[0][0]
    remove(directory)
    return value


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
    return run_chunked_factorial(as_count(n), client)
