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
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from gmpy2 import mpz

from cluster import connect, scheduler_address
from cluster.interrupts import quiet_for_exit, take_first_interrupt_only
from cluster.shared import stop_local_workers
from cluster.status import show_status_lines
from compute.admission import check_fits_here
from compute.chunked import ChunkedInteger
from compute.combinatorics import digit_count_of, requested_product
from compute.config import setting
from compute.cost import factorial_seconds
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
from compute.result_file import FORMATS, check_output, write_result
from compute.validate import as_count, as_counts, shown_integer

if TYPE_CHECKING:
    from distributed import Client

# Runs estimated longer than this show a progress bar on a terminal.
PROGRESS_SECONDS = 2.0


# The subcommands beside ``factorial``, each a product kind of the registry.
_PRODUCT_KINDS = [kind for kind in KINDS if kind is not Kind.FACTORIAL]


# Exact integer forms beside plain digits (``1_000_000`` included), as the
# docs write them: 1e7, 10**7 and 10^7. A mantissa with a point (1.5e3) is
# refused, as int() refuses "1.5".
_SCIENTIFIC = re.compile(r"([+-]?\d+)[eE]\+?(\d+)")
_POWER = re.compile(r"([+-]?\d+)(?:\*\*|\^)(\d+)")
# Larger written powers would take long to expand only to be refused as too
# large: 2**(2**24) has 16.8 Mbit, far past the largest n any machine computes.
_POWER_BITS = 2**24


def _integer(text: str) -> int:
    """An n as written: digits of any length, ``1e7``, ``10**7`` or ``10^7``."""
    text = text.strip()
    for form, base_of in ((_SCIENTIFIC, lambda _: 10), (_POWER, int)):
        match = form.fullmatch(text)
        if match is None:
            continue
        mantissa, exponent = _integer(match[1]), int(match[2])
        base = base_of(mantissa)
        if exponent * abs(base).bit_length() > _POWER_BITS:
            raise argparse.ArgumentTypeError(
                f"{text!r} is too large: over {_POWER_BITS} bits"
            )
        return mantissa * 10**exponent if form is _SCIENTIFIC else base**exponent
    try:
        return int(text)
    except ValueError:
        if not text.lstrip("+-").replace("_", "").isdigit():
            raise
        return int(mpz(text.replace("_", "")))


_integer.__name__ = "int"  # argparse names it in its errors: "invalid int value"


@dataclass(frozen=True)
class _Source:
    """An N argument that names where to read n from: ``-`` or ``@FILE``."""

    name: str

    def read(self) -> list[tuple[int, str]]:
        """The n on each non-blank line, with where it was read for errors."""
        if self.name == "-":
            lines, label = sys.stdin.read().splitlines(), "standard input"
        else:
            path = self.name[1:]
            try:
                lines, label = Path(path).read_text().splitlines(), path
            except (OSError, UnicodeDecodeError) as error:
                raise ValueError(f"cannot read n from {path!r}: {error}") from None
        read = []
        for number, line in enumerate(lines, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            where = f"{label}, line {number}"
            try:
                read.append((_integer(text), where))
            except (ValueError, argparse.ArgumentTypeError) as error:
                raise ValueError(f"{where}: invalid int value: {text!r}") from error
        return read


def _n_argument(text: str) -> int | _Source:
    """An N on the command line: an integer, ``-`` (stdin) or ``@FILE``."""
    if text == "-" or (text.startswith("@") and len(text) > 1):
        return _Source(text)
    return _integer(text)


_n_argument.__name__ = "int"


def _expanded(arguments: list[int | _Source]) -> tuple[list[int], list[str | None]]:
    """The ns in order, files and stdin read, and where each was read from."""
    ns: list[int] = []
    origins: list[str | None] = []
    for argument in arguments:
        if isinstance(argument, _Source):
            for n, where in argument.read():
                ns.append(n)
                origins.append(where)
        else:
            ns.append(argument)
            origins.append(None)
    return ns, origins


_EPILOG = """\
examples:
  compute factorial 5310 5263 7854          summaries, in input order
  compute factorial 1e7 --output f.txt      10**7! written to f.txt (decimal)
  compute factorial 10**8 --digits          its digit count, computed at once
  compute factorial - < ns.txt              n read from standard input, one a line
  compute factorial @ns.txt --print         n read from ns.txt; full decimals
  compute binomial 2e7 1e7                  another function, same options
  DASK_SCHEDULER_ADDRESS=tcp://host:8786 compute factorial 5e7
                                            on a Dask cluster
"""


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each subcommand's."""
    parser = argparse.ArgumentParser(
        prog="compute",
        description="Exact big-integer computation on Dask.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    factorial = commands.add_parser(
        "factorial",
        help="exact factorials of one or more n",
        description=(
            "Compute n! exactly for each N and print a summary per n. Small work "
            "runs in this process; large work, or any work when a scheduler is "
            "named, runs on a Dask cluster whose dashboard link is printed. "
            "Results go to standard output, status lines to standard error."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    factorial.add_argument(
        "ns",
        metavar="N",
        nargs="+",
        type=_n_argument,
        help="n >= 0, as digits, 1e7, 10**7 or 10^7; '-' reads n from standard "
        "input and '@FILE' from FILE, one a line",
    )
    _add_output_options(factorial, "n!", "each n!")
    factorial.add_argument(
        "--output",
        metavar="PATH",
        help="write each n! to PATH, replaced atomically; with several N, "
        "PATH must contain {n}",
    )
    subcommands = {"factorial": factorial}
    for kind in _PRODUCT_KINDS:
        command, names, what = str(kind), KINDS[kind].arguments, KINDS[kind].description
        subcommand = commands.add_parser(
            command,
            help=f"exact {what}",
            description=(
                f"Compute the {what} exactly and print a summary, on the same "
                "engine and with the same options as compute factorial."
            ),
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        for name in names:
            subcommand.add_argument(
                name.rstrip(".").lower(),
                metavar=name.rstrip("."),
                nargs="+" if name.endswith("...") else None,
                type=_integer,
                help=">= 0, as digits, 1e7, 10**7 or 10^7",
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
    read, origins = _expanded(arguments.ns)
    if not read:
        raise ValueError("no n given: the input named by N has no numbers")
    # One n reads "n = -5 must be ...", several name the position too, and a
    # read one the line it came from.
    for n, origin in zip(read, origins, strict=True):
        if origin is not None and n < 0:
            raise ValueError(f"{origin}: n = {n} must be non-negative")
    ns = as_counts(read) if len(read) > 1 else [as_count(read[0])]
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


def _computable(
    ns: list[int], scheduler: str | None
) -> tuple[list[int], dict[int, str]]:
    """The ns whose factorials fit here, and why each other one does not.

    Decided before any cluster starts: with no scheduler named, from this
    machine's figures, whatever n's size.
    """
    fitting, refused = [], {}
    for n in dict.fromkeys(ns):
        if scheduler is None:
            reason = factorial_refusal(n)
        else:
            try:
                check_fits_here([n], positions=False, spread=True)
                reason = None
            except ValueError as error:
                reason = str(error)
        if reason is None:
            fitting.append(n)
        else:
            refused[n] = reason
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
        try:
            yield client
        except KeyboardInterrupt:
            stop_local_workers(client)  # busy ones would not hear a polite close
            raise
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
    print(
        f"computed {len(ns)} factorial{'s' * (len(ns) != 1)} in {seconds:.3f} s "
        f"{_where(used)}",
        file=status,
    )
    return dict(zip(ns, results, strict=True)), used


def _where(used: Client | None) -> str:
    return "in this process" if used is None else f"on {scheduler_address(used)}"


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
    status = sys.stderr  # stdout carries only the results
    fitting, refused = _computable(request.ns, request.scheduler)
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
    value = run_chunked_factorial(n, client).wait()
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
    kind = Kind(command)
    names = KINDS[kind].arguments
    product = requested_product(
        kind, *(getattr(arguments, name.rstrip(".").lower()) for name in names)
    )
    if arguments.output is None and arguments.format is not None:
        raise ValueError("--format needs --output")
    format = arguments.format or "dec"
    if arguments.output is not None:
        check_output(arguments.output, format)
    if arguments.digits:
        print(digit_count_of(product))
        return 0
    status = sys.stderr  # stdout carries only the results
    refused = (
        product_refusal(product)
        if arguments.scheduler is None
        else _refusal(check_products_here, [product], positions=False)
    )
    if refused is not None:
        if arguments.print or arguments.output:  # they need the value
            raise ValueError(refused)
        digits = digit_count_of(product)
        print(f"{product.label} not computed ({refused})", file=status)
        print(f"{product.label} has {digits} digits")
        return 0
    with _cluster_session(arguments.scheduler, arguments.report, status) as client:
        progress = status.isatty() and products_seconds([product]) > PROGRESS_SECONDS
        start = time.perf_counter()
        [value], used = run_products([product], client, progress, positions=False)
        print(
            f"computed {product.label} in {time.perf_counter() - start:.3f} s "
            f"{_where(used)}",
            file=status,
        )
        if arguments.print:
            _print_decimal(value, used)
        else:
            print(describe_value(product.label, value))
        if arguments.output is not None:
            _write(value, product.label, arguments.output, format, used, status)
    return 0


def _refusal(check: Callable[..., None], *args: Any, **kwargs: Any) -> str | None:
    """The message of ``check(*args, **kwargs)``'s ValueError, or None."""
    try:
        check(*args, **kwargs)
    except ValueError as refusal:
        return str(refusal)
    return None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("compute")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    take_first_interrupt_only()
    parser, subcommands = _parser()
    arguments = parser.parse_args(argv)
    show_status_lines(prefix="compute: ")  # a cluster started or joined, its dashboard
    try:
        if arguments.command == "factorial":
            return _factorial(_request(arguments))
        return _product_command(arguments.command, arguments)
    except KeyboardInterrupt:
        quiet_for_exit()
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
