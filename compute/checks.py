"""Every product checked: residues carried between tasks, identities per stage.

Each value that one task hands to another carries its residue modulo
``M = (2**32 - 5) * (2**31 - 1)`` (:class:`Hashed`), computed once, by the
task that made it. A task of a checked stage knows how its output follows
from its inputs, and so how the residues must: ``h(a * b) = h(a) * h(b)`` for the
products, part products and square forms; linear maps of the residues for
Toom's evaluation, interpolation, chunk splits and carries (the chain's
small integers included). It computes its output's residue and compares
(:data:`_IDENTITIES`). A wrong output, or an input changed after its
producer hashed it, fails the identity, except with probability about
``2**-63``: both primes must divide the error.

On a mismatch the task logs a warning naming the stage and the worker and
computes again from the same inputs, at most ``compute.check-retries``
times; then it raises :class:`ProductCheckError`. A transient fault (a bit
flipped in the arithmetic) is so corrected; a lasting one, or an input
damaged in memory, stops the run with that error, never a wrong number.

A piece of a split product (its primes' powers, a range of integers, or a
lean split's square form) checks itself: a variant of its kernel also gives
the piece's residue modulo a prime below 2**32, from the same primes or
integers by numpy, with no big-integer product
(:mod:`compute.kernels.modular`). Products inside other tasks (a batch's
walks, small factorials and small products) are not checked; their output's
residue is where checking starts.

Values handed to the caller, and the chunks a :class:`ChunkedInteger` keeps,
are plain ``mpz``: the last task checks, then drops the residue.

Test-only hook: with ``COMPUTE_TEST_FLIP_BIT=<stage>:<path>`` in a process's
environment, the first task of ``<stage>`` that creates the file ``<path>``
(one, across every process) flips one bit of its output before the check.
"""

from __future__ import annotations

import logging
import operator
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dask._task_spec import Task, TaskRef
from gmpy2 import mpz

from compute import kernels, toom
from compute.config import setting
from compute.kernels import SquareForm, releasing_gil
from compute.kernels.parts import Parts
from compute.tasks import stage_of
from compute.toom_graph import Output, with_tasks

logger = logging.getLogger(__name__)

# The pieces' prime times 2**31 - 1: a piece's residue mod its prime is then
# its residue mod M reduced, with no second pass over the piece. M stays below
# 2**63, where gmpy2 takes a remainder alone (above, it also writes a quotient
# as long as the value: 1.4x the time in fresh memory).
MODULUS = kernels.CHECK_MODULUS * (2**31 - 1)
_FLIP_VARIABLE = "COMPUTE_TEST_FLIP_BIT"
_CHECK = kernels.CHECK_MODULUS
METRIC = "product-check"  # the activity the checks' time is metered as


class ProductCheckError(ArithmeticError):
    """A task's output failed its residue identity on every attempt."""


@dataclass(frozen=True, slots=True)
class Hashed:
    """A value and its residue mod :data:`MODULUS` (a pair for a SquareForm)."""

    value: Any
    residue: Any

    def __sizeof__(self) -> int:
        # Dask's memory accounting (spilling, the worker's managed memory)
        # sizes a task's result with sys.getsizeof: the value's bytes count.
        return object.__sizeof__(self) + sys.getsizeof(self.value)


@releasing_gil
def _mod(value: mpz, modulus: int) -> int:
    """``value`` mod a word-size ``modulus``, in ``[0, modulus)``.

    Given a Python int, gmpy2 computes the remainder alone; given an mpz it
    divides, writing a quotient as long as the value: 10-15% slower on a
    worker's fresh values (0.60-0.66 against 0.72 ns per byte at 5e7!).
    """
    return int(value % modulus)


def residue(value: object) -> Any:
    """``value`` mod :data:`MODULUS` (in ``[0, M)``); a SquareForm's root and
    odd part each; a tuple's items each."""
    if isinstance(value, Hashed):
        return value.residue
    if isinstance(value, SquareForm):
        root, odd = value.peek()
        return (_mod(root, MODULUS), _mod(odd, MODULUS))
    if isinstance(value, tuple):
        return tuple(residue(item) for item in value)
    return _mod(value, MODULUS)


def plain(value: object) -> object:
    """``value`` without residues: a Hashed's value, a tuple's items each."""
    if isinstance(value, Hashed):
        return value.value
    if isinstance(value, tuple) and any(isinstance(item, Hashed) for item in value):
        return Parts(plain(item) for item in value)
    return value


def _hashed(value: object, residues: Any) -> object:
    if isinstance(value, tuple):
        return Parts(Hashed(item, r) for item, r in zip(value, residues, strict=True))
    return Hashed(value, residues)


# Identities: (the arguments with residues in place of values, the output's
# residue) -> whether they agree. Residues are ints in [0, M).
def _power_of_two(bits: int) -> int:
    return pow(2, bits, MODULUS)


def _weighted(residues: Sequence[int], chunk_bits: int, modulus: int = MODULUS) -> int:
    """``sum(r_i * 2**(i * chunk_bits))`` mod ``modulus``: chunks' residues to
    the value's."""
    step, weight, total = pow(2, chunk_bits, modulus), 1, 0
    for r in residues:
        total = (total + r * weight) % modulus
        weight = weight * step % modulus
    return total


def _product(args: Sequence[Any], out: int) -> bool:
    return out == args[0] * args[1] % MODULUS


def _product_shifted(args: Sequence[Any], out: int) -> bool:
    return out == args[0] * args[1] * _power_of_two(args[2]) % MODULUS


def _product_divided(args: Sequence[Any], out: int) -> bool:
    return out * args[2] % MODULUS == args[0] * args[1] % MODULUS


def _square_forms(args: Sequence[Any], out: tuple[int, int]) -> bool:
    (a_root, a_odd), (b_root, b_odd) = args[0], args[1]
    return out == (a_root * b_root % MODULUS, a_odd * b_odd % MODULUS)


def _square_shifted(args: Sequence[Any], out: int) -> bool:
    root, odd = args[0]
    return out == root * root * odd * _power_of_two(args[1]) % MODULUS


def _to_chunks(args: Sequence[Any], out: Sequence[int]) -> bool:
    value, chunk_bits = args[0], args[1]
    shift = args[3] if len(args) > 3 else 0
    return _weighted(out, chunk_bits) == value * _power_of_two(shift) % MODULUS


def _evaluation(args: Sequence[Any], out: Sequence[int]) -> bool:
    ways, slices = args[0], args[1]
    expected = []
    for point in toom.points(ways):
        if point is toom.INFINITY:
            expected.append(slices[-1])
            continue
        total = 0
        for part in reversed(slices):
            total = (total * point + part) % MODULUS
        expected.append(total)
    return list(out) == expected


def _part_product(args: Sequence[Any], out: Sequence[int]) -> bool:
    chunk_bits, a_slices, b_slices, _ = args
    a, b = _weighted(a_slices, chunk_bits), _weighted(b_slices, chunk_bits)
    return _weighted(out, chunk_bits) == a * b % MODULUS


def _part_square(args: Sequence[Any], out: Sequence[int]) -> bool:
    chunk_bits, slices, _ = args
    a = _weighted(slices, chunk_bits)
    return _weighted(out, chunk_bits) == a * a % MODULUS


def _form_cut(args: Sequence[Any], out: Sequence[int]) -> bool:
    """A square form's root from its chunks and its odd part, unchanged."""
    (root, odd), chunk_bits = args[0], args[1]
    return _weighted(out[:-1], chunk_bits) == root and out[-1] == odd


def _combined(coefficients: Sequence[int], chunks: Sequence[int]) -> int:
    return sum(c * r for c, r in zip(coefficients, chunks, strict=True)) % MODULUS


def _combination(args: Sequence[Any], out: int) -> bool:
    coefficients, chunks = args
    return out == _combined(coefficients, chunks)


def _row_combinations(args: Sequence[Any], out: Sequence[int]) -> bool:
    matrix, chunks = args
    return list(out) == [_combined(row, chunks) for row in matrix]


def _carry(args: Sequence[Any], out: int) -> bool:
    """``D * out = combined + carry_in - carry_out * 2**C + rem_in * 2**C -
    rem_out``, with the chain's carries up and remainders down (its ends 0)."""
    combined, chain, index, chunk_bits, divisor = args
    carry_in, remainder_in = chain[index]
    carry_out = chain[index + 1][0] if index + 1 < len(chain) else 0
    remainder_out = chain[index - 1][1] if index > 0 else 0
    if index == 0 and carry_in != 0:
        return False
    base = _power_of_two(chunk_bits)
    expected = (
        combined + carry_in - carry_out * base + remainder_in * base - remainder_out
    )
    return out * divisor % MODULUS == expected % MODULUS


def _zero(args: Sequence[Any], out: int) -> bool:
    return out == 0


# Each checked kernel: its identity, and which of its arguments are values
# (their residues stand in for them); the others (bit counts, indexes, the
# carry chain) are passed to the identity as they are.
_IDENTITIES: dict[
    Callable[..., object],
    tuple[Callable[[Sequence[Any], Any], bool], tuple[int, ...]],
] = {
    kernels.multiply: (_product, (0, 1)),
    kernels.multiply_and_shift: (_product_shifted, (0, 1)),
    kernels.multiply_and_divide: (_product_divided, (0, 1, 2)),
    kernels.multiply_square_forms: (_square_forms, (0, 1)),
    kernels.square_multiply_shift: (_square_shifted, (0,)),
    toom.to_chunks: (_to_chunks, (0,)),
    toom.evaluate_slice: (_evaluation, (1,)),
    toom.part_product: (_part_product, (1, 2)),
    toom.part_square: (_part_square, (1,)),
    toom.cut_form: (_form_cut, (0,)),
    toom.combine: (_combination, (1,)),
    toom.combine_rows: (_row_combinations, (1,)),
    toom.carry_apply: (_carry, (0,)),
    toom.zero_chunk: (_zero, ()),
}


# Pieces check themselves: given a list, their kernel also appends the
# piece's residue mod a prime below 2**32 from its primes (or integers) by
# numpy, with no big product (and the seconds that took). Each rule compares
# it with the output's residue mod that prime (a square form's: its parts').
def _piece_agrees(found: int, expected: tuple[int, int]) -> bool:
    root, odd = expected
    return found == root * root * odd % _CHECK


def _range_agrees(found: int, expected: int) -> bool:
    return found == expected


def _form_agrees(found: tuple[int, int], expected: tuple[int, int]) -> bool:
    return found == tuple(expected)


_SELF_CHECKED: dict[Callable[..., object], Callable[[Any, Any], bool]] = {
    kernels.prime_piece: _piece_agrees,
    kernels.range_piece: _range_agrees,
    kernels.square_form_piece: _form_agrees,
}


def _rule(function: Callable[..., object], args: Sequence[Any]) -> tuple[Any, Any]:
    """The kernel a task is checked by, and that kernel's arguments: for a
    task that also cuts its value into chunks (:func:`compute.toom.cut`),
    the kernel inside it."""
    if function is toom.cut:
        return args[3], args[4:]
    return function, args


def _is_checked(function: Callable[..., object], args: Sequence[Any]) -> bool:
    kernel, _ = _rule(function, args)
    return kernel in _IDENTITIES or kernel in _SELF_CHECKED


def _value_positions(function: Callable[..., object], args: Sequence[Any]) -> tuple:
    """Which of a checked task's arguments are values (residues stand in)."""
    kernel, kernel_args = _rule(function, args)
    offset = len(args) - len(kernel_args)
    positions = _IDENTITIES[kernel][1] if kernel in _IDENTITIES else ()
    return tuple(offset + index for index in positions)


def _unchunked(
    chunks: Sequence[int], chunk_bits: int, shift: int, modulus: int = MODULUS
) -> int:
    """A cut value's residue from its chunks' (the cut shifted it left)."""
    unshift = pow(pow(2, shift, modulus), -1, modulus)
    return _weighted(chunks, chunk_bits, modulus) * unshift % modulus


# Seconds this process has spent checking, all threads together.
_checking = [0.0]
_checking_lock = threading.Lock()


def checking_seconds() -> float:
    """Seconds this process's threads have spent in product checks so far
    (residues, identities, the pieces' numpy residues)."""
    return _checking[0]


@contextmanager
def _metered() -> Iterator[None]:
    """Time the block as check work (:func:`_digest`)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        _digest(time.perf_counter() - start)


def _known(values: list, residues: list, positions: tuple[int, ...]) -> dict:
    """The residues of a task's input integers, by the objects' identities."""
    known: dict[int, int] = {}
    for index in positions:
        value, found = values[index], residues[index]
        if isinstance(value, list):
            known.update((id(item), r) for item, r in zip(value, found, strict=True))
        elif isinstance(value, mpz):
            known[id(value)] = found
    return known


def _residue_given(output: object, known: dict) -> Any:
    """:func:`residue`, taken from ``known`` for an integer that is one of the
    task's inputs, handed on unchanged (mpz are immutable: same object, same
    value)."""
    if isinstance(output, tuple):
        return tuple(_residue_given(item, known) for item in output)
    if isinstance(output, mpz) and id(output) in known:
        return known[id(output)]
    return residue(output)


def _digest(seconds: float) -> None:
    """Count ``seconds`` of check work: in :func:`checking_seconds`, and on a
    Dask worker as its own activity, ``product-check``, in the worker's fine
    performance metrics (the dashboard's, and ``Worker.digests_total``),
    taken out of the task's compute time."""
    with _checking_lock:
        _checking[0] += seconds
    if "distributed" in sys.modules:
        from distributed.metrics import context_meter

        context_meter.digest_metric(METRIC, seconds, "seconds")


def _check_residue(output_residue: Any, cut: tuple[int, int] | None) -> Any:
    """A piece's residue mod the pieces' prime, a factor of M, from its residue
    mod M (a square form's parts' each; from its chunks', when the task cut it:
    ``cut`` is its chunk bits and shift)."""
    if cut is not None:
        chunks = [r % _CHECK for r in output_residue]
        return _unchunked(chunks, *cut, _CHECK)
    if isinstance(output_residue, tuple):
        return tuple(r % _CHECK for r in output_residue)
    return output_residue % _CHECK


def _attempt(
    function: Callable[..., object], stage: str, values: list, residues: list
) -> tuple[object, Any, bool]:
    """One computation of the task: its output, the output's residue mod M,
    and whether its check agrees."""
    kernel, kernel_residues = _rule(function, residues)
    cut = (values[0], values[2]) if function is toom.cut else None
    found: list = []
    extra = {"residues": found} if kernel in _SELF_CHECKED else {}
    output = _flip_injected(stage, function(*values, **extra))
    positions = _value_positions(function, residues)
    with _metered():
        output_residue = _residue_given(output, _known(values, residues, positions))
        if kernel in _IDENTITIES:
            whole = output_residue if cut is None else _unchunked(output_residue, *cut)
            agrees = _IDENTITIES[kernel][0](kernel_residues, whole)
            return output, output_residue, agrees
        [(expected, seconds)] = found
        _digest(seconds)  # the kernel's own numpy residues
        agrees = _SELF_CHECKED[kernel](_check_residue(output_residue, cut), expected)
        return output, output_residue, agrees


def _residues_of(argument: object) -> object:
    if isinstance(argument, list):
        return [residue(item) for item in argument]
    return residue(argument)


def _where() -> str:
    """This worker's address, or 'this process'."""
    if "distributed" in sys.modules:
        from distributed import get_worker

        try:
            return f"worker {get_worker().address}"
        except ValueError:  # not in a worker
            pass
    return "this process"


def _flip_injected(stage: str, value: object) -> object:
    """The test hook (see the module docstring): ``value`` with one bit flipped."""
    wanted = os.environ.get(_FLIP_VARIABLE)
    if not wanted or wanted.partition(":")[0] != stage:
        return value
    if not isinstance(value, mpz | tuple | SquareForm):
        return value
    try:
        os.close(os.open(wanted.partition(":")[2], os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return value
    if isinstance(value, mpz):
        return _flipped(value)
    if isinstance(value, SquareForm):
        root, odd = value.take()
        return SquareForm(_flipped(root), odd)
    index = max(range(len(value)), key=lambda i: abs(value[i]).bit_length())
    return (*value[:index], _flipped(value[index]), *value[index + 1 :])


def _flipped(value: mpz) -> mpz:
    """``value`` with its middle bit flipped."""
    return value ^ (mpz(1) << (abs(value).bit_length() // 2))


def _unwrapped(argument: object) -> object:
    if isinstance(argument, list):
        return [plain(item) for item in argument]
    return plain(argument)


def run_checked(
    function: Callable[..., object], key: str, carry: bool, *args: object
) -> object:
    """``function(*args)`` checked by its stage's identity, computed again on a
    mismatch; with ``carry``, the output keeps its residue for its consumers."""
    positions = _value_positions(function, args)
    stage = stage_of(key)
    residues = [
        _residues_of(argument) if index in positions else argument
        for index, argument in enumerate(args)
    ]
    values = [_unwrapped(argument) for argument in args]
    attempts = 1 + setting("check-retries")
    for attempt in range(1, attempts + 1):
        output, output_residue, agrees = _attempt(function, stage, values, residues)
        if agrees:
            if attempt > 1:
                logger.warning(
                    "%s: computed again on %s, and now its check passes",
                    key,
                    _where(),
                )
            if not carry:
                return output
            return _hashed(output, output_residue)
        logger.warning(
            "product check failed in stage %s on %s (task %s, attempt %d of %d): "
            "its output's residue does not follow from its inputs'",
            stage,
            _where(),
            key,
            attempt,
            attempts,
        )
        if any(isinstance(value, SquareForm) and value.taken for value in values):
            break  # its input forms were taken by the attempt: no second one
    raise ProductCheckError(
        f"product check failed in stage {stage} on {_where()} (task {key}): its "
        "output does not agree with its inputs; an input may have been damaged "
        "in memory, or the machine it ran on computes wrongly"
    )


def run_hashing(
    function: Callable[..., object], *args: object, **kwargs: object
) -> object:
    """``function(*args, **kwargs)`` (its arguments without residues), with its
    output's residue: where a checked consumer's checking starts."""
    output = function(*(_unwrapped(argument) for argument in args), **kwargs)
    with _metered():
        return _hashed(output, residue(output))


def plain_item(values: Sequence[object], index: int) -> object:
    """``values[index]`` without its residue: the item alone, not the tuple,
    is unwrapped (a value cut into thousands of chunks has as many items)."""
    return plain(values[index])


def run_plain(
    function: Callable[..., object], *args: object, **kwargs: object
) -> object:
    """``function(*args, **kwargs)`` given plain values, its output plain."""
    return plain(function(*(_unwrapped(argument) for argument in args), **kwargs))


def _references(argument: object) -> frozenset[object]:
    """The keys a parsed task argument refers to."""
    if isinstance(argument, TaskRef):
        return frozenset({argument.key})
    return getattr(argument, "dependencies", frozenset())


def checked(tasks: dict, outputs: Sequence[object]) -> dict:
    """``tasks`` with every checked stage's identity verified, and residues
    carried from each value to the checked tasks that take it.

    ``outputs`` (keys) are returned plain. Tasks that are not :class:`Task`
    are left as they are, and a value one of them takes travels plain.
    """
    wanted = set(outputs)
    dependents: dict[object, list[object]] = {key: [] for key in tasks}
    # Keys a checked task takes as values (not as its carry chain, say).
    taken_as_values: dict[object, set[object]] = {}
    for key, task in tasks.items():
        for dependency in getattr(task, "dependencies", ()):
            if dependency in dependents:
                dependents[dependency].append(key)
        if isinstance(task, Task) and _is_checked(task.func, task.args):
            taken_as_values[key] = {
                dependency
                for index in _value_positions(task.func, task.args)
                if index < len(task.args)
                for dependency in _references(task.args[index])
            }

    def is_task(key: object) -> bool:
        return isinstance(tasks[key], Task)

    def checked_task(key: object) -> bool:
        return is_task(key) and _is_checked(tasks[key].func, tasks[key].args)

    def passes_on(key: object) -> bool:
        return is_task(key) and tasks[key].func is operator.getitem

    carries: dict[object, bool] = {}

    def carried(key: object) -> bool:
        """Whether ``key``'s value travels with its residue."""
        if key not in carries:
            takers = dependents[key]
            carries[key] = (
                key not in wanted
                and bool(takers)
                and all(is_task(taker) for taker in takers)
                and any(
                    (checked_task(taker) and key in taken_as_values[taker])
                    or (passes_on(taker) and carried(taker))
                    for taker in takers
                )
            )
        return carries[key]

    changed: dict = {}
    for key, task in tasks.items():
        if not isinstance(task, Task):
            changed[key] = task
        elif checked_task(key) and not task.kwargs:
            changed[key] = Task(
                key, run_checked, task.func, str(key), carried(key), *task.args
            )
        elif passes_on(key) and (carried(key) or key not in wanted):
            changed[key] = task  # an item of a tuple, residue and all
        elif passes_on(key):
            changed[key] = Task(key, plain_item, *task.args)
        elif carried(key):
            changed[key] = Task(key, run_hashing, task.func, *task.args, **task.kwargs)
        else:
            changed[key] = Task(key, run_plain, task.func, *task.args, **task.kwargs)
    return changed


def checked_outputs(outputs: Sequence[Output]) -> list[Output]:
    """``outputs`` with their products checked (:func:`checked`), when
    ``compute.check-products`` is on."""
    if not setting("check-products"):
        return list(outputs)
    return [with_tasks(output, checked) for output in outputs]
