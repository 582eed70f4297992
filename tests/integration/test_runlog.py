"""One structured log line per page run; emails only as fingerprints."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from journey_core import columns as c
from journey_core.io.privacy import fingerprint
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys
from journey_ui import runlog

APP = Path(__file__).resolve().parents[2] / "app.py"
AS_OF = "2022-08-31T00:00:00Z"


def page_runs(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == runlog.LOGGER_NAME]


@pytest.mark.parametrize(
    ("page", "params", "rule"),
    [
        pytest.param("recent", {}, "recent", id="recent"),
        pytest.param("customer", {"email": "EMAIL"}, "email", id="customer"),
        pytest.param("campaign", {"event_date": "2022-08-01"}, "event_date", id="campaign"),
        pytest.param("quality", {}, "quality", id="quality"),
        pytest.param(
            "attribution",
            {"event_date": "2022-08-01", "as_of": "2022-08-31"},
            "event_date",
            id="attribution",
        ),
    ],
)
def test_one_line_per_page_run(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    demo_url: str,
    page: str,
    params: dict[str, str],
    rule: str,
) -> None:
    for key in ("JOURNEY_TIMEZONE", "JOURNEY_PASSWORD_HASH", "JOURNEY_MASK_PII"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("JOURNEY_DATABASE_URL", demo_url)
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=AS_OF, event_date="2022-08-01")
    email = fetch_journeys(create_engine(demo_url), query).frame[c.EMAIL][0]
    params = {k: (email if v == "EMAIL" else v) for k, v in params.items()}
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page(f"app_pages/{page}.py")
    at.query_params["as_of"] = AS_OF
    for key, value in params.items():
        at.query_params[key] = value
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=runlog.LOGGER_NAME):
        at.run()
    assert not at.exception
    runs = page_runs(caplog)
    assert len(runs) == 1, runs
    [line] = runs
    assert line["event"] == "page_run"
    assert line["page"] == page
    assert line["rule"] == rule
    assert isinstance(line["rows"], int)
    assert isinstance(line["duration_ms"], int)
    assert line["outcome"] == "ok"
    assert line["email"] == (fingerprint(email) if "email" in params else "-")
    assert email not in caplog.text
