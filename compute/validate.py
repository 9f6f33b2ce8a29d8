"""Input validation: every n is checked before any task is submitted.

Types follow :func:`math.factorial`: any :class:`numbers.Integral` is accepted
(Python ``int``, ``bool``, numpy integer scalars, ``gmpy2.mpz``); floats are
refused even when integral (``5.0``), as are strings, ``None`` and complex
numbers. ``True`` and ``False`` count as 1 and 0, exactly as
``math.factorial(True) == 1``.
"""

from __future__ import annotations

import math
import numbers
import operator
import reprlib
from collections.abc import Iterable

from compute.config import setting

_short_repr = reprlib.Repr()
_short_repr.maxstring = 40
_short_repr.maxother = 40
_short_repr.maxlong = 40


def _describe(value: object) -> str:
    return f"{type(value).__name__} {_short_repr.repr(value)}"


def _where(position: int | None) -> str:
    return "n" if position is None else f"n at position {position}"


def as_count(value: object, position: int | None = None) -> int:
    """Return ``value`` as a non-negative Python int, or raise.

    Parameters
    ----------
    value : object
        The candidate n.
    position : int, optional
        Its position in a batch, named in the error message.

    Returns
    -------
    int
        ``operator.index(value)``.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``5.0``, ``"5"``, ``None``, ``5j`` ...).
    ValueError
        If ``value`` is negative.
    """
    if not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{_where(position)} must be an integer, got {_describe(value)}"
        )
    n = operator.index(value)
    if n < 0:
        raise ValueError(
            f"factorial is not defined for negative values: "
            f"{_where(position)} is {_short_repr.repr(n)}"
        )
    return n


def as_counts(ns: object) -> list[int]:
    """Validate a batch: an iterable of integers, returned as Python ints.

    Raises
    ------
    TypeError
        If ``ns`` is not an iterable (or is a string), or one of its items
        is not an integer; the message names the item and its position.
    ValueError
        If an item is negative.
    """
    if isinstance(ns, (str, bytes)) or not isinstance(ns, Iterable):
        raise TypeError(f"ns must be an iterable of integers, got {_describe(ns)}")
    return [as_count(value, position) for position, value in enumerate(ns)]


def factorial_bits(n: int) -> float:
    """Estimated number of bits of ``n!`` (``log2(n!)`` by lgamma)."""
    if n.bit_length() > 1000:  # beyond float range; refused by any memory bound
        return math.inf
    return math.lgamma(n + 1) / math.log(2) + 1


def factorial_bytes(n: int) -> float:
    """Estimated size of ``n!`` in bytes."""
    return factorial_bits(n) / 8


def _format_bytes(size: float) -> str:
    if math.isinf(size):
        return "an unbounded amount"
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if size < 1000:
            return f"{size:.3g} {unit}"
        size /= 1000
    return f"{size:.3g} EB"


def check_fits(
    ns: list[int], worker_bytes: float, client_bytes: float, where: str
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

    Raises
    ------
    ValueError
        If ``memory-factor`` times the largest result exceeds ``worker_bytes``,
        or the results together exceed ``client_bytes``.
    """
    if not ns:
        return
    factor = setting("memory-factor")
    position, largest = max(enumerate(ns), key=lambda item: item[1])
    need = factor * factorial_bytes(largest)
    if need > worker_bytes:
        raise ValueError(
            f"{_where(position)} = {_short_repr.repr(largest)} is too large: "
            f"its factorial has about {_format_bytes(factorial_bytes(largest))} "
            f"and needs about {_format_bytes(need)} to compute, but {where} "
            f"offers {_format_bytes(worker_bytes)} per worker"
        )
    total = sum(factorial_bytes(n) for n in set(ns))
    if total > client_bytes:
        raise ValueError(
            f"the results together need about {_format_bytes(total)}, more "
            f"than this process can hold ({_format_bytes(client_bytes)})"
        )
