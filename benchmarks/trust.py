"""What the safeguards of a long run cost: product checks and checkpoints.

Each workload runs with the safeguard and without, in turn (A, B, A, B,
...), and every result is compared with ``gmpy2.fac``. Product checks
(``compute.check-products``): 5e7! in this process, 2e7! on a 2-worker
LocalCluster as a tree of products, and 2e7! spread over the workers as
Toom products (every stage checked). Each run with checks also reads the
share of its time spent checking, which this machine's noise between two
runs (up to 30%) hides in the ratios: on the cluster from the workers' fine
performance metrics (the ``product-check`` activity, over their task time),
in this process from ``compute.checks.checking_seconds`` over its CPU time.
Checkpoints: 5e7! in this process with ``checkpoint=`` a fresh directory
against none (``make bench-resume`` times 3e8! killed and resumed).

Writes ``benchmarks/results/trust.json`` and ``trust.png``; run alone with
``python -m benchmarks.trust`` (about 5 minutes), and by ``make bench``.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dask.config
import gmpy2
from distributed import Client, LocalCluster

import compute
from benchmarks.measure import interleaved
from benchmarks.plots import plot_overheads
from compute.checks import METRIC, checking_seconds

RESULTS = Path(__file__).parent / "results"
SPREAD = {"compute.distributed-threads": 2, "compute.distributed-seconds": 0}


def _factorial(
    n: int, client: Client | None, config: dict, checkpoint: bool = False
) -> Callable[[], object]:
    def run() -> object:
        with dask.config.set(config):
            if not checkpoint:
                return compute.factorial(n, client=client)
            with tempfile.TemporaryDirectory(prefix="bench-trust-") as folder:
                return compute.factorial(n, client=client, checkpoint=folder)

    return run


def task_seconds(dask_worker: object) -> tuple[float, float]:
    """On a worker: seconds its tasks spent checking products, and in all."""
    checking = total = 0.0
    for key, value in dask_worker.digests_total.items():  # type: ignore[attr-defined]
        if isinstance(key, tuple) and key[0] == "execute" and key[-1] == "seconds":
            total += value
            checking += value if key[-2] == METRIC else 0.0
    return checking, total


Totals = Callable[[], tuple[float, float]]  # (seconds checking, seconds in all)


def _on_workers(client: Client) -> Totals:
    """The workers' task seconds checking products, and in all, so far."""

    def totals() -> tuple[float, float]:
        by_worker = client.run(task_seconds).values()
        return sum(c for c, _ in by_worker), sum(t for _, t in by_worker)

    return totals


def _in_this_process() -> tuple[float, float]:
    """This process's seconds checking products, and its CPU seconds, so far."""
    return checking_seconds(), time.process_time()


def _metered(
    run: Callable[[], object], totals: Totals, shares: list[float]
) -> Callable[[], object]:
    """``run``, appending to ``shares`` the part of its time spent checking."""

    def metered() -> object:
        checking, total = totals()
        result = run()
        checking_after, total_after = totals()
        shares.append((checking_after - checking) / (total_after - total))
        return result

    return metered


def _row(
    safeguard: str,
    workload: str,
    n: int,
    with_it: Callable[[], object],
    without: Callable[[], object],
    runs: int,
    totals: Totals | None = None,
) -> dict[str, object]:
    expected = gmpy2.fac(n)
    shares: list[float] = []
    if totals is not None:
        with_it = _metered(with_it, totals, shares)
    pair = interleaved(with_it, without, runs, same=lambda a, b: a == b == expected)
    row = {"safeguard": safeguard, "workload": workload, "n": n, **pair.summary()}
    share = ""
    if shares:
        row["check_share_median"] = statistics.median(shares)
        row["check_shares"] = shares
        share = f"; {100 * statistics.median(shares):.2f}% of its time checking"
    print(
        f"  {safeguard}, {workload}: {pair.ratio:.3f}x "
        f"({', '.join(f'{r:.3f}' for r in pair.ratios)}){share}",
        flush=True,
    )
    return row


def trust_table(runs: int = 5, large_n: int = 5 * 10**7) -> list[dict[str, object]]:
    """Rows of (safeguard, workload, ratios with / without)."""
    on, off = {"compute.check-products": True}, {"compute.check-products": False}
    rows = [
        _row(
            "product checks",
            f"{large_n:.0e}! in this process",
            large_n,
            _factorial(large_n, None, on),
            _factorial(large_n, None, off),
            runs,
            _in_this_process,
        ),
        _row(
            "checkpoints",
            f"{large_n:.0e}! in this process",
            large_n,
            _factorial(large_n, None, {}, checkpoint=True),
            _factorial(large_n, None, {}),
            runs,
        ),
    ]
    n = 2 * 10**7
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address="127.0.0.1:0"
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        compute.factorial(10**6, client=client)
        rows.append(
            _row(
                "product checks",
                f"{n:.0e}! on 2 workers",
                n,
                _factorial(n, client, on),
                _factorial(n, client, off),
                runs,
                _on_workers(client),
            )
        )
        rows.append(
            _row(
                "product checks",
                f"{n:.0e}! spread (Toom)",
                n,
                _factorial(n, client, {**SPREAD, **on}),
                _factorial(n, client, {**SPREAD, **off}),
                runs,
                _on_workers(client),
            )
        )
    return rows


def main() -> None:
    quick = "--quick" in sys.argv
    rows = trust_table(runs=3 if quick else 5, large_n=10**7 if quick else 5 * 10**7)
    folder = RESULTS / ("quick" if quick else "")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trust.json").write_text(json.dumps(rows, indent=2))
    plot_overheads(rows, folder / "trust.png")


if __name__ == "__main__":
    main()
