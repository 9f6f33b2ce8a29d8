"""The ``compute`` command line: ``compute factorial N [N ...]`` and friends.

``compute binomial N K``, ``compute multinomial K1 K2 ...``, ``compute
primorial N``, ``compute double-factorial N`` and ``compute
falling-factorial N K`` take the same options for one value.

By default it computes each n! and prints a summary line per n. ``--digits``
prints only the exact digit counts and computes nothing, so it answers for
any n. ``--print`` prints only the full decimals, one line per n, with status
lines on stderr, so the output can be piped. ``--output PATH`` writes each
result to a file (``{n}`` in PATH stands for n).

Exit codes: 0 on success, 1 when the work fails or the cluster cannot be
reached, 2 for anything the user must change (with a usage message), 130
when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from gmpy2 import mpz

from cluster import connect, scheduler_address
from cluster.status import show_status_lines
from compute.api import (
    check_products_here,
    factorial_chunked,
    factorials_run_here,
    run_batch,
    run_products,
)
from compute.chunked import ChunkedInteger
from compute.combinatorics import digit_count_of, requested_product
from compute.config import setting
from compute.cost import factorial_seconds
from compute.decimal_conversion import decimal_chunks
from compute.factorial_digits import factorial_digit_count
from compute.output import describe_factorial, describe_value
from compute.plan import batch_seconds, products_seconds
from compute.result_file import FORMATS, check_output, write_result
from compute.validate import as_count, as_counts, check_fits_here, shown_integer

if TYPE_CHECKING:
    from distributed import Client

# Runs estimated longer than this show a progress bar on a terminal.
PROGRESS_SECONDS = 2.0


# The subcommands beside ``factorial``: their arguments, and the function.
_PRODUCT_COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "binomial": (("N", "K"), "binomial coefficient N choose K"),
    "multinomial": (("K...",), "multinomial coefficient (K1+K2+...)! / (K1! K2! ...)"),
    "primorial": (("N",), "product of the primes up to N"),
    "double-factorial": (("N",), "N!! = N (N-2) (N-4) ..."),
    "falling-factorial": (("N", "K"), "falling factorial N (N-1) ... (N-K+1)"),
}


def _integer(text: str) -> int:
    """``int(text)``, also past the 4300 digits where Python's ``int()`` stops."""
    try:
        return int(text)
    except ValueError:
        if not text.strip().lstrip("+-").isdigit():
            raise
        return int(mpz(text))


_integer.__name__ = "int"  # argparse names it in its errors: "invalid int value"


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each subcommand's."""
    parser = argparse.ArgumentParser(
        prog="compute",
        description="Exact big-integer computation on Dask.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    factorial = commands.add_parser(
        "factorial",
        help="exact factorials of one or more n",
        description=(
            "Compute n! exactly for each N and print a summary per n. Small work "
            "runs in this process; large work, or any work when a scheduler is "
            "named, runs on a Dask cluster whose dashboard link is printed."
        ),
    )
    factorial.add_argument("ns", metavar="N", nargs="+", type=_integer, help="n >= 0")
    _add_output_options(factorial, "n!", "each n!")
    factorial.add_argument(
        "--output",
        metavar="PATH",
        help="write each n! to PATH, replaced atomically; with several N, "
        "PATH must contain {n}",
    )
    subcommands = {"factorial": factorial}
    for command, (names, what) in _PRODUCT_COMMANDS.items():
        subcommand = commands.add_parser(
            command,
            help=f"exact {what}",
            description=(
                f"Compute the {what} exactly and print a summary, on the same "
                "engine and with the same options as compute factorial."
            ),
        )
        for name in names:
            subcommand.add_argument(
                name.rstrip(".").lower(),
                metavar=name.rstrip("."),
                nargs="+" if name.endswith("...") else None,
                type=_integer,
                help=">= 0",
            )
        _add_output_options(subcommand, "the value", "the value")
        subcommand.add_argument(
            "--output", metavar="PATH", help="write the value to PATH, atomically"
        )
        subcommands[command] = subcommand
    return parser, subcommands


def _add_output_options(
    subcommand: argparse.ArgumentParser, each: str, value: str
) -> None:
    """The options every subcommand shares, but --output."""
    subcommand.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="Dask scheduler address (default: Dask's scheduler-address config)",
    )
    shown = subcommand.add_mutually_exclusive_group()
    shown.add_argument(
        "--digits",
        action="store_true",
        help=f"print only the exact number of decimal digits of {each}, from "
        "logarithms where they decide it",
    )
    shown.add_argument(
        "--print",
        action="store_true",
        help=f"print only the full decimal of {value}, with no digit limit",
    )
    subcommand.add_argument(
        "--format",
        choices=FORMATS,
        help="file format for --output: decimal text (default), hexadecimal "
        "text, or raw big-endian bytes",
    )
    subcommand.add_argument(
        "--report",
        metavar="FILE",
        help="save a Dask performance report (HTML) of the run; uses a cluster",
    )


@dataclass(frozen=True)
class _Request:
    """What a ``compute factorial`` run was asked for, checked."""

    ns: list[int]
    digits: bool
    print: bool
    paths: dict[int, str]  # n -> file, with --output
    format: str
    scheduler: str | None
    report: str | None

    @property
    def needs_values(self) -> bool:
        """Whether any output needs the computed value (not just its summary)."""
        return self.print or bool(self.paths)


def _request(arguments: argparse.Namespace) -> _Request:
    """The checked request; raises ValueError or TypeError for bad arguments."""
    # One n reads "n = -5 must be ...", several name the position too.
    ns = (
        as_counts(arguments.ns)
        if len(arguments.ns) > 1
        else [as_count(arguments.ns[0])]
    )
    if arguments.output is None and arguments.format is not None:
        raise ValueError("--format needs --output")
    format = arguments.format or "dec"
    paths: dict[int, str] = {}
    if arguments.output is not None:
        if len(set(ns)) > 1 and "{n}" not in arguments.output:
            raise ValueError("--output needs {n} in PATH when several N are given")
        paths = {n: arguments.output.replace("{n}", str(n)) for n in ns}
        for path in paths.values():
            check_output(path, format)
    return _Request(
        ns,
        arguments.digits,
        arguments.print,
        paths,
        format,
        arguments.scheduler,
        arguments.report,
    )


def _computable(ns: list[int]) -> tuple[list[int], dict[int, str]]:
    """The ns whose factorials fit here, and why each other one does not."""
    fitting, refused = [], {}
    for n in ns:
        try:
            check_fits_here([n], positions=False, spread=True)
        except ValueError as error:
            refused[n] = str(error)
        else:
            fitting.append(n)
    return fitting, refused


@contextlib.contextmanager
def _cluster_session(
    scheduler: str | None, report: str | None, status: TextIO
) -> Iterator[Client | None]:
    """The client to run on (or None), and the report around the run."""
    if not (scheduler or report):
        yield None
        return
    with connect(scheduler) as client, contextlib.ExitStack() as stack:
        if report:
            from distributed import performance_report

            # Inline BokehJS: the report opens offline, with no CDN.
            stack.enter_context(performance_report(filename=report, mode="inline"))
        yield client
    if report:
        print(f"performance report: {report}", file=status)


def _print_decimal(value: mpz, used: Client | None) -> None:
    for chunk in decimal_chunks(value, client=used):
        sys.stdout.write(chunk)
    sys.stdout.write("\n")


def _write(
    value: mpz | ChunkedInteger,
    label: str,
    path: str,
    format: str,
    used: Client | None,
    status: TextIO,
) -> None:
    start = time.perf_counter()
    written = write_result(
        value,
        path,
        format=format,
        client=used,
        progress=status if status.isatty() else None,
    )
    print(
        f"wrote {label} to {written} ({written.stat().st_size} bytes, "
        f"{format}) in {time.perf_counter() - start:.2f} s",
        file=status,
    )


def _compute(
    ns: list[int], client: Client | None, status: TextIO
) -> tuple[dict[int, mpz], Client | None]:
    """Compute the factorials of ``ns``; print the status line."""
    progress = status.isatty() and batch_seconds(sorted(set(ns))) > PROGRESS_SECONDS
    start = time.perf_counter()
    results, used = run_batch(ns, client, progress, positions=len(ns) > 1)
    seconds = time.perf_counter() - start
    where = "this process" if used is None else scheduler_address(used)
    print(
        f"computed {len(ns)} factorial{'s' * (len(ns) != 1)} in {seconds:.3f} s "
        f"on {where}",
        file=status,
    )
    return dict(zip(ns, results, strict=True)), used


def _emit(
    request: _Request, values: dict[int, mpz], used: Client | None, status: TextIO
) -> None:
    """Print each result as asked, then write the files."""
    for n in request.ns:
        if request.print:
            _print_decimal(values[n], used)
        else:
            print(describe_factorial(n))
    for n, path in request.paths.items():
        _write(values[n], f"{shown_integer(n)}!", path, request.format, used, status)


def _factorial(request: _Request) -> int:
    if request.digits:
        for n in request.ns:
            print(mpz(factorial_digit_count(n)))  # no 4300-digit limit, as for str()
        return 0
    # With --print, stdout carries only the results.
    status = sys.stderr if request.print else sys.stdout
    fitting, refused = _computable(request.ns)
    if refused and request.needs_values:  # printing or writing needs the value
        raise ValueError(next(iter(refused.values())))
    for n, reason in refused.items():
        print(
            f"{shown_integer(n)}! not computed ({reason}); "
            "its summary line needs no computation",
            file=status,
        )
    values: dict[int, mpz] = {}
    with _cluster_session(request.scheduler, request.report, status) as client:
        used = client
        if _streams_chunks(request, fitting) and not (
            client is None and factorials_run_here(fitting)
        ):
            _write_chunked(request, fitting[0], client, status)
            return 0
        if fitting:
            values, used = _compute(fitting, client, status)
        _emit(request, values, used, status)
    return 0


def _streams_chunks(request: _Request, fitting: list[int]) -> bool:
    """Whether one large n goes to a bin or hex file straight from the workers.

    Such a value may be larger than any one process can hold twice
    (``10**9!`` has 3.56 GB); from chunks on the workers, the file is
    written without this process ever holding it.
    """
    return (
        len(request.ns) == 1
        and fitting == request.ns
        and request.format in ("bin", "hex")
        and not request.print
        and factorial_seconds(fitting[0]) >= setting("in-process-seconds")
    )


def _write_chunked(
    request: _Request, n: int, client: Client | None, status: TextIO
) -> None:
    start = time.perf_counter()
    value = factorial_chunked(n, client=client).wait()
    print(
        f"computed 1 factorial in {time.perf_counter() - start:.3f} s on "
        f"{scheduler_address(value.client)}, held in {len(value)} chunks",
        file=status,
    )
    print(describe_factorial(n))
    _write(
        value,
        f"{shown_integer(n)}!",
        request.paths[n],
        request.format,
        value.client,
        status,
    )


def _product_command(command: str, arguments: argparse.Namespace) -> int:
    """``compute binomial N K`` and the other subcommands beside factorial."""
    names = _PRODUCT_COMMANDS[command][0]
    product = requested_product(
        command, *(getattr(arguments, name.rstrip(".").lower()) for name in names)
    )
    if arguments.output is None and arguments.format is not None:
        raise ValueError("--format needs --output")
    format = arguments.format or "dec"
    if arguments.output is not None:
        check_output(arguments.output, format)
    if arguments.digits:
        print(digit_count_of(product))
        return 0
    status = sys.stderr if arguments.print else sys.stdout
    try:
        check_products_here([product], positions=False)
    except ValueError as refused:
        if arguments.print or arguments.output:  # they need the value
            raise
        digits = digit_count_of(product)
        print(f"{product.label} not computed ({refused}); it has {digits} digits")
        return 0
    with _cluster_session(arguments.scheduler, arguments.report, status) as client:
        progress = status.isatty() and products_seconds([product]) > PROGRESS_SECONDS
        start = time.perf_counter()
        [value], used = run_products([product], client, progress, positions=False)
        where = "this process" if used is None else scheduler_address(used)
        print(
            f"computed {product.label} in {time.perf_counter() - start:.3f} s "
            f"on {where}",
            file=status,
        )
        if arguments.print:
            _print_decimal(value, used)
        else:
            print(describe_value(product.label, value))
        if arguments.output is not None:
            _write(value, product.label, arguments.output, format, used, status)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser, subcommands = _parser()
    arguments = parser.parse_args(argv)
    show_status_lines(prefix="compute: ")  # a cluster started or joined, its dashboard
    try:
        if arguments.command == "factorial":
            return _factorial(_request(arguments))
        return _product_command(arguments.command, arguments)
    except KeyboardInterrupt:
        print("compute: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as a SIGPIPE would.
        # Python would report the pipe again when flushing stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except (TypeError, ValueError) as error:
        subcommands[arguments.command].error(str(error))  # exits 2, with usage
    except (OSError, MemoryError) as error:
        print(f"compute: error: {error}", file=sys.stderr)
        return 1
    return 1  # not reached: error() exits


def entry_point() -> None:
    """The ``compute`` console script."""
    sys.exit(main())
