"""journey_core.progress: the listener of the calling context hears reported steps."""

from __future__ import annotations

import threading

import pytest

from journey_core.progress import report, reporting, stage


def test_the_innermost_listener_hears_and_the_outer_one_again_after() -> None:
    outer: list[tuple[str, float]] = []
    inner: list[tuple[str, float]] = []
    with reporting(lambda *step: outer.append(step)):
        report("a", 0.1)
        with reporting(lambda *step: inner.append(step)):
            report("b", 0.2)
        report("c", 0.3)
    report("d", 0.4)
    assert outer == [("a", 0.1), ("c", 0.3)]
    assert inner == [("b", 0.2)]


@pytest.mark.parametrize(
    ("fraction", "heard"),
    [
        pytest.param(-0.5, 0.0, id="below"),
        pytest.param(0.25, 0.25, id="inside"),
        pytest.param(1.5, 1.0, id="above"),
    ],
)
def test_fractions_are_clamped(fraction: float, heard: float) -> None:
    got: list[float] = []
    with reporting(lambda _step, done: got.append(done)):
        report("step", fraction)
    assert got == [heard]


def test_another_thread_does_not_hear_a_page_s_listener() -> None:
    """Two sessions' page runs are two threads: each bar hears its own steps only."""
    got: list[str] = []
    with reporting(lambda step, _done: got.append(step)):
        thread = threading.Thread(target=report, args=("elsewhere", 0.5))
        thread.start()
        thread.join()
        report("here", 0.5)
    assert got == ["here"]


def test_a_stage_names_its_steps_and_ends_with_its_block() -> None:
    heard: list[tuple[str, float]] = []
    with reporting(lambda *step: heard.append(step)):
        report("a", 0.5)
        with stage("the previous period"):
            report("b", 0.25)
            with stage("part 2"):
                report("c", 2.0)
        report("d", 1.0)
    assert heard == [
        ("a", 0.5),
        ("the previous period: b", 0.25),
        ("the previous period: part 2: c", 1.0),
        ("d", 1.0),
    ]


def test_a_stage_names_steps_only_for_a_listener_already_listening() -> None:
    heard: list[tuple[str, float]] = []
    with stage("the previous period"):
        report("a", 0.25)  # nothing listens: no error, nothing kept
        with reporting(lambda *step: heard.append(step)):
            report("b", 0.5)
    assert heard == [("b", 0.5)]
