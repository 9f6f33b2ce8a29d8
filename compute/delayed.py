"""The public ``*_delayed`` functions: each value as a ``dask.delayed`` graph
for any Dask scheduler, checked and planned before any task runs."""

from __future__ import annotations

from collections.abc import Iterable

from dask.delayed import Delayed

from compute.admission import check_fits_here
from compute.checks import checked_outputs
from compute.combinatorics import requested_product
from compute.engine import check_products_here
from compute.graph import batch_graph, products_graph
from compute.plan import plan_batch, plan_products
from compute.products import Kind, Product
from compute.toom_graph import whole
from compute.validate import as_count


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
    return whole(checked_outputs([outputs[located[value].output]])[0])


def _delayed(product: Product) -> Delayed:
    check_products_here([product], positions=False)
    outputs, located = products_graph(plan_products([product]))
    spot = located[product]
    output = whole(checked_outputs([outputs[spot.output]])[0])
    return output if spot.item is None else output[spot.item]  # type: ignore[index]


def binomial_delayed(n: int, k: int) -> Delayed:
    """The graph of :func:`binomial` as a :class:`dask.delayed.Delayed`.

    Checked and planned as :func:`compute.factorial_delayed` is: bad input
    raises at once, before any task runs.

    Parameters
    ----------
    n, k : int
        As for :func:`binomial`.

    Returns
    -------
    dask.delayed.Delayed
        A graph whose ``.compute()`` on any Dask scheduler gives
        the value of :func:`binomial` ``(n, k)``
        as a ``gmpy2.mpz``.

    Raises
    ------
    TypeError
        If ``n`` or ``k`` is not an integer.
    ValueError
        If ``n`` or ``k`` is negative, or the value cannot fit in memory.

    Examples
    --------
    >>> import compute
    >>> compute.binomial_delayed(10, 3).compute(scheduler="sync")
    mpz(120)
    """
    return _delayed(requested_product(Kind.BINOMIAL, n, k))


def multinomial_delayed(ks: Iterable[int]) -> Delayed:
    """The graph of :func:`multinomial` as a :class:`dask.delayed.Delayed`.

    Checked and planned as :func:`compute.factorial_delayed` is: bad input
    raises at once, before any task runs.

    Parameters
    ----------
    ks : iterable of int
        As for :func:`multinomial`.

    Returns
    -------
    dask.delayed.Delayed
        A graph whose ``.compute()`` on any Dask scheduler gives
        the value of :func:`multinomial` ``(ks)``
        as a ``gmpy2.mpz``.

    Raises
    ------
    TypeError
        If a ``k`` is not an integer.
    ValueError
        If a ``k`` is negative, or the value cannot fit in memory.

    Examples
    --------
    >>> import compute
    >>> compute.multinomial_delayed([2, 1, 1]).compute(scheduler="sync")
    mpz(12)
    """
    return _delayed(requested_product(Kind.MULTINOMIAL, ks))


def primorial_delayed(n: int) -> Delayed:
    """The graph of :func:`primorial` as a :class:`dask.delayed.Delayed`.

    Checked and planned as :func:`compute.factorial_delayed` is: bad input
    raises at once, before any task runs.

    Parameters
    ----------
    n : int
        As for :func:`primorial`.

    Returns
    -------
    dask.delayed.Delayed
        A graph whose ``.compute()`` on any Dask scheduler gives
        the value of :func:`primorial` ``(n)``
        as a ``gmpy2.mpz``.

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n`` is negative, or the value cannot fit in memory.

    Examples
    --------
    >>> import compute
    >>> compute.primorial_delayed(10).compute(scheduler="sync")
    mpz(210)
    """
    return _delayed(requested_product(Kind.PRIMORIAL, n))


def double_factorial_delayed(n: int) -> Delayed:
    """The graph of :func:`double_factorial` as a :class:`dask.delayed.Delayed`.

    Checked and planned as :func:`compute.factorial_delayed` is: bad input
    raises at once, before any task runs.

    Parameters
    ----------
    n : int
        As for :func:`double_factorial`.

    Returns
    -------
    dask.delayed.Delayed
        A graph whose ``.compute()`` on any Dask scheduler gives
        the value of :func:`double_factorial` ``(n)``
        as a ``gmpy2.mpz``.

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n`` is negative, or the value cannot fit in memory.

    Examples
    --------
    >>> import compute
    >>> compute.double_factorial_delayed(9).compute(scheduler="sync")
    mpz(945)
    """
    return _delayed(requested_product(Kind.DOUBLE_FACTORIAL, n))


def falling_factorial_delayed(n: int, k: int) -> Delayed:
    """The graph of :func:`falling_factorial` as a :class:`dask.delayed.Delayed`.

    Checked and planned as :func:`compute.factorial_delayed` is: bad input
    raises at once, before any task runs.

    Parameters
    ----------
    n, k : int
        As for :func:`falling_factorial`.

    Returns
    -------
    dask.delayed.Delayed
        A graph whose ``.compute()`` on any Dask scheduler gives
        the value of :func:`falling_factorial` ``(n, k)``
        as a ``gmpy2.mpz``.

    Raises
    ------
    TypeError
        If ``n`` or ``k`` is not an integer.
    ValueError
        If ``n`` or ``k`` is negative, or the value cannot fit in memory.

    Examples
    --------
    >>> import compute
    >>> compute.falling_factorial_delayed(10, 3).compute(scheduler="sync")
    mpz(720)
    """
    return _delayed(requested_product(Kind.FALLING_FACTORIAL, n, k))
