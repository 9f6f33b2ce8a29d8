"""Every product checked: residues carried, identities per stage, faults injected.

Faults come from the package's test-only hook (``COMPUTE_TEST_FLIP_BIT``): one
bit of one task's output flipped, once across every process. Each must be
caught by the task that made it, computed again, and the result be exact.
"""

from __future__ import annotations

import logging
import os
import random
import subprocess
import sys
from pathlib import Path

import dask.config
import gmpy2
import pytest
from dask.local import get_sync
from distributed.protocol import deserialize, serialize
from gmpy2 import mpz

import compute
from compute import kernels, toom, toom_graph
from compute.checks import (
    MODULUS,
    Hashed,
    ProductCheckError,
    _flip_injected,
    checked,
    residue,
    run_checked,
    run_plain,
)
from compute.tasks import TaskGraph, stage_of
from tests.remote import clean_env, run_in_group

CHUNK_BITS = 128
TOOM_STAGES = ["chunk", "toom-evaluation", "part-product", "interpolate"]
COMPUTE = str(Path(sys.executable).parent / "compute")


@pytest.fixture
def flip(tmp_path, monkeypatch):
    """Flip one bit in the first output of a stage in this process; the marker
    file tells whether it happened."""
    marker = tmp_path / "flipped"

    def arm(stage: str) -> Path:
        monkeypatch.setenv("COMPUTE_TEST_FLIP_BIT", f"{stage}:{marker}")
        return marker

    return arm


def toom_graph_of(a: mpz, b: mpz, ways: int) -> tuple[dict, list]:
    graph = TaskGraph()
    chunks = [
        toom_graph.chunks_of(
            graph,
            value,
            CHUNK_BITS,
            toom_graph.chunk_count(value.bit_length(), CHUNK_BITS) + 1,
            0,
        )
        for value in (a, b)
    ]
    out = toom_graph.product(graph, *chunks, CHUNK_BITS, ways, 0)
    return graph.tasks, [chunk.key for chunk in out]


def random_value(bits: int, seed: int) -> mpz:
    return mpz(random.Random(seed).getrandbits(bits)) | (mpz(1) << (bits - 1))


@pytest.mark.parametrize("ways", [1, 2, 3, 4])
@pytest.mark.parametrize(("a_bits", "b_bits"), [(6000, 5999), (6000, 130), (1, 700)])
def test_a_checked_toom_product_is_exact_and_hands_back_plain_chunks(
    ways, a_bits, b_bits
):
    a, b = random_value(a_bits, a_bits), random_value(b_bits, b_bits + ways)
    tasks, keys = toom_graph_of(a, b, ways)
    changed = checked(tasks, keys)
    checked_stages = {
        stage_of(key)
        for key, task in changed.items()
        if getattr(task, "func", None) is run_checked
    }
    linear = {"interpolate", "carry"} if ways > 1 else set()
    assert {"chunk", "part-product"} | linear <= checked_stages
    values = get_sync(changed, keys)
    assert all(type(value) is mpz for value in values)
    assert toom.join_chunks(values, CHUNK_BITS) == a * b


@pytest.mark.parametrize("stage", [*TOOM_STAGES, "carry"])
def test_a_bit_flipped_in_any_toom_stage_is_caught_and_computed_again(
    stage, flip, caplog
):
    a, b = random_value(6000, 1), random_value(5000, 2)
    tasks, keys = toom_graph_of(a, b, 3)
    marker = flip(stage)
    with caplog.at_level(logging.WARNING, logger="compute.checks"):
        values = get_sync(checked(tasks, keys), keys)
    assert marker.exists()
    assert toom.join_chunks(values, CHUNK_BITS) == a * b
    failed = [r.getMessage() for r in caplog.records if "check failed" in r.message]
    assert len(failed) == 1
    assert failed[0].startswith(
        f"product check failed in stage {stage} on this process"
    )
    assert "attempt 1 of 2" in failed[0]


def test_without_checks_the_same_flip_gives_a_wrong_product(flip):
    """The control: the hook does damage, which only the checks catch."""
    a, b = random_value(6000, 1), random_value(5000, 2)
    tasks, keys = toom_graph_of(a, b, 3)
    marker = flip("part-product")
    values = get_sync(checked(tasks, keys), keys)  # caught
    assert toom.join_chunks(values, CHUNK_BITS) == a * b
    marker.unlink()

    def flipped_part_product(*args):
        return _flip_injected("part-product", toom.part_product(*args))

    unchecked = checked(tasks, keys)
    for key, task in tasks.items():
        if getattr(task, "func", None) is toom.part_product:
            unchecked[key] = type(task)(
                key, run_plain, flipped_part_product, *task.args
            )
    values = get_sync(unchecked, keys)
    assert marker.exists()
    assert toom.join_chunks(values, CHUNK_BITS) != a * b


def _set_environment(name: str, value: str | None) -> None:
    """On a worker: set (or with None, remove) an environment variable."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@pytest.mark.parametrize("stage", ["multiply", "prime-power-product"])
@pytest.mark.parametrize("where", ["in-process", "cluster"])
def test_a_flip_in_a_split_factorial_is_caught(stage, where, client, flip, caplog):
    """A product of the tree checked by its identity, a piece by its own
    residue from numpy: either way caught, computed again, exact."""
    n = 1_000_003
    marker = flip(stage)
    options = {"client": client} if where == "cluster" else {"client": None}
    if where == "cluster":
        client.run(_set_environment, "COMPUTE_TEST_FLIP_BIT", f"{stage}:{marker}")
    try:
        with (
            dask.config.set({"compute.split-seconds": 0.01}),
            caplog.at_level(logging.WARNING, logger="compute.checks"),
        ):
            value = compute.factorial(n, **options)
    finally:
        if where == "cluster":
            client.run(_set_environment, "COMPUTE_TEST_FLIP_BIT", None)
    assert marker.exists()
    assert value == gmpy2.fac(n)
    if where == "in-process":  # a worker's warning goes to its own stderr
        [failed] = [r.getMessage() for r in caplog.records if "failed" in r.message]
        assert failed.startswith(f"product check failed in stage {stage} on this")


@pytest.mark.parametrize("stage", ["prime-power-product", "multiply", None])
def test_a_task_that_cuts_its_value_is_checked_by_its_kernel(stage, flip, caplog):
    """A piece, or a product, made only to be cut into chunks is cut by its own
    task (no chunk task): its check then works from the chunks' residues."""
    piece = (10**5, ((10**5, 1),), 0, 1, 32)
    graph = TaskGraph()
    if stage == "multiply":
        a, b = random_value(5000, 3), random_value(4000, 4)
        made, expected = graph.add("multiply", 0, kernels.multiply, a, b), a * b
    else:
        made = graph.add("prime-power-product", 0, kernels.prime_piece, *piece)
        expected = kernels.prime_piece(*piece)
    count = toom_graph.chunk_count(expected.bit_length() + 5, CHUNK_BITS)
    chunks = toom_graph.cut_task(graph, made, CHUNK_BITS, count, 0, shift=5)
    assert graph.tasks[made.key].func is toom.cut
    assert not [key for key in graph.tasks if stage_of(key) == "chunk"]
    keys = [chunk.key for chunk in chunks]
    marker = flip(stage or "none")
    with caplog.at_level(logging.WARNING, logger="compute.checks"):
        values = get_sync(checked(graph.tasks, keys), keys)
    assert toom.join_chunks(values, CHUNK_BITS) == expected << 5
    warnings = [r.getMessage() for r in caplog.records]
    assert marker.exists() == (stage is not None)
    if stage is None:
        assert warnings == []
    else:
        assert warnings[0].startswith(f"product check failed in stage {stage} on")
        assert warnings[1].endswith("and now its check passes")


FAILED_IN_MULTIPLY = (
    r"^product check failed in stage multiply on this process "
    r"\(task multiply-1000003-"
)


def test_with_no_retries_a_fault_fails_the_run_naming_the_stage(flip):
    marker = flip("multiply")
    config = {"compute.split-seconds": 0.01, "compute.check-retries": 0}
    with (
        dask.config.set(config),
        pytest.raises(
            ProductCheckError,
            match=FAILED_IN_MULTIPLY,
        ),
    ):
        compute.factorial(1_000_003, client=None)
    assert marker.exists()


@pytest.mark.parametrize("stage", ["prime-power-product", "multiply", "square"])
def test_a_lean_split_checks_its_square_forms(stage, flip):
    """A lean split's pieces are square forms, checked by their own residues
    and computed again; further up, a form is taken by its one consumer, so
    a fault there is not computed again: the run fails, naming the stage."""
    n = 1_000_003
    lean = {"compute.split-seconds": 0.01, "compute.memory-factor": 1e5}
    with dask.config.set(lean):
        marker = flip(stage)
        if stage == "prime-power-product":
            assert compute.factorial(n, client=None) == gmpy2.fac(n)
        else:
            with pytest.raises(ProductCheckError, match=f"in stage {stage} on"):
                compute.factorial(n, client=None)
    assert marker.exists()


def test_the_piece_kernels_give_their_residues_from_numpy():
    from compute.kernels import CHECK_MODULUS

    for args in [
        (10**6, ((10**6, 1),), 1, 2, 32),
        (3 * 10**5, ((3 * 10**5, 1), (10**5, -3)), 0, 3, 8),  # a multinomial
        (10**5, None, 1, 2, 32),  # a primorial
    ]:
        residues: list = []
        value = kernels.prime_piece(*args, residues=residues)
        assert value == kernels.prime_piece(*args)
        [((root, odd), seconds)] = residues
        assert value % CHECK_MODULUS == root * root * odd % CHECK_MODULUS
        assert seconds > 0
        residues.clear()
        form = kernels.square_form_piece(*args, residues=residues)
        assert form.peek()[0] ** 2 * form.peek()[1] == value
        [(form_residues, seconds)] = residues
        assert [(part % CHECK_MODULUS) for part in form.peek()] == list(form_residues)
        assert seconds > 0
    residues = []
    value = kernels.range_piece(10**5, 10**6, 1, 3, residues=residues)
    [(found, seconds)] = residues
    assert found == value % CHECK_MODULUS and seconds > 0


def test_an_input_damaged_after_it_was_hashed_fails_the_check():
    a, b = random_value(4000, 3), random_value(3000, 4)
    key = "multiply-1-abc"
    good = run_checked(kernels.multiply, key, True, Hashed(a, residue(a)), b)
    assert isinstance(good, Hashed) and good.value == a * b
    assert good.residue == a * b % MODULUS
    damaged = Hashed(a ^ 1, residue(a))  # changed in memory after hashing
    with pytest.raises(ProductCheckError, match=r"stage multiply on this process"):
        run_checked(kernels.multiply, key, False, damaged, b)


def test_the_carry_identity_needs_the_chain_it_was_given():
    """A chunk whose carry chain is wrong (a carry-in changed) fails, although
    its own arithmetic is right."""
    combined = random_value(300, 5)
    chain = ((0, 0), (5, 0), (0, 0))
    out = toom.carry_apply(combined, chain, 1, CHUNK_BITS, 1)
    key = "carry-1-abc"
    with pytest.raises(ProductCheckError, match="stage carry"):
        run_checked(toom.carry_apply, key, False, combined, chain, 1, CHUNK_BITS, 1)
    exact_chain = ((0, 0), (0, 0), (int(combined >> CHUNK_BITS), 0))
    out = run_checked(
        toom.carry_apply, key, False, combined, exact_chain, 1, CHUNK_BITS, 1
    )
    assert out == gmpy2.f_mod_2exp(combined, CHUNK_BITS)


def test_dask_sizes_a_hashed_value_by_its_value():
    from dask.sizeof import sizeof

    value = random_value(1_000_000, 11)
    assert sizeof(value) <= sizeof(Hashed(value, residue(value))) < sizeof(value) + 100


def test_a_hashed_value_crosses_the_wire_with_its_residue():
    import compute.wire  # noqa: F401  (registers the serializers)

    value = -random_value(100_000, 6)
    sent = Hashed(value, residue(value))
    header, frames = serialize(sent)
    received = deserialize(header, frames)
    assert received == sent and type(received.value) is mpz
    assert residue(value) == int(value % MODULUS)


def test_the_residue_modulus_holds_the_pieces_prime_and_misses_no_flipped_bit():
    from compute.kernels import CHECK_MODULUS

    # A piece's check residue is its residue mod M reduced: the pieces' prime
    # must divide M. A flipped bit changes a value by 2**k, which no odd M
    # divides; below 2**63, gmpy2 takes the remainder without a quotient.
    assert MODULUS % CHECK_MODULUS == 0 and MODULUS % 2 == 1
    assert 2**62 < MODULUS < 2**63
    value = random_value(50_000, 7)
    for bit in (0, 63, 64, 49_999):
        assert residue(value ^ (mpz(1) << bit)) != residue(value)
    assert residue(value) % CHECK_MODULUS == int(value % CHECK_MODULUS)


def test_checks_can_be_turned_off_and_bad_settings_are_named():
    from compute.checks import checked_outputs
    from compute.graph import batch_graph
    from compute.plan import plan_batch

    outputs, _ = batch_graph(plan_batch([3_000_000], 2))
    with dask.config.set({"compute.check-products": False}):
        assert checked_outputs(outputs) == outputs
    tasks = checked_outputs(outputs)[0].__dask_graph__()
    assert any(getattr(t, "func", None) is run_checked for t in tasks.values())
    with (
        dask.config.set({"compute.check-products": "yes"}),
        pytest.raises(
            ValueError, match=r"compute\.check-products = 'yes' is not valid"
        ),
    ):
        compute.factorial(10**6, client=None)
    with (
        dask.config.set({"compute.check-retries": -1}),
        pytest.raises(ValueError, match=r"compute\.check-retries = -1 is not valid"),
    ):
        compute.factorial(3_000_000, client=None)


def test_time_spent_checking_is_counted_in_this_process_and_on_workers(client):
    from compute.checks import METRIC, checking_seconds

    n = 3_000_000
    with dask.config.set({"compute.split-seconds": 0.01}):
        before = checking_seconds()
        assert compute.factorial(n, client=None) == gmpy2.fac(n)
        assert checking_seconds() > before
        before = checking_seconds()
        with dask.config.set({"compute.check-products": False}):
            assert compute.factorial(n, client=None) == gmpy2.fac(n)
        assert checking_seconds() == before
        assert compute.factorial(n, client=client) == gmpy2.fac(n)
    activities = {
        key[-2]
        for digests in client.run(
            lambda dask_worker: dict(dask_worker.digests_total)
        ).values()
        for key in digests
        if isinstance(key, tuple) and key[0] == "execute"
    }
    assert METRIC in activities


def test_the_command_warns_once_and_prints_the_exact_result(tmp_path):
    """A part product flipped on one worker of the command's own cluster: one
    warning naming the stage and the worker, the retry's line, an exact file."""
    env = clean_env(tmp_path)
    env["DASK_COMPUTE__EXECUTION"] = "cluster"
    env["DASK_COMPUTE__CLUSTER__N_WORKERS"] = "2"
    env["DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS"] = "127.0.0.1:0"
    env["DASK_COMPUTE__DISTRIBUTED_THREADS"] = "2"
    env["DASK_COMPUTE__DISTRIBUTED_SECONDS"] = "0"
    env["DASK_COMPUTE__SPLIT_SECONDS"] = "0.01"
    env["DASK_COMPUTE__CHUNK_BYTES"] = "65536"
    marker = tmp_path / "flipped"
    env["COMPUTE_TEST_FLIP_BIT"] = f"part-product:{marker}"
    path = tmp_path / "f.bin"
    n = 1_000_003
    finished = run_in_group(
        [COMPUTE, "factorial", str(n), "--output", str(path), "--format", "bin"],
        env,
        120,
    )
    assert finished.returncode == 0, finished.stderr
    assert marker.exists()
    assert compute.read_result(path, format="bin") == gmpy2.fac(n)
    lines = finished.stderr.splitlines()
    failed = [line for line in lines if "check failed" in line]
    assert len(failed) == 1, finished.stderr
    assert failed[0].startswith(
        "product check failed in stage part-product on worker tcp://127.0.0.1:"
    )
    assert sum("now its check passes" in line for line in lines) == 1
    assert "Traceback" not in finished.stderr


def test_a_compute_setting_set_at_the_package_first_use_stays_valid(tmp_path):
    """``dask.config.set`` of a compute key, around the package's first use,
    took the package's defaults away with it when the block ended."""
    script = (
        "import dask, compute\n"
        "with dask.config.set({'compute.split-seconds': 0.01}):\n"
        "    compute.factorial(10)\n"
        "print(compute.factorial(10))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script],
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (finished.returncode, finished.stdout, finished.stderr) == (
        0,
        "3628800\n",
        "",
    )


def test_square_forms_are_checked_root_and_odd_part_each():
    a = kernels.SquareForm(random_value(3000, 7), random_value(40, 8))
    b = kernels.SquareForm(random_value(2000, 9), random_value(30, 10))
    (a_root, a_odd), (b_root, b_odd) = a.peek(), b.peek()
    key = "multiply-1-abc"
    product = run_checked(kernels.multiply_square_forms, key, True, a, b)
    assert product.residue == residue(product.value)
    assert product.value.peek() == (a_root * b_root, a_odd * b_odd)
    # An odd part changed after it was hashed: the second residue disagrees.
    c = kernels.SquareForm(a_root, a_odd + 2)
    hashed = Hashed(c, (residue(a_root), residue(a_odd)))
    d = kernels.SquareForm(b_root, b_odd)
    with pytest.raises(ProductCheckError, match="stage multiply on this process"):
        run_checked(kernels.multiply_square_forms, key, False, hashed, d)


def test_a_flipped_bit_in_a_part_square_is_caught_and_computed_again(flip, caplog):
    graph = TaskGraph()
    a = random_value(6000, 3)
    chunks = toom_graph.chunks_of(graph, a, CHUNK_BITS, 48, 0)
    out = toom_graph.square(graph, chunks, CHUNK_BITS, 3, 0)
    keys = [chunk.key for chunk in out]
    marker = flip("part-square")
    with caplog.at_level(logging.WARNING, logger="compute.checks"):
        values = get_sync(checked(graph.tasks, keys), keys)
    assert marker.exists()
    assert toom.join_chunks(values, CHUNK_BITS) == a * a
    [failed] = [r.getMessage() for r in caplog.records if "check failed" in r.message]
    assert failed.startswith("product check failed in stage part-square on this")


def test_a_spread_factorial_computes_a_faulty_product_of_forms_again(flip, caplog):
    """Below the spread, products of square forms leave their inputs whole, so
    that a fault found there is computed again (a lean split's are taken)."""
    from compute.graph import split_graph
    from compute.plan import Split, Spread
    from compute.products import factorial_product

    n = 300_007
    split = Split(
        factorial_product(n), 2, 3, spread=Spread((3,), 1 << 11, square_form=True)
    )
    output = split_graph(split)
    marker = flip("multiply")
    with caplog.at_level(logging.WARNING, logger="compute.checks"):
        values = get_sync(checked(output.graph.tasks, output.keys), output.keys)
    assert marker.exists()
    assert toom.join_chunks(values, output.chunk_bits) == gmpy2.fac(n)
    [failed, passed] = [r.getMessage() for r in caplog.records]
    assert failed.startswith("product check failed in stage multiply on this process")
    assert passed.endswith(": computed again on this process, and now its check passes")


def test_a_square_form_cut_into_chunks_is_checked_and_computed_again(flip, caplog):
    root, odd = random_value(3000, 11), random_value(50, 12)
    form = kernels.SquareForm(root, odd)
    marker = flip("chunk")
    with caplog.at_level(logging.WARNING, logger="compute.checks"):
        parts = run_checked(toom.cut_form, "chunk-1-abc", False, form, CHUNK_BITS, 24)
    assert marker.exists()
    assert toom.join_chunks(parts[:-1], CHUNK_BITS) == root and parts[-1] == odd
    [failed, passed] = [r.getMessage() for r in caplog.records]
    assert failed.startswith("product check failed in stage chunk on this process")
    assert (
        passed
        == "chunk-1-abc: computed again on this process, and now its check passes"
    )
    # The form is left whole: its consumer is not the only reader of it.
    assert form.peek() == (root, odd)


def test_the_delayed_graphs_are_checked_too(client):
    n = 3_000_000
    delayed = compute.factorial_delayed(n)
    tasks = delayed.__dask_graph__()
    assert any(getattr(task, "func", None) is run_checked for task in tasks.values())
    assert client.compute(delayed).result(timeout=60) == gmpy2.fac(n)
    assert delayed.compute(scheduler="threads") == gmpy2.fac(n)


def test_a_range_piece_is_checked_by_its_own_residue(flip, caplog):
    """A falling factorial of large n is a range product: its pieces are
    ranges of integers, each checked against their product mod a prime."""
    n, k = 10**12, 10**5
    expected = gmpy2.comb(n, k) * gmpy2.fac(k)
    marker = flip("falling-factorial-piece")
    with (
        dask.config.set({"compute.split-seconds": 0.01}),
        caplog.at_level(logging.WARNING, logger="compute.checks"),
    ):
        assert compute.falling_factorial(n, k, client=None) == expected
    assert marker.exists()
    [failed] = [r.getMessage() for r in caplog.records if "failed" in r.message]
    assert failed.startswith("product check failed in stage falling-factorial-piece")


def test_range_residues_by_numpy_agree_with_gmpy2():
    from compute.kernels import CHECK_MODULUS
    from compute.kernels.modular import range_product_mod

    for lo, hi in [
        (0, 10),
        (5, 5),
        (10**6, 3 * 10**6),
        (2**70, 2**70 + 5000),  # past numpy's words
        (CHECK_MODULUS - 5, CHECK_MODULUS + 7),  # a multiple of the modulus: 0
    ]:
        product = kernels.range_product(lo, hi)
        assert range_product_mod(lo, hi, CHECK_MODULUS) == product % CHECK_MODULUS
