"""Progress of slow work: what a long job tells whoever shows it (a bar, a line on stderr).

A :data:`Progress` hears ``(step, fraction)``: what runs now, and how much of the whole is
done (0.0 to 1.0). Code that is handed one calls it (``journey demo``); code deep under a
page (a cohort built in steps, :class:`~journey_core.warehouse.cohort.Steps`) calls
:func:`report` instead, which reaches the innermost :func:`reporting` of the calling context,
and nobody outside one.

>>> heard = []
>>> with reporting(lambda step, done: heard.append((step, done))):
...     report("reading the events", 0.5)
>>> heard
[('reading the events', 0.5)]
>>> report("unheard", 1.0)  # outside reporting: a no-op

:func:`stage` names which part of a larger job the steps inside it belong to (a page that
builds two cohorts one after the other tells them apart).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Progress", "report", "reporting", "stage"]

Progress = Callable[[str, float], None]
"""``(step, fraction)``: the step that runs now, and the share of the whole already done."""

_LISTENER: contextvars.ContextVar[Progress | None] = contextvars.ContextVar(
    "journey_progress", default=None
)


@contextmanager
def reporting(listener: Progress) -> Iterator[None]:
    """Send what :func:`report` hears inside the block (in this context) to ``listener``."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)


def report(step: str, fraction: float) -> None:
    """Tell the innermost :func:`reporting` listener that ``step`` runs, ``fraction`` of the
    whole done (clamped to 0.0-1.0); nothing when none listens."""
    listener = _LISTENER.get()
    if listener is not None:
        listener(step, min(max(fraction, 0.0), 1.0))


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Inside the block, each reported step reaches the listener as ``"{name}: {step}"``;
    nothing changes when none listens.

    >>> heard = []
    >>> with reporting(lambda step, done: heard.append(step)), stage("the previous period"):
    ...     report("finding the cohort's events", 0.0)
    >>> heard
    ["the previous period: finding the cohort's events"]
    """
    outer = _LISTENER.get()
    if outer is None:
        yield
        return

    def named(step: str, fraction: float) -> None:
        outer(f"{name}: {step}", fraction)

    with reporting(named):
        yield
