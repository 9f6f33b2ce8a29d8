"""README promises about where data goes and what is shared, on real processes."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import dask.config
import gmpy2
from distributed import get_task_stream

import compute
from compute.delayed import factorial_delayed
from tests.remote import clean_env, run_watched


def incoming_transfers(client) -> int:
    """Data fetched by workers from other workers, so far."""
    counts = client.run(lambda dask_worker: len(dask_worker.transfer_incoming_log))
    return sum(counts.values())


async def _stop_stealing(dask_scheduler) -> None:
    await dask_scheduler.extensions["stealing"].stop()


async def _start_stealing(dask_scheduler) -> None:
    await dask_scheduler.extensions["stealing"].start()


@contextlib.contextmanager
def stealing_stopped(client) -> Iterator[None]:
    """Within the block, distributed's work stealing moves no task.

    It may move a task placed with its data to a worker left idle (the
    placement is loose, so that a retiring worker's tasks go on elsewhere);
    what is checked is where the package places its tasks.
    """
    client.run_on_scheduler(_stop_stealing)
    try:
        yield
    finally:
        client.run_on_scheduler(_start_stealing)


def test_decimal_conversion_places_every_task_with_its_data(client):
    value = gmpy2.fac(10**6)
    with stealing_stopped(client):
        before = incoming_transfers(client)
        with dask.config.set({"compute.decimal.part-digits": 200_000}):
            text = compute.to_decimal(value, client=client)
        assert text == value.digits(10)
        assert incoming_transfers(client) == before


def held_parts(client) -> int:
    return sum(str(key).startswith("decimal-digits") for key in client.futures)


def test_streaming_holds_only_the_parts_not_yet_read(client):
    value = gmpy2.fac(10**6)
    with dask.config.set({"compute.decimal.part-digits": 200_000}):
        chunks = compute.decimal_chunks(value, client=client)
        first = next(chunks)
        total = held_parts(client) + 1  # the first part is read and released
        assert total >= 16
        digits = [first]
        for read, chunk in enumerate(chunks, start=2):
            digits.append(chunk)
            assert held_parts(client) == total - read
    assert "".join(digits) == value.digits(10)


def test_equal_n_share_keys_so_equal_work_is_done_once(client):
    n = 3 * 10**6  # split into prime-power pieces
    with get_task_stream(client) as stream:
        first = client.compute(factorial_delayed(n))
        second = client.compute(factorial_delayed(n))
        assert first.key == second.key
        assert first.result(timeout=120) == second.result(timeout=120)
    assert first.result() == gmpy2.fac(n)
    ran = [task["key"] for task in stream.data]
    pieces = [key for key in ran if str(key).startswith(f"prime-power-product-{n}-")]
    assert len(pieces) == len(set(pieces)) >= 2  # each piece computed once


TAKEN_PORT = """
import cluster

if __name__ == "__main__":
    with cluster.connect(n_workers=1, dashboard_address="127.0.0.1:{port}") as client:
        print(client.dashboard_link)
"""


def test_a_taken_dashboard_port_falls_back_to_a_free_one_quietly(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        script = tmp_path / "taken.py"
        script.write_text(TAKEN_PORT.format(port=port))
        finished, _ = run_watched(script, clean_env(tmp_path))
    assert finished.returncode == 0, finished.stderr
    link = finished.stdout.strip()
    assert link.startswith("http://127.0.0.1:") and link.endswith("/status")
    assert f":{port}/" not in link
    assert finished.stderr == ""  # no "Port ... is already in use" warning
