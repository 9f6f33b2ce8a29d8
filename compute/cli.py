"""The ``compute`` command line: ``compute factorial N [N ...]``.

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
from compute.output import describe_factorial
from compute.plan import batch_seconds
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
    factorial.add_argument(
        "--report",
        metavar="FILE",
        help="save a Dask performance report (HTML) of the run; uses a cluster",
    )
    return parser


def _factorial(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        ns = as_counts(arguments.ns)
        check_fits(ns, machine_bytes(), machine_bytes(), "this machine")
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    client = None
    if arguments.scheduler or arguments.report:
        client = connect(arguments.scheduler)
    with contextlib.ExitStack() as stack:
        if client is not None:
            stack.callback(client.close)
            print(f"dashboard: {client.dashboard_link}", flush=True)
        if arguments.report:
            from distributed import performance_report

            stack.enter_context(performance_report(filename=arguments.report))
        progress = (
            sys.stdout.isatty() and batch_seconds(sorted(set(ns))) > PROGRESS_SECONDS
        )
        start = time.perf_counter()
        results, used = run_batch(ns, client, progress)
        seconds = time.perf_counter() - start
        if client is None and used is not None:
            print(f"dashboard: {used.dashboard_link}")
        where = "this process" if used is None else used.scheduler.address
        print(f"computed {len(ns)} factorials in {seconds:.3f} s on {where}")
        for n, value in zip(ns, results, strict=True):
            print(describe_factorial(n, value))
    if arguments.report:
        print(f"performance report: {arguments.report}")
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
