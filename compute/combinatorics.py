"""Binomials, multinomials, primorials, double and falling factorials.

Each function validates its arguments, describes its value as a
:class:`compute.products.Product`, and hands it to the engine that
computes factorials (:func:`compute.api.run_products`): the same rules for
where work runs, the same memory checks, the same stages on the dashboard.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from gmpy2 import mpz

from compute.engine import check_products_here, run_products
from compute.output import digit_count
from compute.products import KINDS, Kind, Product, binomial_product
from compute.validate import as_count, as_counts, as_pairs

if TYPE_CHECKING:
    from distributed import Client


def _one(product: Product, client: Client | None) -> mpz:
    return run_products([product], client, positions=False)[0][0]


def requested_product(kind: Kind, *arguments: object) -> Product:
    """The validated product of ``kind`` that ``arguments`` ask for, as the
    public functions and ``compute <kind> ARGUMENTS`` pass them.

    Raises
    ------
    TypeError, ValueError
        As the public function of ``kind`` documents, naming the argument.
    """
    entry = KINDS[kind]
    function = kind.replace("-", "_")
    if entry.arguments[0].endswith("..."):  # one iterable of many values
        item = entry.arguments[0].removesuffix("...").lower()
        [values] = arguments
        return entry.make(as_counts(values, f"{item}s", item, function))
    return entry.make(
        *(
            as_count(value, name=name.lower(), function=function)
            for name, value in zip(entry.arguments, arguments, strict=True)
        )
    )


def digit_count_of(product: Product) -> int:
    """Exact decimal digits of ``product``'s value, computing it only if needed.

    Logarithms decide the count unless the value lies within rounding of a
    power of ten (``binomial(10, 1)``); then, and for primorials too large
    for a log sum, the value is computed, which needs it to fit here.
    """
    count = product.digit_count()
    if count is not None:
        return count
    check_products_here([product], positions=False)
    return digit_count(run_products([product], None, positions=False)[0][0])


def binomial(n: int, k: int, *, client: Client | None = None) -> mpz:
    """Exact binomial coefficient ``n choose k``.

    Large values are prime-power products with Kummer's exponents
    ``v_p(n!) - v_p(k!) - v_p((n-k)!)``, split into pieces computed in
    parallel; small ones are one call to GMP.

    Parameters
    ----------
    n, k : int
        Non-negative integers (any ``numbers.Integral``).
    client : distributed.Client, optional
        Where to run, as for :func:`compute.factorial`.

    Returns
    -------
    gmpy2.mpz
        Equal to ``gmpy2.comb(n, k)``: 0 when ``k > n``.

    Raises
    ------
    TypeError
        If ``n`` or ``k`` is not an integer (``5.0`` included).
    ValueError
        If ``n`` or ``k`` is negative, or the result cannot fit in memory.

    Examples
    --------
    >>> import compute
    >>> compute.binomial(10, 3)
    mpz(120)
    """
    return _one(requested_product(Kind.BINOMIAL, n, k), client)


def binomial_many(
    pairs: Iterable[tuple[int, int]], *, client: Client | None = None
) -> list[mpz]:
    """Exact binomial coefficients of many ``(n, k)`` pairs, in input order.

    Duplicates are computed once. Small values are grouped into tasks of
    balanced cost, large ones split into pieces.

    Parameters
    ----------
    pairs : iterable of (int, int)
        The ``(n, k)`` pairs.
    client : distributed.Client, optional
        Where to run, as for :func:`compute.factorial`.

    Returns
    -------
    list of gmpy2.mpz
        ``[gmpy2.comb(n, k) for n, k in pairs]``; ``[]`` for empty input.

    Raises
    ------
    TypeError
        If ``pairs`` or an item is not a pair of integers; the message names
        the position.
    ValueError
        If a value is negative (named with its position), or the results
        cannot fit in memory.

    Examples
    --------
    >>> import compute
    >>> [int(x) for x in compute.binomial_many([(5, 2), (4, 4), (3, 5)])]
    [10, 1, 0]
    """
    products = [binomial_product(n, k) for n, k in as_pairs(pairs, "binomial")]
    if not products:
        return []
    return run_products(products, client)[0]


def multinomial(ks: Iterable[int], *, client: Client | None = None) -> mpz:
    """Exact multinomial coefficient ``(sum ks)! / prod(k!)``.

    Parameters
    ----------
    ks : iterable of int
        Non-negative integers.
    client : distributed.Client, optional
        Where to run, as for :func:`compute.factorial`.

    Returns
    -------
    gmpy2.mpz
        The number of ways to arrange ``sum(ks)`` items in groups of the
        sizes ``ks``; 1 for empty input.

    Raises
    ------
    TypeError
        If ``ks`` is not an iterable of integers; the message names the position.
    ValueError
        If a k is negative, or the result cannot fit in memory.

    Examples
    --------
    >>> import compute
    >>> compute.multinomial([2, 1, 1])
    mpz(12)
    """
    return _one(requested_product(Kind.MULTINOMIAL, ks), client)


def primorial(n: int, *, client: Client | None = None) -> mpz:
    """The product of the primes ``p <= n``.

    Parameters
    ----------
    n : int
        A non-negative integer.
    client : distributed.Client, optional
        Where to run, as for :func:`compute.factorial`.

    Returns
    -------
    gmpy2.mpz
        Equal to ``gmpy2.primorial(n)``.

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n`` is negative, or the result cannot fit in memory.

    Examples
    --------
    >>> import compute
    >>> compute.primorial(10)
    mpz(210)
    """
    return _one(requested_product(Kind.PRIMORIAL, n), client)


def double_factorial(n: int, *, client: Client | None = None) -> mpz:
    """The double factorial ``n!!``: the product of n, n-2, n-4, down to 1 or 2.

    Parameters
    ----------
    n : int
        A non-negative integer.
    client : distributed.Client, optional
        Where to run, as for :func:`compute.factorial`.

    Returns
    -------
    gmpy2.mpz
        Equal to ``gmpy2.double_fac(n)``.

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n`` is negative, or the result cannot fit in memory.

    Examples
    --------
    >>> import compute
    >>> compute.double_factorial(9)
    mpz(945)
    """
    return _one(requested_product(Kind.DOUBLE_FACTORIAL, n), client)


def falling_factorial(n: int, k: int, *, client: Client | None = None) -> mpz:
    """The falling factorial ``n!/(n-k)!``: the ordered choices of k of n items.

    Parameters
    ----------
    n, k : int
        Non-negative integers.
    client : distributed.Client, optional
        Where to run, as for :func:`compute.factorial`.

    Returns
    -------
    gmpy2.mpz
        Equal to ``math.perm(n, k)``: 0 when ``k > n``.

    Raises
    ------
    TypeError
        If ``n`` or ``k`` is not an integer.
    ValueError
        If ``n`` or ``k`` is negative, or the result cannot fit in memory.

    Examples
    --------
    >>> import compute
    >>> compute.falling_factorial(10, 3)
    mpz(720)
    """
    return _one(requested_product(Kind.FALLING_FACTORIAL, n, k), client)
