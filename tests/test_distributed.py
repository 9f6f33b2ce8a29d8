"""Distributed multiplication (Toom-k over chunks) and ChunkedInteger."""

from __future__ import annotations

import contextlib
import logging
import operator
import os
import random
import signal
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from fractions import Fraction

import dask
import gmpy2
import pytest
from dask.local import get_sync
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin
from gmpy2 import mpz

import compute
from compute import toom, toom_graph, wire
from compute.result_file import write_result
from compute.task_room import make_room_for_large_tasks
from compute.tasks import TaskGraph
from compute.worker_heaps import fix_worker_heaps

CHUNK_BITS = 128


def _random(bits: int, rng: random.Random) -> mpz:
    return mpz(rng.getrandbits(bits)) if bits else mpz(0)


def _product_here(
    a: mpz,
    b: mpz,
    ways: int,
    keep: int | None = None,
    room: int = 0,
    filled: int | None = None,
) -> mpz:
    """``a * b`` through the distributed graph, run by the synchronous scheduler.

    Each operand gets ``room`` chunks beyond those its value fills.
    """
    graph = TaskGraph()
    chunks_a = toom_graph.chunks_of(
        graph,
        a,
        CHUNK_BITS,
        toom_graph.chunk_count(a.bit_length(), CHUNK_BITS) + room,
        0,
    )
    chunks_b = toom_graph.chunks_of(
        graph,
        b,
        CHUNK_BITS,
        toom_graph.chunk_count(b.bit_length(), CHUNK_BITS) + room,
        0,
    )
    out = toom_graph.product(
        graph, chunks_a, chunks_b, CHUNK_BITS, ways, 0, keep, filled
    )
    values = get_sync(graph.tasks, [chunk.key for chunk in out])
    return toom.join_chunks(values, CHUNK_BITS)


@pytest.mark.parametrize("ways", [2, 3, 4, 5, 6, 8, 12, 16])
def test_interpolation_inverts_evaluation(ways: int) -> None:
    rng = random.Random(ways)
    size = 2 * ways - 1
    coefficients = [rng.randrange(-1000, 1000) for _ in range(size)]
    values = [
        coefficients[-1]
        if point is None
        else sum(c * point**i for i, c in enumerate(coefficients))
        for point in toom.points(ways)
    ]
    matrix, divisor = toom.interpolation(ways)
    solved = [
        Fraction(sum(m * w for m, w in zip(row, values, strict=True)), divisor)
        for row in matrix
    ]
    assert solved == coefficients


# Sizes in bits: equal, very unequal, zero, one, on and around chunk and part
# boundaries (128-bit chunks; parts of ceil(chunks / ways) chunks).
SIZES = [
    (1000, 1000),
    (6000, 5999),
    (6000, 130),
    (130, 6000),
    (5000, 1),
    (0, 700),
    (700, 0),
    (1, 1),
    (128, 128),
    (128 * 7, 128 * 7),
    (128 * 7 + 1, 128 * 7 - 1),
    (128 * 8 + 1, 128 * 3),
    (128 * 12, 128 * 4),
    (128 * 12, 128 * 4 + 1),
]


@pytest.mark.parametrize("ways", [1, 2, 3, 4, 6])
@pytest.mark.parametrize(("a_bits", "b_bits"), SIZES)
def test_distributed_product_equals_gmpy2(a_bits: int, b_bits: int, ways: int) -> None:
    rng = random.Random(a_bits * 31 + b_bits * 7 + ways)
    a, b = _random(a_bits, rng), _random(b_bits, rng)
    if a_bits:
        a |= mpz(1) << (a_bits - 1)  # full length
    if b_bits:
        b |= mpz(1) << (b_bits - 1)
    assert _product_here(a, b, ways) == a * b


@pytest.mark.parametrize("ways", [2, 3, 4, 6])
@pytest.mark.parametrize("room", [1, 3, 8])
@pytest.mark.parametrize("filled_error", [-2, -1, 0, 1])
@pytest.mark.parametrize(("a_bits", "b_bits"), [(128 * 18, 128 * 18), (2000, 1700)])
def test_toom_parts_cut_from_the_filled_chunks_are_exact(
    a_bits: int, b_bits: int, room: int, filled_error: int, ways: int
) -> None:
    """Operands with spare chunks: parts by the (possibly wrong) filled count."""
    rng = random.Random(a_bits + 7 * room + 31 * ways + filled_error)
    a = _random(a_bits, rng) | mpz(1) << (a_bits - 1)
    b = _random(b_bits, rng) | mpz(1) << (b_bits - 1)
    filled = max(1, toom_graph.chunk_count(a_bits, CHUNK_BITS) + filled_error)
    assert _product_here(a, b, ways, room=room, filled=filled) == a * b


def test_toom_parts_hold_equal_shares_of_the_filled_chunks() -> None:
    """18 filled chunks of 26, Toom-3: part products of 2 x 6 chunks, not 2 x 9."""
    assert toom_graph._layout(26, 26, 3, filled=18) == ("toom", 3, 6)
    assert toom_graph._layout(26, 26, 3) == ("toom", 3, 9)
    # Whole-chunk parts: 9.4 filled chunks give parts of 3 (the top one
    # holding 3.4), not 4; 9.9 still 3 (3.9 < 4), 10.6 gives 4 (4 < 4.6).
    assert toom_graph._layout(10, 9, 3, filled=9.4)[2] == 3
    assert toom_graph._layout(10, 9, 3, filled=9.9)[2] == 3
    assert toom_graph._layout(11, 9, 3, filled=10.6)[2] == 4
    value = mpz(3) ** 1453  # 2303 bits: 18 chunks of 128
    graph = TaskGraph()
    a = toom_graph.chunks_of(graph, value, CHUNK_BITS, 26, 0)
    out = toom_graph.product(graph, a, a, CHUNK_BITS, 3, 0, filled=18)
    parts = [
        key
        for key, task in graph.tasks.items()
        if getattr(task, "func", None) is toom.part_product
    ]
    values = get_sync(graph.tasks, parts + [chunk.key for chunk in out])
    assert toom.join_chunks(values[len(parts) :], CHUNK_BITS) == value * value
    assert len(parts) == 5
    products = [toom.assemble(chunks, CHUNK_BITS) for chunks in values[: len(parts)]]
    assert max(abs(product).bit_length() for product in products) <= 12 * 128 + 16


@pytest.mark.parametrize("ways", [8, 12, 16])
@pytest.mark.parametrize(
    ("a_bits", "b_bits"), [(128 * 50, 128 * 48), (128 * 33 + 5, 128 * 31)]
)
def test_wide_toom_is_exact(a_bits: int, b_bits: int, ways: int) -> None:
    rng = random.Random(ways + a_bits)
    a, b = _random(a_bits, rng), _random(b_bits, rng)
    assert _product_here(a, b, ways) == a * b


@pytest.mark.parametrize("ways", [3, 8])
def test_each_part_product_chunk_is_read_by_one_task(ways: int) -> None:
    """The interpolation moves each part-product chunk once, not once per
    row of the matrix that names it (Toom-8: up to 15 times)."""
    graph = TaskGraph()
    count = 4 * ways
    every_bit = (mpz(1) << (count * CHUNK_BITS)) - 1  # no chunk is zero
    chunks = toom_graph.chunks_of(graph, every_bit, CHUNK_BITS, count, 0)
    toom_graph.product(graph, chunks, chunks, CHUNK_BITS, ways, 0)
    items = {
        key
        for key, task in graph.tasks.items()
        if str(key).startswith("part-product")
        and task.func is operator.getitem  # one chunk of a part product
    }
    readers = {key: 0 for key in items}
    for task in graph.tasks.values():
        for dependency in task.dependencies & items:
            readers[dependency] += 1
    assert len(readers) == (2 * ways - 1) * (2 * (count // ways) + 1)
    assert set(readers.values()) == {1}


@pytest.mark.parametrize("ways", [2, 3, 4, 8, 16])
@pytest.mark.parametrize("bits", [128 * 40, 128 * 33 + 5, 0])
def test_a_toom_squaring_is_exact_and_evaluates_its_operand_once(
    bits: int, ways: int
) -> None:
    rng = random.Random(ways * bits)
    # 0 bits: every bit of 40 chunks set, so that carries cross every chunk.
    a = _random(bits, rng) if bits else (mpz(1) << (CHUNK_BITS * 40)) - 1
    graph = TaskGraph()
    count = toom_graph.chunk_count(a.bit_length(), CHUNK_BITS)
    chunks = toom_graph.chunks_of(graph, a, CHUNK_BITS, count, 0)
    out = toom_graph.square(graph, chunks, CHUNK_BITS, ways, 0)
    assert len(out) == 2 * count
    values = get_sync(graph.tasks, [chunk.key for chunk in out])
    assert toom.join_chunks(values, CHUNK_BITS) == a * a

    def kernels_run(tasks: dict) -> Counter:
        return Counter(getattr(task, "func", None) for task in tasks.values())

    as_product = TaskGraph()  # with an operand of as many chunks
    other = toom_graph.chunks_of(as_product, a ^ 1, CHUNK_BITS, count, 0)
    toom_graph.product(as_product, chunks, other, CHUNK_BITS, ways, 0)
    squaring, product = kernels_run(graph.tasks), kernels_run(as_product.tasks)
    assert squaring[toom.part_square] == product[toom.part_product] == 2 * ways - 1
    assert squaring[toom.part_product] == 0
    assert 2 * squaring[toom.evaluate_slice] == product[toom.evaluate_slice] > 0


@pytest.mark.parametrize("ways", [2, 3, 4, 16])
def test_all_ones_operands_carry_through_every_chunk(ways: int) -> None:
    a = (mpz(1) << (CHUNK_BITS * 9)) - 1
    assert _product_here(a, a, ways) == a * a


@pytest.mark.parametrize("ways", [1, 2, 3])
def test_too_few_chunks_kept_is_an_error_not_a_wrong_number(ways: int) -> None:
    rng = random.Random(5)
    a, b = _random(3000, rng) | 1 << 2999, _random(3000, rng) | 1 << 2999
    exact = toom_graph.chunk_count(6000, CHUNK_BITS)
    assert _product_here(a, b, ways, keep=exact) == a * b
    with pytest.raises((ArithmeticError, ValueError), match="does not fit"):
        _product_here(a, b, ways, keep=exact - 2)


def test_chunks_of_rejects_a_value_too_long() -> None:
    with pytest.raises(ValueError, match="a value of 300 bits does not fit 2 chunks"):
        toom.to_chunks(mpz(1) << 299, CHUNK_BITS, 2)


@pytest.fixture(scope="module")
def chunked(client: Client):
    """Values of several sizes on the suite's cluster, in 256-byte chunks."""
    rng = random.Random(11)
    values = {
        "zero": mpz(0),
        "one": mpz(1),
        "small": _random(1000, rng),
        "large": gmpy2.fac(20000),
        "other": _random(150000, rng) | 1 << 149999,
    }
    return values, {
        name: compute.ChunkedInteger.scatter(value, client=client, chunk_bits=16384)
        for name, value in values.items()
    }


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("large", "other"),
        ("large", "large"),
        ("large", "small"),
        ("small", "large"),
        ("large", "one"),
        ("zero", "large"),
    ],
)
def test_chunked_products_on_the_cluster(chunked, left: str, right: str) -> None:
    values, held = chunked
    for ways in (2, 3, 4):
        product = held[left].multiply(held[right], ways=ways)
        assert product.to_mpz() == values[left] * values[right]


def test_chunked_gather_digits_and_files(chunked, tmp_path) -> None:
    values, held = chunked
    for name, value in values.items():
        assert held[name].to_mpz() == value
        assert held[name].bit_length() == value.bit_length()
        assert held[name].digit_count() == compute.digit_count(value)
        assert held[name].leading_digits(12) == value.digits(10)[:12]
        for format in ("bin", "hex"):
            streamed = write_result(
                held[name], tmp_path / f"{name}.c.{format}", format=format
            )
            whole = write_result(value, tmp_path / f"{name}.{format}", format=format)
            assert streamed.read_bytes() == whole.read_bytes()
            assert compute.read_result(streamed, format=format) == value


def test_the_workers_write_a_chunked_value_into_its_file(
    chunked, tmp_path, caplog
) -> None:
    values, held = chunked
    for format in ("bin", "hex"):
        path = tmp_path / f"other.{format}"
        with caplog.at_level(logging.DEBUG, logger="compute.chunk_writes"):
            write_result(held["other"], path, format=format)
        whole = write_result(
            values["other"], tmp_path / f"whole.{format}", format=format
        )
        assert path.read_bytes() == whole.read_bytes()
        assert caplog.messages[-1] == (
            f"the workers wrote {whole.stat().st_size} bytes of {format} into {path}"
        )
    # No chunk of 0 has a byte in the file: this process writes it.
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="compute.chunk_writes"):
        write_result(held["zero"], tmp_path / "zero.hex", format="hex")
    assert (tmp_path / "zero.hex").read_bytes() == b"0\n"
    assert caplog.messages == []


def test_no_warning_that_a_graph_is_large_for_the_package_s_own(client) -> None:
    # Below the size of both graphs: the user's own, holding data, warns; the
    # package's (2e6! spread: 110 KiB of tasks) does not, and the setting is
    # the user's again once the package's calls return.
    threshold = "distributed.admin.large-graph-warning-threshold"
    with dask.config.set({threshold: "50kB", **SPREAD_EVERYTHING}):
        with pytest.warns(UserWarning, match="Sending large graph of size"):
            data = dask.delayed(len)(bytes(200_000))
            assert client.compute(data).result(timeout=30) == 200_000
        n = 2 * 10**6
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert compute.factorial(n, client=client) == gmpy2.fac(n)
            held = compute.factorial_chunked(n, client=client)
            assert held.to_mpz() == gmpy2.fac(n)
        assert dask.config.get(threshold) == "50kB"


def test_chunked_rejects_bad_input(chunked, client: Client) -> None:
    _, held = chunked
    with pytest.raises(ValueError, match="holds non-negative integers, got -5"):
        compute.ChunkedInteger.scatter(-5, client=client)
    with pytest.raises(TypeError, match="multiplies another ChunkedInteger, got int"):
        held["large"].multiply(5)  # type: ignore[arg-type]
    other = compute.ChunkedInteger.scatter(7, client=client, chunk_bits=4096)
    with pytest.raises(ValueError, match="chunk sizes differ: 16384 and 4096 bits"):
        held["large"].multiply(other)
    with pytest.raises(ValueError, match="stream as bin or hex, got 'dec'"):
        next(held["large"].encoded("dec"))


# Small chunks, and every product of a split factorial's top spread over the
# workers, so that the distributed path runs on a small n.
SPREAD_EVERYTHING = {
    "compute.chunk-bytes": 1 << 16,
    "compute.distributed-threads": 2,
    "compute.distributed-seconds": 0,
    "compute.split-seconds": 0.01,
}


@contextlib.contextmanager
def _single_thread_workers(
    count: int, memory_limit: str
) -> Iterator[tuple[LocalCluster, Client]]:
    """A LocalCluster of its own, of ``count`` single-thread workers."""
    with (
        LocalCluster(
            n_workers=count,
            threads_per_worker=1,
            memory_limit=memory_limit,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        yield cluster, client


@pytest.fixture(scope="module")
def small_workers():
    """Two single-thread workers of 1 GiB each."""
    with _single_thread_workers(2, "1GiB") as (_, client):
        yield client


def _heap_fixes(dask_worker=None) -> tuple[bool, int]:
    """Whether the worker has the plugin, and how often it fixed the heap."""
    from compute.kernels import fix_heap_thresholds

    info = fix_heap_thresholds.cache_info()
    return "compute-fixed-heap-thresholds" in dask_worker.plugins, info.misses


def test_workers_of_a_spilling_run_fix_their_heaps_those_joining_later_too() -> None:
    with _single_thread_workers(1, "1GiB") as (cluster, client):
        assert list(client.run(_heap_fixes).values()) == [(False, 0)]
        fix_worker_heaps(client)
        cluster.scale(2)
        client.wait_for_workers(2, timeout=60)
        assert list(client.run(_heap_fixes).values()) == [(True, 1), (True, 1)]


def _where_stored(dask_worker=None) -> tuple[set[str], set[str]]:
    """The keys a worker holds in memory, and those it holds on disk."""
    return set(dask_worker.data.fast), set(dask_worker.data.slow)


def _bits_of_product(a: mpz, b: mpz) -> int:
    return (a * b).bit_length()


@pytest.mark.parametrize(
    ("stage", "spills"),
    [("part-product", True), ("multiply", True), ("combine", False)],
)
def test_a_product_starting_on_a_spilling_worker_spills_other_values_not_its_inputs(
    stage: str, spills: bool
) -> None:
    # 400 MiB: distributed keeps 251 MB of stored values in memory, and the
    # plugin leaves 123 MB below the spill threshold (0.7 - 0.05 of the limit,
    # less the process): a product of 32 MB of inputs reserves 5.1-6.6 times
    # that, so only its inputs may stay beside it, although they are older
    # than the other values.
    state = gmpy2.random_state(7)
    inputs = {key: gmpy2.mpz_urandomb(state, 128 << 20) for key in ["a", "b"]}
    others = {f"other-{i}": gmpy2.mpz_urandomb(state, 128 << 20) for i in range(4)}
    with _single_thread_workers(1, "400MiB") as (_, client):
        wire.register_on(client)  # as a spilling run does
        make_room_for_large_tasks(client)
        held = client.scatter(inputs)
        held |= client.scatter(others)  # after the inputs: newer
        product = client.submit(
            _bits_of_product, held["a"], held["b"], key=f"{stage}-1-0123456789abcdef"
        )
        expected = (inputs["a"] * inputs["b"]).bit_length()
        assert product.result(timeout=60) == expected
        [(in_memory, on_disk)] = client.run(_where_stored).values()
    assert {"a", "b"} <= in_memory
    assert on_disk == (set(others) if spills else set())


@pytest.mark.parametrize("n", [200_000, 1_000_003])
def test_factorial_spread_over_workers(small_workers: Client, n: int) -> None:
    with dask.config.set(SPREAD_EVERYTHING):
        value = compute.factorial(n, client=small_workers)
        chunked = compute.factorial_chunked(n, client=small_workers)
        prefixes = set(
            small_workers.run_on_scheduler(
                lambda dask_scheduler: list(dask_scheduler.task_prefixes)
            )
        )
    assert value == gmpy2.fac(n)
    assert chunked.to_mpz() == gmpy2.fac(n)
    stages = {"part-product", "interpolate", "carry-chain", "carry"}
    # 200000! is cut only (its operands are a chunk or two); 1000003! is Toom-3.
    assert stages | ({"toom-evaluation"} if n > 10**6 else set()) <= prefixes


class _Priorities(SchedulerPlugin):
    """Keeps the priority annotation of every key the scheduler is sent."""

    name = "test-priorities"

    def __init__(self) -> None:
        self.seen: dict = {}

    def update_graph(self, scheduler, *, keys, annotations=None, **kwargs) -> None:
        self.seen.update((annotations or {}).get("priority", {}))


def test_items_of_a_tuple_run_first_so_the_tuple_goes_soon(small_workers: Client):
    """Each item taken from a task's tuple (a part product cut into chunks)
    has priority on its worker: read late, each read of a spilled tuple
    brought all of it back from disk (10**9! on two 3.9 GiB workers: 185 GB
    read per worker in 39 minutes)."""
    from compute.chunked import ChunkedInteger
    from compute.graph import batch_graph
    from compute.plan import plan_batch

    n = 2_000_003
    with dask.config.set({"compute.chunk-bytes": 65536}):
        # Workers of 20 MB: the top level is spread for memory.
        [output], _ = batch_graph(plan_batch([n], 2, worker_bytes=2e7))
    items = {
        key
        for key, task in output.graph.tasks.items()
        if getattr(task, "func", None) is operator.getitem
    }
    small_workers.register_plugin(_Priorities())
    try:
        value = ChunkedInteger.submit(output, small_workers)
        assert value.to_mpz() == gmpy2.fac(n)
        seen = small_workers.run_on_scheduler(
            lambda dask_scheduler: dask_scheduler.plugins[_Priorities.name].seen
        )
    finally:
        small_workers.unregister_scheduler_plugin(_Priorities.name)
    assert items and {seen[key] for key in items} == {1}
    others = set(output.graph.tasks) - items
    assert {seen[key] for key in others} == {0}


def test_a_spread_starting_at_uneven_pieces_is_exact() -> None:
    """16 pieces of 300007!, spread from the pieces on, each in chunks for its own
    estimated bits. When the pieces were sized at the mean plus 25%, the one
    holding the whole power of 3 (1.52x the mean before primes were shared)
    failed: "a value of 454880 bits does not fit 23 chunks"."""
    from compute.graph import split_graph
    from compute.plan import split_for

    n = 300_007
    with dask.config.set({**SPREAD_EVERYTHING, "compute.chunk-bytes": 1 << 11}):
        split = split_for(n, 16, 1e12)
        output = split_graph(split)
    assert split.spread is not None and 2 ** len(split.spread.ways) == split.pieces
    values = get_sync(output.graph.tasks, output.keys)
    assert toom.join_chunks(values, output.chunk_bits) == gmpy2.fac(n)


def test_spread_only_where_needed() -> None:
    from compute.plan import split_for

    # 2 threads, ample memory: nothing spread (Toom gains nothing on 2 threads).
    assert split_for(10**8, 2, 10e9).spread is None
    # 10**9! (3.56 GB) on 10.1 GB workers: the top two levels, Toom-3.
    spread = split_for(10**9, 2, 10.1e9).spread
    assert spread is not None and spread.ways == (3, 3)
    # 64 threads, ample memory: nothing spread unless products are spread
    # for speed too; then every level with fewer products than threads.
    assert split_for(10**9, 64, 1e12).spread is None
    with dask.config.set({"compute.distributed-threads": 4}):
        assert len(split_for(10**9, 64, 1e12).spread.ways) >= 3


@pytest.mark.parametrize(
    ("n", "threads", "worker_bytes"),
    [
        (3 * 10**9, 2, 6.17e9),  # 3e9! spilling on this machine's two workers
        (10**9, 2, 10.1e9),
        (10**9, 2, 1.88e9),
        (5 * 10**8, 2, 1.63e9),
        (10**8, 2, 0.387e9),
        (10**8, 3, 0.387e9),
        (5 * 10**7, 2, 0.3e9),
        (10**8, 16, 1.2638e9),
        (10**10, 64, 10e9),
    ],
)
def test_the_pieces_below_a_spread_pair_down_to_its_leaves(
    n: int, threads: int, worker_bytes: float
) -> None:
    """The tree below a spread ends in one value per leaf (2 ** levels), none
    more than 10% above its planned share: 3e9! as 42 pieces ended in 11
    values of up to 1.09 GB where 16 of 0.70 GB were planned, and a worker
    grew past its plan while it multiplied them."""
    from compute.kernels import piece_bits, tree_level
    from compute.plan import split_for

    split = split_for(n, threads, worker_bytes)
    assert split is not None and split.spread is not None
    leaves = 2 ** len(split.spread.ways)
    product = split.product
    bits = piece_bits(
        product.limit, split.pieces, split.blocks_per_piece, product.prime_terms
    )
    while len(bits) > leaves:
        bits = tree_level(bits, operator.add)
    assert len(bits) == leaves, (split.pieces, leaves)
    assert max(bits) <= 1.1 * sum(bits) / leaves
    assert split.pieces >= threads


def test_below_a_level_spread_for_memory_levels_are_spread_for_speed() -> None:
    """1e8! on 16 one-thread workers of 1.264 GB usable: the top product must
    be spread; the two levels below it are spread too (products estimated
    above compute.distributed-seconds), while 5e7!, which fits, is a plain
    tree. On 2 threads only what memory needs is spread."""
    from compute.plan import split_for

    usable = 1.2638e9
    assert split_for(10**8, 16, usable).spread.ways == (8, 4, 3)
    assert split_for(5 * 10**7, 16, usable).spread is None
    assert split_for(10**8, 2, usable).spread.ways == (3,)
    with dask.config.set({"compute.distributed-threads": 1000}):
        assert split_for(10**8, 16, usable).spread.ways == (8,)


def test_a_worker_killed_during_a_distributed_product_changes_nothing(
    small_workers: Client,
) -> None:
    # Operands computed on the cluster (not scattered), so that whatever the
    # killed worker held can be computed again.
    chunk_bits = 1 << 23
    operands = []
    for n in (5_000_000, 4_800_000):
        bits = gmpy2.fac(n).bit_length()
        graph = TaskGraph()
        value = graph.add("factorial", n, gmpy2.fac, n)
        chunks = toom_graph.chunks_of(
            graph, value, chunk_bits, toom_graph.chunk_count(bits, chunk_bits), 0
        )
        futures = small_workers.get(
            graph.tasks, [chunk.key for chunk in chunks], sync=False
        )
        operands.append(compute.ChunkedInteger(futures, chunk_bits, small_workers))
    product = operands[0].multiply(operands[1], ways=3)
    pids = small_workers.run(os.getpid)
    deadline = time.monotonic() + 60
    victim = None
    while victim is None and time.monotonic() < deadline:
        for worker, keys in small_workers.processing().items():
            if any(str(key).startswith("part-product") for key in keys):
                victim = worker
                break
        time.sleep(0.01)
    assert victim is not None, "no part product was seen running"
    os.kill(pids[victim], signal.SIGKILL)
    assert product.to_mpz() == gmpy2.fac(5_000_000) * gmpy2.fac(4_800_000)


def _summaries(chunks: list[mpz], divisor: int) -> list:
    return [toom.carry_summary(chunk, CHUNK_BITS, divisor, 8) for chunk in chunks]


def test_a_product_not_divisible_by_its_toom_denominator_is_an_error() -> None:
    """Interpolation yields D * a * b: a sum that D does not divide is a fault
    upstream (a wrong part product), never a number to return."""
    rng = random.Random(7)
    quotient = _random(5 * CHUNK_BITS - 3, rng)
    chunks = list(toom.to_chunks(3 * quotient, CHUNK_BITS, 6))
    chain = toom.carry_chain(_summaries(chunks, 3), CHUNK_BITS, 3)
    divided = [
        toom.carry_apply(c, chain, i, CHUNK_BITS, 3) for i, c in enumerate(chunks)
    ]
    assert toom.join_chunks(divided, CHUNK_BITS) == quotient
    chunks[2] += 1  # one chunk off by one: 3 * quotient + 2**(2 C)
    with pytest.raises(ArithmeticError, match="not divisible by its Toom denominator"):
        toom.carry_chain(_summaries(chunks, 3), CHUNK_BITS, 3)


def test_a_carry_out_of_the_top_chunk_is_an_error() -> None:
    rng = random.Random(8)
    value = _random(4 * CHUNK_BITS, rng)
    chunks = list(toom.to_chunks(value, CHUNK_BITS, 4))
    assert toom.carry_chain(_summaries(chunks, 1), CHUNK_BITS, 1) == ((0, 0),) * 4
    chunks[3] += mpz(1) << CHUNK_BITS  # the top chunk spills past its width
    with pytest.raises(ArithmeticError, match=r"overflowed its chunks \(1\)"):
        toom.carry_chain(_summaries(chunks, 1), CHUNK_BITS, 1)
