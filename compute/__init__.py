"""Exact big-integer computation at scale on Dask, starting with factorials.

>>> import compute
>>> results = compute.factorial_many([5310, 5263, 7854])  # gmpy2.mpz, in input order
>>> [compute.digit_count(value) for value in results]
[17477, 17302, 27184]

The public names are imported on first use, so ``import compute`` (and the
``compute`` command's start, which must take Ctrl-C from its first moment)
costs a few milliseconds rather than the 0.3 s of numpy, gmpy2 and dask.
No public name is also the name of a module of the package: importing that
module would replace the name on the package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compute.api import factorial, factorial_chunked, factorial_many
    from compute.chunked import ChunkedInteger
    from compute.combinatorics import (
        binomial,
        binomial_many,
        double_factorial,
        falling_factorial,
        multinomial,
        primorial,
    )
    from compute.decimal_conversion import decimal_chunks, to_decimal
    from compute.delayed import (
        binomial_delayed,
        double_factorial_delayed,
        factorial_delayed,
        falling_factorial_delayed,
        multinomial_delayed,
        primorial_delayed,
    )
    from compute.output import digit_count
    from compute.result_file import read_result, write_result
    from compute.verify import verify_factorial

# Each public name, and the module that defines it.
_HOMES = {
    "factorial": "compute.api",
    "factorial_chunked": "compute.api",
    "factorial_delayed": "compute.delayed",
    "factorial_many": "compute.api",
    "ChunkedInteger": "compute.chunked",
    "binomial": "compute.combinatorics",
    "binomial_delayed": "compute.delayed",
    "binomial_many": "compute.combinatorics",
    "double_factorial": "compute.combinatorics",
    "double_factorial_delayed": "compute.delayed",
    "falling_factorial": "compute.combinatorics",
    "falling_factorial_delayed": "compute.delayed",
    "multinomial": "compute.combinatorics",
    "multinomial_delayed": "compute.delayed",
    "primorial": "compute.combinatorics",
    "primorial_delayed": "compute.delayed",
    "decimal_chunks": "compute.decimal_conversion",
    "to_decimal": "compute.decimal_conversion",
    "digit_count": "compute.output",
    "read_result": "compute.result_file",
    "write_result": "compute.result_file",
    "verify_factorial": "compute.verify",
}

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
    "verify_factorial",
    "write_result",
]


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("compute")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (PEP 562).

    ``__version__`` too: reading the installed metadata imports the email
    package, 20-50 ms in which a Ctrl-C would reach no handler of ours.
    """
    if name == "__version__":
        globals()[name] = _installed_version()
        return globals()[name]
    try:
        home = _HOMES[name]
    except KeyError:
        raise AttributeError(f"module 'compute' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later uses skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
