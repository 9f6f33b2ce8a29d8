"""Workers that spill give freed memory back to the system at once.

``cluster.connect`` leaves glibc's adaptive heap thresholds to workers of at
least ``cluster.connect.ROOMY_WORKER_BYTES``: faster, but glibc then keeps
blocks up to 32 MiB (a value's 4 MiB chunks among them) in its heaps once
they are freed, and that memory still counts against the worker's limit.
While a run spills, chunks come and go all the time, and what glibc keeps
outgrows what distributed can spill: 5e8! on two 1.9 GiB workers with the
adaptive thresholds warned of unmanaged memory, paused workers and had the
nanny restart one within 90 s, where fixed thresholds ran it through with no
warning (640 s); 3e9! on this machine's default 11.77 GiB workers showed the
same signs, and a worker passed the memory cap of its run. So a spilling run
fixes the thresholds on every worker of its cluster, those that join later
included, and they stay fixed for the cluster's life.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from distributed.diagnostics.plugin import WorkerPlugin

from compute.kernels import fix_heap_thresholds, release_free_heap

if TYPE_CHECKING:
    from distributed import Client

# glibc's own mmap threshold before it adapts: blocks of 128 KiB and more are
# mapped on their own, and given back when freed.
SPILLING_HEAP_THRESHOLD = 128 * 1024


class FixedHeapThresholds(WorkerPlugin):
    """Fixes glibc's heap thresholds on each worker, and trims its heap once."""

    name = "compute-fixed-heap-thresholds"

    def setup(self, worker: Any) -> None:
        """Fix the thresholds, then give back what the heap keeps freed so far."""
        fix_heap_thresholds(SPILLING_HEAP_THRESHOLD)
        release_free_heap()


def fix_worker_heaps(client: Client) -> None:
    """Fixed heap thresholds on every worker of ``client``'s cluster, from now on."""
    client.register_plugin(FixedHeapThresholds(), name=FixedHeapThresholds.name)
