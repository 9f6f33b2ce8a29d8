"""The mpz wire format: exact round trips, one frame, corrupt frames refused."""

from __future__ import annotations

import sys

import gmpy2
import pytest
from dask.sizeof import sizeof
from distributed.protocol import deserialize, serialize
from gmpy2 import mpz

import compute
from compute import toom, wire
from compute.checks import Hashed
from compute.kernels import SquareForm
from compute.kernels.parts import Parts

VALUES = [
    mpz(0),
    mpz(1),
    mpz(-1),
    mpz(2**64 - 1),  # one limb
    -mpz(2**64),
    gmpy2.fac(5310),
    -(mpz(1) << (64 * 10**7)) + 12345,  # 10**7 limbs, negative
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: f"{v.bit_length()}-bits")
def test_one_mpz_round_trips_as_one_frame_without_pickle(value):
    header, frames = serialize(value, serializers=["dask"], on_error="raise")
    assert header["serializer"] == "dask"
    assert len(frames) == 1
    limbs = -(-abs(value).bit_length() // 64)
    assert memoryview(frames[0]).nbytes == 8 * limbs
    assert header["sub-header"]["compression"] == (False,)
    back = deserialize(header, frames)
    assert type(back) is mpz
    assert back == value


def test_a_list_of_mpz_goes_element_by_element():
    values = [gmpy2.fac(n) for n in (0, 30, 7854)] + [-mpz(99)]
    header, frames = serialize(values, serializers=["dask", "pickle"])
    assert sum(len(frame) for frame in frames) >= sum(
        (abs(v).bit_length() + 7) // 8 for v in values
    )
    assert deserialize(header, frames) == values


@pytest.mark.parametrize("value", VALUES, ids=lambda v: f"{v.bit_length()}-bits")
def test_the_frame_is_the_little_endian_magnitude_in_whole_limbs(value, monkeypatch):
    _, [frame] = wire.serialize_mpz(value)
    size = 8 * -(-abs(value).bit_length() // 64)
    assert bytes(frame) == abs(value).to_bytes(size, "little")
    # Where limbs are not 64-bit little-endian, the same bytes are written
    # and read byte-wise.
    monkeypatch.setattr(wire, "_NATIVE_LIMBS", False)
    header, [portable] = wire.serialize_mpz(value)
    assert bytes(portable) == bytes(frame)
    assert wire.deserialize_mpz(header, [portable]) == value


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_frames_of_any_buffer_type_are_read(kind):
    value = -gmpy2.fac(3000)
    header, [frame] = wire.serialize_mpz(value)
    back = wire.deserialize_mpz(header, [kind(bytes(frame))])
    assert type(back) is mpz
    assert back == value


def test_a_short_frame_is_refused():
    header, frames = wire.serialize_mpz(gmpy2.fac(1000))
    with pytest.raises(
        ValueError, match="mpz frame is 1071 bytes, its header says 1072"
    ):
        wire.deserialize_mpz(header, [bytes(frames[0])[:-1]])


def test_a_corrupt_frame_is_refused():
    header, frames = wire.serialize_mpz(gmpy2.fac(1000))
    corrupt = bytearray(frames[0])
    corrupt[100] ^= 0x01
    with pytest.raises(ValueError, match="fails its CRC-32 check"):
        wire.deserialize_mpz(header, [bytes(corrupt)])


def test_a_foreign_header_is_refused():
    with pytest.raises(ValueError, match="not an mpz frame of format 2"):
        wire.deserialize_mpz({"nbytes": 0}, [b""])


def test_the_cluster_path_uses_it_on_every_worker(client):
    values = compute.factorial_many([10**5, 3, 10**5 + 1], client=client)
    assert values == [gmpy2.fac(n) for n in (10**5, 3, 10**5 + 1)]

    def registered() -> bool:
        from distributed.protocol import dask_serialize

        return dask_serialize.dispatch(mpz) is wire.serialize_mpz

    assert set(client.run(registered).values()) == {True}


def _chunks_of_unequal_size() -> Parts:
    # A product's top chunks are short or empty: Dask's sample of ten items
    # misjudges such a tuple.
    return Parts([gmpy2.fac(20_000)] * 3 + [mpz(0)] * 27 + [mpz(-5)])


def test_a_tuple_of_parts_is_sized_by_every_item():
    parts = _chunks_of_unequal_size()
    whole = sum(sys.getsizeof(item) for item in parts)
    assert sizeof(parts) >= whole
    assert sizeof(parts) < whole + 1000
    hashed = Hashed(parts, 7)
    assert sizeof(hashed) >= whole


@pytest.mark.parametrize(
    "parts",
    [
        Parts(VALUES),
        Parts(Hashed(value, index) for index, value in enumerate(VALUES)),
        Parts(()),
    ],
    ids=["mpz", "hashed", "empty"],
)
def test_a_tuple_of_parts_goes_item_by_item_in_one_frame_each(parts):
    header, frames = serialize(parts, serializers=["dask"], on_error="raise")
    assert header["serializer"] == "dask"
    assert len(frames) == len(parts)
    back = deserialize(header, frames)
    assert type(back) is Parts
    assert back == parts


def test_a_tuple_of_parts_holding_other_items_is_pickled():
    parts = Parts([mpz(3), "three"])
    header, frames = wire.serialize_parts(parts)
    assert header == {"parts": "pickle"}
    assert wire.deserialize_parts(header, frames) == parts


def test_a_tuple_of_parts_missing_a_frame_is_refused():
    header, frames = wire.serialize_parts(Parts(VALUES[:3]))
    with pytest.raises(ValueError, match="2 frames for 3 parts"):
        wire.deserialize_parts(header, frames[:2])


def test_tasks_return_their_chunks_as_parts():
    chunks = toom.to_chunks(gmpy2.fac(10_000), 64 * 256, 10)
    assert type(chunks) is Parts
    assert type(toom.signed_chunks(-gmpy2.fac(10_000), 64 * 256, 10)) is Parts
    assert type(toom.evaluate_slice(3, chunks[:3])) is Parts


def test_a_square_form_goes_as_two_frames_and_is_sized_by_its_parts():
    root, odd = gmpy2.fac(20_000), mpz(-(3**41))
    form = SquareForm(root, odd)
    assert sizeof(form) >= sys.getsizeof(root) + sys.getsizeof(odd)
    assert sizeof(Hashed(form, (1, 2))) >= sizeof(form)
    header, frames = serialize(form, serializers=["dask"], on_error="raise")
    assert header["serializer"] == "dask" and len(frames) == 2
    assert deserialize(header, frames).peek() == (root, odd)
    header, frames = serialize(Hashed(form, (5, 6)), serializers=["dask"])
    back = deserialize(header, frames)
    assert back.residue == (5, 6) and back.value.peek() == (root, odd)
    form_header, form_frames = wire.serialize_form(form)
    with pytest.raises(ValueError, match="1 frames for a square form's 2 parts"):
        wire.deserialize_form(form_header, form_frames[:1])
    form.take()
    assert sizeof(form) < 100  # taken: its parts belong to the consumer
