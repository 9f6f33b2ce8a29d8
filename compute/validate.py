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
from collections.abc import Iterable, Sequence

from gmpy2 import mpz

from compute.capacity import machine_bytes
from compute.cost import (
    factorial_bytes,
    lean_working_bytes,
    needs_lean,
    spread_bytes,
    working_bytes,
)

_SHOWN_DIGITS = 40


def shown_integer(value: int) -> str:
    """``value`` in decimal for a message, its middle left out past 40 digits.

    As :mod:`reprlib` shows a long int, with the digit count added, and
    converted by gmpy2: Python refuses ``str`` of an int above 4300 digits
    (``sys.get_int_max_str_digits``), so ``factorial(10**5000)`` once failed
    on its own error message.
    """
    text = mpz(value).digits()
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    if len(digits) <= _SHOWN_DIGITS:
        return text
    half = (_SHOWN_DIGITS - 3) // 2
    return f"{sign}{digits[:half]}...{digits[-half:]} ({len(digits)} digits)"


class _ShortRepr(reprlib.Repr):
    """reprlib's short forms, with ints of any size (:func:`shown_integer`)."""

    def repr_int(self, x: int, level: int) -> str:
        return shown_integer(x)


_short_repr = _ShortRepr()
_short_repr.maxstring = 40
_short_repr.maxother = 40


def _describe(value: object) -> str:
    return f"{type(value).__name__} {_short_repr.repr(value)}"


def _where(position: int | None, name: str = "n") -> str:
    return name if position is None else f"{name} at position {position}"


def as_integer(value: object, name: str = "value") -> int:
    """``value`` as a Python int if it is an integer, else a TypeError naming it.

    Examples
    --------
    >>> as_integer(5.5)
    Traceback (most recent call last):
    ...
    TypeError: value must be an integer, got float 5.5
    """
    if not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {_describe(value)}")
    return operator.index(value)


def as_count(
    value: object,
    position: int | None = None,
    name: str = "n",
    function: str = "factorial",
) -> int:
    """Return ``value`` as a non-negative Python int, or raise.

    Parameters
    ----------
    value : object
        The candidate n.
    position : int, optional
        Its position in a batch, named in the error message.
    name, function : str
        The argument's name and the function's, for the error message.

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

    Examples
    --------
    >>> as_count(-5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: n = -5 must be non-negative: factorial is not defined for ...
    """
    n = as_integer(value, _where(position, name))
    if n < 0:
        raise ValueError(
            f"{_where(position, name)} = {_short_repr.repr(n)} must be non-negative: "
            f"{function} is not defined for negative values"
        )
    return n


def as_counts(
    ns: object, name: str = "ns", item: str = "n", function: str = "factorial"
) -> list[int]:
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
        raise TypeError(f"{name} must be an iterable of integers, got {_describe(ns)}")
    return [
        as_count(value, position, item, function) for position, value in enumerate(ns)
    ]


def as_pairs(pairs: object, function: str) -> list[tuple[int, int]]:
    """Validate a batch of ``(n, k)`` pairs, returned as Python ints.

    Raises
    ------
    TypeError
        If ``pairs`` is not an iterable, an item is not a pair, or a value is
        not an integer; the message names the position.
    ValueError
        If a value is negative.
    """
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Iterable):
        raise TypeError(
            f"pairs must be an iterable of (n, k) pairs, got {_describe(pairs)}"
        )
    checked = []
    for position, pair in enumerate(pairs):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Iterable):
            raise TypeError(
                f"pair at position {position} must be a pair of integers (n, k), "
                f"got {_describe(pair)}"
            )
        values = list(pair)
        if len(values) != 2:
            raise TypeError(
                f"pair at position {position} must be a pair of integers (n, k), "
                f"got {len(values)} values"
            )
        checked.append(
            (
                as_count(values[0], position, "n", function),
                as_count(values[1], position, "k", function),
            )
        )
    return checked


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
    positions: bool = True,
    cluster_bytes: float | None = None,
    lean: bool = False,
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
        (:func:`compute.cost.lean_working_bytes`), as in this process.

    Raises
    ------
    ValueError
        If ``memory-factor`` times the largest result exceeds ``worker_bytes``
        (and it cannot be spread), or the results together exceed
        ``client_bytes``.
    """
    sizes = [
        (
            n,
            f"{_where(position if positions else None)} = {_short_repr.repr(n)}",
            "its factorial",
            factorial_bytes(n),
        )
        for position, n in enumerate(ns)
    ]
    check_sizes(sizes, worker_bytes, client_bytes, where, cluster_bytes, lean)


def check_sizes(
    sizes: Sequence[tuple[object, str, str, float]],
    worker_bytes: float,
    client_bytes: float,
    where: str,
    cluster_bytes: float | None = None,
    lean: bool = False,
) -> None:
    """Refuse results that cannot fit in memory, before any work.

    Parameters
    ----------
    sizes : list of (key, subject, noun, bytes)
        Each result: a key (equal keys count once towards the total), what it
        is (``"n = 5"``), how to refer to its value (``"its factorial"``) and
        its estimated size.
    worker_bytes, client_bytes, where, cluster_bytes, lean
        As for :func:`check_fits`.

    Raises
    ------
    ValueError
        As for :func:`check_fits`, naming the subject.
    """
    if not sizes:
        return
    _, subject, noun, largest = max(sizes, key=lambda size: size[3])
    need = working_bytes(largest)
    if lean and needs_lean(largest, worker_bytes):
        need = lean_working_bytes(largest)
    spread_need = ""
    # Spreading over one worker gains nothing: it needs two or more.
    if need > worker_bytes and cluster_bytes and cluster_bytes > 1.5 * worker_bytes:
        per_worker, in_all = spread_bytes(largest, worker_bytes / cluster_bytes)
        if per_worker <= worker_bytes and in_all <= cluster_bytes:
            need = 0.0  # spread over the workers
        spread_need = (
            f" on one worker, or {format_bytes(per_worker)} per worker spread "
            "over the cluster's workers"
        )
    if need > worker_bytes:
        raise ValueError(
            f"{subject} is too large: {noun} has about "
            f"{format_bytes(largest)} and needs about "
            f"{format_bytes(need)}{spread_need or ' to compute'}, but {where} offers "
            f"{format_bytes(worker_bytes)} per worker"
        )
    if largest > client_bytes:
        raise ValueError(
            f"{subject} is too large: {noun} has about {format_bytes(largest)}, "
            f"more than this process can hold ({format_bytes(client_bytes)})"
        )
    total = sum({size[0]: size[3] for size in sizes}.values())
    if total > client_bytes:
        raise ValueError(
            f"the results together need about {format_bytes(total)}, more "
            f"than this process can hold ({format_bytes(client_bytes)})"
        )


def check_fits_here(
    ns: list[int], positions: bool = True, spread: bool = False
) -> None:
    """:func:`check_fits` against this machine's memory, for work done here.

    With ``spread``, only what this process must hold to receive the
    results is checked: a result too large for one worker may be spread
    over a cluster's workers, checked once the cluster is known.
    """
    memory = machine_bytes()
    check_fits(ns, math.inf if spread else memory, memory, "this machine", positions)
