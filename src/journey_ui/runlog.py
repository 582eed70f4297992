"""One structured log line per page run: page, rule, rows, duration; emails as fingerprints.

``app.py`` wraps ``page.run()`` in :func:`page_run`; code on the page adds what it knows with
:func:`note` (the query's rule and email, the rows shown). The line is JSON on the
``journey_ui.runs`` logger, e.g.::

    {"event": "page_run", "page": "customer", "rule": "email", "email": "email#3f2a...",
     "rows": 57, "duration_ms": 412, "outcome": "ok"}
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from journey_core.io.privacy import fingerprint

LOGGER_NAME = "journey_ui.runs"
log = logging.getLogger(LOGGER_NAME)
_FIELDS = "journey.run_log"


def note(*, rule: str | None = None, email: str | None = None, rows: int | None = None) -> None:
    """Record facts about this run for its log line (the email only as a fingerprint)."""
    fields: dict[str, Any] = st.session_state.setdefault(_FIELDS, {})
    if rule is not None:
        fields["rule"] = rule
    if email:
        fields["email"] = fingerprint(email)
    if rows is not None:
        fields["rows"] = rows


@contextmanager
def page_run(page: str) -> Iterator[None]:
    """Time the run of ``page`` and log it (also when the page stops early or fails)."""
    st.session_state[_FIELDS] = {}
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    except BaseException as exc:
        # st.stop() and st.rerun() end a run by raising; they are not failures.
        name = type(exc).__name__
        outcome = {"StopException": "stopped", "RerunException": "rerun"}.get(name, "error")
        raise
    finally:
        fields = st.session_state.pop(_FIELDS, {})
        record = {
            "event": "page_run",
            "page": page,
            "rule": fields.get("rule", "-"),
            "email": fields.get("email", "-"),
            "rows": fields.get("rows"),
            "duration_ms": round((time.perf_counter() - started) * 1000),
            "outcome": outcome,
        }
        log.info(json.dumps(record))
