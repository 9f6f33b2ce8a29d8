"""Checkpoints: a long run's finished results kept on disk, and used again.

With a run directory, each task of the stages in :data:`SAVED_STAGES` (the
pieces of a product, the products of its tree, a distributed product's part
products) writes its result there as it finishes. Run again with the same
directory, the graph loads each saved result in place of its task, and the
tasks that only fed it are left out: a run killed at any point loses only
the work in flight.

A saved result is one file per task key, written under a temporary name and
renamed, holding each of its integers with its bit length and its residue
modulo ``compute.checks.MODULUS``. Before a run uses a file, this process reads
it whole and checks both: a file truncated, damaged, or not written for its
task is left out (its task runs again), and the run says so.

Once a result is saved, the saved results it was made from, and that nothing
else still needs, are removed: a resumed run would load it in their place. So
the directory holds about one copy of the finished work, not one per level of
its product tree.

The directory must be one that this process and every worker see at the same
path: this machine's for a LocalCluster, a shared file system for others.
"""

from __future__ import annotations

import contextlib
import json
import logging
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dask._task_spec import Task
from gmpy2 import mpz

from compute.atomic_file import atomic_file
from compute.checks import plain, residue
from compute.kernels import SquareForm
from compute.kernels.parts import Parts
from compute.tasks import stage_of
from compute.toom_graph import Output, with_tasks

logger = logging.getLogger(__name__)

# The stages whose results are saved: products worth keeping. The linear
# stages of a distributed product (evaluation, interpolation, carries) cost
# less to redo than to save.
SAVED_STAGES = frozenset(
    {
        "prime-power-product",
        "multiply",
        "square",
        "divide",
        "part-product",
        "part-square",
    }
)
# A run whose workers spill to disk saves no part products: each distributed
# level's would take about twice the result on the same disk (10**9! with four
# levels on two 3.9 GiB workers: 32 GB saved beside 5.5 GB spilled when it
# was stopped at 81% of its tasks).
SPILLING_SAVED_STAGES = SAVED_STAGES - {"part-product", "part-square"}
_MAGIC = b"compute-checkpoint 1\n"
_SUFFIX = ".result"
_MANIFEST = "run.json"


def _items(value: object) -> list[mpz] | None:
    """The integers of a task result (one, a tuple of them, or a lean split's
    square form as root and odd part), or None."""
    if isinstance(value, mpz):
        return [value]
    if isinstance(value, SquareForm):
        return list(value.peek())
    if isinstance(value, tuple) and value and all(isinstance(v, mpz) for v in value):
        return list(value)
    return None


def save(directory: str, key: str, value: object) -> None:
    """Write ``value`` (an mpz, a tuple of them or a SquareForm) as the result
    of ``key``."""
    value = plain(value)
    items = _items(value)
    if items is None:
        return
    # [bits, bytes, residue, negative]: part products may be negative.
    described = [
        [
            int(item.bit_length()),
            (item.bit_length() + 7) // 8,
            residue(item),
            item < 0,
        ]
        for item in items
    ]
    header = {
        "key": key,
        "tuple": isinstance(value, tuple),
        "square_form": isinstance(value, SquareForm),
        "items": described,
    }
    try:
        with atomic_file(Path(directory) / f"{key}{_SUFFIX}") as handle:
            handle.write(_MAGIC + json.dumps(header).encode() + b"\n")
            for item, (_, size, _, _) in zip(items, described, strict=True):
                handle.write(abs(item).to_bytes(size, "little"))
    except FileNotFoundError:  # removed by a run of the same file that ended first
        logger.info("checkpoint directory %s is gone: %s not saved", directory, key)


def _read(path: Path, key: str) -> object:
    """The result saved at ``path`` for ``key``; ValueError saying what is wrong."""
    with path.open("rb") as handle:
        if handle.read(len(_MAGIC)) != _MAGIC:
            raise ValueError("it is not a saved result")
        try:
            header = json.loads(handle.readline())
        except ValueError:
            raise ValueError("its header is damaged") from None
        if header.get("key") != key:
            raise ValueError(f"it was written for {header.get('key')!r}")
        items = []
        for bits, size, saved_residue, negative in header["items"]:
            data = handle.read(size)
            if len(data) != size:
                raise ValueError("it is truncated")
            item = mpz.from_bytes(data, "little")
            item = -item if negative else item
            if item.bit_length() != bits or residue(item) != saved_residue:
                raise ValueError("its residue does not match: it is damaged")
            items.append(item)
        if handle.read(1):
            raise ValueError("it has bytes past its last item")
    if header.get("square_form"):
        return SquareForm(*items)
    return Parts(items) if header["tuple"] else items[0]


def load(directory: str, key: str) -> object:
    """The result saved for ``key`` (checked when the run began)."""
    return _read(Path(directory) / f"{key}{_SUFFIX}", key)


def run_saved(
    directory: str,
    key: str,
    superseded: tuple[str, ...],
    function: object,
    *args: object,
    **kwargs: object,
) -> object:
    """``function(*args)``, its result saved for ``key`` before it is returned;
    then the saved results of the ``superseded`` keys are removed."""
    value = function(*args, **kwargs)  # type: ignore[operator]
    save(directory, key, value)
    for name in superseded:
        with contextlib.suppress(FileNotFoundError):
            (Path(directory) / f"{name}{_SUFFIX}").unlink()
    return value


@dataclass
class Resumed:
    """What a run took from its directory."""

    loaded: list[str] = field(default_factory=list)
    damaged: dict[str, str] = field(default_factory=dict)  # file -> what is wrong


def prepare(directory: Path, label: str) -> None:
    """Create the run directory for ``label`` (what the run computes), or
    check that an existing one is for it; a ValueError before any work."""
    if not directory.parent.is_dir():
        raise ValueError(
            f"the folder of checkpoint directory {str(directory)!r} does not exist"
        )
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"checkpoint directory {str(directory)!r} is a file")
    directory.mkdir(exist_ok=True)
    manifest = directory / _MANIFEST
    if manifest.exists():
        try:
            saved_for = json.loads(manifest.read_text()).get("run")
        except (ValueError, AttributeError):  # damaged: not this run's
            saved_for = "a run it cannot name"
        if saved_for != label:
            logger.info(
                "checkpoint directory %s holds results for %s, not %s: they are "
                "not used",
                directory,
                saved_for,
                label,
            )
    manifest.write_text(json.dumps({"run": label}) + "\n")


def checkpointed(
    tasks: dict,
    outputs: Sequence[object],
    directory: Path,
    stages: frozenset[str] = SAVED_STAGES,
) -> tuple[dict, Resumed]:
    """``tasks`` with saved results loaded and the rest of ``stages`` saving theirs.

    The graph is cut down to what ``outputs`` (keys) still need, and only the
    saved results it needs are read (a damaged one is left out, and what it
    was made from is needed again). Outputs themselves are not saved: the
    caller holds them once computed.
    """
    resumed = Resumed()
    wanted = set(outputs)

    def kept(key: object) -> bool:
        """Whether ``key``'s result is one a run keeps on disk (not an item
        taken from a task's tuple, which its task's file holds)."""
        task = tasks[key]
        return (
            isinstance(task, Task)
            and task.func is not operator.getitem
            and stage_of(key) in stages
            and key not in wanted
        )

    saved = {
        key for key in tasks if kept(key) and (directory / f"{key}{_SUFFIX}").exists()
    }
    good: set = set()
    while True:
        needed = _needed(tasks, outputs, stop_at=saved)
        unread = [key for key in needed if key in saved and key not in good]
        if not unread:
            break
        for key in unread:
            path = directory / f"{key}{_SUFFIX}"
            try:
                _read(path, str(key))
            except (ValueError, OSError) as error:
                resumed.damaged[path.name] = str(error)
                saved.discard(key)
            else:
                good.add(key)
    changed: dict = {}
    superseded = _superseded(needed, outputs, kept, loaded=good)
    for key in needed:
        task = tasks[key]
        if key in good:
            resumed.loaded.append(str(key))
            changed[key] = Task(key, load, str(directory), str(key))
        elif kept(key):
            changed[key] = Task(
                key,
                run_saved,
                str(directory),
                str(key),
                tuple(str(below) for below in superseded.get(key, ())),
                task.func,
                *task.args,
                **task.kwargs,
            )
        else:
            changed[key] = task
    for name, reason in resumed.damaged.items():
        logger.info("saved result %s is left out (%s): computed again", name, reason)
    return changed, resumed


def checkpointed_outputs(
    outputs: Sequence[Output],
    directory: Path,
    stages: frozenset[str] = SAVED_STAGES,
) -> list[Output]:
    """``outputs`` with their saved results loaded and the rest of ``stages``
    saving theirs."""
    loaded = 0

    def change(tasks: dict, keys: list) -> dict:
        nonlocal loaded
        changed, resumed = checkpointed(tasks, keys, directory, stages)
        loaded += len(resumed.loaded)
        return changed

    changed = [with_tasks(output, change) for output in outputs]
    if loaded:
        logger.info(
            "resuming from %s: %d saved result%s used",
            directory,
            loaded,
            "s" * (loaded != 1),
        )
    return changed


def _kept_below(tasks: dict, roots: Sequence[object], kept: Callable) -> set:
    """The kept keys that ``roots`` depend on with no kept key in between."""
    found, seen, pending = set(), set(), list(roots)
    while pending:
        for dependency in getattr(tasks[pending.pop()], "dependencies", ()):
            if dependency in seen or dependency not in tasks:
                continue
            seen.add(dependency)
            if kept(dependency):
                found.add(dependency)
            else:
                pending.append(dependency)
    return found


def _superseded(
    tasks: dict, outputs: Sequence[object], kept: Callable, loaded: set
) -> dict:
    """For each kept key, the kept keys whose saved results its own replaces.

    Those are the kept keys right below it that no other kept key and no
    output reaches but through it. A loaded result is never among them: its
    loading task may run again (its worker lost), and it has nothing else to
    compute it from.
    """
    below = {key: _kept_below(tasks, [key], kept) for key in tasks if kept(key)}
    claims: dict = {}
    for keys in below.values():
        for key in keys:
            claims[key] = claims.get(key, 0) + 1
    held = _kept_below(tasks, [key for key in outputs if key in tasks], kept) | loaded
    return {
        key: [d for d in keys if claims[d] == 1 and d not in held]
        for key, keys in below.items()
    }


def _needed(tasks: dict, outputs: Sequence[object], stop_at: set) -> dict:
    """The tasks ``outputs`` depend on, themselves included, not looking past
    the keys ``stop_at`` (results that will be loaded)."""
    needed, pending = {}, list(outputs)
    while pending:
        key = pending.pop()
        if key in needed or key not in tasks:
            continue
        needed[key] = tasks[key]
        if key not in stop_at:
            pending.extend(getattr(tasks[key], "dependencies", ()))
    return needed


def saved_files(directory: Path) -> Iterator[Path]:
    """The files a run keeps in ``directory``."""
    for path in directory.iterdir():
        if path.name == _MANIFEST or path.suffix in (_SUFFIX, ".part"):
            yield path


def kept_bytes(directory: Path) -> int:
    """Bytes of the files a run keeps in ``directory`` (0 if it does not exist)."""
    if not directory.is_dir():
        return 0
    total = 0
    for path in saved_files(directory):
        with contextlib.suppress(FileNotFoundError):
            total += path.stat().st_size
    return total


def remove(directory: Path) -> None:
    """Remove the run's files, and the directory if nothing else is in it."""
    for path in list(saved_files(directory)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    with contextlib.suppress(OSError):  # not empty: someone else's files
        directory.rmdir()
