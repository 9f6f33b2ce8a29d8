"""How big integers cross between processes: a Dask serializer for gmpy2.mpz.

gmpy2 pickles an mpz as ``from_binary(to_binary(x))``: a byte-wise export,
copied once more into the pickle stream, and on the other side the stream is
copied before a byte-wise import. Registered with distributed's
``dask_serialize`` family, an mpz instead travels as one frame holding its
limbs, with no pickle around it and no compression. The sending side makes
one copy (the value into an ``xmpz``, whose limb buffer the frame then views);
the receiving side copies the frame into an ``xmpz``'s limbs and that into
the ``mpz`` (gmpy2 builds no ``mpz`` around given limbs). Both are plain
memory copies, faster than the byte-wise ``to_bytes``/``from_bytes`` (see
``benchmarks/wire.py``).

Wire format of one mpz: the header (a msgpack-able dict) holds
``{"mpz": 2, "nbytes": n, "negative": bool, "crc32": c}``; the single frame
holds the magnitude as ``n`` little-endian bytes, whole 64-bit limbs with
the top limb's high bytes zero (empty for zero). A list of mpz goes element
by element (distributed iterates collections whose items have a registered
serializer). On read the frame's length and CRC-32 are checked: a short or
corrupt frame raises a ValueError instead of giving a wrong number.

A value with its residue (:class:`compute.checks.Hashed`) travels the same
way, its residue in the header; a task's tuple of them
(:class:`compute.kernels.parts.Parts`) item by item, and Dask sizes it by
every item.

Importing this module registers the serializer, and imports distributed:
only the cluster path imports it. :func:`register_on` also registers it on
every worker of a cluster, present and future, through a worker plugin.
"""

from __future__ import annotations

import ctypes
import pickle
import sys
import threading
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dask.sizeof import sizeof
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.protocol import dask_deserialize, dask_serialize
from gmpy2 import mpz, xmpz

from compute.checks import Hashed
from compute.kernels import SquareForm
from compute.kernels.parts import Parts

if TYPE_CHECKING:
    from distributed import Client

_FORMAT = 2
_LIMB_BYTES = 8
# The limb buffer is the wire format only where limbs are 64-bit little-endian.
_NATIVE_LIMBS = sys.byteorder == "little" and xmpz(0).limb_size == _LIMB_BYTES
_lock = threading.Lock()
_clients_with_plugin: set[str] = set()


def _limbs_view(value: mpz) -> memoryview:
    """A copy of ``value``'s magnitude; its limbs as bytes, the view keeping it."""
    limbs = xmpz(abs(value))
    size = limbs.num_limbs() * _LIMB_BYTES if limbs else 0
    buffer = (ctypes.c_char * size).from_address(limbs.limbs_read())
    buffer.limbs = limbs  # type: ignore[attr-defined]  # the view keeps the xmpz
    return memoryview(buffer).cast("B")


def _address(data: memoryview) -> Any:
    """Something ``ctypes.memmove`` reads ``data``'s bytes from, without copying."""
    if not data.readonly:
        return (ctypes.c_char * data.nbytes).from_buffer(data)
    if isinstance(data.obj, bytes) and data.nbytes == len(data.obj):
        return data.obj
    return data.tobytes()  # a read-only view into something else: copied


def _from_limbs(data: memoryview) -> mpz:
    count = data.nbytes // _LIMB_BYTES
    limbs = xmpz(0)
    if count:
        ctypes.memmove(limbs.limbs_write(count), _address(data), data.nbytes)
        limbs.limbs_finish(count)
    return mpz(limbs)


def serialize_mpz(value: mpz) -> tuple[dict[str, Any], list[memoryview | bytes]]:
    """The header and the one frame of ``value`` (see the module docstring)."""
    if _NATIVE_LIMBS:
        data: memoryview | bytes = _limbs_view(value)
    else:
        magnitude = abs(value)
        count = -(-magnitude.bit_length() // (8 * _LIMB_BYTES))
        data = magnitude.to_bytes(count * _LIMB_BYTES, "little")
    header = {
        "mpz": _FORMAT,
        "nbytes": memoryview(data).nbytes,
        "negative": bool(value < 0),
        "crc32": zlib.crc32(data),
        "compression": (False,),
    }
    return header, [data]


def deserialize_mpz(header: dict[str, Any], frames: list[Any]) -> mpz:
    """The mpz of ``header`` and ``frames``; a ValueError if they disagree."""
    if header.get("mpz") != _FORMAT:
        raise ValueError(f"not an mpz frame of format {_FORMAT}: header {header!r}")
    data = memoryview(b"".join(frames) if len(frames) != 1 else frames[0]).cast("B")
    if data.nbytes != header["nbytes"]:
        raise ValueError(
            f"mpz frame is {data.nbytes} bytes, its header says {header['nbytes']}: "
            "the transfer was cut short or corrupted"
        )
    if zlib.crc32(data) != header["crc32"]:
        raise ValueError("mpz frame fails its CRC-32 check: the transfer was corrupted")
    if _NATIVE_LIMBS and data.nbytes % _LIMB_BYTES == 0:
        magnitude = _from_limbs(data)
    else:
        magnitude = mpz.from_bytes(data, "little")
    return -magnitude if header["negative"] else magnitude


dask_serialize.register(mpz)(serialize_mpz)
dask_deserialize.register(mpz)(deserialize_mpz)


def serialize_form(
    value: SquareForm,
) -> tuple[dict[str, Any], list[memoryview | bytes]]:
    """A :class:`compute.kernels.SquareForm`: its root's frame, then its odd part's."""
    headers, frames = zip(*(serialize_mpz(part) for part in value.peek()), strict=True)
    return {"form": list(headers), "compression": (False, False)}, [
        frame for [frame] in frames
    ]


def deserialize_form(header: dict[str, Any], frames: list[Any]) -> SquareForm:
    """The SquareForm of ``header`` and ``frames``; a ValueError if they disagree."""
    if len(frames) != 2 or len(header["form"]) != 2:
        raise ValueError(
            f"{len(frames)} frames for a square form's 2 parts: the transfer was "
            "cut short or corrupted"
        )
    root, odd = (
        deserialize_mpz(part, [frame])
        for part, frame in zip(header["form"], frames, strict=True)
    )
    return SquareForm(root, odd)


dask_serialize.register(SquareForm)(serialize_form)
dask_deserialize.register(SquareForm)(deserialize_form)
sizeof.register(SquareForm)(sys.getsizeof)


def serialize_hashed(value: Hashed) -> tuple[dict[str, Any], list[memoryview | bytes]]:
    """A :class:`compute.checks.Hashed` mpz or square form: its frames, its
    residue in the header."""
    if isinstance(value.value, SquareForm):
        header, frames = serialize_form(value.value)
        return {**header, "hashed": "form", "residue": list(value.residue)}, frames
    if not isinstance(value.value, mpz):
        return {"hashed": "pickle"}, [pickle.dumps(value, protocol=5)]
    header, frames = serialize_mpz(value.value)
    return {**header, "hashed": "mpz", "residue": value.residue}, frames


def deserialize_hashed(header: dict[str, Any], frames: list[Any]) -> Hashed:
    """The Hashed of ``header`` and ``frames``; a ValueError if they disagree."""
    if header.get("hashed") == "pickle":
        return pickle.loads(b"".join(frames))
    if header.get("hashed") == "form":
        return Hashed(deserialize_form(header, frames), tuple(header["residue"]))
    return Hashed(deserialize_mpz(header, frames), header["residue"])


dask_serialize.register(Hashed)(serialize_hashed)
dask_deserialize.register(Hashed)(deserialize_hashed)

_ITEM_SERIALIZERS: dict[type, Callable[[Any], tuple[dict[str, Any], list[Any]]]] = {
    mpz: serialize_mpz,
    Hashed: serialize_hashed,
}


def serialize_parts(value: Parts) -> tuple[dict[str, Any], list[memoryview | bytes]]:
    """A :class:`compute.kernels.parts.Parts` of mpz or Hashed items: item by
    item, as distributed sends a plain tuple; pickled if it holds anything else."""
    if not all(type(item) in _ITEM_SERIALIZERS for item in value):
        return {"parts": "pickle"}, [pickle.dumps(value, protocol=5)]
    headers, frames = [], []
    for item in value:
        header, [frame] = _ITEM_SERIALIZERS[type(item)](item)
        headers.append(header)
        frames.append(frame)
    return {"parts": headers, "compression": (False,) * len(frames)}, frames


def deserialize_parts(header: dict[str, Any], frames: list[Any]) -> Parts:
    """The Parts of ``header`` and ``frames``; a ValueError if they disagree."""
    if header["parts"] == "pickle":
        return pickle.loads(b"".join(frames))
    if len(frames) != len(header["parts"]):
        raise ValueError(
            f"{len(frames)} frames for {len(header['parts'])} parts: the transfer "
            "was cut short or corrupted"
        )
    return Parts(
        deserialize_hashed(item, [frame])
        if "hashed" in item
        else deserialize_mpz(item, [frame])
        for item, frame in zip(header["parts"], frames, strict=True)
    )


dask_serialize.register(Parts)(serialize_parts)
dask_deserialize.register(Parts)(deserialize_parts)
# Dask sizes a tuple from a sample of its items; a worker spills by that size.
sizeof.register(Parts)(sys.getsizeof)


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
