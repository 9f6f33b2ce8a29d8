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
import os
import signal
import sys
from collections.abc import Sequence

from cluster.interrupts import quiet_for_exit, take_first_interrupt_only
from cluster.status import show_status_lines
from compute.cli_input import n_argument, parse_integer
from compute.cli_run import run_factorials, run_product
from compute.products import KINDS, Kind
from compute.result_file import FORMATS

_EPILOG = """\
examples:
  compute factorial 5310 5263 7854          summaries, in input order
  compute factorial 1e7 --output f.txt      10**7! written to f.txt (decimal)
  compute factorial 10**8 --digits          its digit count, computed at once
  compute factorial 1e8 --output f.bin --format bin --verify
                                            written raw, then the file checked
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
    subcommands = {"factorial": _factorial_parser(commands)}
    for kind in KINDS:
        if kind is not Kind.FACTORIAL:  # its own subcommand, for many n
            subcommands[str(kind)] = _product_parser(commands, kind)
    return parser, subcommands


def _factorial_parser(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
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
        type=n_argument,
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
    factorial.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="keep finished pieces and products in DIR, and take up what DIR "
        "holds: a run killed or interrupted resumes when run again; removed "
        "once the result is written and verified (default with --output, "
        "for a run estimated above compute.checkpoint-seconds: a directory "
        "beside PATH)",
    )
    factorial.add_argument(
        "--verify",
        action="store_true",
        help="check each n! (the file written, with --output) against n! "
        "modulo four primes, its bit length and 2-adic valuation, found "
        "without computing n! again; prints one line, verified: ...",
    )
    return factorial


def _product_parser(
    commands: argparse._SubParsersAction, kind: Kind
) -> argparse.ArgumentParser:
    what = KINDS[kind].description
    subcommand = commands.add_parser(
        str(kind),
        help=f"exact {what}",
        description=(
            f"Compute the {what} exactly and print a summary, on the same "
            "engine and with the same options as compute factorial."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for name in KINDS[kind].arguments:
        subcommand.add_argument(
            name.rstrip(".").lower(),
            metavar=name.rstrip("."),
            nargs="+" if name.endswith("...") else None,
            type=parse_integer,
            help=">= 0, as digits, 1e7, 10**7 or 10^7",
        )
    _add_output_options(subcommand, "the value", "the value")
    subcommand.add_argument(
        "--output", metavar="PATH", help="write the value to PATH, atomically"
    )
    return subcommand


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
            return run_factorials(arguments)
        return run_product(Kind(arguments.command), arguments)
    except KeyboardInterrupt as interrupt:
        quiet_for_exit()
        said = "; ".join(["interrupted", *getattr(interrupt, "__notes__", [])])
        print(f"compute: {said}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as a SIGPIPE would.
        # Python would report the pipe again when flushing stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except (TypeError, ValueError) as error:
        subcommands[arguments.command].error(str(error))  # exits 2, with usage
    except (OSError, MemoryError, ArithmeticError) as error:
        print(f"compute: error: {error}", file=sys.stderr)
        return 1
    return 1  # not reached: error() exits
