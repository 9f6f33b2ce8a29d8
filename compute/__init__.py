"""Exact big-integer computation at scale on Dask, starting with factorials.

>>> import compute
>>> results = compute.factorial_many([5310, 5263, 7854])  # gmpy2.mpz, in input order
>>> [len(str(value)) for value in results]
[17477, 17302, 27184]
"""

from compute.api import factorial, factorial_delayed, factorial_many

__all__ = ["factorial", "factorial_delayed", "factorial_many"]
