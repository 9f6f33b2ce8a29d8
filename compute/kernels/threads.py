"""Threads for kernels: gmpy2 releasing the GIL, and two halves on two threads."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import dask.system
import gmpy2

from cluster.interrupts import started_in_thread

_Parameters = ParamSpec("_Parameters")


_Result = TypeVar("_Result")


def releasing_gil(
    kernel: Callable[_Parameters, _Result],
) -> Callable[_Parameters, _Result]:
    """Run ``kernel`` with gmpy2 allowed to release the GIL, then restore.

    gmpy2's context is per thread and the flag is off by default. With it on,
    a Dask worker's event loop stays responsive while a kernel multiplies, and
    two kernel threads can multiply at the same time. The change is scoped to
    the call, so a caller's own thread (``scheduler="sync"``) keeps its context.
    """

    @functools.wraps(kernel)
    def scoped(*args: _Parameters.args, **kwargs: _Parameters.kwargs) -> _Result:
        with gmpy2.context(gmpy2.get_context(), allow_release_gil=True):
            return kernel(*args, **kwargs)

    return scoped


def one_core() -> bool:
    """Whether this process has one core (Dask's count: affinity, cgroup quota).

    Two threads there take turns: the two halves then cost their extra
    work (about 1.5x one product's) with no second core to pay for it.
    """
    return dask.system.CPU_COUNT < 2


def in_two_threads(
    first: Callable[[], _Result], second: Callable[[], _Result]
) -> tuple[_Result, _Result]:
    """``(first(), second())``, ``first`` on a helper thread, ``second`` here.

    Both run with gmpy2 allowed to release the GIL, so their products use
    two cores. An exception in the helper is raised here.
    """
    wait = started_in_thread(releasing_gil(first))
    try:
        here = releasing_gil(second)()
    except BaseException:
        with contextlib.suppress(BaseException):
            wait()  # no product left running behind the error
        raise
    return wait(), here
