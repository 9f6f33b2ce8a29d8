"""The ``compute`` command line: ``compute factorial N [N ...]``.

By default it prints a summary line per n. ``--digits`` prints only the exact
digit counts and ``--print`` only the full decimals, one line per n, with
status lines on stderr, so the output can be piped. ``--output PATH`` writes
each result to a file (``{n}`` in PATH stands for n).

Exit codes: 0 on success, 1 when the work fails or the cluster cannot be
reached, 2 for bad arguments (with a usage message), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Sequence

from cluster import connect
from compute.api import machine_bytes, run_batch
from compute.decimal_conversion import decimal_chunks
from compute.output import describe_factorial, digit_count
from compute.plan import batch_seconds
from compute.result_file import FORMATS, check_output, write_result
from compute.validate import as_counts, check_fits

# Runs estimated longer than this show a progress bar on a terminal.
PROGRESS_SECONDS = 2.0


def _parser() -> argparse.ArgumentParser:
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
    factorial.add_argument("ns", metavar="N", nargs="+", type=int, help="n >= 0")
    factorial.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="Dask scheduler address (default: Dask's scheduler-address config)",
    )
    shown = factorial.add_mutually_exclusive_group()
    shown.add_argument(
        "--digits",
        action="store_true",
        help="print only the exact number of decimal digits of each n!",
    )
    shown.add_argument(
        "--print",
        action="store_true",
        help="print only the full decimal of each n!, with no digit limit",
    )
    factorial.add_argument(
        "--output",
        metavar="PATH",
        help="write each n! to PATH, replaced atomically; with several N, "
        "PATH must contain {n}",
    )
    factorial.add_argument(
        "--format",
        choices=FORMATS,
        help="file format for --output: decimal text (default), hexadecimal "
        "text, or raw big-endian bytes",
    )
    factorial.add_argument(
        "--report",
        metavar="FILE",
        help="save a Dask performance report (HTML) of the run; uses a cluster",
    )
    return parser


def _output_paths(
    arguments: argparse.Namespace, ns: list[int]
) -> dict[int, str] | None:
    """Where each n! goes with --output (checked before any work), or None."""
    if arguments.output is None:
        if arguments.format is not None:
            raise ValueError("--format needs --output")
        return None
    arguments.format = arguments.format or "dec"
    if len(set(ns)) > 1 and "{n}" not in arguments.output:
        raise ValueError("--output needs {n} in PATH when several N are given")
    paths = {n: arguments.output.replace("{n}", str(n)) for n in ns}
    for path in paths.values():
        check_output(path, arguments.format)
    return paths


def _factorial(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        ns = as_counts(arguments.ns)
        check_fits(ns, machine_bytes(), machine_bytes(), "this machine")
        paths = _output_paths(arguments, ns)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    # With --digits or --print, stdout carries only the results.
    status = sys.stderr if arguments.digits or arguments.print else sys.stdout
    client = None
    if arguments.scheduler or arguments.report:
        client = connect(arguments.scheduler)
    with contextlib.ExitStack() as stack:
        if client is not None:
            stack.callback(client.close)
            print(f"dashboard: {client.dashboard_link}", file=status, flush=True)
        if arguments.report:
            from distributed import performance_report

            stack.enter_context(performance_report(filename=arguments.report))
        progress = status.isatty() and batch_seconds(sorted(set(ns))) > PROGRESS_SECONDS
        start = time.perf_counter()
        results, used = run_batch(ns, client, progress)
        seconds = time.perf_counter() - start
        if client is None and used is not None:
            print(f"dashboard: {used.dashboard_link}", file=status)
        where = "this process" if used is None else used.scheduler.address
        print(
            f"computed {len(ns)} factorial{'s' * (len(ns) != 1)} in {seconds:.3f} s "
            f"on {where}",
            file=status,
        )
        for n, value in zip(ns, results, strict=True):
            if arguments.digits:
                print(digit_count(value))
            elif arguments.print:
                for chunk in decimal_chunks(value, client=used):
                    sys.stdout.write(chunk)
                sys.stdout.write("\n")
            else:
                print(describe_factorial(n, value))
        by_n = dict(zip(ns, results, strict=True))
        for n, path in (paths or {}).items():
            start = time.perf_counter()
            written = write_result(by_n[n], path, format=arguments.format, client=used)
            print(
                f"wrote {n}! to {written} ({written.stat().st_size} bytes, "
                f"{arguments.format}) in {time.perf_counter() - start:.2f} s",
                file=status,
            )
    if arguments.report:
        print(f"performance report: {arguments.report}", file=status)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    try:
        return _factorial(arguments, parser)
    except KeyboardInterrupt:
        print("compute: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, MemoryError) as error:
        print(f"compute: error: {error}", file=sys.stderr)
        return 1


def entry_point() -> None:
    """The ``compute`` console script."""
    sys.exit(main())
