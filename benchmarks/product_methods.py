"""``make bench-products``: ways to cut one large product, timed in one process.

A product spread over workers must be cut into parts that each fit a task.
Two ways are compared here on the same random operands, each against one
``gmpy2`` multiply of them, all on this process's one thread (the work, not
the wall time of a cluster):

- Toom-k over chunks: the package's own distributed product
  (:func:`compute.toom_graph.product`), its graph run by Dask's synchronous
  scheduler, timed by stage;
- Schoenhage-Strassen over K pieces (a Fermat-ring FFT; not in the package):
  both operands cut into pieces, transformed mod ``2**M + 1`` by butterflies
  of shifts and additions, multiplied pointwise, transformed back. The
  pointwise products are taken two ways: gmpy2's full product then a
  reduction, and GMP's own product mod ``2**M + 1`` (``mpn_mul_fft``, from
  the libgmp that gmpy2 loads, through ctypes), which is about half the work.

Every result is checked equal to gmpy2's. Writes
``benchmarks/results/product-methods.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gmpy2
from dask.local import get_sync
from gmpy2 import mpz

from benchmarks.measure import median_seconds
from compute import toom, toom_graph
from compute.tasks import TaskGraph, stage_of

RESULTS = Path(__file__).parent / "results"


class _Gmp:
    """GMP's FFT product mod ``B**n + 1`` from the libgmp that gmpy2's wheel
    carries (its exported internals, through ctypes)."""

    def __init__(self) -> None:
        folder = Path(gmpy2.__file__).parent.parent / "gmpy2.libs"
        lib = ctypes.CDLL(sorted(glob.glob(str(folder / "libgmp-*.so*")))[0])
        self.best_k = getattr(lib, "__gmpn_fft_best_k")
        self.best_k.restype = ctypes.c_int
        self.best_k.argtypes = [ctypes.c_long, ctypes.c_int]
        self.next_size = getattr(lib, "__gmpn_fft_next_size")
        self.next_size.restype = ctypes.c_long
        self.next_size.argtypes = [ctypes.c_long, ctypes.c_int]
        self.mul_fft = getattr(lib, "__gmpn_mul_fft")
        self.mul_fft.restype = ctypes.c_ulong
        self.mul_fft.argtypes = [
            ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p, ctypes.c_long,
            ctypes.c_void_p, ctypes.c_long, ctypes.c_int,
        ]  # fmt: skip


class FermatRing:
    """Arithmetic mod ``F = 2**M + 1``, ``M = 64 * limbs``."""

    def __init__(self, least_bits: int, pieces: int, lib: _Gmp | None):
        self.lib = lib
        limbs = -(-least_bits // 64)
        # omega = 2**(2M/K) must be a whole power of two: K divides 2M.
        while True:
            self.fft_k = 0
            if lib is not None:
                self.fft_k = lib.best_k(limbs, 0)
                limbs = lib.next_size(limbs, self.fft_k)
            if (2 * 64 * limbs) % pieces == 0:
                break
            limbs += 1
        self.limbs = limbs
        self.bits = 64 * limbs
        self.modulus = (mpz(1) << self.bits) + 1
        self.mask = (mpz(1) << self.bits) - 1

    def reduce(self, x: mpz) -> mpz:
        """``x mod F`` for ``-F < x < 2**(2M)``."""
        while x.bit_length() > self.bits:
            x = (x & self.mask) - (x >> self.bits)
        return x + self.modulus if x < 0 else x

    def shift(self, x: mpz, power: int) -> mpz:
        """``x * 2**power mod F`` for ``0 <= power < 2M`` (``2**M = -1``)."""
        if power >= self.bits:
            x, power = self.modulus - x if x else x, power - self.bits
        return self.reduce(x << power)

    def multiply(self, x: mpz, y: mpz) -> mpz:
        if self.lib is None:
            return self.reduce(x * y)
        size = (self.limbs + 1) * 8
        left = ctypes.create_string_buffer(x.to_bytes(size, "little"), size)
        right = ctypes.create_string_buffer(y.to_bytes(size, "little"), size)
        out = ctypes.create_string_buffer(size)
        high = self.lib.mul_fft(
            out, self.limbs, left, self.limbs + (x >> self.bits != 0),
            right, self.limbs + (y >> self.bits != 0), self.fft_k,
        )  # fmt: skip
        value = mpz.from_bytes(out.raw[: self.limbs * 8], "little")
        return self.reduce(value + (mpz(high) << self.bits))


def fermat_fft_product(
    a: mpz, b: mpz, pieces: int, native: bool, lib: _Gmp
) -> tuple[mpz, dict[str, float]]:
    """``a * b`` by a length-``pieces`` FFT mod ``2**M + 1``; seconds by stage."""
    log_pieces = pieces.bit_length() - 1
    piece_bits = -(-(a.bit_length() + b.bit_length()) // pieces)
    ring = FermatRing(2 * piece_bits + log_pieces + 1, pieces, lib if native else None)
    step = 2 * ring.bits // pieces  # omega = 2**step
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = seconds.get(stage, 0.0) + now - clock
        clock = now

    count_a = -(-a.bit_length() // piece_bits)
    count_b = -(-b.bit_length() // piece_bits)
    xs = list(toom.to_chunks(a, piece_bits, count_a)) + [mpz(0)] * (pieces - count_a)
    ys = list(toom.to_chunks(b, piece_bits, count_b)) + [mpz(0)] * (pieces - count_b)
    lap("cut")

    def forward(values: list[mpz]) -> None:  # natural order in, bit-reversed out
        half, stride = pieces // 2, 1
        while half:
            for start in range(0, pieces, 2 * half):
                for j in range(half):
                    x, y = values[start + j], values[start + j + half]
                    values[start + j] = ring.reduce(x + y)
                    values[start + j + half] = ring.shift(
                        ring.reduce(x - y), j * stride * step
                    )
            half, stride = half // 2, stride * 2

    def inverse(values: list[mpz]) -> None:  # bit-reversed in, natural out, x K
        half, stride = 1, pieces // 2
        while half < pieces:
            for start in range(0, pieces, 2 * half):
                for j in range(half):
                    x = values[start + j]
                    y = ring.shift(
                        values[start + j + half],
                        (2 * ring.bits - j * stride * step) % (2 * ring.bits),
                    )
                    values[start + j] = ring.reduce(x + y)
                    values[start + j + half] = ring.reduce(x - y)
            half, stride = half * 2, stride // 2

    forward(xs)
    forward(ys)
    lap("transforms")
    zs = [ring.multiply(x, y) for x, y in zip(xs, ys, strict=True)]
    del xs, ys
    lap("pointwise")
    inverse(zs)
    scale = (2 * ring.bits - log_pieces) % (2 * ring.bits)
    zs = [ring.shift(z, scale) for z in zs]
    lap("transforms")
    # Coefficients are exact below 2**M: they overlap, so add them up.
    product = toom.assemble(zs, piece_bits)
    lap("join")
    return product, seconds


def toom_product(
    a: mpz, b: mpz, ways: int, chunk_bits: int
) -> tuple[mpz, dict[str, float]]:
    """``a * b`` by the package's Toom-``ways`` graph, run here; seconds by stage."""
    graph = TaskGraph()
    count_a = toom_graph.chunk_count(a.bit_length(), chunk_bits)
    count_b = toom_graph.chunk_count(b.bit_length(), chunk_bits)
    left = toom_graph.chunks_of(graph, a, chunk_bits, count_a, 0)
    right = toom_graph.chunks_of(graph, b, chunk_bits, count_b, 1)
    out = toom_graph.product(graph, left, right, chunk_bits, ways, 0)
    seconds: dict[str, float] = {}
    timed = {}
    for key, task in graph.tasks.items():
        timed[key] = _timed_task(task, stage_of(key), seconds)
    chunks = get_sync(timed, [chunk.key for chunk in out])
    start = time.perf_counter()
    product = toom.join_chunks(chunks, chunk_bits)
    seconds["join"] = time.perf_counter() - start
    return product, seconds


def _timed_task(task: Any, stage: str, seconds: dict[str, float]) -> Any:
    """``task`` with its run's seconds added to ``seconds[stage]``."""
    function = task.func

    def timed(*args: object, **kwargs: object) -> object:
        start = time.perf_counter()
        value = function(*args, **kwargs)
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - start
        return value

    return type(task)(task.key, timed, *task.args, **task.kwargs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.product_methods")
    parser.add_argument("--bits", type=float, default=4e8, help="of each operand")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--chunk-bytes", type=int, default=2**20, help="of Toom's chunks"
    )
    arguments = parser.parse_args(argv)
    bits = int(arguments.bits)
    chunk_bits = arguments.chunk_bytes * 8
    state = gmpy2.random_state(2026)
    a = gmpy2.mpz_urandomb(state, bits) | mpz(1) << (bits - 1)
    b = gmpy2.mpz_urandomb(state, bits) | mpz(1) << (bits - 1)
    lib = _Gmp()
    expected = a * b
    anchor = median_seconds(lambda: a * b, arguments.repeats)
    rows: list[dict[str, Any]] = []

    def measure(method: str, parts: int, run: Callable[[], tuple[mpz, dict]]) -> None:
        times, stages = [], {}
        for _ in range(arguments.repeats):
            start = time.perf_counter()
            product, stages = run()
            times.append(time.perf_counter() - start)
            if product != expected:
                raise SystemExit(f"{method} with {parts} parts: wrong product")
        seconds = statistics.median(times)
        stages_s = {k: round(v, 3) for k, v in stages.items()}
        rows.append({"method": method, "parts": parts, "seconds": seconds,
                     "x_gmpy2": seconds / anchor, "stages_s": stages_s})  # fmt: skip
        print(f"{method:>28} {parts:>4} parts: {seconds:7.2f} s = "
              f"{seconds / anchor:.2f}x gmpy2  {stages_s}", flush=True)  # fmt: skip

    print(f"gmpy2 a * b, {bits} bits each: {anchor:.2f} s", flush=True)
    for ways in (3, 8, 13):
        measure(
            "Toom-k over chunks",
            ways,
            lambda w=ways: toom_product(a, b, w, chunk_bits),
        )
    for pieces in (16, 64, 256):
        for native in (True, False):
            name = "FFT, GMP pointwise" if native else "FFT, gmpy2 pointwise"
            measure(
                name,
                pieces,
                lambda k=pieces, n=native: fermat_fft_product(a, b, k, n, lib),
            )
    record = {
        "operand_bits": bits,
        "toom_chunk_bits": chunk_bits,
        "gmpy2_seconds": anchor,
        "repeats": arguments.repeats,
        "gmpy2": gmpy2.version(),
        "gmp": gmpy2.mp_version(),
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "product-methods.json").write_text(json.dumps(record, indent=1) + "\n")
    _plot(record, RESULTS / "product-methods.png")


def _plot(record: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5))
    methods = list(dict.fromkeys(row["method"] for row in record["rows"]))
    for method in methods:
        rows = [row for row in record["rows"] if row["method"] == method]
        axes.plot([row["parts"] for row in rows], [row["x_gmpy2"] for row in rows],
                  marker="o", label=method)  # fmt: skip
    axes.axhline(1.0, color="gray", linewidth=0.8)
    axes.set_xscale("log", base=2)
    axes.set_xlabel("parts (Toom's k, or FFT pieces K)")
    axes.set_ylabel("time / one gmpy2 multiply")
    axes.set_title(
        f"one product of two {record['operand_bits'] / 1e6:.0f} Mbit numbers, "
        "one thread"
    )
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
