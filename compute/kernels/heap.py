"""glibc's heap: fixed mmap and trim thresholds, and freed pages handed back."""

from __future__ import annotations

import ctypes
import functools
import logging

logger = logging.getLogger(__name__)


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library if it is glibc (with ``malloc_trim`` and ``mallopt``)."""
    try:
        library = ctypes.CDLL("libc.so.6")
        library.malloc_trim, library.mallopt  # noqa: B018 (glibc's own)
    except (OSError, AttributeError):  # not glibc
        return None
    return library


_M_TRIM_THRESHOLD = -1  # glibc's <malloc.h>


_M_MMAP_THRESHOLD = -3


@functools.cache
def fix_heap_thresholds(threshold: int) -> bool:
    """Fix glibc's mmap and trim thresholds at ``threshold`` bytes, once.

    glibc raises both as large blocks are freed, up to 32 MiB (mmap) and
    64 MiB (trim): a thread's heap then keeps up to 64 MiB freed at its top,
    which :func:`release_free_heap` cannot return. Fixed, blocks of at least
    ``threshold`` bytes are mapped and unmapped on their own, and a heap's
    free top beyond it goes back to the system. The setting is for the whole
    process and stays. Returns whether glibc took it (False elsewhere).
    """
    glibc = _glibc()
    if glibc is None:
        return False
    # mallopt returns 1 on success, 0 for a value glibc refuses; the first
    # call also ends the adaptation.
    fixed = bool(
        glibc.mallopt(_M_MMAP_THRESHOLD, threshold)
        and glibc.mallopt(_M_TRIM_THRESHOLD, threshold)
    )
    if not fixed:
        logger.debug("glibc refused heap thresholds of %d bytes", threshold)
    return fixed


def release_free_heap() -> None:
    """Hand freed heap pages back to the system (glibc's ``malloc_trim``).

    glibc serves allocations below 32 MiB from per-thread heaps and keeps
    what is freed there; a product tree frees many such blocks. Elsewhere
    this does nothing.
    """
    glibc = _glibc()
    if glibc is not None:
        glibc.malloc_trim(0)
