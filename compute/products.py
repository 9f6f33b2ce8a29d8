"""Every function as one exact product over the same engine.

``n! = 2**(n - popcount(n)) * prod(p**v_p(n!))`` over odd primes (Legendre),
and each function here is a ratio of factorials, a range, or the primes:

- ``binomial(n, k) = n! / (k! (n-k)!)``: ``e_p = v_p(n!) - v_p(k!) - v_p((n-k)!)``
  (Kummer);
- ``multinomial(ks) = (sum ks)! / prod(k!)``;
- ``double_factorial(2m+1) = (2m+1)! / (m! 2**m)``, ``double_factorial(2m) = 2**m m!``;
- ``falling_factorial(n, k) = n! / (n-k)!``;
- ``primorial(n)``: every prime ``p <= n`` once.

A :class:`Product` says which, and how large it is. A large one is computed
from *prime* pieces (exponents by Legendre's formula, as for ``n!``) when
sieving up to its largest prime costs little next to the product, and
otherwise as a *range* product ``(low, high]`` divided exactly by some
factorials (``binomial(10**12, 10**7) = falling(10**12, 10**7) / (10**7)!``):
the prime form would sieve 10**12 integers for a result of 2.3e8 bits.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

import gmpy2
import numpy as np

from compute.cost import factorial_bits
from compute.factorial_digits import ratio_digit_count
from compute.kernels import PRIME_FORM_LIMIT_PER_BIT, primes_in_range
from compute.kernels.small import (
    binomial_small,
    falling_factorial_small,
    multinomial_small,
)
from compute.validate import shown_integer

# Results below this many bits are computed by GMP in one call when asked
# for their digit count: cheaper than any logarithm.
_EXACT_DIGITS_BITS = 1 << 16
# m! by logarithms of gamma up to m of this many bits: gmpy2's lngamma at
# 64 + 2 * bits of precision takes 7 ms at 10**400 but 35 s at 10**5000.
_LNGAMMA_BITS = 1000
# Primorial digit counts sum logarithms over sieved blocks of this many
# integers, up to this n (beyond, the value itself must be computed).
_PRIMORIAL_BLOCK = 1 << 24
_PRIMORIAL_LOG_LIMIT = 10**11


class Kind(StrEnum):
    """The function a product computes, by its name on the dashboard and the
    command line (see :data:`KINDS` for all it takes to add one)."""

    FACTORIAL = "factorial"
    BINOMIAL = "binomial"
    MULTINOMIAL = "multinomial"
    PRIMORIAL = "primorial"
    DOUBLE_FACTORIAL = "double-factorial"
    FALLING_FACTORIAL = "falling-factorial"


@dataclass(frozen=True)
class Product:
    """One exact value as a product: which function, and its factorial terms.

    The value is ``2**two * prod(m! ** c for m, c in terms)``, except for the
    primorial (``terms`` empty) and known zeros (``zero``).
    """

    kind: Kind
    arguments: tuple[int, ...]
    terms: tuple[tuple[int, int], ...]
    two: int = 0
    zero: bool = False

    @property
    def label(self) -> str:
        """``binomial(10, 3)``, or ``5!`` for a factorial."""
        if self.kind is Kind.FACTORIAL:
            return f"{shown_integer(self.arguments[0])}!"
        shown = [shown_integer(a) for a in self.arguments[:6]]
        if len(self.arguments) > 6:
            shown.append(f"... ({len(self.arguments)} values)")
        return f"{self.kind.replace('-', '_')}({', '.join(shown)})"

    @cached_property
    def bits(self) -> float:
        """Estimated bits of the value (its log2; exact to a few bits)."""
        if self.zero:
            return 0.0
        if self.kind is Kind.PRIMORIAL:
            n = self.arguments[0]
            if n.bit_length() > _LNGAMMA_BITS:  # beyond any memory, and floats
                return math.inf
            # Chebyshev's theta(n) = ln(primorial(n)) < 1.000028 n.
            return 1.000028 * n / math.log(2) + 1
        if len(self.terms) == 1 and self.terms[0][1] == 1 and not self.two:
            return factorial_bits(self.terms[0][0])
        # With any factorial past floats, those of half its bits or more are
        # taken as ratios of nearby ones: (2**1000)! / (2**1000 - 10**4)!
        # pairs a term of 1001 bits with one of 1000. Any term left alone
        # that large is astronomical anyway.
        largest = max((m.bit_length() for m, _ in self.terms), default=0)
        nearby_bits = _LNGAMMA_BITS // 2 if largest > _LNGAMMA_BITS else math.inf
        huge = [(m, c) for m, c in self.terms if m.bit_length() > nearby_bits]
        log2 = _log2_of_nearby_factorials(huge) if huge else 0.0
        if log2 == math.inf:
            return log2
        rest = [(m, c) for m, c in self.terms if m.bit_length() <= nearby_bits]
        return max(0.0, log2 + _log2_of_terms(rest, self.two)) + 1

    @property
    def bytes(self) -> float:
        """Estimated size of the value in bytes."""
        return self.bits / 8

    @property
    def limit(self) -> int:
        """The largest prime that can divide the value."""
        if self.kind is Kind.PRIMORIAL:
            return self.arguments[0]
        return max((m for m, c in self.terms if c > 0), default=0)

    @property
    def prime_terms(self) -> tuple[tuple[int, int], ...] | None:
        """The terms as the prime kernels take them: None for the primorial,
        where every prime occurs once (see ``compute.kernels.prime_exponents``)."""
        return None if self.kind is Kind.PRIMORIAL else self.terms

    @property
    def prime_form(self) -> bool:
        """Whether pieces come from primes (else from a range and a division)."""
        return (
            self.kind is Kind.PRIMORIAL
            or self.limit <= PRIME_FORM_LIMIT_PER_BIT * self.bits
            or self.range is None
        )

    @property
    def shift(self) -> int:
        """The exponent of 2 in the value (the prime form leaves it out)."""
        if self.kind is Kind.PRIMORIAL:
            return 1 if self.arguments[0] >= 2 else 0
        return self.two + sum(c * (m - m.bit_count()) for m, c in self.terms)

    @property
    def range(self) -> tuple[int, int, tuple[int, ...]] | None:
        """``(low, high, divisors)``: the value is ``(low+1)...high / prod(d!)``.

        None when the value has no such form (double factorials, primorials).
        """
        positive = [m for m, c in self.terms if c == 1]
        negative = [m for m, c in self.terms for _ in range(-c) if c < 0]
        if self.two or len(positive) != 1 or not negative:
            return None
        high, largest = positive[0], max(negative)
        negative.remove(largest)
        return largest, high, tuple(sorted(d for d in negative if d > 1))

    def digit_count(self) -> int | None:
        """Exact decimal digits from logarithms, or None if only the value can tell."""
        if self.zero:
            return 1
        if self.bits < _EXACT_DIGITS_BITS:
            return None  # computing it is cheaper than any logarithm
        if self.kind is Kind.PRIMORIAL:
            return _primorial_digit_count(self.arguments[0])
        return ratio_digit_count(self.terms, self.two)


def _primorial_digit_count(n: int) -> int | None:
    """Digits of the primorial from ``sum(log10 p)``, or None if undecided.

    The primes are sieved (about 3 s per 10**9 integers), never multiplied.
    numpy's log10 is within 4 ulps; each block's ``math.fsum`` and the final
    one round once, so the error bound below is certain.
    """
    if n > _PRIMORIAL_LOG_LIMIT:
        return None
    partial_sums, count = [], 0
    for lo in range(2, n + 1, _PRIMORIAL_BLOCK):
        primes = primes_in_range(lo, min(n + 1, lo + _PRIMORIAL_BLOCK))
        partial_sums.append(math.fsum(np.log10(primes.astype(np.float64))))
        count += len(primes)
    total = math.fsum(partial_sums)
    error = count * 4 * 2.0**-52 * math.log10(n) + (len(partial_sums) + 1) * math.ulp(
        total
    )
    floor = math.floor(total)
    if error < total - floor < 1 - error:
        return floor + 1
    return None


def _log2_of_terms(terms: Sequence[tuple[int, int]], two: int) -> float:
    """``log2(2**two * prod(m! ** c))`` for m of at most ``_LNGAMMA_BITS`` bits."""
    largest = max((m.bit_length() for m, _ in terms), default=1)
    if largest <= 50:  # lgamma's rounding is far below a bit here
        logarithm = two * math.log(2) + sum(c * math.lgamma(m + 1) for m, c in terms)
        return logarithm / math.log(2)
    with gmpy2.context(precision=64 + 2 * largest):
        logarithm = gmpy2.mpfr(two) * gmpy2.log(2)
        for m, coefficient in terms:
            logarithm += coefficient * gmpy2.lngamma(m + 1)
        return float(logarithm / gmpy2.log(2))


def _log2_of_nearby_factorials(terms: Sequence[tuple[int, int]]) -> float:
    """``log2(prod(m! ** c))`` for m above ``_LNGAMMA_BITS`` bits, or inf.

    Such factorials leave a value that fits in memory only as ratios of
    nearby ones, as in ``binomial(10**5000, 2)``: their coefficients sum to
    zero, and ``m! / base!`` is the product of the ``m - base`` integers
    above ``base``, whose log2 is ``m - base`` times that of their midpoint
    to within ``(m - base)**3 / base**2``, nothing next to a bit.
    """
    if sum(c for _, c in terms):
        return math.inf
    base = min(m for m, _ in terms)
    log2 = 0.0
    for m, coefficient in terms:
        gap = m - base
        if gap.bit_length() > _LNGAMMA_BITS:
            return math.inf
        if gap:
            log2 += coefficient * gap * math.log2(base + gap // 2)
    return log2


def _merged(terms: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Terms with equal m combined, zero coefficients and ``0! = 1! = 1`` dropped."""
    counts: Counter[int] = Counter()
    for m, coefficient in terms:
        if m > 1:
            counts[m] += coefficient
    return tuple(sorted((m, c) for m, c in counts.items() if c))


def factorial_product(n: int) -> Product:
    """``n!``."""
    return Product(Kind.FACTORIAL, (n,), ((n, 1),))


def binomial_product(n: int, k: int) -> Product:
    """``binomial(n, k)``, 0 when ``k > n``."""
    if k > n:
        return Product(Kind.BINOMIAL, (n, k), (), zero=True)
    return Product(Kind.BINOMIAL, (n, k), _merged(((n, 1), (k, -1), (n - k, -1))))


def multinomial_product(ks: Sequence[int]) -> Product:
    """``(sum ks)! / prod(k!)``; 1 for no ks."""
    terms = _merged(((sum(ks), 1), *((k, -1) for k in ks)))
    return Product(Kind.MULTINOMIAL, tuple(ks), terms)


def primorial_product(n: int) -> Product:
    """The product of the primes ``p <= n``."""
    return Product(Kind.PRIMORIAL, (n,), ())


def double_factorial_product(n: int) -> Product:
    """``n!! = n (n-2) (n-4) ...``, 1 for n of 0 or 1."""
    m = n // 2
    if n % 2:
        return Product(Kind.DOUBLE_FACTORIAL, (n,), _merged(((n, 1), (m, -1))), two=-m)
    return Product(Kind.DOUBLE_FACTORIAL, (n,), _merged(((m, 1),)), two=m)


def falling_factorial_product(n: int, k: int) -> Product:
    """``n (n-1) ... (n-k+1)``, 0 when ``k > n``."""
    if k > n:
        return Product(Kind.FALLING_FACTORIAL, (n, k), (), zero=True)
    return Product(Kind.FALLING_FACTORIAL, (n, k), _merged(((n, 1), (n - k, -1))))


@dataclass(frozen=True)
class KindEntry:
    """All the package needs to know of one kind of product."""

    arguments: tuple[str, ...]  # as the command line names them; "K..." takes many
    description: str  # the command line's help
    make: Callable[..., Product]  # the product, from validated arguments
    small_kernel: Callable[..., gmpy2.mpz]  # a value too small to split, in one call
    gil_bound: bool  # the small kernel never releases the GIL


# The registry of product kinds: adding a kind is adding its entry (and its
# public function, in compute.combinatorics). gmpy2's fac, comb, primorial
# and double_fac never release the GIL: two threads of each took as long as
# one after the other.
KINDS: dict[Kind, KindEntry] = {
    Kind.FACTORIAL: KindEntry(
        ("N",), "factorial N! = 1 2 ... N", factorial_product, gmpy2.fac, True
    ),
    Kind.BINOMIAL: KindEntry(
        ("N", "K"),
        "binomial coefficient N choose K",
        binomial_product,
        binomial_small,
        True,
    ),
    Kind.MULTINOMIAL: KindEntry(
        ("K...",),
        "multinomial coefficient (K1+K2+...)! / (K1! K2! ...)",
        multinomial_product,
        multinomial_small,
        True,
    ),
    Kind.PRIMORIAL: KindEntry(
        ("N",),
        "product of the primes up to N",
        primorial_product,
        gmpy2.primorial,
        True,
    ),
    Kind.DOUBLE_FACTORIAL: KindEntry(
        ("N",),
        "N!! = N (N-2) (N-4) ...",
        double_factorial_product,
        gmpy2.double_fac,
        True,
    ),
    Kind.FALLING_FACTORIAL: KindEntry(
        ("N", "K"),
        "falling factorial N (N-1) ... (N-K+1)",
        falling_factorial_product,
        falling_factorial_small,
        False,
    ),
}
