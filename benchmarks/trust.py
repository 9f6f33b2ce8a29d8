"""What the safeguards of a long run cost: product checks and checkpoints.

Each workload runs with the safeguard and without, in turn (A, B, A, B,
...), and every result is compared with ``gmpy2.fac``. Product checks
(``compute.check-products``): 5e7! in this process, 2e7! on a 2-worker
LocalCluster as a tree of products, and 2e7! spread over the workers as
Toom products (every stage checked). Checkpoints: 5e7! in this process with
``checkpoint=`` a fresh directory against none (``make bench-resume`` times
3e8! killed and resumed).

Writes ``benchmarks/results/trust.json`` and ``trust.png``; run alone with
``python -m benchmarks.trust`` (about 5 minutes), and by ``make bench``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import dask.config
import gmpy2
from distributed import Client, LocalCluster

import compute
from benchmarks.measure import interleaved
from benchmarks.plots import plot_overheads

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


def _row(
    safeguard: str,
    workload: str,
    n: int,
    with_it: Callable[[], object],
    without: Callable[[], object],
    runs: int,
) -> dict[str, object]:
    expected = gmpy2.fac(n)
    pair = interleaved(with_it, without, runs, same=lambda a, b: a == b == expected)
    row = {"safeguard": safeguard, "workload": workload, "n": n, **pair.summary()}
    print(
        f"  {safeguard}, {workload}: {pair.ratio:.3f}x "
        f"({', '.join(f'{r:.3f}' for r in pair.ratios)})",
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
