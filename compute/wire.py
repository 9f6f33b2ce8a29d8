"""How big integers cross between processes: a Dask serializer for gmpy2.mpz.

gmpy2 pickles an mpz as ``from_binary(to_binary(x))``: the export is copied
once more into the pickle stream, and on the other side the stream is
copied before the import. Registered with distributed's ``dask_serialize``
family, an mpz instead travels as one frame holding its magnitude, with no
pickle around it and no compression: one export on the sending side, one
import on the receiving side (gmpy2 exposes no limb buffer to share).

Wire format of one mpz: the header (a msgpack-able dict) holds
``{"mpz": 1, "nbytes": n, "negative": bool, "crc32": c}``; the single frame
holds the magnitude as ``n`` little-endian bytes, ``n = ceil(bits / 8)``
(empty for zero). A list of mpz goes element by element (distributed
iterates collections whose items have a registered serializer). On read the
frame's length and CRC-32 are checked: a short or corrupt frame raises a
ValueError instead of giving a wrong number.

Importing this module registers the serializer, and imports distributed:
only the cluster path imports it. :func:`register_on` also registers it on
every worker of a cluster, present and future, through a worker plugin.
"""

from __future__ import annotations

import threading
import zlib
from typing import TYPE_CHECKING, Any

from distributed.diagnostics.plugin import WorkerPlugin
from distributed.protocol import dask_deserialize, dask_serialize
from gmpy2 import mpz

if TYPE_CHECKING:
    from distributed import Client

_FORMAT = 1
_lock = threading.Lock()
_clients_with_plugin: set[str] = set()


def serialize_mpz(value: mpz) -> tuple[dict[str, Any], list[bytes]]:
    """The header and the one frame of ``value`` (see the module docstring)."""
    magnitude = abs(value)
    data = magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "little")
    header = {
        "mpz": _FORMAT,
        "nbytes": len(data),
        "negative": bool(value < 0),
        "crc32": zlib.crc32(data),
    }
    return header, [data]


def deserialize_mpz(header: dict[str, Any], frames: list[Any]) -> mpz:
    """The mpz of ``header`` and ``frames``; a ValueError if they disagree."""
    if header.get("mpz") != _FORMAT:
        raise ValueError(f"not an mpz frame of format {_FORMAT}: header {header!r}")
    data = b"".join(frames) if len(frames) != 1 else frames[0]
    size = memoryview(data).nbytes
    if size != header["nbytes"]:
        raise ValueError(
            f"mpz frame is {size} bytes, its header says {header['nbytes']}: "
            "the transfer was cut short or corrupted"
        )
    if zlib.crc32(data) != header["crc32"]:
        raise ValueError("mpz frame fails its CRC-32 check: the transfer was corrupted")
    magnitude = mpz.from_bytes(data, "little")
    return -magnitude if header["negative"] else magnitude


dask_serialize.register(mpz)(serialize_mpz)
dask_deserialize.register(mpz)(deserialize_mpz)


class RegisterOnWorkers(WorkerPlugin):
    """A worker plugin whose unpickling imports this module, registering it there."""

    name = "compute-mpz-serializer"

    def setup(self, worker: Any) -> None:
        """Nothing more to do: importing this module on the worker registered it."""


def register_on(client: Client) -> None:
    """Use the serializer on every worker of ``client``'s cluster, once a client."""
    with _lock:
        if client.id in _clients_with_plugin:
            return
        _clients_with_plugin.add(client.id)
    client.register_plugin(RegisterOnWorkers(), name=RegisterOnWorkers.name)
