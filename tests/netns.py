"""Hosts with their own network stack: namespaces on a private bridge.

``hosts(count, rate=...)`` builds ``count`` network namespaces, each with one
veth link to a Linux bridge in this namespace and an address from
198.18.0.0/15 (RFC 2544's range for network benchmarks). The bridge has no
address and no other port, and the namespaces have no default route, so
nothing they send can leave the bridge. With ``rate`` each link is limited
both ways by a ``tc tbf`` qdisc. A link can be cut and restored.

Everything this creates is named ``ct<pid>...`` (this process's id). On exit,
normal or not, it kills every process in its namespaces, deletes them (their
veth ends go with them) and the bridge. Namespaces and bridges left by a
process that no longer exists (one killed with SIGKILL) are removed at the
next start; nothing else is touched.

Run ``python -m tests.netns`` (``make cluster-sim``) for a cluster to try by
hand: a scheduler and two workers, each on its own host, until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

from tests import cpu_share
from tests.remote import DASK, clean_env

# The third octet of 198.18.X.0/24 is the pid's residue, so two runs at once
# (two checkouts) do not share a subnet.
_NAME = re.compile(r"^ct(\d+)(?:h\d+|v\d+|br)$")


# Dask's periodic timers: each firing takes a slice of its host's CPU. A
# dilated host must see them fire D times less often, as a dilated clock would
# (DieCast dilates the guest's clock): left at their wall-clock intervals, an
# idle worker host at D = 9 spent 26% of its 1/9 core on them, where a real
# one-core host spends 2.5-2.9%. The tick's limit is the unresponsive-loop
# warning's threshold, dilated so that it means the same time.
DILATED_TIMERS = (
    "distributed.admin.tick.interval",
    "distributed.admin.tick.limit",
    "distributed.admin.system-monitor.interval",
    "distributed.worker.profile.interval",
    "distributed.worker.profile.cycle",
    "distributed.worker.memory.monitor-interval",
    "distributed.scheduler.work-stealing-interval",
    "distributed.client.heartbeat",
    "distributed.client.scheduler-info-interval",
)


def dilated_timers(dilation: float) -> dict[str, str]:
    """Environment variables that stretch :data:`DILATED_TIMERS` ``dilation``
    times from this process's Dask config, distributed's defaults unless set
    (none for an undilated host)."""
    if dilation == 1:
        return {}
    import dask.config
    import distributed  # noqa: F401  (registers its defaults)
    from dask.utils import parse_timedelta

    return {
        "DASK_" + key.upper().replace(".", "__").replace("-", "_"):
        f"{parse_timedelta(dask.config.get(key)) * dilation:g}s"
        for key in DILATED_TIMERS
    }  # fmt: skip


class NetnsUnavailable(RuntimeError):
    """Network namespaces cannot be made here (not root, or no ``ip``)."""


def _ip(*args: str, namespace: str | None = None, check: bool = True) -> str:
    command = ["ip", *args] if namespace is None else ["ip", "-n", namespace, *args]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=30)
    if check and finished.returncode:
        raise RuntimeError(f"{' '.join(command)}: {finished.stderr.strip()}")
    return finished.stdout


def _tc(*args: str, namespace: str | None = None) -> None:
    command = ["tc", *args]
    if namespace is not None:
        command = ["ip", "netns", "exec", namespace, *command]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=30)
    if finished.returncode:
        raise RuntimeError(f"{' '.join(command)}: {finished.stderr.strip()}")


def check_available() -> None:
    """Raise :class:`NetnsUnavailable` with a one-line reason if namespaces are out."""
    if os.geteuid() != 0:
        raise NetnsUnavailable(
            "network-namespace tests need root (ip netns add); run make test as "
            "root, or leave them out with COMPUTE_TEST_NETNS=0"
        )
    for tool in ("ip", "tc"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            raise NetnsUnavailable(
                f"network-namespace tests need '{tool}' (Debian: iproute2), or "
                "COMPUTE_TEST_NETNS=0 to leave them out"
            )


@dataclass
class Host:
    """One namespace: its name, its address, the bridge side of its link, and
    its share of the CPU, if it has one."""

    namespace: str
    address: str
    link: str  # the veth end on the bridge, in this namespace
    cpu: cpu_share.CpuShare | None = None
    cpus: str | None = None  # the CPUs its processes may run on (taskset -c)

    def command(self, args: Sequence[str]) -> list[str]:
        """``args`` run inside this host's namespace (and its cgroup, joined
        first, and its CPUs)."""
        inside = ["ip", "netns", "exec", self.namespace, *args]
        if self.cpus is not None:
            inside = ["taskset", "-c", self.cpus, *inside]
        return inside if self.cpu is None else self.cpu.command(inside)


@dataclass
class Network:
    """Hosts on one private bridge; see the module docstring.

    ``rate`` is the links' real rate (already divided by ``dilation``).
    """

    bridge: str
    hosts: list[Host]
    rate: str | None
    dilation: float = 1.0
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start(
        self, host: Host, args: Sequence[str], env: dict[str, str], **popen: object
    ) -> subprocess.Popen:
        """Start ``args`` on ``host``, in its own process group; killed at the end.

        On a dilated network Dask's timers are dilated too, unless ``env``
        sets them.
        """
        process = subprocess.Popen(
            host.command(args),
            env={**dilated_timers(self.dilation), **env},
            start_new_session=True,
            **popen,  # type: ignore[arg-type]
        )
        self.processes.append(process)
        return process

    def run(
        self, host: Host, args: Sequence[str], env: dict[str, str], timeout: float
    ) -> subprocess.CompletedProcess:
        """Run ``args`` on ``host`` to completion, text output captured."""
        process = self.start(
            host, args, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        finally:
            _kill_group(process)
        return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)

    def start_scheduler(
        self, host: Host, env: dict[str, str], output: IO | int, **options: str
    ) -> str:
        """``dask scheduler`` on ``host``, port 8786; returns its address.

        ``options`` are ``protocol`` (default tcp) and ``dashboard_port``
        (default 0: any free port).
        """
        protocol = options.get("protocol", "tcp")
        dashboard = f"{host.address}:{options.get('dashboard_port', '0')}"
        self.start(
            host,
            [DASK, "scheduler", "--host", host.address, "--protocol", protocol,
             "--dashboard-address", dashboard],
            env, stdout=output, stderr=output,
        )  # fmt: skip
        return f"{protocol}://{host.address}:8786"

    def start_worker(
        self,
        host: Host,
        address: str,
        env: dict[str, str],
        output: IO | int,
        name: str,
        memory_limit: str = "auto",
    ) -> None:
        """A single-threaded ``dask worker`` on ``host``, joining ``address``."""
        self.start(
            host,
            [DASK, "worker", address, "--host", host.address, "--nthreads", "1",
             "--name", name, "--no-dashboard", "--memory-limit", memory_limit],
            env, stdout=output, stderr=output,
        )  # fmt: skip

    def cut(self, host: Host) -> None:
        """Take ``host``'s link down: it stays up, but nothing reaches it."""
        _ip("link", "set", host.link, "down")

    def restore(self, host: Host) -> None:
        """Bring ``host``'s link back up."""
        _ip("link", "set", host.link, "up")


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)


def _kill_namespace_processes(namespace: str) -> None:
    """SIGKILL every process running inside ``namespace`` and wait for them."""
    pids = [int(pid) for pid in _ip("netns", "pids", namespace, check=False).split()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).wait(timeout=max(0.1, deadline - time.monotonic()))


def _remove(hosts: list[Host], bridge: str) -> None:
    for host in hosts:
        _kill_namespace_processes(host.namespace)
        if host.cpu is not None:
            cpu_share.remove(host.cpu.path)
        # Deleting one end of a veth pair deletes both, at once; a namespace
        # deleted first would take its end with it only some time later.
        _ip("link", "delete", host.link, check=False)
        _ip("netns", "delete", host.namespace, check=False)
    _ip("link", "delete", bridge, check=False)


def remove_stale() -> list[str]:
    """Remove namespaces, bridges and cgroups of ``ct<pid>`` runs now gone."""
    removed = cpu_share.remove_stale()
    names = [line.split()[0] for line in _ip("netns", "list").splitlines() if line]
    links = re.findall(r"^\d+: (ct\d+\w+)[:@]", _ip("-o", "link", "show"), re.M)
    for name in names + links:
        match = _NAME.match(name)
        if match and not psutil.pid_exists(int(match.group(1))):
            if name in links:
                _ip("link", "delete", name, check=False)
            else:
                _kill_namespace_processes(name)
                _ip("netns", "delete", name, check=False)
            removed.append(name)
    return removed


def _limit(device: str, rate: str, namespace: str | None = None) -> None:
    # A token bucket: a burst of 64 kB, packets queued at most 50 ms.
    _tc(
        "qdisc", "add", "dev", device, "root", "tbf", "rate", rate,
        "burst", "64kb", "latency", "50ms",
        namespace=namespace,
    )  # fmt: skip


def _cpus_of(number: int, cores: float) -> str:
    """The CPUs of host ``number`` with ``cores`` cores: ``taskset -c`` form.

    A host of one core runs one thing at a time, and its processes count one
    core (``dask.system.CPU_COUNT`` reads their affinity; the cgroup quota is
    not visible inside the namespace's own /sys). Hosts take the CPUs of this
    machine in turn.
    """
    machine = os.cpu_count() or 1
    count = min(machine, max(1, math.ceil(cores)))
    return ",".join(str((number * count + k) % machine) for k in range(count))


def dilated_rate(rate: str, dilation: float) -> str:
    """``rate`` (tc's units: ``1gbit``, ``100mbit``...) divided by ``dilation``."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kmg]?)bit", rate)
    if match is None:
        raise ValueError(f"rate {rate!r}: expected a number and kbit, mbit or gbit")
    scale = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[match[2]]
    return f"{round(float(match[1]) * scale / dilation)}bit"


@contextlib.contextmanager
def hosts(
    count: int,
    rate: str | None = None,
    cores: float | None = None,
    dilation: float = 1.0,
) -> Iterator[Network]:
    """``count`` hosts on a private bridge; see above.

    With ``rate`` each link runs at ``rate / dilation``; with ``cores`` each
    host's processes together get ``cores / dilation`` of a core
    (:mod:`tests.cpu_share`) and run on ``ceil(cores)`` CPUs of this machine
    (:func:`_cpus_of`). Measured seconds over ``dilation`` are then
    the seconds of hosts with ``cores`` cores and ``rate`` links.
    """
    check_available()
    remove_stale()
    prefix = f"ct{os.getpid()}"
    subnet = f"198.18.{os.getpid() % 250}"
    bridge = f"{prefix}br"
    link_rate = None if rate is None else dilated_rate(rate, dilation)
    network = Network(bridge, [], link_rate, dilation)
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("link", "set", bridge, "up")
        for number in range(count):
            namespace = f"{prefix}h{number}"
            link = f"{prefix}v{number}"
            _ip("netns", "add", namespace)
            cpu = (
                None if cores is None else cpu_share.create(namespace, cores / dilation)
            )
            network.hosts.append(
                Host(namespace, f"{subnet}.{number + 1}", link, cpu,
                     None if cores is None else _cpus_of(number, cores))
            )  # fmt: skip
            _ip("link", "add", link, "type", "veth", "peer", "name", "eth0",
                "netns", namespace)  # fmt: skip
            _ip("link", "set", link, "master", bridge)
            _ip("link", "set", link, "up")
            _ip("addr", "add", f"{subnet}.{number + 1}/24", "dev", "eth0",
                namespace=namespace)  # fmt: skip
            _ip("link", "set", "eth0", "up", namespace=namespace)
            _ip("link", "set", "lo", "up", namespace=namespace)
            if link_rate is not None:
                _limit(link, link_rate)  # towards the host
                _limit("eth0", link_rate, namespace)  # from the host
        yield network
    finally:
        for process in network.processes:
            _kill_group(process)
        _remove(network.hosts, bridge)


def existing() -> list[str]:
    """Names of namespaces, bridges and cgroups of this process's networks."""
    prefix = f"ct{os.getpid()}"
    names = [line.split()[0] for line in _ip("netns", "list").splitlines() if line]
    links = re.findall(r"^\d+: (ct\d+\w+)[:@]", _ip("-o", "link", "show"), re.M)
    found = [name for name in names + links if name.startswith(prefix)]
    return found + cpu_share.existing()


def _simulate() -> int:
    """Bring up a scheduler and workers on their own hosts until Ctrl-C.

    ``HOSTS`` worker hosts (2); with ``DILATION`` (the scale model) each host
    gets one core and a ``RATE`` (1gbit) link, divided by it.
    """
    workers_wanted = int(os.environ.get("HOSTS") or 2)
    dilation = float(os.environ.get("DILATION") or 1)
    scaled = dilation != 1
    rate = os.environ.get("RATE") or ("1gbit" if scaled else None)
    env = clean_env(Path("/tmp"))
    log_path = Path(tempfile.gettempdir()) / f"cluster-sim-{os.getpid()}.log"
    log = log_path.open("w")
    with hosts(
        workers_wanted + 2,
        rate=rate,
        cores=1 if scaled else None,
        dilation=dilation,
    ) as network:
        scheduler, *workers, client = network.hosts
        address = network.start_scheduler(scheduler, env, log, dashboard_port="8787")
        for number, worker in enumerate(workers):
            network.start_worker(worker, address, env, log, f"host-{number + 1}")
        print(
            f"scheduler {address} (namespace {scheduler.namespace}); dashboard "
            f"http://{scheduler.address}:8787/status\n"
            + "".join(
                f"worker {w.address} (namespace {w.namespace})\n" for w in workers
            )
            + f"links {rate or 'unlimited'}"
            + (f", each host 1/{dilation:g} of a core" if scaled else "")
            + "; try it from the client host:\n"
            f"  ip netns exec {client.namespace} env DASK_SCHEDULER_ADDRESS={address}"
            f" {sys.executable} -m compute factorial 10000000 --scheduler {address}\n"
            f"  ip netns exec {scheduler.namespace} curl -s "
            f"http://{scheduler.address}:8787/status | head\n"
            f"Dask's logs: {log_path}. Ctrl-C takes it all down.",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    print("taken down: no namespace, link or process left", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_simulate())
