"""The data-quality page on a deliberately dirty warehouse; no page crashes on the bad rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from journey_ui.sections import QUALITY_LABELS
from tests.integration import test_quality

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
AS_OF = "2022-08-31T12:00:00Z"


@pytest.fixture
def dirty_url(tmp_path: Path) -> str:
    """test_quality's dirty warehouse, with ``revenue`` a number column as the mapping expects."""
    url = test_quality.dirty_url.__wrapped__(tmp_path)  # type: ignore[attr-defined]
    db = url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as con:
        con.execute("alter table events drop column revenue")
        con.execute("alter table events add column revenue real")
    return url


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    for key in ("JOURNEY_TIMEZONE", "JOURNEY_PASSWORD_HASH", "JOURNEY_MASK_PII"):
        monkeypatch.delenv(key, raising=False)

    def make(url: str, page: str, **params: str) -> AppTest:
        monkeypatch.setenv("JOURNEY_DATABASE_URL", url)
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.run()
        at.switch_page(f"app_pages/{page}.py")
        at.query_params["as_of"] = AS_OF
        for key, value in params.items():
            at.query_params[key] = value
        return at.run()

    return make


def test_quality_page_counts_each_kind(
    app: Callable[..., AppTest],
    dirty_url: str,
) -> None:
    at = app(dirty_url, "quality")
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Data quality"
    table = next(df.value for df in at.dataframe if "Problem" in df.value.columns)
    got = dict(zip(table["Problem"], table["Rows"], strict=True))
    assert got == {
        QUALITY_LABELS["null_timestamp"]: 1,
        QUALITY_LABELS["unparseable_timestamp"]: 1,
        QUALITY_LABELS["future_event"]: 1,
        QUALITY_LABELS["duplicate_event_id"]: 1,
        QUALITY_LABELS["identity_without_anonymous_id"]: 1,
        QUALITY_LABELS["malformed_email"]: 2,
        QUALITY_LABELS["oversized_value"]: 1,
    }
    assert table["What results do with them"].str.len().min() > 20
    assert {m.label: m.value for m in at.metric} == {"Problem rows": "8", "Kinds found": "7 of 7"}
    assert "8 rows of messy data" in at.warning[0].value


def test_quality_page_clean_warehouse(app: Callable[..., AppTest], demo_url: str) -> None:
    at = app(demo_url, "quality")
    assert not at.exception, [e.message for e in at.exception]
    assert {m.label: m.value for m in at.metric}["Problem rows"] == "0"
    assert at.success


@pytest.mark.parametrize(
    ("page", "params"),
    [
        pytest.param("recent", {}, id="recent"),
        pytest.param("customer", {"email": "ann@x.io"}, id="customer"),
        pytest.param("customer", {"email": "solo@x.io"}, id="customer-no-anonymous-id"),
        pytest.param("campaign", {"event_date": "2022-08-01"}, id="campaign"),
        pytest.param("attribution", {"event_date": "2022-08-01", "as_of": "2022-08-31"}, id="attr"),
    ],
)
def test_no_page_crashes_on_dirty_data(
    app: Callable[..., AppTest],
    dirty_url: str,
    page: str,
    params: dict[str, str],
) -> None:
    at = app(dirty_url, page, **params)
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
