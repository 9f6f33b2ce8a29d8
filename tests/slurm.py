"""A real SLURM on namespaced hosts: Debian's slurmctld, slurmd and munge.

``slurm(nodes)`` builds ``nodes + 2`` hosts with :func:`tests.netns.hosts`:
one runs ``slurmctld``, each of ``nodes`` runs a ``slurmd`` (its own node
name, NodeAddr, spool directory and log), and the last is the client's, where
``sbatch``, ``squeue`` and ``scancel`` and the user's script run. One
``munged`` serves them all: its socket is a file, and the hosts share this
machine's file system. There is no accounting database.

Every file lives in one temporary directory; the daemons are processes of the
network (killed with its namespaces at the end, whatever the way out), and
the directory is removed after them. Jobs run as root, under SLURM's
``proctrack/pgid`` (no cgroups): a job's processes are its step's process
group, in that node's namespace. A worker whose nanny ends first stays in
that group, where ``proctrack/linuxproc`` (by parent) loses it once it is
reparented, and it may then outlive its job.

``make hpc-sim`` brings the same up for a person to try; Ctrl-C ends it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import yaml

from tests import netns

# Debian's packages for the daemons and the client commands.
PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
DAEMONS = ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "scancel")
START_SECONDS = 60
NODE_MEMORY_MB = 3072


class SlurmUnavailable(RuntimeError):
    """SLURM's daemons are not installed here (``make hpc-sim`` installs them)."""


def check_available() -> None:
    """Raise with a one-line reason if the daemons or namespaces are out."""
    netns.check_available()
    missing = [name for name in DAEMONS if shutil.which(name) is None]
    if missing:
        raise SlurmUnavailable(
            f"the SLURM tests need {', '.join(missing)}: Debian's "
            f"{' '.join(PACKAGES)} (make hpc-sim installs them as root)"
        )


@dataclass
class Slurm:
    """A running SLURM: its config, the client's host and environment."""

    network: netns.Network
    directory: Path
    client_host: netns.Host
    nodes: list[str]
    env: dict[str, str]

    def command(self, *args: str, timeout: float = 30) -> str:
        """A SLURM client command run on the client's host; its stdout."""
        finished = self.network.run(self.client_host, args, self.env, timeout)
        if finished.returncode:
            raise RuntimeError(f"{' '.join(args)}: {finished.stderr.strip()}")
        return finished.stdout

    def jobs(self) -> list[tuple[str, str, str]]:
        """(job id, state, node list) of every job SLURM still lists."""
        out = self.command("squeue", "--noheader", "--format=%i %T %N")
        found = []
        for line in out.splitlines():
            job, state, *nodes = line.split()
            found.append((job, state, " ".join(nodes)))
        return found

    def dask_config(
        self, folder: Path, minimum_jobs: int = 1, **jobqueue: object
    ) -> Path:
        """``folder/dask``, a Dask config directory naming this SLURM.

        Jobs of one core and 2 GiB, logs in ``folder/jobs``, the scheduler on
        the client's host; ``jobqueue`` adds or replaces ``jobqueue.slurm.*``.
        """
        config = folder / "dask"
        config.mkdir()
        settings = {
            "cores": 1,
            "memory": "2GiB",
            "log-directory": str(folder / "jobs"),
            "scheduler-options": {"host": self.client_host.address},
            **jobqueue,
        }
        cluster = {"job-queue": "slurm", "minimum-jobs": minimum_jobs}
        (config / "hpc.yaml").write_text(
            yaml.safe_dump(
                {"compute": {"cluster": cluster}, "jobqueue": {"slurm": settings}}
            )
        )
        return config

    def idle_nodes(self) -> list[str]:
        """Names of the nodes that SLURM sees up and free."""
        out = self.command("sinfo", "--noheader", "--Node", "--format=%N %t")
        return [
            line.split()[0]
            for line in out.splitlines()
            if line.split()[1:] in (["idle"], ["mix"])
        ]


def _config(directory: Path, controller: netns.Host, nodes: list[netns.Host]) -> str:
    name = f"ct{os.getpid()}"
    node_lines = "\n".join(
        f"NodeName=node{number} NodeAddr={host.address} CPUs=1 "
        f"RealMemory={NODE_MEMORY_MB} State=UNKNOWN"
        for number, host in enumerate(nodes, start=1)
    )
    return f"""\
ClusterName={name}
SlurmctldHost={socket.gethostname().split(".")[0]}({controller.address})
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={directory}/munge/socket
StateSaveLocation={directory}/state
SlurmdSpoolDir={directory}/spool/%n
SlurmctldPidFile={directory}/slurmctld.pid
SlurmdPidFile={directory}/slurmd-%n.pid
SlurmctldLogFile={directory}/slurmctld.log
SlurmdLogFile={directory}/slurmd-%n.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
KillWait=2
MinJobAge=2
InactiveLimit=0
SlurmdTimeout=30
{node_lines}
PartitionName=compute Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _start_munge(network: netns.Network, host: netns.Host, directory: Path) -> None:
    folder = directory / "munge"
    folder.mkdir(mode=0o700)
    key = folder / "key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    network.start(
        host,
        ["munged", "--foreground", "--force", f"--socket={folder}/socket",
         f"--key-file={key}", f"--pid-file={folder}/pid",
         f"--log-file={folder}/log", f"--seed-file={folder}/seed"],
        {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait_for(lambda: (folder / "socket").exists(), "munged's socket", directory)


def _start_in_network_only(
    network: netns.Network, host: netns.Host, args: list[str], env: dict[str, str]
) -> None:
    """``args`` in ``host``'s network namespace, but this machine's /sys.

    ``ip netns exec`` mounts a /sys of its own without cgroups, and slurmd
    will not start without its cgroup plugin finding them.
    """
    process = subprocess.Popen(
        ["nsenter", f"--net=/run/netns/{host.namespace}", *args],
        env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    network.processes.append(process)


def _wait_for(ready, what: str, directory: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        if time.monotonic() > deadline:
            logs = "\n".join(
                f"{path.name}: {path.read_text()[-800:]}"
                for path in sorted(directory.glob("*.log"))
            )
            raise TimeoutError(f"{what} not ready in {START_SECONDS} s\n{logs}")
        time.sleep(0.2)


def _remove_stale_directories() -> None:
    """Directories of SLURMs whose owner is gone (killed with SIGKILL)."""
    for path in Path(tempfile.gettempdir()).glob("ct*-slurm-*"):
        match = re.fullmatch(r"ct(\d+)-slurm-\w+", path.name)
        if match and not psutil.pid_exists(int(match[1])):
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def slurm(nodes: int = 2, env: dict[str, str] | None = None) -> Iterator[Slurm]:
    """A controller, ``nodes`` compute hosts and a client host; see above."""
    check_available()
    _remove_stale_directories()
    directory = Path(tempfile.mkdtemp(prefix=f"ct{os.getpid()}-slurm-"))
    try:
        with netns.hosts(nodes + 2) as network:
            controller, *compute_hosts, client_host = network.hosts
            (directory / "state").mkdir()
            for number in range(1, nodes + 1):
                (directory / "spool" / f"node{number}").mkdir(parents=True)
            config = directory / "slurm.conf"
            config.write_text(_config(directory, controller, compute_hosts))
            daemon_env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "SLURM_CONF": str(config),
            }
            _start_munge(network, controller, directory)
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            network.start(controller, ["slurmctld", "-D", "-i"], daemon_env, **quiet)
            names = [f"node{number}" for number in range(1, nodes + 1)]
            for name, host in zip(names, compute_hosts, strict=True):
                _start_in_network_only(
                    network, host, ["slurmd", "-D", "-N", name], daemon_env
                )
            client_env = {**(env or os.environ), "SLURM_CONF": str(config)}
            cluster = Slurm(network, directory, client_host, names, client_env)

            def all_idle() -> bool:
                try:
                    return sorted(cluster.idle_nodes()) == names
                except RuntimeError:
                    return False

            _wait_for(all_idle, f"{nodes} idle SLURM nodes", directory)
            yield cluster
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _simulate() -> int:
    """``make hpc-sim``: a SLURM of NODES (2) compute hosts until Ctrl-C."""
    nodes = int(os.environ.get("NODES") or 2)
    with slurm(nodes) as cluster:
        config = cluster.dask_config(cluster.directory)
        inside = f"ip netns exec {cluster.client_host.namespace}"
        print(
            f"SLURM up: {nodes} nodes. On the client host, try:\n"
            f"  {inside} env SLURM_CONF={cluster.env['SLURM_CONF']} sinfo\n"
            f"  {inside} env SLURM_CONF={cluster.env['SLURM_CONF']} "
            f"DASK_CONFIG={config} {sys.executable} -m compute factorial 10000000\n"
            f"(jobs of one core and 2 GiB: {config / 'hpc.yaml'})",
            flush=True,
        )
        print("Ctrl-C (or SIGTERM) ends it.", flush=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    print("taken down: no namespace, daemon or file left", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_simulate())
