"""Kernels alone, without Dask: exact against gmpy2 and plain Python."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import gmpy2
import numpy as np
import pytest
from gmpy2 import mpz

from compute import kernels


def naive_primes(lo: int, hi: int) -> list[int]:
    return [
        p
        for p in range(max(lo, 2), hi)
        if all(p % d for d in range(2, math.isqrt(p) + 1))
    ]


@pytest.mark.parametrize(
    ("lo", "hi"),
    [
        (0, 0),
        (0, 2),
        (0, 3),
        (2, 3),
        (3, 4),
        (0, 100),
        (9, 10),
        (25, 26),
        (90, 200),
        (1000, 1400),
    ],
)
def test_primes_in_range_matches_trial_division(lo, hi):
    assert kernels.primes_in_range(lo, hi).tolist() == naive_primes(lo, hi)


def test_legendre_exponents_match_factorisation_of_fac():
    n = 1000
    primes = kernels.primes_in_range(2, n + 1)
    exponents = kernels.legendre_exponents(primes, n)
    assert math.prod(
        int(p) ** int(e) for p, e in zip(primes, exponents, strict=True)
    ) == math.factorial(n)


# Both sides of each packing bound (4, 3, 2 and 1 value per 64-bit word).
@pytest.mark.parametrize(
    "values",
    [
        [],
        [0],
        [1],
        [2**16 - 1, 2**16 - 1, 2**16 - 1, 2**16 - 1, 2**16 - 1],
        [2**16, 2**16 + 1, 2**16 + 3],
        [2**21 - 1, 2**21 - 1, 2**21 - 1, 2**21 - 1],
        [2**21, 2**21 + 1, 2**21 + 5],
        [2**32 - 1, 2**32 - 1, 2**32 - 1],
        [2**32, 2**32 + 1, 2**64 - 1],
        list(range(1, 3000)),
    ],
)
def test_product_of_values_is_exact_across_packing_bounds(values):
    array = np.array(values, dtype=np.uint64)
    assert kernels.product_of_values(array) == math.prod(values)
    assert all(0 <= word < 2**64 for word in kernels.pack_words(array))


@pytest.mark.parametrize("words", [31, 32, 33, 64, 65])
def test_product_of_values_on_both_sides_of_the_leaf_size(words):
    # 2**63 + k never packs with another value, so each is one word.
    values = [2**63 + k for k in range(words)]
    assert kernels.product_of_values(np.array(values, dtype=np.uint64)) == math.prod(
        values
    )


@pytest.mark.parametrize("count", [0, 1, 2, 3, 7, 8, 9])
def test_product_tree(count):
    factors = [mpz(3 * k + 2) for k in range(count)]
    assert kernels.product_tree(factors) == math.prod(int(f) for f in factors)


@pytest.mark.parametrize(
    ("lo", "hi"), [(0, 0), (5, 3), (0, 1), (0, 20), (20, 21), (100, 5000)]
)
def test_range_product(lo, hi):
    assert kernels.range_product(lo, hi) == math.prod(range(lo + 1, hi + 1))


@pytest.mark.parametrize(
    "bits",
    [
        kernels.THREADED_MULTIPLY_BITS - 1,
        kernels.THREADED_MULTIPLY_BITS,
        kernels.THREADED_MULTIPLY_BITS + 1,
    ],
)
def test_multiply_on_both_sides_of_the_thread_split(bits):
    state = gmpy2.random_state(bits)
    a = gmpy2.mpz_urandomb(state, bits + 1000) | (mpz(1) << (bits + 999))
    b = gmpy2.mpz_urandomb(state, bits) | (mpz(1) << (bits - 1))
    assert b.bit_length() == bits
    assert kernels.multiply(a, b) == a * b
    assert kernels.multiply(b, a) == a * b
    assert kernels.multiply_and_shift(a, b, 77) == (a * b) << 77
    # One thread (the roots of a lean split): the same product.
    assert kernels.multiply(a, b, 1) == a * b
    assert kernels.multiply_and_shift(b, a, 77) == (a * b) << 77


def odd_part_of_factorial(n: int) -> mpz:
    value = gmpy2.fac(n)
    return value >> gmpy2.bit_scan1(value) if value else value


@pytest.mark.parametrize(
    "n", [0, 1, 2, 3, 4, 5, 9, 10, 20, 21, 63, 64, 100, 1001, 30011]
)
@pytest.mark.parametrize(
    ("pieces", "blocks_per_piece"), [(1, 1), (2, 1), (2, 32), (3, 4), (8, 32)]
)
def test_pieces_multiply_to_the_odd_part(n, pieces, blocks_per_piece):
    parts = [
        kernels.prime_piece(n, ((n, 1),), piece, pieces, blocks_per_piece)
        for piece in range(pieces)
    ]
    assert kernels.product_tree(parts) == odd_part_of_factorial(n)


def _log2(value: mpz) -> float:
    with gmpy2.context(precision=80):
        return float(gmpy2.log2(value)) if value > 1 else 0.0


@pytest.mark.parametrize("n", [0, 1, 2, 10, 1001, 30011, 10**5])
@pytest.mark.parametrize("pieces", [1, 2, 3, 8])
@pytest.mark.parametrize("kind", ["factorial", "binomial", "primorial"])
def test_piece_bits_are_exact_below_the_weighing_limit(n, pieces, kind):
    terms = {
        "factorial": ((n, 1),),
        "binomial": ((n, 1), (n // 3, -1), (n - n // 3, -1)),
        "primorial": None,
    }[kind]
    estimates = kernels.piece_bits(n, pieces, 32, terms)
    values = [kernels.prime_piece(n, terms, p, pieces, 32) for p in range(pieces)]
    assert len(estimates) == pieces
    for estimate, value in zip(estimates, values, strict=True):
        assert estimate == pytest.approx(_log2(value), rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("pieces", [2, 4])
def test_piece_bits_above_the_weighing_limit_are_close(pieces):
    """6e6 > 2**22: the blocks above are weighed by their mean exponent."""
    n = 6 * 10**6
    estimates = kernels.piece_bits(n, pieces, 32, ((n, 1),))
    values = [kernels.prime_piece(n, ((n, 1),), p, pieces, 32) for p in range(pieces)]
    for estimate, value in zip(estimates, values, strict=True):
        assert estimate == pytest.approx(value.bit_length(), rel=0.002)


def _odd_parts(n: int, pieces: int) -> mpz:
    """The product of the odd parts of ``n!``'s square-form pieces."""
    forms = [
        kernels.square_form_piece(n, ((n, 1),), piece, pieces, 4)
        for piece in range(pieces)
    ]
    return math.prod((form.take()[1] for form in forms), start=mpz(1))


@pytest.mark.parametrize("n", [2, 3, 10, 1001, 30011, 10**5])
@pytest.mark.parametrize("pieces", [1, 3, 8])
def test_the_odd_part_bits_are_exact_below_the_weighing_limit(n, pieces):
    """Shared primes count once per piece whose share of them is odd (10! in
    8 pieces: 3**4 as 3, 3, 3, 3 and 5**2 as 5, 5 beside 7)."""
    expected = _log2(_odd_parts(n, pieces))
    estimate = kernels.odd_part_bits(n, pieces, 4, ((n, 1),))
    assert estimate == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("n", [5 * 10**6, 10**7 + 19])
def test_the_odd_part_bits_above_the_weighing_limit_are_close(n):
    """The spread square form cuts its odd part into chunks by this estimate,
    with 1% of room: within 0.05% here, against 44% more for every prime."""
    odd = _odd_parts(n, 4)
    estimate = kernels.odd_part_bits(n, 4, 4, ((n, 1),))
    assert estimate == pytest.approx(odd.bit_length(), rel=5e-4)
    assert odd.bit_length() < 1.001 * n


@pytest.mark.parametrize("n", [0, 1, 2, 3, 9, 10, 64, 1001, 30011])
@pytest.mark.parametrize("pieces", [1, 2, 3])
@pytest.mark.parametrize("threads", [1, 2])
def test_square_form_pieces_multiply_to_the_odd_part(n, pieces, threads):
    forms = []
    for piece in range(pieces):
        root, odd = kernels.square_form_piece(n, ((n, 1),), piece, pieces, 4).take()
        assert root**2 * odd == kernels.prime_piece(n, ((n, 1),), piece, pieces, 4)
        # odd is squarefree: the primes of odd exponent, each once.
        assert all(odd % (p * p) for p in (3, 5, 7, 11, 13))
        forms.append(kernels.SquareForm(root, odd))
    combined = forms[0]
    for form in forms[1:]:
        combined = kernels.multiply_square_forms(combined, form)
    shift = n - n.bit_count()
    assert kernels.square_multiply_shift(combined, shift, threads) == gmpy2.fac(n)


def test_a_square_form_is_taken_once():
    form = kernels.SquareForm(mpz(3), mpz(5))
    assert form.take() == (3, 5)
    with pytest.raises(RuntimeError, match="already taken: a form has one consumer"):
        form.take()
    with pytest.raises(RuntimeError, match="already taken"):
        kernels.square_multiply_shift(form, 0)


@pytest.mark.parametrize(
    "root_bits",
    [
        kernels.THREADED_MULTIPLY_BITS // 2 - 1,
        kernels.THREADED_MULTIPLY_BITS // 2,
        kernels.THREADED_MULTIPLY_BITS // 2 + 1,
        3 * kernels.THREADED_MULTIPLY_BITS + 17,
    ],
)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shift", [0, 12345])
def test_square_multiply_shift_on_both_sides_of_the_thread_split(
    root_bits, threads, shift
):
    state = gmpy2.random_state(root_bits)
    root = gmpy2.mpz_urandomb(state, root_bits) | (mpz(1) << (root_bits - 1))
    odd = gmpy2.mpz_urandomb(state, 100_003) | 1
    expected = (root * root * odd) << shift
    form = kernels.SquareForm(root, odd)
    assert kernels.square_multiply_shift(form, shift, threads) == expected
    form = kernels.SquareForm(root, mpz(1))
    assert kernels.square_multiply_shift(form, shift, threads) == (root * root) << shift


def test_an_error_on_the_helper_thread_is_raised_in_the_caller():
    def failing() -> mpz:
        raise MemoryError("no room for the high half")

    with pytest.raises(MemoryError, match="no room for the high half"):
        kernels.in_two_threads(failing, lambda: mpz(2) * 3)
    assert kernels.in_two_threads(lambda: mpz(6) * 7, lambda: mpz(2) * 3) == (42, 6)


RETAINED_HEAP = """
import sys, threading
import gmpy2
from compute import kernels

def resident():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096

if sys.argv[1] == "fixed":
    assert kernels.fix_heap_thresholds(1 << 20)

def churn():
    # A 16 MiB block is mapped on its own (above glibc's initial 128 KiB
    # threshold); its free raises the adaptive thresholds past 16 MiB. Four
    # 5 MiB blocks then come from this thread's heap and are freed at its top.
    big = gmpy2.mpz(1) << (16 * 2**23)
    del big
    held = [gmpy2.mpz(1) << (5 * 2**23 + i) for i in range(4)]
    del held

thread = threading.Thread(target=churn)
before = resident()
thread.start()
thread.join()
kernels.release_free_heap()
print(resident() - before)
"""


def test_fixed_heap_thresholds_give_back_what_a_thread_freed():
    def retained(thresholds: str) -> int:
        ran = subprocess.run(
            [sys.executable, "-c", RETAINED_HEAP, thresholds],
            # Without the MALLOC_TRIM_THRESHOLD_ that nannies started in this
            # process leave in its environment: glibc's own defaults.
            env={k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert ran.stderr == ""
        return int(ran.stdout)

    # The allocations are the test's own, not a kernel's: with a lean piece
    # of 10**7! instead, a change to the piece's temporaries once left the
    # adaptive case 7.6 MB where it had kept 22 MiB. Measured here: the
    # adaptive thresholds keep the 20 MiB freed, fixed ones none of it.
    assert retained("adaptive") > 15 * 2**20
    assert retained("fixed") < 2 * 2**20


def test_walk_factorials_from_scratch_and_from_a_value():
    targets = [7, 7, 8, 30, 1000]
    assert kernels.walk_factorials(7, None, targets) == [gmpy2.fac(n) for n in targets]
    assert kernels.walk_factorials(3, mpz(6), [3, 4, 10]) == [6, 24, gmpy2.fac(10)]
    assert kernels.walk_factorials(0, None, []) == []


def test_factorial_small():
    assert [kernels.factorial_small(n) for n in (0, 1, 2, 20, 21)] == [
        1,
        1,
        2,
        2432902008176640000,
        51090942171709440000,
    ]


def test_the_gil_flag_is_scoped_to_the_kernel_call():
    import gmpy2

    from compute.kernels import multiply, releasing_gil

    @releasing_gil
    def flag_inside() -> bool:
        return gmpy2.get_context().allow_release_gil

    assert gmpy2.get_context().allow_release_gil is False
    assert flag_inside() is True
    assert multiply(gmpy2.mpz(3) << 5000, gmpy2.mpz(7)) == 21 << 5000
    assert gmpy2.get_context().allow_release_gil is False  # the caller's, untouched


@pytest.mark.parametrize(
    ("lo", "hi"),
    [(2**64 - 40, 2**64 + 100), (2**64, 2**64 + 1), (10**5000, 10**5000 + 77)],
    ids=["across", "one above", "5001 digits"],  # pytest's ids would str() the ints
)
def test_range_products_past_64_bit_words(lo, hi):
    assert kernels.range_product(lo, hi) == math.prod(range(lo + 1, hi + 1))


@pytest.mark.parametrize(
    ("words", "per_leaf"),
    [
        (range(2**63, 2**63 + 100), 32),
        (range(2**1000, 2**1000 + 100), 2),
        (range(10**5000, 10**5000 + 100), 1),
    ],
    ids=["64-bit", "1 kbit", "16 kbit"],
)
def test_leaves_of_large_factors_stay_small_for_python(words, per_leaf):
    # Python multiplies big ints far slower than GMP: a leaf holds at most
    # 32 words' worth of bits (16 kbit factors made falling_factorial 11x
    # slower when 32 of them were multiplied in Python).
    assert kernels.words_per_leaf(words) == per_leaf
    assert kernels.product_of_words(words) == math.prod(words)
