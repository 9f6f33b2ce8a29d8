"""The runs of the ``compute`` command: what was asked, checked; what does not
fit, named before any cluster starts; the values computed, shown and written.

``compute factorial`` and the subcommands of the other product kinds share
the same options (:class:`Outputs`), refusals and status lines; factorials
also share work along a batch and may stream one large value to a file from
the workers' chunks.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from gmpy2 import mpz

from cluster import connect, scheduler_address
from cluster.interrupts import stop_local_workers
from compute import checkpoint
from compute.admission import DiskNeed, check_disk_room, check_fits_here
from compute.chunked import ChunkedInteger
from compute.cli_input import expanded
from compute.combinatorics import digit_count_of, requested_product
from compute.config import setting
from compute.cost import factorial_bits, factorial_bytes, factorial_seconds
from compute.decimal_conversion import decimal_chunks
from compute.engine import (
    check_products_here,
    factorial_refusal,
    factorials_run_here,
    product_refusal,
    run_batch,
    run_chunked_factorial,
    run_products,
)
from compute.factorial_digits import factorial_digit_count
from compute.output import describe_factorial, describe_value
from compute.plan import batch_seconds, products_seconds
from compute.products import KINDS, Kind
from compute.result_file import check_output, file_bytes, write_result
from compute.validate import as_count, as_counts, shown_integer

if TYPE_CHECKING:
    from distributed import Client

# Runs estimated longer than this show a progress bar on a terminal.
PROGRESS_SECONDS = 2.0


@dataclass(frozen=True)
class Outputs:
    """How a run's values are shown and saved, checked; the same for every
    subcommand."""

    digits: bool
    print: bool
    paths: dict[Any, str]  # value's key (n, or a product) -> file, with --output
    format: str
    scheduler: str | None
    report: str | None
    verify: bool  # check each value (or file) against facts about it

    @property
    def needs_values(self) -> bool:
        """Whether any output needs the computed value (not just its summary)."""
        return self.print or bool(self.paths) or self.verify


def outputs_of(
    arguments: argparse.Namespace, named: Mapping[Any, str | None]
) -> Outputs:
    """The checked outputs for values by key; ``named[key]`` replaces ``{n}``
    in ``--output`` (None: the path is taken as written)."""
    if arguments.output is None and arguments.format is not None:
        raise ValueError("--format needs --output")
    format = arguments.format or "dec"
    paths: dict[Any, str] = {}
    if arguments.output is not None:
        if len(named) > 1 and "{n}" not in arguments.output:
            raise ValueError("--output needs {n} in PATH when several N are given")
        paths = {
            key: arguments.output.replace("{n}", name) if name else arguments.output
            for key, name in named.items()
        }
        for path in paths.values():
            check_output(path, format)
    return Outputs(
        arguments.digits,
        arguments.print,
        paths,
        format,
        arguments.scheduler,
        arguments.report,
        getattr(arguments, "verify", False),  # compute factorial's own option
    )


_Key = TypeVar("_Key", bound=Hashable)


def _refusals(
    keys: list[_Key],
    outputs: Outputs,
    refusal_here: Callable[[_Key], str | None],
    check_for_cluster: Callable[[_Key], None],
) -> tuple[list[_Key], dict[_Key, str]]:
    """The keys whose values fit, and why each other one does not.

    Decided before any cluster starts: with no scheduler named, from this
    machine's figures (``refusal_here``), else by what this process must
    hold (``check_for_cluster``). A refused value that is to be printed or
    written is an error.
    """
    fitting: list[_Key] = []
    refused: dict[_Key, str] = {}
    for key in keys:
        if outputs.scheduler is None:
            reason = refusal_here(key)
        else:
            try:
                check_for_cluster(key)
                reason = None
            except ValueError as error:
                reason = str(error)
        if reason is None:
            fitting.append(key)
        else:
            refused[key] = reason
    if refused and outputs.needs_values:
        raise ValueError(next(iter(refused.values())))
    return fitting, refused


@contextlib.contextmanager
def _cluster_session(outputs: Outputs, status: TextIO) -> Iterator[Client | None]:
    """The client to run on (or None), and the report around the run."""
    if not (outputs.scheduler or outputs.report):
        yield None
        return
    with connect(outputs.scheduler) as client, contextlib.ExitStack() as stack:
        if outputs.report:
            from distributed import performance_report

            # Inline BokehJS: the report opens offline, with no CDN.
            report = performance_report(filename=outputs.report, mode="inline")
            stack.enter_context(report)
        try:
            yield client
        except KeyboardInterrupt:
            stop_local_workers(client)  # busy ones would not hear a polite close
            raise
    if outputs.report:
        print(f"performance report: {outputs.report}", file=status)


def _print_decimal(value: mpz, used: Client | None) -> None:
    for chunk in decimal_chunks(value, client=used):
        sys.stdout.write(chunk)
    sys.stdout.write("\n")


def _write(
    value: mpz | ChunkedInteger,
    label: str,
    path: str,
    outputs: Outputs,
    used: Client | None,
    status: TextIO,
) -> None:
    start = time.perf_counter()
    progress = status if status.isatty() else None
    written = write_result(
        value, path, format=outputs.format, client=used, progress=progress
    )
    print(
        f"wrote {label} to {written} ({written.stat().st_size} bytes, "
        f"{outputs.format}) in {time.perf_counter() - start:.2f} s",
        file=status,
    )


def _computed(what: str, start: float, used: Client | None, status: TextIO) -> None:
    where = "in this process" if used is None else f"on {scheduler_address(used)}"
    seconds = time.perf_counter() - start
    print(f"computed {what} in {seconds:.3f} s {where}", file=status)


def _factorial_ns(arguments: argparse.Namespace) -> list[int]:
    """The checked ns of ``compute factorial``; one reads "n = -5 must be ...",
    several name the position too, and a read one the line it came from."""
    read, origins = expanded(arguments.ns)
    if not read:
        raise ValueError("no n given: the input named by N has no numbers")
    for n, origin in zip(read, origins, strict=True):
        if origin is not None and n < 0:
            raise ValueError(f"{origin}: n = {n} must be non-negative")
    return as_counts(read) if len(read) > 1 else [as_count(read[0])]


def run_factorials(arguments: argparse.Namespace) -> int:
    """``compute factorial N [N ...]``: summaries, decimals or files."""
    ns = _factorial_ns(arguments)
    # {n} in --output is n in decimal (str() has a limit of 4300 digits: only
    # a path asks for it).
    named = {n: str(n) if arguments.output else None for n in dict.fromkeys(ns)}
    outputs = outputs_of(arguments, named)
    if outputs.digits:
        for n in ns:
            print(mpz(factorial_digit_count(n)))  # no 4300-digit limit, as for str()
        return 0
    status = sys.stderr  # stdout carries only the results
    disk_needs = _disk_needs(ns, outputs, arguments.checkpoint)
    # A value written from its chunks may spill them to the workers' disks,
    # beside the run's own files.
    chunked = _streams_chunks(ns, ns, outputs)
    reserved = [(need.folder, need.bytes) for need in disk_needs]
    fitting, refused = _refusals(
        list(dict.fromkeys(ns)),
        outputs,
        lambda n: factorial_refusal(n, chunked, reserved),
        lambda n: check_fits_here([n], positions=False, spread=True),
    )
    check_disk_room(disk_needs)  # the files of values that fit memory
    for n, reason in refused.items():
        print(
            f"{shown_integer(n)}! not computed ({reason}); "
            "its summary line needs no computation",
            file=status,
        )
    run_directory = _run_directory(arguments.checkpoint, ns, fitting, outputs)
    values: dict[int, mpz] = {}
    try:
        with _cluster_session(outputs, status) as client:
            if _streams_chunks(ns, fitting, outputs) and not (
                client is None and factorials_run_here(fitting)
            ):
                _write_chunked(ns[0], outputs, client, status, run_directory)
            else:
                values, used = _compute(fitting, client, status, run_directory)
                _emit(ns, outputs, values, used, status)
    except KeyboardInterrupt as interrupt:
        if run_directory is not None:
            interrupt.add_note(
                f"the finished work is kept in {run_directory}: run the same "
                "command again to resume"
            )
        raise
    if outputs.verify or run_directory is not None:
        # The saved work goes only once the result is known good.
        _verify(dict(outputs.paths) or values, outputs.format, status, outputs.verify)
    if run_directory is not None:
        checkpoint.remove(run_directory)
    return 0


def _run_directory(
    option: str | None, ns: list[int], fitting: list[int], outputs: Outputs
) -> Path | None:
    """Where this run keeps its finished work, prepared; None if nowhere.

    ``--checkpoint DIR``, or beside the one ``--output`` file of a long run.
    """
    if option is not None and len(set(ns)) > 1:
        raise ValueError("--checkpoint takes one N")
    if len(fitting) != 1:
        return None
    n = fitting[0]
    directory = _checkpoint_directory(option, n, outputs)
    if directory is not None:
        checkpoint.prepare(directory, f"{n}!")
    return directory


def _checkpoint_directory(option: str | None, n: int, outputs: Outputs) -> Path | None:
    """Where the run of ``n!`` alone keeps its finished work, or None."""
    if option is not None:
        return Path(option)
    if outputs.paths and factorial_seconds(n) >= setting("checkpoint-seconds"):
        path = Path(outputs.paths[n])
        return path.parent / f".{path.name}.checkpoint"
    return None


def _file_need(label: str, path: str, bits: float, outputs: Outputs) -> DiskNeed:
    """The output file of a value of ``bits`` bits, as the disk check weighs it."""
    return DiskNeed(
        f"{label} as {outputs.format} file {path}",
        Path(path).parent,
        file_bytes(bits, outputs.format),
    )


def _disk_needs(
    ns: list[int], outputs: Outputs, checkpoint_option: str | None
) -> list[DiskNeed]:
    """The files the run of ``ns`` writes, each at most its estimated size.

    A checkpoint holds about one copy of the finished work
    (:mod:`compute.checkpoint`): the result's size, less what it holds already.
    """
    needs = [
        _file_need(f"{shown_integer(n)}!", outputs.paths[n], factorial_bits(n), outputs)
        for n in dict.fromkeys(ns)
        if n in outputs.paths
    ]
    if len(set(ns)) == 1:
        directory = _checkpoint_directory(checkpoint_option, ns[0], outputs)
        if directory is not None:
            kept = checkpoint.kept_bytes(directory)
            needs.append(
                DiskNeed(
                    f"its checkpoint {directory}",
                    directory.parent,
                    max(factorial_bytes(ns[0]) - kept, 0.0),
                )
            )
    return needs


def _compute(
    ns: list[int], client: Client | None, status: TextIO, run_directory: Path | None
) -> tuple[dict[int, mpz], Client | None]:
    """The factorials of ``ns`` and where they ran; prints the status line."""
    if not ns:
        return {}, client
    progress = status.isatty() and batch_seconds(sorted(set(ns))) > PROGRESS_SECONDS
    start = time.perf_counter()
    results, used = run_batch(
        ns, client, progress, positions=len(ns) > 1, checkpoint=run_directory
    )
    _computed(f"{len(ns)} factorial{'s' * (len(ns) != 1)}", start, used, status)
    return dict(zip(ns, results, strict=True)), used


def _emit(
    ns: list[int],
    outputs: Outputs,
    values: dict[int, mpz],
    used: Client | None,
    status: TextIO,
) -> None:
    """Print each result as asked, then write the files."""
    for n in ns:
        if outputs.print:
            _print_decimal(values[n], used)
        else:
            print(describe_factorial(n))
    for n, path in outputs.paths.items():
        label = f"{shown_integer(n)}!"
        _write(values[n], label, path, outputs, used, status)


def _verify(
    targets: dict[int, mpz] | dict[int, str],
    format: str,
    status: TextIO,
    shown: bool = True,
) -> None:
    """Check each n! (or the file it was written to); one line on ``status``
    if ``shown``.

    Raises
    ------
    ArithmeticError
        If one is not n!: the command then ends with an error.
    """
    from compute.verify import verify_factorial

    start = time.perf_counter()
    try:
        done = [
            verify_factorial(target, n, format=format) for n, target in targets.items()
        ]
    except ValueError as error:
        raise ArithmeticError(f"verification failed: {error}") from None
    if not shown:
        return
    if len(done) == 1:
        print(done[0], file=status)
        return
    compared = ", ".join(what for what, _ in done[0].checks)
    print(
        f"verified: {len(done)} factorials, each by its {compared}, in "
        f"{time.perf_counter() - start:.2f} s",
        file=status,
    )


def _streams_chunks(ns: list[int], fitting: list, outputs: Outputs) -> bool:
    """Whether one large n goes to a bin or hex file straight from the workers.

    Such a value may be larger than any one process can hold twice
    (``10**9!`` has 3.56 GB); from chunks on the workers, the file is
    written without this process ever holding it.
    """
    return (
        len(ns) == 1
        and fitting == ns
        and outputs.format in ("bin", "hex")
        and not outputs.print
        and factorial_seconds(ns[0]) >= setting("in-process-seconds")
    )


def _write_chunked(
    n: int,
    outputs: Outputs,
    client: Client | None,
    status: TextIO,
    run_directory: Path | None,
) -> None:
    start = time.perf_counter()
    progress = status.isatty()
    value = run_chunked_factorial(n, client, run_directory, progress).wait()
    print(
        f"computed 1 factorial in {time.perf_counter() - start:.3f} s on "
        f"{scheduler_address(value.client)}, held in {len(value)} chunks",
        file=status,
    )
    print(describe_factorial(n))
    _write(
        value, f"{shown_integer(n)}!", outputs.paths[n], outputs, value.client, status
    )


def run_product(kind: Kind, arguments: argparse.Namespace) -> int:
    """``compute binomial N K`` and the other subcommands beside factorial."""
    names = KINDS[kind].arguments
    product = requested_product(
        kind, *(getattr(arguments, name.rstrip(".").lower()) for name in names)
    )
    outputs = outputs_of(arguments, {product: None})
    if outputs.digits:
        print(digit_count_of(product))
        return 0
    status = sys.stderr  # stdout carries only the results
    _, refused = _refusals(
        [product],
        outputs,
        product_refusal,
        lambda key: check_products_here([key], positions=False),
    )
    check_disk_room(
        [
            _file_need(product.label, path, product.bits, outputs)
            for path in outputs.paths.values()
        ]
    )
    if refused:
        print(f"{product.label} not computed ({refused[product]})", file=status)
        print(f"{product.label} has {digit_count_of(product)} digits")
        return 0
    with _cluster_session(outputs, status) as client:
        progress = status.isatty() and products_seconds([product]) > PROGRESS_SECONDS
        start = time.perf_counter()
        [value], used = run_products([product], client, progress, positions=False)
        _computed(product.label, start, used, status)
        if outputs.print:
            _print_decimal(value, used)
        else:
            print(describe_value(product.label, value))
        if outputs.paths:
            _write(value, product.label, outputs.paths[product], outputs, used, status)
    return 0
