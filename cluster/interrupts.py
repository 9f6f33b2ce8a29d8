"""Ctrl-C: heard by the process that started the work, and answered at once.

A terminal sends SIGINT to its whole foreground process group, which holds
the LocalCluster's worker processes too. Workers started from a thread that
blocks SIGINT inherit the blocked signal from the moment they exist, so none
prints a KeyboardInterrupt traceback of its own, even while it is still
importing (the worker preload :mod:`cluster.worker_signals` comes later).
The command line takes the first Ctrl-C as the end of the run: any further
one is ignored, and nothing but its own one line is printed as it stops.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import psutil
    from distributed import Client

_Result = TypeVar("_Result")


def _thread_and_wait(
    function: Callable[..., _Result], *args: Any, sigint_blocked: bool
) -> tuple[threading.Thread, threading.Event, Callable[[], _Result]]:
    """A daemon thread for ``function(*args)``, not yet started; the event it
    sets when done; and the wait for its outcome.

    Done is told by the event, not by ``Thread.is_alive``: a Ctrl-C that
    interrupts ``join`` leaves CPython 3.11 taking a running thread for
    stopped (``_wait_for_tstate_lock`` releases the lock the thread holds).
    """
    outcome: list[tuple[bool, Any]] = []
    finished = threading.Event()

    def target() -> None:
        if sigint_blocked:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            outcome.append((True, function(*args)))
        except BaseException as error:  # handed to the waiting thread
            outcome.append((False, error))
        finally:
            finished.set()

    helper = threading.Thread(target=target, daemon=True)

    def wait() -> _Result:
        while not finished.wait(0.05):
            pass
        succeeded, value = outcome[0]
        if not succeeded:
            raise value
        return value

    return helper, finished, wait


def started_in_thread(
    function: Callable[..., _Result], *args: Any
) -> Callable[[], _Result]:
    """Start ``function(*args)`` in a daemon thread; return the wait for it.

    The wait joins the thread in short steps, so that a Ctrl-C reaches a
    waiting main thread at once (a long call in the main thread would hold
    off Python's signal handling), then returns the result or raises the
    thread's exception. An abandoned thread does not hold up the exit.
    """
    helper, _, wait = _thread_and_wait(function, *args, sigint_blocked=False)
    helper.start()
    return wait


def in_helper_thread(function: Callable[..., _Result], *args: Any) -> _Result:
    """``function(*args)`` in a daemon thread, waited on so Ctrl-C gets through
    (see :func:`started_in_thread`)."""
    return started_in_thread(function, *args)()


# How long a Ctrl-C during a start of worker processes waits for the start to
# give up, killing what it spawns, before the process goes on to exit.
SPAWN_STOP_SECONDS = 1.0


def _spawned_children(known: set[int]) -> list[psutil.Process]:
    """Children of this process started by multiprocessing, not in ``known``."""
    import psutil  # as distributed, which starts them, does

    spawned = []
    for child in psutil.Process().children():
        try:
            if child.pid not in known and "--multiprocessing-fork" in child.cmdline():
                spawned.append(child)
        except psutil.Error:  # gone already
            continue
    return spawned


def _kill_spawned_until_done(known: set[int], finished: threading.Event) -> None:
    import psutil

    deadline = time.monotonic() + SPAWN_STOP_SECONDS
    while True:
        # A child is told by its command line, which it has only once it
        # has executed: a pass may come too early for a child just forked.
        for child in _spawned_children(known):
            with contextlib.suppress(psutil.Error):
                child.kill()
        if finished.is_set() or time.monotonic() > deadline:
            return
        finished.wait(0.01)


def in_spawning_thread(function: Callable[..., _Result], *args: Any) -> _Result:
    """``function(*args)``, which starts worker processes, in a daemon thread
    that blocks SIGINT, so that they and every thread it starts do too (see
    :func:`started_in_thread`).

    A Ctrl-C meanwhile ends the wait at once. Before it goes on, the worker
    processes started so far are killed, again and again until the thread
    gives up (at most :data:`SPAWN_STOP_SECONDS`). A child whose start this
    process had not yet sent it when it exits would print a traceback,
    "EOFError: Ran out of input", to the terminal.
    """
    import psutil

    known = {child.pid for child in psutil.Process().children()}
    threads_before = set(threading.enumerate())
    helper, finished, wait = _thread_and_wait(function, *args, sigint_blocked=True)
    try:
        # Started inside the try: a Ctrl-C can land while the start waits
        # for the thread to run, and the thread spawns all the same.
        helper.start()
        return wait()
    except KeyboardInterrupt:
        # A second Ctrl-C here would cut the kill short with a second traceback.
        deaf = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if deaf else None
        # The abandoned start's nannies, in its threads, would warn that they
        # restart the workers killed below.
        abandoned = set(threading.enumerate()) - threads_before
        logging.getLogger("distributed.nanny").addFilter(_NotFrom(abandoned))
        try:
            _kill_spawned_until_done(known, finished)
        finally:
            if deaf:
                signal.signal(signal.SIGINT, previous)
        raise


def quiet_for_exit() -> None:
    """Ignore SIGINT and silence logging and warnings: the process is ending.

    After Ctrl-C the work is abandoned: a second Ctrl-C would interrupt the
    cleanup of the first (tracebacks from exit handlers), and distributed
    would log each step of shutting down a cluster whose work was cut off
    (cancelled gathers, removed workers, tasks whose results never came).
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")


def ended_by_interrupt() -> bool:
    """Whether the script ended with an uncaught KeyboardInterrupt (at exit).

    Python sets ``sys.last_exc`` (``sys.last_value`` before 3.12) when it
    prints the traceback of an uncaught exception, before the exit handlers.
    """
    last = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    return isinstance(last, KeyboardInterrupt)


def stop_local_workers(client: Client) -> None:
    """Stop the worker processes of the LocalCluster ``client`` started, now.

    Each is killed at once by its pid (distributed's own kill is queued on a
    helper thread, and a worker told to close meanwhile would log each task
    it abandons); its nanny, told first that it closes, does not restart it.
    A nanny told so already (by an earlier call) is left alone.
    """
    from distributed import LocalCluster, Nanny
    from distributed.core import Status

    cluster = client.cluster
    if not isinstance(cluster, LocalCluster):  # none, or workers in batch jobs
        return
    for nanny in list(cluster.workers.values()):
        if not isinstance(nanny, Nanny):  # a worker in this process (threads)
            continue
        if nanny.status == Status.closing_gracefully:
            continue
        nanny.close_gracefully("interrupted")  # sets its status: no restart
        process = getattr(nanny, "process", None)
        pid = getattr(getattr(process, "process", None), "pid", None)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def closed_by_interrupt() -> bool:
    """Whether a client closing now is left because of Ctrl-C.

    True while a KeyboardInterrupt goes up through the ``with`` block or
    ``finally`` that closes it, and at exit after a script ended by one.
    """
    return isinstance(sys.exc_info()[1], KeyboardInterrupt) or ended_by_interrupt()


def _quiet_if_interrupted() -> None:
    if ended_by_interrupt():
        quiet_for_exit()


def _quiet_once_reported(report: Callable[..., Any]) -> Callable[..., None]:
    """``report`` (a ``sys.excepthook``), then :func:`quiet_for_exit` if what it
    reported was a KeyboardInterrupt that ends the process."""

    def hook(kind: type[BaseException], value: BaseException, trace: Any) -> None:
        report(kind, value, trace)
        # At an interactive prompt the session goes on after the report.
        interactive = sys.flags.interactive or hasattr(sys, "ps1")
        if issubclass(kind, KeyboardInterrupt) and not interactive:
            quiet_for_exit()

    return hook


def quiet_exit_after_interrupt() -> None:
    """At exit after Ctrl-C, be quiet and deaf (:func:`quiet_for_exit`).

    From the moment Python reports a script's uncaught KeyboardInterrupt
    (``sys.excepthook``): its shutdown first stops the thread pools, and a
    scheduler running in this process logs an ERROR for each step it can no
    longer hand to them. Also at exit, for a hook replaced since: registered
    once, after distributed is imported, so that it runs before
    distributed's own exit handlers (atexit runs last in, first out), which
    close clusters, log each step, and which a second Ctrl-C would interrupt
    with a traceback.
    """
    global _registered
    with _register_lock:
        if not _registered:
            sys.excepthook = _quiet_once_reported(sys.excepthook)
            atexit.register(_quiet_if_interrupted)
            _registered = True


_registered = False
_register_lock = threading.Lock()


def _drop_abandoned_gather(record: logging.LogRecord) -> bool:
    """A logging filter: False for a gather that Ctrl-C cut off.

    distributed ends the waits of an interrupted gather with its own AllExit,
    which asyncio reports as "Task exception was never retrieved", once per
    task, as they are collected.
    """
    from distributed.client import AllExit

    return not (record.exc_info and isinstance(record.exc_info[1], AllExit))


def quiet_abandoned_gathers() -> None:
    """Install :func:`_drop_abandoned_gather` on asyncio's logger, once."""
    asyncio_log = logging.getLogger("asyncio")
    if _drop_abandoned_gather not in asyncio_log.filters:
        asyncio_log.addFilter(_drop_abandoned_gather)


# Task states in which a key that could not be gathered is already being
# computed again: its holder left (a worker retired, or its job ended).
_COMPUTED_AGAIN = frozenset({"waiting", "queued", "processing", "no-worker"})


def _drop_regathered(record: logging.LogRecord) -> bool:
    """A logging filter: False for the scheduler's "Couldn't gather keys" when
    every key is already being computed again.

    The client asks for such keys again and gets them once they are back,
    so the run ends exact; distributed logs the race as an ERROR all the same
    (seen with SLURM jobs ending at their walltime during a gather).
    """
    if not str(record.msg).startswith("Couldn't gather keys"):
        return True
    states: object = record.args  # logging unpacks a lone dict argument
    if isinstance(states, tuple) and len(states) == 1:
        states = states[0]
    return not (
        isinstance(states, dict)
        and bool(states)
        and all(state in _COMPUTED_AGAIN for state in states.values())
    )


def quiet_regathers() -> None:
    """Install :func:`_drop_regathered` on the scheduler's logger, once: for a
    process whose cluster's scheduler runs in it."""
    scheduler_log = logging.getLogger("distributed.scheduler")
    if _drop_regathered not in scheduler_log.filters:
        scheduler_log.addFilter(_drop_regathered)


def _first_interrupt_only(signum: int, frame: Any) -> None:
    quiet_for_exit()  # before anything else can run
    raise KeyboardInterrupt


def take_first_interrupt_only() -> None:
    """Raise KeyboardInterrupt on the first SIGINT; be quiet and deaf after it.

    For the command line, whose run ends with the first Ctrl-C (see
    :func:`quiet_for_exit`). A SIGINT that the parent made this process
    ignore (a job started in the background) stays ignored.
    """
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _first_interrupt_only)


class _NotFrom(logging.Filter):
    """A logging filter: drops the records logged by these threads."""

    def __init__(self, threads: set[threading.Thread]) -> None:
        super().__init__()
        self.threads = threads

    def filter(self, record: logging.LogRecord) -> bool:
        return threading.current_thread() not in self.threads


def _drop_cancelled(record: logging.LogRecord) -> bool:
    """A logging filter: False for a record of a cancelled coroutine, of a
    connection closed under a pending send (distributed's CommClosedError),
    or of a worker's running task that its close cancelled."""
    error = record.exc_info[1] if record.exc_info else None
    message = str(record.msg)
    return not (
        isinstance(error, asyncio.CancelledError)
        or type(error).__name__ == "CommClosedError"
        or (
            message.startswith("Async instruction for")
            and message.endswith("ended with CancelledError")
        )
    )


@contextlib.contextmanager
def cancellations_unlogged(*logger_names: str) -> Iterator[None]:
    """Within the block, these loggers drop records of cancelled waits.

    For closing something whose pending waits and sends are cut off on
    purpose, which distributed would log with a traceback (a CancelledError
    or CommClosedError).
    """
    logs = [logging.getLogger(name) for name in logger_names]
    for log in logs:
        log.addFilter(_drop_cancelled)
    try:
        yield
    finally:
        for log in logs:
            log.removeFilter(_drop_cancelled)
