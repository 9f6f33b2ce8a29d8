"""The time-dilated scale model, small: 4 hosts of one core at dilation 2.

Each host is a network namespace (tests/netns.py) whose processes share a
cgroup with ``cores / dilation`` of a core (tests/cpu_share.py). These tests
need root, as the other namespace tests do.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests import cpu_share, netns
from tests.remote import clean_env, kill_group, start_interruptible
from tests.test_netns import WORKERS

DILATION = 2
BUSY = """
import time
start, used = time.monotonic(), time.process_time()
while time.monotonic() - start < 1.5:
    pass
print(round((time.process_time() - used) / (time.monotonic() - start), 3))
"""
SCRIPT = """
import gmpy2
import compute

if __name__ == "__main__":
    print("exact" if compute.factorial(2 * 10**6) == gmpy2.fac(2 * 10**6) else "wrong")
"""
# The profiler's interval and cycle here and on a worker (10 ms and 1 s undilated).
WORKER_TIMERS = """
import sys
import dask.config
from distributed import Client


def timers():
    keys = ("interval", "cycle")
    return [dask.config.get(f"distributed.worker.profile.{key}") for key in keys]


with Client(sys.argv[1]) as client:
    print(*timers(), *next(iter(client.run(timers).values())))
"""
# A harness that builds hosts, says so, and waits to be ended.
HARNESS = """
import signal, sys, time
from tests import cpu_share, netns

with netns.hosts(2, rate="1gbit", cores=1, dilation=2) as network:
    network.start(network.hosts[0], ["sleep", "600"], {})
    while not cpu_share.members([network.hosts[0].namespace]):
        time.sleep(0.01)  # the sleep has joined its host's cgroup
    print(" ".join(netns.existing()), flush=True)
    signal.pause()
"""


def test_a_dilated_host_gets_its_share_of_a_core(available, tmp_path):
    with netns.hosts(1, cores=1, dilation=DILATION) as network:
        [host] = network.hosts
        finished = network.run(
            host, [sys.executable, "-c", BUSY], clean_env(tmp_path), 60
        )
    assert finished.returncode == 0, finished.stderr
    share = float(finished.stdout)
    assert share == pytest.approx(1 / DILATION, rel=0.15), share
    assert netns.existing() == []


def test_a_factorial_on_the_scale_model_is_exact(available, tmp_path):
    env = clean_env(tmp_path)
    with netns.hosts(4, rate="1gbit", cores=1, dilation=DILATION) as network:
        scheduler, worker_a, worker_b, client = network.hosts
        log = (tmp_path / "cluster.log").open("w")
        address = network.start_scheduler(scheduler, env, log)
        for number, worker in enumerate((worker_a, worker_b)):
            network.start_worker(worker, address, env, log, f"host-{number + 1}")
        ready = network.run(
            client, [sys.executable, "-c", WORKERS, address, "2"], env, 120
        )
        assert ready.stdout == "2\n", ready.stderr[-2000:]
        # Every process of a dilated host has Dask's timers dilated too.
        timers = network.run(
            client, [sys.executable, "-c", WORKER_TIMERS, address], env, 60
        )
        assert timers.stdout.split() == ["0.02s", "2s"] * 2, timers.stderr[-2000:]
        script = tmp_path / "user.py"
        script.write_text(SCRIPT)
        finished = network.run(
            client,
            [sys.executable, str(script)],
            {**env, "DASK_SCHEDULER_ADDRESS": address},
            300,
        )
        assert finished.returncode == 0, finished.stderr
        assert finished.stdout == "exact\n"
        assert finished.stderr == ""
    assert netns.existing() == []


def test_an_exception_inside_takes_everything_down(available):
    with (
        pytest.raises(RuntimeError, match="on purpose"),
        netns.hosts(2, rate="1gbit", cores=1, dilation=DILATION) as network,
    ):
        network.start(network.hosts[0], ["sleep", "600"], {})
        prefix = network.bridge.removesuffix("br")
        # The namespaces, their links, the bridge and the hosts' cgroups.
        assert sorted(netns.existing()) == sorted(
            [f"{prefix}{n}" for n in ("h0", "h1", "v0", "v1", "br")]
            + [f"{prefix}h0", f"{prefix}h1"]
        )
        raise RuntimeError("on purpose")
    assert netns.existing() == []


def start_harness(tmp_path: Path) -> tuple[subprocess.Popen, list[str]]:
    process = start_interruptible([sys.executable, "-c", HARNESS], clean_env(tmp_path))
    names = process.stdout.readline().split()
    assert names, process.stderr.read()
    return process, names


def leftovers(names: list[str], pid: int) -> list[str]:
    """Which of ``names`` (namespaces, links, cgroups) still exist."""
    found = (
        subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        + subprocess.run(
            ["ip", "-o", "link", "show"], capture_output=True, text=True
        ).stdout
    )
    cgroups = cpu_share.existing(pid)
    return [name for name in names if name in found or name in cgroups]


@pytest.mark.parametrize("ending", ["SIGINT", "SIGKILL"])
def test_the_harness_leaves_nothing_after_ctrl_c_or_sigkill(
    available, tmp_path, ending
):
    process, names = start_harness(tmp_path)
    try:
        assert {name[len(f"ct{process.pid}") :] for name in names} >= {
            "h0", "h1", "v0", "v1", "br"
        }  # fmt: skip
        sleeper = cpu_share.members(names)  # the sleep on host 0, in its cgroup
        assert sleeper, names
        process.send_signal(getattr(signal, ending))
        process.wait(timeout=60)
        if ending == "SIGKILL":  # nothing could clean up: the next start does
            assert leftovers(names, process.pid)
            removed = netns.remove_stale()
            assert set(names) <= set(removed), (names, removed)
        assert leftovers(names, process.pid) == []
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in sleeper):
            assert time.monotonic() < deadline, "a host's process outlived it"
            time.sleep(0.05)
    finally:
        kill_group(process)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
