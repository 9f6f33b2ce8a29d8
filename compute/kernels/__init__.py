"""Big-integer kernels: pure gmpy2 and numpy functions, no Dask inside.

Every function here takes plain Python and numpy values and returns ``gmpy2.mpz``
values (or lists of them), so each one can be unit-tested without a cluster and
each one becomes one named task in a graph built by :mod:`compute.graph`.

The large-factorial kernel works on the prime factorisation
``n! = 2**e2 * prod(p**e_p for odd primes p <= n)`` (Legendre's formula). Each
piece takes a dealt share of the odd primes (:mod:`.dealing`) and raises their
product to the exponents by Horner's rule over exponent bits (``r = r*r * P_j``,
:mod:`.product_tree`), which is how GMP's own ``mpz_fac_ui`` gains over a plain
range-product tree. The modules, by concern:

- :mod:`.threads`: gmpy2 releasing the GIL, two halves on two threads;
- :mod:`.sieve`: primes and Legendre exponents;
- :mod:`.product_tree`: packed words, balanced trees, Horner's rule;
- :mod:`.dealing`: which primes each piece takes, and its estimated bits;
- :mod:`.pieces`: the pieces themselves;
- :mod:`.multiplying`: large products on two threads;
- :mod:`.modular`: products of word-size integers modulo a prime, by numpy (checks);
- :mod:`.heap`: glibc's heap thresholds and trimming;
- :mod:`.square_form`: a lean split's ``root**2 * odd`` and its last step;
- :mod:`.small`: values too small to split, and walks of factorials;
- :mod:`.decimal_parts`: the steps of a decimal conversion;
- :mod:`.parts`: a task's tuple of chunks, sized by every item.

The names the graphs use are importable from here.
"""

from compute.kernels.dealing import odd_part_bits, piece_bits
from compute.kernels.decimal_parts import decimal_digits, split_decimal
from compute.kernels.heap import fix_heap_thresholds, release_free_heap
from compute.kernels.modular import CHECK_MODULUS
from compute.kernels.multiplying import (
    THREADED_MULTIPLY_BITS,
    factorials_product,
    multiply,
    multiply_and_divide,
    multiply_and_shift,
)
from compute.kernels.pieces import prime_piece, range_piece
from compute.kernels.product_tree import (
    pack_words,
    prime_power_product,
    product_of_values,
    product_of_words,
    product_tree,
    range_product,
    tree_level,
    words_per_leaf,
)
from compute.kernels.sieve import legendre_exponents, prime_exponents, primes_in_range
from compute.kernels.small import (
    PRIME_FORM_LIMIT_PER_BIT,
    factorial_small,
    small_values,
    walk_factorials,
)
from compute.kernels.square_form import (
    SquareForm,
    multiply_square_forms,
    square_form_piece,
    square_multiply_shift,
)
from compute.kernels.threads import in_two_threads, releasing_gil

__all__ = [
    "CHECK_MODULUS",
    "PRIME_FORM_LIMIT_PER_BIT",
    "THREADED_MULTIPLY_BITS",
    "SquareForm",
    "decimal_digits",
    "factorial_small",
    "factorials_product",
    "fix_heap_thresholds",
    "in_two_threads",
    "legendre_exponents",
    "multiply",
    "multiply_and_divide",
    "multiply_and_shift",
    "multiply_square_forms",
    "odd_part_bits",
    "pack_words",
    "piece_bits",
    "prime_exponents",
    "prime_piece",
    "prime_power_product",
    "primes_in_range",
    "product_of_values",
    "product_of_words",
    "product_tree",
    "range_piece",
    "range_product",
    "release_free_heap",
    "releasing_gil",
    "small_values",
    "split_decimal",
    "square_form_piece",
    "square_multiply_shift",
    "tree_level",
    "walk_factorials",
    "words_per_leaf",
]
