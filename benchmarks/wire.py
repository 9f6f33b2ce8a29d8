"""How fast an mpz crosses between processes: ours, pickle, and a raw socket.

Three figures per size, each the median of several runs, in MB/s of the
value's magnitude:

- serialize + deserialize in one process, with our Dask serializer
  (``compute.wire``) and with pickle (what distributed used before);
- a raw socket copy of the same number of bytes (a socketpair, one thread
  sending, this one receiving into a buffer): the ceiling of any format;
- a gather of the value from a LocalCluster worker to this process, with
  each serializer, end to end.
"""

from __future__ import annotations

import pickle
import socket
import threading

import gmpy2
from distributed import Client, LocalCluster
from distributed.protocol import deserialize, serialize

from benchmarks.measure import median_seconds
from compute import wire

SIZES_MB = (1, 27, 100)


def _value(megabytes: int) -> gmpy2.mpz:
    bits = megabytes * 8 * 10**6
    return gmpy2.mpz_urandomb(gmpy2.random_state(7), bits) | (gmpy2.mpz(1) << bits)


def _socket_copy(size: int) -> None:
    sender, receiver = socket.socketpair()
    payload = memoryview(bytes(size))
    target = bytearray(size)

    def send() -> None:
        sender.sendall(payload)

    thread = threading.Thread(target=send)
    thread.start()
    view, received = memoryview(target), 0
    while received < size:
        received += receiver.recv_into(view[received:])
    thread.join()
    sender.close()
    receiver.close()


def _round_trip(value: gmpy2.mpz, serializers: list[str]) -> gmpy2.mpz:
    header, frames = serialize(value, serializers=serializers, on_error="raise")
    return deserialize(header, frames, deserializers=serializers)


def wire_table(runs: int = 5) -> list[dict[str, object]]:
    """MB/s of each way, per size; every result checked equal to the value."""
    rows = []
    # Two clusters: the serializer registered on a worker is used for every
    # client of it, so the pickle side needs workers that never had it.
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0"
        ) as ours_cluster,
        LocalCluster(
            n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0"
        ) as pickle_cluster,
        Client(ours_cluster, set_as_default=False) as ours_client,
        Client(pickle_cluster, set_as_default=False) as pickle_client,
    ):
        wire.register_on(ours_client)
        for megabytes in SIZES_MB:
            value = _value(megabytes)
            size = (value.bit_length() + 7) // 8
            assert _round_trip(value, ["dask"]) == value
            assert pickle.loads(pickle.dumps(value, protocol=5)) == value
            on_worker = ours_client.submit(_value, megabytes, pure=False)
            assert ours_client.gather(on_worker) == value
            on_worker_pickled = pickle_client.submit(_value, megabytes, pure=False)
            assert pickle_client.gather(on_worker_pickled) == value
            seconds = {
                "ours": median_seconds(lambda v=value: _round_trip(v, ["dask"]), runs),
                "pickle": median_seconds(
                    lambda v=value: pickle.loads(pickle.dumps(v, protocol=5)), runs
                ),
                "socket": median_seconds(lambda s=size: _socket_copy(s), runs),
                "gather_ours": median_seconds(
                    lambda f=on_worker: ours_client.gather(f), runs
                ),
                "gather_pickle": median_seconds(
                    lambda f=on_worker_pickled: pickle_client.gather(f), runs
                ),
            }
            row: dict[str, object] = {"megabytes": size / 1e6}
            row.update({key: size / 1e6 / s for key, s in seconds.items()})
            rows.append(row)
            print(
                "  "
                + ", ".join(f"{key} {row[key]:.0f} MB/s" for key in seconds)
                + f" ({size / 1e6:.0f} MB)",
                flush=True,
            )
    return rows


if __name__ == "__main__":
    wire_table()
