"""Exact big-integer computation at scale on Dask, starting with factorials.

>>> import compute
>>> results = compute.factorial_many([5310, 5263, 7854])  # gmpy2.mpz, in input order
>>> [compute.digit_count(value) for value in results]
[17477, 17302, 27184]
"""

from importlib.metadata import PackageNotFoundError, version

from compute.api import (
    factorial,
    factorial_chunked,
    factorial_delayed,
    factorial_many,
)
from compute.chunked import ChunkedInteger
from compute.combinatorics import (
    binomial,
    binomial_delayed,
    binomial_many,
    double_factorial,
    double_factorial_delayed,
    falling_factorial,
    falling_factorial_delayed,
    multinomial,
    multinomial_delayed,
    primorial,
    primorial_delayed,
)
from compute.decimal_conversion import decimal_chunks, to_decimal
from compute.output import digit_count
from compute.result_file import read_result, write_result

try:
    __version__ = version("compute")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ChunkedInteger",
    "__version__",
    "binomial",
    "binomial_delayed",
    "binomial_many",
    "decimal_chunks",
    "digit_count",
    "double_factorial",
    "double_factorial_delayed",
    "factorial",
    "factorial_chunked",
    "factorial_delayed",
    "factorial_many",
    "falling_factorial",
    "falling_factorial_delayed",
    "multinomial",
    "multinomial_delayed",
    "primorial",
    "primorial_delayed",
    "read_result",
    "to_decimal",
    "write_result",
]
