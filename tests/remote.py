"""Real ``dask scheduler`` / ``dask worker`` processes on loopback addresses."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from distributed import Client

DASK = str(Path(sys.executable).parent / "dask")
RECORDER = str(Path(__file__).parent / "task_recorder.py")
REPO = Path(__file__).parent.parent


def worker_statuses(client: Client) -> list[str]:
    """Every status a worker changed to; distributed logs them under its address."""
    return [
        event["status"]
        for events in client.get_events().values()
        for _, event in events
        if isinstance(event, dict) and event.get("action") == "worker-status-change"
    ]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment with no Dask settings, a bare home, and ``extra``."""
    # distributed's nannies set their pre-spawn variables in the process that
    # starts them (this one, for the session cluster): a child must not inherit.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DASK_") and key != "MALLOC_TRIM_THRESHOLD_"
    }
    env["HOME"] = str(tmp_path)
    env["DASK_CONFIG"] = str(tmp_path / "no-dask-config")
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


@dataclass
class RemoteCluster:
    """A scheduler and workers, each its own process and loopback address."""

    address: str
    worker_hosts: list[str]
    processes: list[subprocess.Popen] = field(default_factory=list)


def _stop(processes: list[subprocess.Popen]) -> None:
    """SIGINT the workers, then the scheduler (the first), each in its own
    group; SIGKILL the group of any still running after 15 s.

    Workers go first: a worker whose scheduler closes as its nanny stops can
    linger until the nanny kills it, 8 s later.
    """
    deadline = time.monotonic() + 15
    for group in (processes[1:], processes[:1]):
        for process in group:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in group:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                kill_group(process)


def run_in_group(
    args: list[str],
    env: dict[str, str],
    timeout: float = 120,
    cwd: Path | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess:
    """Run a command in its own process group, text output captured.

    ``input`` is its standard input (none otherwise). Whatever happens (a
    timeout, a failed assertion), the whole group is killed afterwards: a
    LocalCluster the command started goes with it.
    """
    process = subprocess.Popen(
        args,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(input, timeout=timeout)
    finally:
        kill_group(process)
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


@contextmanager
def silent_address(host: str = "127.0.0.1") -> Iterator[str]:
    """A ``tcp://`` address that never answers, as a host dropping packets.

    A listening socket whose accept queue is full: the kernel drops further
    connection attempts, so they wait for their timeout instead of being
    refused at once.
    """
    with socket.socket() as server:
        server.bind((host, 0))
        server.listen(0)
        port = server.getsockname()[1]
        with socket.create_connection((host, port), timeout=5):  # fills the queue
            yield f"tcp://{host}:{port}"


def default_sigint() -> None:
    """A ``preexec_fn``: the child hears SIGINT even if this process ignores it.

    A shell starts background jobs (``make test &``) with SIGINT ignored, and
    children inherit that; a test that interrupts its child needs it heard.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_interruptible(
    args: list[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.Popen:
    """Start a command in its own process group, as a terminal's foreground
    job, with default SIGINT handling and piped text output."""
    return subprocess.Popen(
        args,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=default_sigint,
    )


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process group that ``process`` leads, and reap ``process``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _wait_for_workers(address: str, count: int, env: dict[str, str]) -> None:
    """Block until ``count`` workers are connected, checked from a subprocess."""
    probe = (
        "import sys; from distributed import Client\n"
        f"with Client({address!r}, timeout=20) as c:\n"
        f"    if {count}: c.wait_for_workers({count}, timeout=40)\n"
    )
    finished = run_in_group([sys.executable, "-c", probe], env, timeout=90)
    assert finished.returncode == 0, finished.stderr


def _scheduler_address(scheduler_file: Path, scheduler: subprocess.Popen) -> str:
    """The address the scheduler bound (port chosen by the OS), from its file."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return json.loads(scheduler_file.read_text())["address"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass
        assert scheduler.poll() is None, "the scheduler exited"
        assert time.monotonic() < deadline, "no scheduler file within 60 s"
        time.sleep(0.05)


@contextmanager
def remote_cluster(
    env: dict[str, str],
    protocol: str = "tcp",
    scheduler_host: str = "127.0.0.2",
    worker_hosts: tuple[str, ...] = ("127.0.0.3", "127.0.0.4"),
) -> Iterator[RemoteCluster]:
    """Start ``dask scheduler`` and one ``dask worker`` per host; stop them after.

    The scheduler binds port 0, so the OS picks a free port as it binds, and
    writes the address it got to a scheduler file.
    """
    processes: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory() as folder:
        scheduler_file = Path(folder) / "scheduler.json"
        try:
            processes.append(
                subprocess.Popen(
                    [
                        DASK,
                        "scheduler",
                        "--host",
                        scheduler_host,
                        "--port",
                        "0",
                        "--protocol",
                        protocol,
                        "--scheduler-file",
                        str(scheduler_file),
                        "--dashboard-address",
                        f"{scheduler_host}:0",
                        "--preload",
                        RECORDER,
                    ],
                    env=env,
                    start_new_session=True,
                )
            )
            address = _scheduler_address(scheduler_file, processes[0])
            for number, host in enumerate(worker_hosts):
                processes.append(
                    subprocess.Popen(
                        [
                            DASK,
                            "worker",
                            address,
                            "--host",
                            host,
                            "--nthreads",
                            "1",
                            "--nworkers",
                            "1",
                            "--no-dashboard",
                            "--name",
                            f"remote-{number}",
                        ],
                        env=env,
                        start_new_session=True,
                    )
                )
            _wait_for_workers(address, len(worker_hosts), env)
            yield RemoteCluster(address, list(worker_hosts), processes)
        finally:
            _stop(processes)


def start_script(
    script: Path, env: dict[str, str], *, own_group: bool = False
) -> subprocess.Popen:
    """Start ``python script`` in its folder, with piped text output.

    With ``own_group`` it gets its own process group, as a terminal gives it.
    """
    return subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        cwd=script.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=own_group,  # its own process group, as a terminal gives it
        preexec_fn=default_sigint if own_group else None,
    )


def _python_children(pid: int) -> list[list[str]]:
    """Command lines of the Python processes below ``pid`` (workers, nannies).

    A child with ``pid``'s own command line is a fork on its way to run a
    helper (``uname -p``): between fork and exec it still looks like the
    script. Workers are spawned, with command lines of their own.
    """
    parent = psutil.Process(pid)
    own = parent.cmdline()
    found = []
    for child in parent.children(recursive=True):
        try:
            command = child.cmdline()
        except psutil.Error:
            continue
        if command and command != own and Path(command[0]).name.startswith("python"):
            found.append(command)
    return found


def run_watched(
    script: Path, env: dict[str, str], timeout: float = 120
) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    """Run a script; also return every Python child process it started.

    Short-lived helpers that are not Python (``uname -p``, which distributed
    runs when a client registers) are not counted: only a worker would be.
    Whatever happens, the script's process group is killed afterwards.
    """
    process = start_script(script, env, own_group=True)
    seen: dict[tuple[str, ...], list[str]] = {}
    try:
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            try:
                for command in _python_children(process.pid):
                    seen[tuple(command)] = command
            except psutil.NoSuchProcess:
                break
            time.sleep(0.02)
        stdout, stderr = process.communicate(
            timeout=max(1, deadline - time.monotonic())
        )
    finally:
        kill_group(process)
    completed = subprocess.CompletedProcess(
        process.args, process.returncode, stdout, stderr
    )
    return completed, list(seen.values())
