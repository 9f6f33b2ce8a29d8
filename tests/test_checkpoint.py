"""Checkpoints: finished work kept on disk, taken up again after a kill."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from pathlib import Path

import dask
import gmpy2
import pytest
from dask._task_spec import Task, TaskRef

import compute
from compute import checkpoint
from compute.engine import run_batch, run_chunked_factorial
from tests.remote import clean_env, kill_group, run_in_group, start_interruptible

COMPUTE = str(Path(sys.executable).parent / "compute")
N = 3 * 10**6  # split into pieces in this process (two threads)


def _results(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.result"))


def _saved_run(directory: Path, n: int = N, client=None) -> None:
    """A run that leaves its saved results (the engine's, before any removal)."""
    checkpoint.prepare(directory, f"{n}!")
    [value], _ = run_batch([n], client, checkpoint=directory)
    assert value == gmpy2.fac(n)


def test_a_call_with_a_checkpoint_is_exact_and_leaves_nothing(tmp_path):
    folder = tmp_path / "run"
    assert compute.factorial(N, checkpoint=folder) == gmpy2.fac(N)
    assert not folder.exists()


def test_saved_results_are_taken_up_and_damaged_ones_computed_again(tmp_path, caplog):
    folder = tmp_path / "run"
    _saved_run(folder)
    saved = _results(folder)
    assert len(saved) == 2 and all("prime-power-product" in p.name for p in saved)
    caplog.set_level(logging.INFO, logger="compute")
    assert compute.factorial(N, checkpoint=folder) == gmpy2.fac(N)
    assert f"resuming from {folder}: 2 saved results used" in caplog.messages
    for damage, reason in [
        (lambda data: data[:-7], "it is truncated"),
        (
            lambda data: data[:-9] + bytes([data[-9] ^ 1]) + data[-8:],
            "its residue does not match: it is damaged",
        ),
        (lambda data: data + b"\0", "it has bytes past its last item"),
        (lambda data: b"garbage" + data, "it is not a saved result"),
    ]:
        _saved_run(folder)
        first = _results(folder)[0]
        first.write_bytes(damage(first.read_bytes()))
        caplog.clear()
        assert compute.factorial(N, checkpoint=folder) == gmpy2.fac(N)
        assert caplog.messages == [
            f"saved result {first.name} is left out ({reason}): computed again",
            f"resuming from {folder}: 1 saved result used",
        ]
        assert not folder.exists()


def test_a_result_saved_for_another_task_or_n_is_not_used(tmp_path, caplog):
    folder = tmp_path / "run"
    _saved_run(folder)
    first, second = _results(folder)
    first.write_bytes(second.read_bytes())  # the other piece, under this one's name
    other = tmp_path / "other"
    _saved_run(other, N + 1)
    caplog.set_level(logging.INFO, logger="compute")
    checkpoint.prepare(other, f"{N}!")
    assert caplog.messages[0] == (
        f"checkpoint directory {other} holds results for {N + 1}!, not {N}!: "
        "they are not used"
    )
    caplog.clear()
    assert compute.factorial(N, checkpoint=folder) == gmpy2.fac(N)
    assert caplog.messages[0].startswith(f"saved result {first.name} is left out ")
    assert f"it was written for '{second.stem}'" in caplog.messages[0]


def test_a_distributed_product_saves_its_part_products(tmp_path, client, caplog):
    folder = tmp_path / "run"
    n = 2 * 10**6
    spread = {
        "compute.chunk-bytes": 65536,
        "compute.distributed-threads": 2,
        "compute.distributed-seconds": 0.01,
        "compute.task-seconds": 0.1,
    }
    with dask.config.set(spread):
        checkpoint.prepare(folder, f"{n}!")
        first = run_chunked_factorial(n, client, folder).to_mpz()
        stages = {path.name.rsplit("-", 2)[0] for path in _results(folder)}
        # Each piece's file was removed once the product made from it was saved.
        # A factorial spreads in square form: its top level is a squaring.
        assert stages == {"multiply", "part-product", "part-square"}
        caplog.set_level(logging.INFO, logger="compute")
        again = run_chunked_factorial(n, client, folder).to_mpz()
    assert first == again == gmpy2.fac(n)
    # The part products of the top (the square times the odd part) are all the
    # rest needs: the squaring's part products, the pieces and the products
    # below them are neither read nor counted.
    used = [path for path in _results(folder) if path.name.startswith("part-product")]
    assert 0 < len(used) < len(_results(folder))
    message = f"resuming from {folder}: {len(used)} saved results used"
    assert caplog.messages == [message]


def test_a_run_whose_workers_spill_saves_no_part_products(tmp_path):
    from compute.graph import batch_graph
    from compute.plan import plan_batch
    from compute.tasks import stage_of

    n = 2 * 10**6
    with dask.config.set({"compute.chunk-bytes": 65536}):
        # Workers of 20 MB: the top level is spread for memory.
        [output], _ = batch_graph(plan_batch([n], 2, worker_bytes=2e7))
    saving = {}
    for stages in (checkpoint.SAVED_STAGES, checkpoint.SPILLING_SAVED_STAGES):
        tasks, _ = checkpoint.checkpointed(
            output.graph.tasks, output.keys, tmp_path, stages
        )
        saving[stages] = {
            stage_of(key)
            for key, task in tasks.items()
            if getattr(task, "func", None) is checkpoint.run_saved
        }
    assert saving[checkpoint.SAVED_STAGES] == {
        "prime-power-product",
        "multiply",
        "part-product",
        "part-square",
    }
    assert saving[checkpoint.SPILLING_SAVED_STAGES] == {
        "prime-power-product",
        "multiply",
    }


def _product(key: str, *below: str) -> Task:
    return Task(key, gmpy2.mul, *(TaskRef(name) for name in below))


def test_a_saved_result_replaces_the_saved_results_it_was_made_from(tmp_path):
    """Kept on disk: only what a resumed run could still need."""
    pieces = [f"prime-power-product-9-{i}" for i in range(5)]
    tasks = {key: Task(key, gmpy2.fac, 10 + i) for i, key in enumerate(pieces)}
    tasks |= {
        # Two pieces, then their product, and a piece shared by two products.
        "multiply-9-a": _product("multiply-9-a", pieces[0], pieces[1]),
        "multiply-9-b": _product("multiply-9-b", pieces[2], pieces[3]),
        "multiply-9-c": _product("multiply-9-c", pieces[3], pieces[4]),
        "square-9-d": _product("square-9-d", "multiply-9-a", "multiply-9-a"),
        # Not saved: a stage between a saved product and the output.
        "toom-evaluation-9-e": _product("toom-evaluation-9-e", "multiply-9-b"),
        "finalize-9-f": _product(
            "finalize-9-f", "square-9-d", "toom-evaluation-9-e", "multiply-9-c"
        ),
    }
    directory = str(tmp_path)
    for key in pieces[:2]:
        checkpoint.save(directory, key, gmpy2.fac(7))  # loaded, never removed
    changed, resumed = checkpoint.checkpointed(tasks, ["finalize-9-f"], tmp_path)
    assert sorted(resumed.loaded) == pieces[:2]
    superseded = {
        key: task.args[2]
        for key, task in changed.items()
        if getattr(task, "func", None) is checkpoint.run_saved
    }
    assert superseded == {
        **dict.fromkeys(pieces[2:], ()),
        "multiply-9-a": (),  # its pieces were loaded
        "multiply-9-b": (pieces[2],),  # pieces[3] feeds multiply-9-c too
        "multiply-9-c": (pieces[4],),
        "square-9-d": ("multiply-9-a",),
    }
    checkpoint.save(directory, pieces[2], gmpy2.fac(12))
    value = checkpoint.run_saved(
        directory, "multiply-9-b", (pieces[2],), gmpy2.mul, 3, 4
    )
    assert value == 12
    assert {path.stem for path in _results(tmp_path)} == {*pieces[:2], "multiply-9-b"}
    assert checkpoint.load(directory, "multiply-9-b") == 12


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda p: compute.factorial(10, checkpoint=5), TypeError, "must be a path"),
        (
            lambda p: compute.factorial(10, checkpoint=p / "no" / "run"),
            ValueError,
            "the folder of checkpoint directory",
        ),
        (
            lambda p: compute.factorial(10, checkpoint=Path(__file__)),
            ValueError,
            "is a file",
        ),
    ],
)
def test_a_bad_checkpoint_is_refused_before_any_work(tmp_path, call, error, message):
    with pytest.raises(error, match=message):
        call(tmp_path)


def _start(folder: Path, env: dict[str, str]):
    return start_interruptible(
        [COMPUTE, "factorial", "2e7", "--output", "f.bin", "--format", "bin"],
        env,
        cwd=folder,
    )


def _wait_for_a_saved_result(folder: Path, process) -> None:
    directory = folder / ".f.bin.checkpoint"
    deadline = time.monotonic() + 60
    while not list(directory.glob("*.result")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_killed_command_resumes_where_it_stopped(tmp_path):
    env = clean_env(tmp_path, DASK_COMPUTE__CHECKPOINT_SECONDS="0")
    process = _start(tmp_path, env)
    try:
        _wait_for_a_saved_result(tmp_path, process)
    finally:
        kill_group(process)
    assert not (tmp_path / "f.bin").exists()
    finished = run_in_group(
        [COMPUTE, "factorial", "2e7", "--output", "f.bin", "--format", "bin"],
        env,
        cwd=tmp_path,
    )
    assert finished.returncode == 0, finished.stderr
    lines = finished.stderr.splitlines()
    assert lines[0].startswith("compute: resuming from .f.bin.checkpoint: ")
    assert lines[0].endswith(" used") and len(lines) == 3, finished.stderr
    assert compute.read_result(tmp_path / "f.bin", format="bin") == gmpy2.fac(2 * 10**7)
    assert [name for name in os.listdir(tmp_path) if "f.bin" in name] == ["f.bin"]


def test_ctrl_c_keeps_the_finished_work_and_says_how_to_resume(tmp_path):
    env = clean_env(tmp_path, DASK_COMPUTE__CHECKPOINT_SECONDS="0")
    process = _start(tmp_path, env)
    try:
        _wait_for_a_saved_result(tmp_path, process)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        kill_group(process)
    assert process.returncode == 130
    assert stderr == (
        "compute: interrupted; the finished work is kept in .f.bin.checkpoint: run "
        "the same command again to resume\n"
    )
    assert _results(tmp_path / ".f.bin.checkpoint")


def test_checkpoint_takes_one_n(tmp_path):
    finished = run_in_group(
        [COMPUTE, "factorial", "5", "6", "--checkpoint", "run"], clean_env(tmp_path)
    )
    assert finished.returncode == 2
    assert finished.stderr.endswith("error: --checkpoint takes one N\n")


def test_a_save_into_a_directory_removed_meanwhile_is_skipped(tmp_path):
    """Two runs of one file share its directory; the first to end removes it."""
    gone = tmp_path / "gone"
    checkpoint.save(str(gone), "multiply-5-abc", gmpy2.fac(50))
    assert not gone.exists()
    checkpoint.save(str(tmp_path), "multiply-5-abc", (gmpy2.fac(50), -gmpy2.fac(9)))
    assert checkpoint.load(str(tmp_path), "multiply-5-abc") == (
        gmpy2.fac(50),
        -gmpy2.fac(9),
    )


def test_a_damaged_manifest_is_named_and_replaced(tmp_path, caplog):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_text("{not json")
    caplog.set_level(logging.INFO, logger="compute")
    checkpoint.prepare(folder, "10!")
    assert caplog.messages == [
        f"checkpoint directory {folder} holds results for a run it cannot name, "
        "not 10!: they are not used"
    ]
    assert (folder / "run.json").read_text() == '{"run": "10!"}\n'


def test_a_lean_split_saves_its_square_forms_and_resumes(tmp_path, caplog):
    """The lean split (10**9! here) hands square forms between its tasks: its
    pieces and their product are saved as root and odd part, and taken up."""
    folder = tmp_path / "run"
    lean = {"compute.memory-factor": 1e5, "compute.split-seconds": 0.01}
    with dask.config.set(lean):
        _saved_run(folder)
        saved = _results(folder)
        stages = sorted(path.name.rsplit("-", 1)[0] for path in saved)
        # The pieces' files went once their product was saved.
        assert stages == ["multiply-3000000"]
        caplog.set_level(logging.INFO, logger="compute")
        assert compute.factorial(N, checkpoint=folder) == gmpy2.fac(N)
    # The multiply's saved product is all the squaring needs.
    assert caplog.messages == [f"resuming from {folder}: 1 saved result used"]
    assert not folder.exists()
