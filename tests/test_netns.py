"""Hosts with their own network: the multi-host recipe, TLS, and cut links.

Every host is a network namespace on a private bridge (tests/netns.py), with
an address from 198.18.0.0/15. These tests need root; without it they fail
with one line, unless ``make test COMPUTE_TEST_NETNS=0`` leaves them out.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import netns
from tests.remote import DASK, clean_env

SEED = [5310, 5263, 7854]
SCRIPT = """
import gmpy2
import compute

if __name__ == "__main__":
    ns = {ns}
    results = compute.factorial_many(ns)
    assert results == [gmpy2.fac(n) for n in ns]
    print("exact", len(results), flush=True)
"""
# Prints the address of a worker running a piece of a split factorial.
BUSY_WORKER = """
import sys, time
from distributed import Client

with Client(sys.argv[1], timeout=20) as client:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        busy = sorted(
            worker
            for worker, keys in client.processing().items()
            if any("prime-power-product" in str(key) for key in keys)
        )
        if busy:
            print(busy[0])
            break
        time.sleep(0.05)
"""
WORKERS = """
import sys
from distributed import Client

with Client(sys.argv[1], timeout=20) as client:
    client.wait_for_workers(int(sys.argv[2]), timeout=60)
    print(len(client.scheduler_info()["workers"]))
"""

# Writes one chunked value to bin and hex files in a folder, and says who wrote.
CHUNKED_WRITE = """
import logging, sys
import gmpy2
import compute
from distributed import Client

logging.basicConfig(format="%(message)s", level=logging.WARNING)
logging.getLogger("compute.chunk_writes").setLevel(logging.DEBUG)
value = gmpy2.fac(300000)
with Client(sys.argv[1], timeout=20) as client:
    held = compute.ChunkedInteger.scatter(value, client=client, chunk_bits=65536)
    for format in ("bin", "hex"):
        path = compute.write_result(held, f"{sys.argv[2]}/f.{format}", format=format)
        assert compute.read_result(path, format=format) == value, format
        print("exact", format, flush=True)
"""


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return clean_env(tmp_path)


def start_cluster(
    network: netns.Network, env: dict[str, str], protocol: str, log: Path
) -> str:
    """``dask scheduler`` on the first host, ``dask worker`` on the next two."""
    scheduler, *workers = network.hosts[:3]
    output = log.open("w")
    address = network.start_scheduler(scheduler, env, output, protocol=protocol)
    for number, worker in enumerate(workers):
        network.start_worker(worker, address, env, output, f"host-{number + 1}")
    ready = network.run(
        network.hosts[3], [sys.executable, "-c", WORKERS, address, "2"], env, 90
    )
    assert ready.stdout == "2\n", ready.stderr[-2000:]
    return address


def start_script(network, env, tmp_path, ns, address) -> subprocess.Popen:
    """The user's script for ``ns`` on the client host, output piped."""
    script = tmp_path / "big.py"
    script.write_text(SCRIPT.format(ns=ns))
    return network.start(
        network.hosts[3],
        [sys.executable, str(script)],
        {**env, "DASK_SCHEDULER_ADDRESS": address},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def run_script(network, env, tmp_path, ns, address, timeout=300):
    """The user's script for ``ns`` on the client host, run to its exit."""
    user = start_script(network, env, tmp_path, ns, address)
    stdout, stderr = user.communicate(timeout=timeout)  # killed at teardown if late
    return subprocess.CompletedProcess(user.args, user.returncode, stdout, stderr)


@pytest.fixture
def network(available) -> Iterator[netns.Network]:
    with netns.hosts(4) as network:
        yield network
    assert netns.existing() == []


def test_the_recipe_across_hosts_with_an_unchanged_script(network, env, tmp_path):
    address = start_cluster(network, env, "tcp", tmp_path / "cluster.log")
    finished = run_script(network, env, tmp_path, [*SEED, 3 * 10**6], address)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == "exact 4\n"
    assert finished.stderr == ""


def test_the_recipe_with_tls(network, env, tmp_path):
    certs = tmp_path / "certs"
    scheduler = network.hosts[0].address
    made = subprocess.run(
        [sys.executable, "-m", "cluster", "certs", str(certs), "--host", scheduler],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    secured = {**env, "DASK_CONFIG": str(certs)}
    address = start_cluster(network, secured, "tls", tmp_path / "cluster.log")
    assert address.startswith("tls://198.18.")
    finished = run_script(network, secured, tmp_path, [*SEED, 3 * 10**6], address)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == "exact 4\n"
    assert finished.stderr == ""
    # Without the certificates the same script is refused, naming the address.
    refused = run_script(network, env, tmp_path, SEED, address, timeout=60)
    assert refused.returncode == 1
    assert f"ValueError: the address {address} asks for TLS, but " in refused.stderr


def test_workers_write_chunks_into_a_folder_every_host_sees(network, env, tmp_path):
    log = tmp_path / "cluster.log"
    address = start_cluster(network, env, "tcp", log)
    shared, hidden = tmp_path / "shared", tmp_path / "hidden"
    shared.mkdir()
    hidden.mkdir()
    client = network.hosts[3]
    script = [sys.executable, "-c", CHUNKED_WRITE, address]
    wrote = network.run(client, [*script, str(shared)], env, 120)
    assert wrote.stdout == "exact bin\nexact hex\n", wrote.stderr[-2000:]
    assert wrote.stderr.splitlines() == [
        f"the workers wrote 628198 bytes of bin into {shared}/f.bin",
        f"the workers wrote 1256397 bytes of hex into {shared}/f.hex",
    ]
    # A worker that sees another folder under the same name (its own mount
    # namespace, a tmpfs over it): the bytes then go through the caller.
    mounted = f'mount -t tmpfs ct-hidden {hidden} && exec "$@"'
    with log.open("a") as output:
        network.start(
            client,
            ["unshare", "--mount", "sh", "-c", mounted, "sh", DASK, "worker",
             address, "--host", client.address, "--nthreads", "1",
             "--no-dashboard", "--name", "own-mounts"],
            env, stdout=output, stderr=output,
        )  # fmt: skip
    ready = network.run(client, [sys.executable, "-c", WORKERS, address, "3"], env, 90)
    assert ready.stdout == "3\n", ready.stderr[-2000:]
    streamed = network.run(client, [*script, str(hidden)], env, 120)
    assert streamed.stdout == "exact bin\nexact hex\n", streamed.stderr[-2000:]
    assert streamed.stderr.splitlines() == [
        f"not every worker sees the folder of {hidden}/f.{format}: its bytes go "
        "through this process"
        for format in ("bin", "hex")
    ]


def wait_for_busy_worker(network, env, address) -> str:
    busy = network.run(
        network.hosts[3], [sys.executable, "-c", BUSY_WORKER, address], env, 90
    )
    assert busy.stdout.startswith("tcp://198.18."), busy.stderr[-2000:]
    return busy.stdout.strip()


def test_a_cut_worker_link_is_recomputed_elsewhere_then_replaced(
    network, env, tmp_path
):
    # distributed.scheduler.worker-ttl governs how soon a silent worker is
    # given up (5 minutes by default); the connect timeout bounds the attempt
    # to restart it through its unreachable nanny.
    scheduler_env = {
        **env,
        "DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL": "5s",
        "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "5s",
    }
    log = tmp_path / "cluster.log"
    address = start_cluster(network, scheduler_env, "tcp", log)
    n = 2 * 10**7
    user = start_script(network, env, tmp_path, [n], address)
    busy = wait_for_busy_worker(network, env, address)
    victim = next(host for host in network.hosts[1:3] if host.address in busy)
    cut = time.monotonic()
    network.cut(victim)
    stdout, stderr = user.communicate(timeout=300)
    recovered = time.monotonic() - cut
    assert user.returncode == 0, stderr[-3000:]
    assert stdout == "exact 1\n"
    assert "Worker failed to heartbeat" in log.read_text()
    print(f"\n{n}! exact {recovered:.1f} s after its worker's link was cut")
    # distributed's worker closes once its scheduler link breaks: back on the
    # network, a supervisor (here, the test) starts it again, and work runs.
    network.restore(victim)
    with log.open("a") as output:
        network.start_worker(victim, address, env, output, "replacement")
    ready = network.run(
        network.hosts[3], [sys.executable, "-c", WORKERS, address, "2"], env, 90
    )
    assert ready.stdout == "2\n", ready.stderr[-2000:]
    finished = run_script(network, env, tmp_path, [*SEED, 3 * 10**6], address)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout == "exact 4\n"


def test_a_cut_scheduler_link_fails_clearly_within_the_bound(network, env, tmp_path):
    address = start_cluster(network, env, "tcp", tmp_path / "cluster.log")
    # distributed.comm.timeouts.tcp (30 s by default) bounds how long the
    # client trusts a silent link: 12 s here, to keep the test short (distributed
    # asks for at least 11 s: its keepalive sends 10 probes, one a second).
    client_env = {**env, "DASK_DISTRIBUTED__COMM__TIMEOUTS__TCP": "12s"}
    user = start_script(network, client_env, tmp_path, [5 * 10**7], address)
    wait_for_busy_worker(network, env, address)
    cut = time.monotonic()
    network.cut(network.hosts[0])
    _, stderr = user.communicate(timeout=120)
    failed_after = time.monotonic() - cut
    assert user.returncode == 1
    assert stderr.endswith(
        f"ConnectionError: lost the Dask scheduler at {address} during the "
        "computation; its work is gone, run the call again once it is back\n"
    ), stderr[-3000:]
    assert " - ERROR - " not in stderr and " - WARNING - " not in stderr
    # The docs promise that timeout plus the reconnect attempt (5 s here).
    assert 12 <= failed_after < 27, failed_after
    print(f"\nscheduler link cut: ConnectionError after {failed_after:.1f} s")
    client_pids = netns._ip("netns", "pids", network.hosts[3].namespace).split()
    assert client_pids == []


def test_an_interrupted_or_killed_owner_leaves_nothing_behind(available, env):
    holder = (
        "import signal, sys\n"
        "from tests import netns\n"
        "with netns.hosts(2) as network:\n"
        "    print(' '.join(netns.existing()), flush=True)\n"
        "    signal.pause()\n"
    )
    for stop in (subprocess.Popen.send_signal, subprocess.Popen.kill):
        owner = subprocess.Popen(
            [sys.executable, "-c", holder],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True,
        )  # fmt: skip
        try:
            names = owner.stdout.readline().split()
            assert len(names) == 5, names  # 2 namespaces, their 2 links, the bridge
            if stop is subprocess.Popen.kill:
                owner.kill()
            else:
                owner.send_signal(2)  # Ctrl-C: the finally clause tears down
            owner.wait(timeout=60)
        finally:
            if owner.poll() is None:
                owner.kill()
        if stop is subprocess.Popen.kill:  # no finally ran: the next start cleans
            assert sorted(netns.remove_stale()) == sorted(names)
        leftover = netns._ip("-o", "link", "show") + netns._ip("netns", "list")
        assert f"ct{owner.pid}" not in leftover
