"""Input validation: every n is checked before any task is submitted.

Types follow :func:`math.factorial`: any :class:`numbers.Integral` is accepted
(Python ``int``, ``bool``, numpy integer scalars, ``gmpy2.mpz``); floats are
refused even when integral (``5.0``), as are strings, ``None`` and complex
numbers. ``True`` and ``False`` count as 1 and 0, exactly as
``math.factorial(True) == 1``.
"""

from __future__ import annotations

import numbers
import operator
import reprlib
from collections.abc import Iterable

from gmpy2 import mpz

_SHOWN_DIGITS = 40


def shown_integer(value: int) -> str:
    """``value`` in decimal for a message, its middle left out past 40 digits.

    As :mod:`reprlib` shows a long int, with the digit count added, and
    converted by gmpy2: Python refuses ``str`` of an int above 4300 digits
    (``sys.get_int_max_str_digits``), so ``factorial(10**5000)`` would fail
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


short_repr = _ShortRepr()
short_repr.maxstring = 40
short_repr.maxother = 40


def _describe(value: object) -> str:
    return f"{type(value).__name__} {short_repr.repr(value)}"


def subject_of(position: int | None, name: str = "n") -> str:
    """``"n"``, or ``"n at position 3"`` in a batch."""
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


def as_mpz(value: object, name: str = "value") -> mpz:
    """``value`` as a ``gmpy2.mpz``: itself if it is one, else as :func:`as_integer`.

    A large mpz is not copied: through a Python int, 10**9! (3.56 GB) would
    be converted twice and held three times.

    Examples
    --------
    >>> as_mpz(True), as_mpz(7)
    (mpz(1), mpz(7))
    """
    if isinstance(value, mpz):
        return value
    return mpz(as_integer(value, name))


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
    subject = subject_of(position, name)
    n = as_integer(value, subject)
    if n < 0:
        raise ValueError(
            f"{subject} = {short_repr.repr(n)} must be non-negative: "
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
