"""``ChunkedInteger``: a non-negative integer held on a Dask cluster in chunks.

A value too large for one worker (``10**9!`` has 3.56 GB) lives as
limb-aligned chunks, lowest first, spread over the workers:
``value = sum(chunk[i] * 2**(i * chunk_bits))``, each chunk a ``gmpy2.mpz``
in ``[0, 2**chunk_bits)``. Products of chunked values are distributed
multiplications (:mod:`compute.toom_graph`) that take the chunks directly.
The caller sees the whole value only when it asks: :meth:`to_mpz` receives
one chunk at a time into one buffer, and :meth:`encoded` streams ``bin`` or
``hex`` text without ever holding the value.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import gmpy2
from dask._task_spec import Task
from dask.highlevelgraph import HighLevelGraph, MaterializedLayer
from gmpy2 import mpz

from cluster.shared import note_interrupt
from compute import toom, toom_graph
from compute.checks import checked_outputs
from compute.output import (
    digit_count,
    hex_text,
    leading_digits,
    leading_of_log10,
    log10_scaled,
)
from compute.tasks import TaskGraph, submitting
from compute.validate import as_mpz

if TYPE_CHECKING:
    from distributed import Client, Future

# Bits of the top of the value used for its digit count and leading digits.
_TOP_BITS = 1024


def items_first(tasks: dict) -> HighLevelGraph:
    """``tasks`` with every item taken from a task's tuple run before other
    ready work on its worker.

    Its tuple is then dropped soon after it is made, and the worker holds
    (and spills) chunks one by one, not the whole tuple each time one item
    is read from it.
    """
    items = {
        key
        for key, task in tasks.items()
        if isinstance(task, Task) and task.func is operator.getitem
    }
    layer = MaterializedLayer(
        tasks, annotations={"priority": lambda key: int(key in items)}
    )
    return HighLevelGraph({"tasks": layer}, {"tasks": set()})


def _bit_length(chunk: mpz) -> int:
    return chunk.bit_length()


def _top(high: mpz, low: mpz | None, chunk_bits: int, keep: int) -> tuple[mpz, int]:
    """The top ``keep`` bits of ``high * 2**C + low`` (``high`` if no ``low``),
    and the bits dropped."""
    value = mpz(high) if low is None else (mpz(high) << chunk_bits) + low
    dropped = max(0, value.bit_length() - keep)
    return value >> dropped, dropped


class ChunkedInteger:
    """A non-negative integer held as chunks on a Dask cluster.

    Made by :meth:`scatter` or by the distributed functions
    (:func:`compute.factorial_chunked`); multiplied with ``*``; brought
    back with :meth:`to_mpz`, written with :func:`compute.write_result`.

    Parameters
    ----------
    chunks : list of distributed.Future
        The chunks, lowest first, each a ``gmpy2.mpz`` in ``[0, 2**chunk_bits)``.
    chunk_bits : int
        Bits per chunk, a multiple of 64.
    client : distributed.Client
        The client that holds the futures.

    Raises
    ------
    ValueError
        If ``chunk_bits`` is not a positive multiple of 64.

    Examples
    --------
    >>> import cluster, gmpy2
    >>> from compute import ChunkedInteger
    >>> with cluster.connect(processes=False, n_workers=1) as client:
    ...     x = ChunkedInteger.scatter(gmpy2.fac(1000), client=client)
    ...     (x * x).to_mpz() == gmpy2.fac(1000) ** 2
    True
    """

    def __init__(
        self, chunks: Sequence[Future], chunk_bits: int, client: Client
    ) -> None:
        if chunk_bits <= 0 or chunk_bits % 64:
            raise ValueError(
                f"chunk_bits must be a positive multiple of 64, got {chunk_bits}"
            )
        from compute import wire  # imports distributed: the cluster path only

        wire.register_on(client)  # chunks cross as mpz frames
        self.chunks = list(chunks)
        self.chunk_bits = chunk_bits
        self.client = client
        self._bits: int | None = None

    @classmethod
    def submit(cls, output: toom_graph.ChunkedGraph, client: Client) -> ChunkedInteger:
        """The chunks of a graph's value, submitted to ``client``'s cluster."""
        with submitting():
            futures = client.get(
                items_first(output.graph.tasks), output.keys, sync=False
            )
        return cls(futures, output.chunk_bits, client)

    @classmethod
    def scatter(
        cls, value: int, *, client: Client, chunk_bits: int | None = None
    ) -> ChunkedInteger:
        """``value`` (non-negative) cut into chunks and sent to the workers."""
        number = as_mpz(value)
        if number < 0:
            raise ValueError(f"ChunkedInteger holds non-negative integers, got {value}")
        bits = chunk_bits or toom_graph.default_chunk_bits()
        count = toom_graph.chunk_count(number.bit_length(), bits)
        pieces = toom.to_chunks(number, bits, count)
        from compute import wire

        wire.register_on(client)
        # Fresh keys: a value scattered twice is two values, each with its
        # own products (content-hashed keys would share and cache them).
        return cls(client.scatter(list(pieces), hash=False), bits, client)

    def __len__(self) -> int:
        return len(self.chunks)

    def __repr__(self) -> str:
        return (
            f"ChunkedInteger({len(self.chunks)} chunks of {self.chunk_bits} bits, "
            f"{self.bit_length()} bits)"
        )

    def multiply(
        self, other: ChunkedInteger, ways: int | None = None
    ) -> ChunkedInteger:
        """``self * other`` as a distributed product.

        Parameters
        ----------
        other : ChunkedInteger
            Same client and chunk size.
        ways : int, optional
            Toom-k's k; by default from the cluster's worker threads
            (``ways_for`` of the Toom graph).
        """
        if not isinstance(other, ChunkedInteger):
            raise TypeError(
                f"a ChunkedInteger multiplies another ChunkedInteger, got "
                f"{type(other).__name__}"
            )
        if other.chunk_bits != self.chunk_bits:
            raise ValueError(
                f"chunk sizes differ: {self.chunk_bits} and {other.chunk_bits} bits"
            )
        if ways is None:
            threads = sum(self.client.nthreads().values())
            ways = toom_graph.ways_for(threads)
        graph = TaskGraph()
        chunks = toom_graph.product(
            graph, self.chunks, other.chunks, self.chunk_bits, ways, 0
        )
        [output] = checked_outputs(
            [toom_graph.ChunkedGraph(graph, chunks, self.chunk_bits)]
        )
        assert isinstance(output, toom_graph.ChunkedGraph)
        return ChunkedInteger.submit(output, self.client)

    def __mul__(self, other: ChunkedInteger) -> ChunkedInteger:
        return self.multiply(other)

    def bit_length(self) -> int:
        """Bits of the value (0 for 0), from the chunks' lengths on the workers."""
        if self._bits is None:
            lengths = self.client.gather(
                self.client.map(_bit_length, self.chunks, pure=False)
            )
            self._bits = max(
                (
                    i * self.chunk_bits + length
                    for i, length in enumerate(lengths)
                    if length
                ),
                default=0,
            )
        return self._bits

    def _top(self) -> tuple[mpz, int]:
        """The top bits of the value and the number of bits below them."""
        bits = self.bit_length()
        if bits == 0:
            return mpz(0), 0
        high = (bits - 1) // self.chunk_bits
        low = self.chunks[high - 1] if high else None
        future = self.client.submit(
            _top, self.chunks[high], low, self.chunk_bits, _TOP_BITS, pure=False
        )
        top, dropped = future.result()
        return top, dropped + max(0, high - 1) * self.chunk_bits

    def digit_count(self) -> int:
        """Exact number of decimal digits (1 for 0)."""
        return self._digits()[0]

    def leading_digits(self, count: int) -> str:
        """The first ``count`` decimal digits."""
        return self._digits(count)[1]

    def _digits(self, count: int = 1) -> tuple[int, str]:
        """Digit count and leading digits from the top bits when they decide them.

        The value lies in ``[top * 2**e, (top + 1) * 2**e)``; when both ends
        agree, so does the value. Only a value within about ``2**-200`` of a
        power of ten or of a digit boundary needs the whole value here.
        """
        top, exponent = self._top()
        if exponent == 0:
            return digit_count(top), leading_digits(top, count)
        ends = []
        for end in (top, top + 1):
            logarithm = log10_scaled(end, exponent)
            digits = int(gmpy2.floor(logarithm)) + 1
            ends.append((digits, leading_of_log10(logarithm, digits, count)))
        if ends[0] == ends[1] and ends[0][1] is not None:
            return ends[0][0], str(ends[0][1])
        whole = self.to_mpz()
        return digit_count(whole), leading_digits(whole, count)

    def _fetch(self, indexes: Sequence[int]) -> Iterator[mpz]:
        """The chunks at ``indexes``, one at a time, the next one already on its way."""
        pending = None
        for index in indexes:
            future = self.chunks[index]
            if pending is None:
                pending = future
                continue
            ready, pending = pending, future
            yield ready.result()
        if pending is not None:
            yield pending.result()

    def to_mpz(self, release: bool = False) -> mpz:
        """The whole value in this process, received chunk by chunk.

        This process holds one buffer of the value's bytes and then the mpz:
        about twice the value at the peak, never the chunks all at once.
        With ``release``, each chunk is dropped on its worker once received,
        so the cluster's memory goes down as this process's goes up.
        """
        width = self.chunk_bits // 8
        used = toom_graph.chunk_count(self.bit_length(), self.chunk_bits)
        buffer = bytearray(used * width)
        for index, chunk in enumerate(self._fetch(range(used))):
            buffer[index * width : (index + 1) * width] = chunk.to_bytes(
                width, "little"
            )
            del chunk
            if release:  # the last reference: distributed releases the key
                self.chunks[index] = None  # type: ignore[call-overload]
        if release:
            self.chunks = []
        value = mpz.from_bytes(buffer, "little")
        del buffer
        return value

    def encoded(self, format: str) -> Iterator[bytes]:
        """``bin`` (big-endian bytes) or ``hex`` (digits, newline), top chunk first.

        Matches :func:`compute.write_result` byte for byte; no process holds
        more than one chunk of the value at a time.
        """
        if format not in ("bin", "hex"):
            raise ValueError(f"chunked values stream as bin or hex, got {format!r}")
        blocks = self._big_endian_blocks()
        yield from blocks if format == "bin" else hex_text(blocks)

    def _big_endian_blocks(self) -> Iterator[bytes]:
        """The value's bytes, big-endian, one chunk at a time, top first."""
        width = self.chunk_bits // 8
        bits = self.bit_length()
        if bits == 0:
            return
        top = (bits - 1) // self.chunk_bits
        for index, chunk in zip(
            range(top, -1, -1), self._fetch(range(top, -1, -1)), strict=True
        ):
            size = (chunk.bit_length() + 7) // 8 if index == top else width
            yield chunk.to_bytes(size, "big")

    def wait(self, timeout: float | None = None) -> ChunkedInteger:
        """Block until every chunk is computed (or ``timeout`` seconds pass).

        A Ctrl-C here marks the shared client's cluster as interrupted
        (``cluster.shared.note_interrupt``): at exit its busy workers are
        stopped at once rather than closed politely, which would log a
        WARNING for each task the close cut off.
        """
        from distributed import wait

        try:
            with self.client.as_current():
                wait(self.chunks, timeout=timeout)
        except KeyboardInterrupt:
            note_interrupt(self.client)
            raise
        return self

    def release(self) -> None:
        """Drop this value's references to its chunks.

        The workers forget a chunk once no future refers to it; a product
        computed twice (same keys) stays for whoever else holds it, which
        cancelling would not respect.
        """
        self.chunks = []
