"""Progress bars weighted by the cost model, without a cluster."""

from __future__ import annotations

import io
import time

import pytest

from compute import progress
from compute.cost import factorial_bits, multiply_seconds, product_seconds
from compute.execute import _bits_by_key, _graph
from compute.graph import batch_graph
from compute.plan import plan_batch


def test_a_split_factorial_weighs_its_pieces_and_product_by_cost():
    n = 2 * 10**7
    outputs, _ = batch_graph(plan_batch([n], threads=2))
    graph = _graph(outputs)
    weights = progress.task_weights(graph, _bits_by_key(outputs, [factorial_bits(n)]))
    pieces = [w for k, w in weights.items() if k.startswith("prime-power-product-")]
    [product] = [w for k, w in weights.items() if k.startswith("multiply-")]
    half = factorial_bits(n) / 2
    assert pieces == [pytest.approx(product_seconds(half))] * 2
    assert product == pytest.approx(multiply_seconds(half, half))
    # Not a third each, as a count of tasks would have it.
    assert sum(pieces) / sum(weights.values()) > 0.7


def test_a_running_task_moves_the_tally_but_never_to_the_end():
    tally = progress._Tally({"a": 0.2, "b": 0.2})
    tally.start("a")
    time.sleep(0.1)
    assert 0.1 < tally.fraction() < 0.5
    time.sleep(0.3)  # past its estimate: held at 90% of its weight
    assert tally.fraction() == pytest.approx(0.45)
    tally.finish("a")
    tally.finish("a")  # counted once
    assert tally.fraction() == pytest.approx(0.5)


def test_the_bar_redraws_over_longer_text_and_ends_at_100():
    stream = io.StringIO()
    answers = iter([0.25, 0.5])
    with progress.TextBar(stream, "Completed", lambda: next(answers, 0.5)):
        time.sleep(0.25)
    drawn = stream.getvalue().split("\r")
    assert "|  25% Completed |" in drawn[1]
    assert drawn[-1].startswith(f"[{'#' * 40}] | 100% Completed |")
    assert drawn[-1].endswith("\n")


def test_an_interrupted_bar_stays_where_it_was():
    stream = io.StringIO()
    with (
        pytest.raises(KeyboardInterrupt),
        progress.TextBar(stream, "Completed", lambda: 0.5),
    ):
        raise KeyboardInterrupt
    assert "|  50% Completed |" in stream.getvalue().split("\r")[-1]


@pytest.mark.parametrize(
    ("seconds", "fraction", "shown"),
    [
        (20.0, 0.5, ", about 20 s left"),
        (600.0, 0.25, ", about 30 min left"),
        (3600.0, 0.25, ", about 3.0 h left"),
        (5.0, 0.5, ""),  # too soon to tell
        (100.0, 0.01, ""),  # one task's pace says little
        (100.0, 1.0, ""),
    ],
)
def test_the_time_left_is_the_pace_so_far(seconds, fraction, shown):
    assert progress._time_left(seconds, fraction) == shown


def test_a_long_bar_shows_its_time_left(monkeypatch):
    stream = io.StringIO()
    bar = progress.TextBar(stream, "Completed", lambda: 0.25)
    monkeypatch.setattr(progress.time, "monotonic", lambda: bar._start + 30.0)
    bar._draw(0.25)
    assert stream.getvalue().endswith("|  25% Completed |   30.0 s, about 2 min left")
