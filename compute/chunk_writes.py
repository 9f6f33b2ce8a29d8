"""Workers write a :class:`ChunkedInteger`'s chunks into its file themselves.

A ``bin`` or ``hex`` file of a chunked value has a fixed layout: chunk ``i``
fills a known span of bytes, counted back from the end. When the file's
folder is one that every worker sees (a local cluster, or a file system all
hosts share), each chunk is written at its offset by the worker that holds
it, and the value never crosses to the caller: at 1 Gbit/s, ``10**9!``'s
3.56 GB would take about 28 s to reach it. Whether the workers see the
folder is tested, not assumed: the caller writes a random token into the
file it has just created, and every worker must read it back.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from dask.base import tokenize
from gmpy2 import mpz

from compute.chunked import ChunkedInteger
from compute.execute import cluster_work

if TYPE_CHECKING:
    from distributed import Client, Future

logger = logging.getLogger(__name__)

_TOKEN_BYTES = 16


def _sees(path: str, token: bytes) -> bool:
    """Whether this worker reads ``token`` at the start of the file ``path``."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(token)) == token
    except OSError:
        return False


def write_chunk(chunk: mpz, path: str, offset: int, size: int, as_hex: bool) -> int:
    """Write ``chunk``'s low ``size`` bytes, big-endian (or their ``2 * size``
    hex digits), at ``offset`` in the existing file ``path``; the count written.

    ``size`` is below the chunk's width only for the value's top chunk, whose
    high bytes are zeros that the file leaves out.
    """
    data = chunk.to_bytes(size, "big")
    if as_hex:
        data = data.hex().encode()
        if offset == 0:  # the top chunk: no leading zeros
            data = data.lstrip(b"0")
    descriptor = os.open(path, os.O_WRONLY)
    try:
        written = 0
        while written < len(data):
            written += os.pwrite(descriptor, data[written:], offset + written)
    finally:
        os.close(descriptor)  # on a network file system, close() flushes
    return written


def _spans(
    bits: int, chunk_bits: int, as_hex: bool
) -> tuple[int, list[tuple[int, int]]]:
    """The file's length without its newline, and each chunk's
    ``(offset, size)``: ``size`` bytes of it go at ``offset``."""
    width = chunk_bits // 8
    total = (bits + 7) // 8
    top = (bits - 1) // chunk_bits
    spans = []
    for index in range(top + 1):
        size = min(width, total - index * width)
        spans.append((total - index * width - size, size))
    if not as_hex:
        return total, spans
    digits = (bits + 3) // 4
    # Every chunk but the top one takes 2 * size digits; the top one what is left.
    return digits, [
        (digits - 2 * (index * width + size), size) if index < top else (0, size)
        for index, (_, size) in enumerate(spans)
    ]


def workers_write(
    value: ChunkedInteger, handle: BinaryIO, format: str, target: Path
) -> bool:
    """Have the workers write ``value`` in ``format`` (``bin`` or ``hex``)
    into the open, empty file ``handle``, which becomes ``target``.

    Returns False, the file still empty, when some worker does not see the
    file or the value is 0: the caller then writes the stream of
    :meth:`ChunkedInteger.encoded` itself. ``handle``'s name is opened by
    every worker, as an absolute path (their working folders may differ).
    """
    bits = value.bit_length()
    if bits == 0:
        return False
    client: Client = value.client
    path = os.path.abspath(handle.name)
    token = secrets.token_bytes(_TOKEN_BYTES)
    handle.write(token)
    handle.flush()
    futures: list[Future] = []
    # An interrupt cancels the writes and lets the shared cluster close fast.
    with cluster_work(client, futures):
        seen = client.run(_sees, path, token, on_error="return")
        if not seen or not all(answer is True for answer in seen.values()):
            logger.info(
                "not every worker sees the folder of %s: its bytes go through "
                "this process",
                target,
            )
            handle.seek(0)
            handle.truncate(0)
            return False
        as_hex = format == "hex"
        length, spans = _spans(bits, value.chunk_bits, as_hex)
        handle.truncate(length)
        if as_hex:
            handle.seek(length)
            handle.write(b"\n")
            handle.flush()
        name = tokenize(path, token)
        futures.extend(
            client.submit(
                write_chunk,
                value.chunks[index],
                path,
                offset,
                size,
                as_hex,
                key=f"write-chunk-{name}-{index}",
            )
            for index, (offset, size) in enumerate(spans)
        )
        written = sum(client.gather(futures))
    if written != length:  # chunks outside [0, 2**chunk_bits): never a wrong file
        raise RuntimeError(f"the workers wrote {written} of the {length} bytes")
    logger.debug(
        "the workers wrote %s bytes of %s into %s", length + as_hex, format, target
    )
    return True
