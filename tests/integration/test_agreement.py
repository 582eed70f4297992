"""One cohort, one count (issue 13, "Done when"): on a warehouse written by hand where each
contradiction of the issue would show (:mod:`tests.support.contradictions`), the Campaign
influence page's key figures, funnel, journeys table and CSV, and the Attribution page, agree
with each other and with figures counted by hand, on both figure routes (AppTest).

The same warehouse in Chromium: tests/e2e/test_agreement.py.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pandas as pd
import polars as pl
import pytest
import streamlit
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from journey_api.app import PATH, create_app
from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.analytics import funnel as fn
from journey_core.config import Settings
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine
from journey_ui import data
from journey_ui.attribution import TIME_TABS
from journey_ui.cache import ByteCache
from tests.integration.test_pages import APP, ok
from tests.support import contradictions as k
from tests.support.tabs import open_tab

ROUTES = [pytest.param(data.POLARS, id="polars"), pytest.param(data.WAREHOUSE, id="warehouse")]
FILTERED = {"campaign": k.CAMPAIGN}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return k.build(tmp_path_factory.mktemp("agree") / "contradictions.duckdb")


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """The bytes of every download button the page draws, by key (made as drawn)."""
    seen: dict[str, bytes] = {}
    original: Callable[..., Any] = streamlit.download_button

    def recording(label: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        made = data() if callable(data) else data
        seen[str(kwargs.get("key"))] = made.read() if isinstance(made, io.RawIOBase) else made
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", recording)
    return seen


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch, url: str) -> Callable[..., AppTest]:
    """``page(name, route, **params)``: the dashboard on the warehouse, that page, run once."""
    monkeypatch.setattr(data, "CACHE", ByteCache(max_bytes=2**28))
    for name in ("JOURNEY_TIMEZONE", "JOURNEY_LOOKBACK_DAYS", "JOURNEY_RECENT_HOURS"):
        monkeypatch.delenv(name, raising=False)
    for name in ("JOURNEY_CHANNELS_FILE", "JOURNEY_MAPPING", "JOURNEY_PASSWORD_HASH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JOURNEY_DATABASE_URL", url)

    def make(name: str, route: str, **params: str) -> AppTest:
        monkeypatch.setenv("JOURNEY_FIGURES_ROUTE", route)
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.switch_page(f"app_pages/{name}.py")
        for key, value in {"event_date": k.START, "as_of": k.AS_OF, **params}.items():
            at.query_params[key] = value
        at.run()
        ok(at)
        return at

    return make


# --------------------------------------------------------------------------- reading the page


def metric(at: AppTest, prefix: str) -> str:
    """The value of the first key figure whose label starts with ``prefix`` (labels may grow
    a scope, e.g. "Conversions after a matching touch"; "any time" figures are not it)."""
    for m in at.metric:
        if m.label.startswith(prefix) and "any time" not in m.label.lower():
            return str(m.value)
    raise AssertionError(f"no key figure {prefix!r} in {[m.label for m in at.metric]}")


def number(text: str) -> float:
    return float(text.replace(",", "").split()[-1])


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first table that has ``column``."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def table(at: AppTest, key: str) -> pd.DataFrame:
    return {df.key: df.value for df in at.dataframe}[key]


def funnel_people(at: AppTest) -> list[int]:
    return [int(n) for n in funnel_table(at)["People"].tolist()]


def funnel_table(at: AppTest) -> pd.DataFrame:
    return next(df.value for df in at.dataframe if "Step" in df.value.columns)


def pick_funnel(at: AppTest, who: str, steps: list[str] | None = None) -> AppTest:
    at.radio(key="funnel.who").set_value(who).run()
    if steps is not None:
        at.multiselect(key=f"funnel.steps.{who}").set_value(steps).run()
    ok(at)
    return at


# --------------------------------------------------------------------------- campaign influence


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({}, k.EXPECTED, id="everyone"),
        pytest.param(FILTERED, k.EXPECTED_FILTERED, id="campaign-filter"),
    ],
)
def test_campaign_figures_agree_with_each_other_and_by_hand(
    page: Callable[..., AppTest],
    downloads: dict[str, bytes],
    route: str,
    params: dict[str, str],
    expected: k.Expected,
) -> None:
    at = page("campaign", route, **params)
    people = len(expected.people)
    # Key figures, counted by hand: the duplicated purchase once, nothing after as-of, nobody
    # unidentified, and (filtered) no purchase before the person's first matching touch.
    assert metric(at, "Known people active") == f"{people:,}"
    assert metric(at, "Newly known") == f"{expected.newly_known:,}"
    assert metric(at, "Events") == f"{expected.events:,}"
    assert metric(at, "Conversions") == f"{expected.conversions:,}"
    assert number(metric(at, "Revenue")) == expected.revenue
    # The journeys table: the same people, their conversions and revenue add up to the KPIs.
    tabs = " ".join(t.label for t in at.tabs)
    assert f"People ({people:,})" in tabs
    assert f"Events ({expected.events:,})" in tabs
    shown = table(at, "campaign.people")
    assert sorted(shown[c.EMAIL]) == expected.people
    assert int(shown[an.CONVERSIONS].sum()) == expected.conversions
    assert float(shown[c.REVENUE].sum()) == pytest.approx(expected.revenue)
    assert sorted(shown.loc[shown[an.CONVERSIONS] > 0, c.EMAIL]) == expected.converters
    # The CSV: every event of the same people (its button says so too).
    csv = pl.read_csv(downloads["campaign.csv"])
    assert csv.height == expected.events
    assert sorted(csv[c.EMAIL].unique()) == expected.people
    assert csv[c.EVENT_ID].n_unique() == csv.height  # the duplicate event id once
    label = next(b.label for b in at.download_button if "journeys" in b.label)
    assert f"({expected.events:,} rows, {people:,} people)" in label
    # The CSV holds the newly known people's earlier journeys, purchases too (ben's on 07-21);
    # no figure counts that one: its purchases since the start are the key figure's (any time
    # when scoped), and the channel and campaign tables add up to the key figures.
    purchases = csv.filter(pl.col(c.EVENT_TYPE) == "purchase")
    since_start = purchases.filter(pl.col(c.OCCURRED_AT).str.slice(0, 10) >= k.START)
    assert purchases.height == since_start.height + 1
    any_time = k.ANY_TIME_FILTERED if params else (expected.conversions, expected.revenue)
    assert since_start.height == any_time[0]
    assert since_start[c.REVENUE].sum() == pytest.approx(any_time[1])
    for column in (c.CHANNEL, c.SESSION_CAMPAIGN):
        split = table_with(at, column)
        assert int(split[an.CONVERSIONS].sum()) == expected.conversions
        assert float(split[c.REVENUE].sum()) == pytest.approx(expected.revenue)
    # The funnel, everyone, page view then purchase: those with a page view since the start,
    # and all of them bought within 30 days (the converters who had a page view).
    pick_funnel(at, fn.ALL_PEOPLE, ["page_view", "purchase"])
    assert funnel_people(at) == [expected.funnel_first, expected.funnel_last]


@pytest.mark.parametrize("route", ROUTES)
def test_funnel_defaults_have_no_sign_up_cliff(page: Callable[..., AppTest], route: str) -> None:
    at = page("campaign", route)
    # Newly known (the default): ben did all three steps; fay has no page view since the start.
    assert at.radio(key="funnel.who").value == fn.NEWLY_KNOWN
    assert funnel_people(at) == [1, 1, 1]
    # Previously known signed up before the start: no Sign-up step, so no cliff at step 2.
    # ann, cara, dan viewed a page; only ann added to cart, and she bought.
    pick_funnel(at, fn.PREVIOUSLY_KNOWN)
    shown = funnel_table(at)
    assert shown["Step"].tolist() == ["1. Page view", "2. Add to cart", "3. Purchase"]
    assert funnel_people(at) == [3, 1, 1]
    assert "None" not in shown.to_string()
    assert not shown.isna().any().any()
    # Everyone: the 4 with a page view since the start + eve (no page view) + fay (no event
    # since the start) are the cohort of 6.
    pick_funnel(at, fn.ALL_PEOPLE, ["page_view", "purchase"])
    assert funnel_people(at)[0] + 2 == len(k.EXPECTED.people)


# --------------------------------------------------------------------------- attribution


@pytest.mark.parametrize("route", ROUTES)
def test_attribution_agrees_with_the_campaign_page(
    page: Callable[..., AppTest], route: str
) -> None:
    at = page("attribution", route)
    expected = k.EXPECTED
    assert metric(at, "People in the cohort") == f"{len(expected.people):,}"
    assert metric(at, "Converted") == f"{len(expected.converters):,}"
    assert metric(at, "Conversions") == f"{expected.attribution_conversions:,}"
    assert number(metric(at, "Revenue")) == expected.revenue
    # Time to convert from the first touch in the lookback, not from the start date: cara's
    # newsletter click on 07-25 came 9 days before her purchase on 08-03 (known since 05-01).
    open_tab(at, TIME_TABS, "Per person")
    ok(at)
    per_person = table_with(at, "days_from_first_touch").set_index(c.EMAIL)
    assert sorted(per_person.index) == expected.converters
    assert per_person.loc["cara@example.com", "days_from_first_touch"] == pytest.approx(
        9 + 10 / 1440
    )
    assert per_person.loc["cara@example.com", "days_from_known"] == pytest.approx(94 + 10 / 1440)
    # ben's journey began with the anonymous ad click before the start (23 days).
    assert per_person.loc["ben@example.com", "days_from_first_touch"] == pytest.approx(
        23 + 5 / 1440
    )


@pytest.mark.parametrize("route", ROUTES)
def test_filtered_attribution_counts_the_same_people(
    page: Callable[..., AppTest], route: str
) -> None:
    at = page("attribution", route, **FILTERED)
    expected = k.EXPECTED_FILTERED
    assert metric(at, "People in the cohort") == f"{len(expected.people):,}"
    assert metric(at, "Converted") == f"{len(expected.converters):,}"


@pytest.mark.parametrize("route", ROUTES)
def test_filtered_attribution_scopes_conversions_as_the_campaign_page(
    page: Callable[..., AppTest], route: str
) -> None:
    at = page("attribution", route, **FILTERED)
    expected = k.EXPECTED_FILTERED
    assert metric(at, "Conversions") == f"{expected.attribution_conversions:,}"
    assert number(metric(at, "Revenue")) == expected.revenue


@pytest.mark.parametrize("route", ROUTES)
def test_any_time_figures_by_hand(url: str, route: str) -> None:
    """Beside the scoped figures, the filtered cohort's conversions at any time: dan's
    purchase before his first summer_sale touch too (both routes' loaders)."""
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=k.AS_OF, event_date=k.START)
    key = data.QueryKey.of(query, route=route)
    engine = create_engine(url)
    view, _ = data.campaign(engine, url, key, an.Filters(campaigns=(k.CAMPAIGN,)))
    assert (view.kpis.conversions, view.kpis.revenue) == (3, 210.0)
    assert (view.kpis.conversions_any_time, view.kpis.revenue_any_time) == k.ANY_TIME_FILTERED


# --------------------------------------------------------------------------- the API


def test_the_api_returns_the_campaign_pages_cohort(url: str) -> None:
    """GET the endpoint with the page's inputs: the page's people and events (the CSV's
    rows), and its purchases since the start are the page's conversions."""
    app = create_app(Settings(database_url=url))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        response = client.get(
            PATH, params={"event_date": k.START, "as_of": k.AS_OF, "limit": 10_000}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    rows = body["data"]
    assert body["meta"]["events"] == len(rows) == k.EXPECTED.events
    assert sorted({row[c.EMAIL] for row in rows}) == k.EXPECTED.people
    purchases = [row for row in rows if row[c.EVENT_TYPE] == "purchase"]
    in_period = [row for row in purchases if row[c.OCCURRED_AT][:10] >= k.START]
    assert len(in_period) == k.EXPECTED.conversions == len(purchases) - 1  # not ben's 07-21
    assert sum(row[c.REVENUE] for row in in_period) == pytest.approx(k.EXPECTED.revenue)
