"""The dashboard pages, run in-process with Streamlit's AppTest.

Two small demo warehouses: ``demo_url`` ends on 2022-08-31 (views use ``?as_of=``), ``live_url``
ends now (default views, which look at "now"). Every figure a page shows is compared with
journey_core for the same parameters.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pandas as pd
import polars as pl
import pytest
from streamlit.delta_generator import DeltaGenerator
from streamlit.testing.v1 import AppTest

from journey_cli.commands import main as journey_cli
from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.analytics import funnel as fn
from journey_core.io.demo import build_demo
from journey_core.progress import Progress
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys, local_file, safe_url
from journey_core.warehouse.figures import STEP_EVENTS
from journey_ui import components as ui
from journey_ui import data
from journey_ui.cache import ByteCache
from tests.support.markdown import displayed
from tests.support.process import held_file
from tests.support.scenario import load, scenario

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
AS_OF = "2022-08-31T00:00:00Z"
AS_OF_DT = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
CAMPAIGN_DATE = "2022-08-01"
CAMPAIGN_LINK = {"event_date": ["2022-07-31"], "end": ["2022-08-30"]}  # 30 days to the last one


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A demo warehouse whose last events are a few minutes old."""
    url = f"duckdb:///{tmp_path_factory.mktemp('live') / 'live.duckdb'}"
    build_demo(url, individuals=300, seed=11, end=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    return url


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """``app(url, page=None, **query_params)``: the dashboard, run once, on ``url``."""
    for key in ("JOURNEY_TIMEZONE", "JOURNEY_LOOKBACK_DAYS", "JOURNEY_RECENT_HOURS"):
        monkeypatch.delenv(key, raising=False)

    def make(url: str, page: str | None = None, **params: str | list[str]) -> AppTest:
        monkeypatch.setenv("JOURNEY_DATABASE_URL", url)
        at = AppTest.from_file(str(APP), default_timeout=60)
        if page is not None:
            at.run()
            at.switch_page(f"app_pages/{page}.py")
        for key, value in params.items():
            at.query_params[key] = value
        return at.run()

    return make


def ok(at: AppTest) -> None:
    """No exception and no error box."""
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def charts_count(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first table that has ``column``."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def errors(at: AppTest) -> str:
    """The error boxes' text as the user reads it (quoted input is escaped Markdown)."""
    assert not at.exception, [e.message for e in at.exception]
    return displayed(" ".join(e.value for e in at.error))


def journeys(url: str, **params: Any) -> pl.DataFrame:
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=AS_OF, **params)
    return fetch_journeys(create_engine(url), query).frame


def fmt(n: float) -> str:
    return f"{n:,.0f}" if isinstance(n, int) or n >= 10_000 else f"{n:,.2f}"


def cli_export(url: str, tmp_path: Path, *args: str) -> bytes:
    out = tmp_path / "export.csv"
    assert journey_cli(["export", "--db", url, "--as-of", AS_OF, "--output", str(out), *args]) == 0
    return out.read_bytes()


# --------------------------------------------------------------------------- recent activity


def test_recent_default_view(app: Callable[..., AppTest], live_url: str) -> None:
    at = app(live_url)
    ok(at)
    assert at.title[0].value == "Recent activity"
    assert {"Known people active", "Events", "Conversions", "Revenue (USD)"} <= set(metrics(at))
    assert int(metrics(at)["Events"].replace(",", "")) > 0
    assert charts_count(at) == 3  # per hour by channel, top campaigns, top source / medium
    deltas = [m.delta for m in at.metric if m.delta]
    assert deltas
    assert all(d.endswith(" vs previous 24 h") for d in deltas), deltas
    assert "Top source / medium" in [s.value for s in at.subheader]
    banner = " ".join(m.value for m in at.markdown)
    assert "Connected to the warehouse" in banner
    assert "events" in banner
    assert at.toggle(key="as_of.live").value is True
    assert "as_of" not in at.query_params
    assert at.download_button[0].label.startswith("Download journeys as CSV")


def test_sidebar_names_the_warehouse_file_in_full(
    app: Callable[..., AppTest], live_url: str
) -> None:
    """The sidebar names a DuckDB file by its name (its whole URL broke mid-word there, as
    "demo.duckd / b"); the whole URL is in the caption's help."""
    at = app(live_url)
    ok(at)
    path = local_file(live_url)
    assert path is not None
    [caption] = [c for c in at.sidebar.caption if "events" in c.value]
    assert caption.value.endswith(f"\n`{path.name}`")
    assert safe_url(live_url) not in caption.value
    assert caption.help == f"Connected to `{safe_url(live_url)}`"


def test_recent_as_of_in_url_matches_core(app: Callable[..., AppTest], demo_url: str) -> None:
    at = app(demo_url, as_of=AS_OF)
    ok(at)
    frame = journeys(demo_url)
    people = frame[c.EMAIL].n_unique()
    got = metrics(at)
    assert got["Known people active"] == f"{people:,}"
    assert got["Events"] == f"{frame.height:,}"
    assert got["Conversions"] == f"{frame.filter(pl.col(c.EVENT_TYPE) == 'purchase').height:,}"
    assert got["Revenue (USD)"] == fmt(float(frame[c.REVENUE].fill_null(0).sum()))
    assert at.toggle(key="as_of.live").value is False
    assert at.query_params["as_of"] == AS_OF
    label = at.download_button[0].label
    assert f"{frame.height:,} row" in label
    assert f"{people:,} " in label


def test_recent_empty_window_says_why(app: Callable[..., AppTest], demo_url: str) -> None:
    at = app(demo_url)  # live "now" is years after this warehouse ends
    ok(at)
    text = " ".join(i.value for i in at.info)
    assert "No known individual was active" in text
    assert "open this page as of that day" in text
    assert charts_count(at) == 0


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        pytest.param(None, {"as_of": [AS_OF]}, id="recent"),
        pytest.param("campaign", {**CAMPAIGN_LINK, "as_of": [AS_OF]}, id="campaign"),
        pytest.param("attribution", {**CAMPAIGN_LINK, "as_of": [AS_OF]}, id="attribution"),
    ],
)
def test_a_warehouse_that_ends_before_the_window_links_to_its_last_day(
    app: Callable[..., AppTest], demo_url: str, page: str | None, expected: dict[str, list[str]]
) -> None:
    # Live "now" is years after this warehouse's last event (30 Aug 2022 23:24 UTC): a later
    # as-of time cannot help, so the empty state links to this page as of that day's end.
    at = app(demo_url, page)
    ok(at)
    text = " ".join(i.value for i in at.info)
    assert "The warehouse's last event is on 30 Aug 2022" in text
    assert "later as-of" not in text
    link = re.search(r"\]\(\?([^)]*)\)", text)
    assert link is not None, text
    assert parse_qs(link.group(1)) == expected
    followed = app(demo_url, page, **{k: v[0] for k, v in expected.items()})
    ok(followed)
    assert not followed.info, [i.value for i in followed.info]
    assert not followed.warning, [w.value for w in followed.warning]
    assert metrics(followed)
    assert "partial" not in " ".join(c.value for c in followed.caption)  # whole days


def test_a_pinned_as_of_before_the_data_asks_for_a_later_one(
    app: Callable[..., AppTest], demo_url: str
) -> None:
    at = app(demo_url, "campaign", as_of="2021-06-02T00:00:00Z", event_date="2021-06-01")
    ok(at)
    text = " ".join(i.value for i in at.info)
    assert "No known individual" in text
    assert "Pick a later as-of time in the sidebar" in text
    assert "up to 30 Aug 2022" in text


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        pytest.param("yesterday-ish", "is not an ISO-8601 timestamp", id="malformed"),
        pytest.param("2999-01-01T00:00:00Z", "is in the future", id="future"),
    ],
)
def test_bad_as_of_names_the_field(
    app: Callable[..., AppTest], demo_url: str, as_of: str, message: str
) -> None:
    at = app(demo_url, as_of=as_of)
    text = errors(at)
    assert "**As of**" in text
    assert message in text
    assert charts_count(at) == 0


# --------------------------------------------------------------------------- customer lookup


def test_customer_default_view_offers_people(app: Callable[..., AppTest], live_url: str) -> None:
    at = app(live_url, page="customer")
    ok(at)
    assert "Enter an email" in at.info[0].value
    suggestions = [b for b in at.button if b.key and b.key.startswith("customer.try.")]
    assert suggestions
    suggestions[0].click().run()
    ok(at)
    email = displayed(suggestions[0].label)
    assert at.query_params["email"] == email
    assert charts_count(at) == 1


def test_customer_email_from_url(app: Callable[..., AppTest], demo_url: str) -> None:
    email = journeys(demo_url, event_date=CAMPAIGN_DATE)[c.EMAIL][0]
    at = app(demo_url, page="customer", email=email.upper(), as_of=AS_OF)
    ok(at)
    frame = journeys(demo_url, email=email)
    profile = an.profile(frame)
    assert profile is not None
    got = metrics(at)
    assert got["Devices"] == str(profile.devices)
    assert got["Visits"] == str(profile.sessions)
    assert got["Touches before known"] == str(profile.touches_before_known)
    assert got["Orders"] == str(profile.orders)
    assert charts_count(at) == 1
    assert at.text_input(key="customer.email").value == email.upper()
    assert f"{frame.height:,} row" in at.download_button[0].label


def test_customer_typed_email_goes_to_url(app: Callable[..., AppTest], demo_url: str) -> None:
    email = journeys(demo_url)[c.EMAIL][0]
    at = app(demo_url, page="customer", as_of=AS_OF)
    at.text_input(key="customer.email").set_value(f"  {email} ").run()
    ok(at)
    assert at.query_params["email"] == email
    assert charts_count(at) == 1
    at.segmented_control(key="customer.lane").set_value("channel").run()
    ok(at)
    assert at.query_params["lane"] == "channel"


def test_customer_invalid_email(app: Callable[..., AppTest], demo_url: str) -> None:
    at = app(demo_url, page="customer", email="not-an-email", as_of=AS_OF)
    text = errors(at)
    assert "**Email**" in text
    assert "name@example.com" in text
    assert charts_count(at) == 0


def test_customer_unknown_email(app: Callable[..., AppTest], demo_url: str) -> None:
    at = app(demo_url, page="customer", email="nobody@example.com", as_of=AS_OF)
    ok(at)
    text = displayed(" ".join(i.value for i in at.info))
    assert "No known individual has the email nobody@example.com" in text
    assert "Check the spelling" in text


# --------------------------------------------------------------------------- campaign influence


def test_campaign_default_view(app: Callable[..., AppTest], live_url: str) -> None:
    at = app(live_url, page="campaign")
    ok(at)
    expected = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).date()
    picked = at.date_input(key="campaign.event_date").value
    assert isinstance(picked, dt.date)
    assert picked in {expected, expected + dt.timedelta(days=1)}
    assert at.query_params["event_date"] == picked.isoformat()
    assert {"Known people active", "Newly known", "Events", "Conversions", "Revenue (USD)"} <= set(
        metrics(at)
    )
    assert charts_count(at) == 4  # trend, channels, campaigns, funnel


@pytest.mark.parametrize(
    "route",
    [
        pytest.param("auto", id="small-file-polars"),
        pytest.param("warehouse", id="warehouse-in-steps"),
    ],
)
def test_campaign_date_in_url_matches_core(
    app: Callable[..., AppTest], demo_url: str, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    monkeypatch.setattr(data, "CACHE", ByteCache(max_bytes=2**28))  # nothing computed yet
    heard: list[tuple[str, float]] = []
    drawn = ui.progress_bar

    def listening(bar: DeltaGenerator) -> Progress:
        show = drawn(bar)

        def both(step: str, done: float) -> None:
            heard.append((step, done))
            show(step, done)

        return both

    monkeypatch.setattr(ui, "progress_bar", listening)
    monkeypatch.setenv("JOURNEY_FIGURES_ROUTE", route)
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(at)
    frame = journeys(demo_url, event_date=CAMPAIGN_DATE)
    start = dt.datetime(2022, 8, 1, tzinfo=dt.UTC)
    k = an.kpis(frame, since=start)
    got = metrics(at)
    assert got["Known people active"] == f"{k.people:,}"
    assert got["Newly known"] == f"{k.newly_known:,}"
    assert got["Events"] == f"{k.events:,}"
    assert got["Conversions"] == f"{k.conversions:,}"
    assert got["Revenue (USD)"] == fmt(k.revenue)
    tables = {df.key: df.value for df in at.dataframe}
    people = tables["campaign.people"]
    assert len(people) == frame[c.EMAIL].n_unique()
    spec = fn.FunnelSpec(steps=fn.NEWLY_KNOWN_STEPS, since=start, who=fn.NEWLY_KNOWN)
    funnel = fn.funnel(an.with_sessions(frame), spec)
    assert table_with(at, "Step")["People"].tolist() == funnel[an.PEOPLE].to_list()
    # shares in percent, as every percentage the page shows (format "percent" showed
    # "55.59%" beside "34%")
    shown = table_with(at, c.SHARE)[c.SHARE].tolist()
    wanted = an.touchpoints_before_known(frame, newly_known_since=start)[c.SHARE] * 100
    assert shown == pytest.approx(wanted.to_list())
    assert 50 < shown[0] <= 100
    if route == "warehouse":  # a memory-limited file: the cohort is built in steps
        assert heard[0] == (STEP_EVENTS, 0.0), "the cohort's steps are shown as they run"
        assert heard[-1][1] == 1.0
    else:
        assert heard == []
    assert not at.get("progress"), "and their bar is gone once the page is drawn"


def test_campaign_pick_a_date(app: Callable[..., AppTest], demo_url: str) -> None:
    at = app(demo_url, page="campaign", as_of=AS_OF)
    ok(at)
    at.date_input(key="campaign.event_date").set_value(dt.date(2022, 8, 15)).run()
    ok(at)
    assert at.query_params["event_date"] == "2022-08-15"
    frame = journeys(demo_url, event_date="2022-08-15")
    assert metrics(at)["Events"] == f"{frame.height:,}"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("2022-13-45", "is not a real calendar date", id="not-a-date"),
        pytest.param("01/08/2022", "YYYY-MM-DD", id="wrong-form"),
        pytest.param("2099-01-01", "is after the as-of date", id="future"),
    ],
)
def test_campaign_bad_date(
    app: Callable[..., AppTest], demo_url: str, value: str, message: str
) -> None:
    at = app(demo_url, page="campaign", event_date=value, as_of=AS_OF)
    text = errors(at)
    assert "**Campaign start date**" in text
    assert message in text
    assert charts_count(at) == 0
    assert at.query_params["event_date"] == value  # the link still shows what was asked


def test_campaign_malformed_date_recovers_when_picked(
    app: Callable[..., AppTest], demo_url: str
) -> None:
    at = app(demo_url, page="campaign", event_date="2022-13-45", as_of=AS_OF)
    assert at.error
    at.date_input(key="campaign.event_date").set_value(dt.date(2022, 8, 1)).run()
    ok(at)
    assert at.query_params["event_date"] == "2022-08-01"
    assert charts_count(at) == 4


def test_campaign_filters_restore_from_url(app: Callable[..., AppTest], demo_url: str) -> None:
    at = app(
        demo_url,
        page="campaign",
        event_date=CAMPAIGN_DATE,
        as_of=AS_OF,
        channel="Email",
    )
    ok(at)
    assert at.multiselect(key="campaign.channel").value == ["Email"]
    frame = journeys(demo_url, event_date=CAMPAIGN_DATE)
    kept = an.filter_people(an.with_sessions(frame), an.Filters(channels=("Email",)))
    assert (
        metrics(at)["Known people active"]
        == f"{an.kpis(kept, since=dt.datetime(2022, 8, 1, tzinfo=dt.UTC)).people:,}"
    )
    at.multiselect(key=f"funnel.steps.{fn.NEWLY_KNOWN}").set_value(["page_view", "purchase"]).run()
    ok(at)
    assert table_with(at, "Step")["Step"].tolist() == ["1. Page view", "2. Purchase"]
    # changing a filter updates the URL; clearing it removes the parameter
    at.multiselect(key="campaign.channel").set_value([]).run()
    ok(at)
    assert "channel" not in at.query_params
    at.multiselect(key="campaign.campaign").set_value(["summer_sale_email"]).run()
    ok(at)
    assert at.query_params["campaign"] == "summer_sale_email"


def test_campaign_filters_matching_nobody(app: Callable[..., AppTest], demo_url: str) -> None:
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF, campaign="no_such")
    ok(at)
    assert "Nobody matches these filters" in at.info[0].value
    assert "Remove some filters" in at.info[0].value


def test_campaign_needs_two_funnel_steps(app: Callable[..., AppTest], demo_url: str) -> None:
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    at.multiselect(key=f"funnel.steps.{fn.NEWLY_KNOWN}").set_value(["purchase"]).run()
    text = errors(at)
    assert "**Funnel steps**" in text
    assert "at least two" in text
    assert charts_count(at) == 3  # the rest of the page stays: trend, channels, campaigns


def test_picking_a_person_opens_the_customer_lookup(
    app: Callable[..., AppTest], demo_url: str
) -> None:
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    people = {df.key: df.value for df in at.dataframe}["campaign.people"]
    at.session_state["campaign.people"] = {"selection": {"rows": [2], "columns": [], "cells": []}}
    at.run()
    ok(at)
    assert at.title[0].value == "Customer lookup"
    assert at.query_params["email"] == people["email"].iloc[2]
    assert at.query_params["as_of"] == AS_OF
    assert charts_count(at) == 1


# --------------------------------------------------------------------------- errors of the setup


def test_missing_warehouse_file(app: Callable[..., AppTest], tmp_path: Path) -> None:
    at = app(f"duckdb:///{tmp_path / 'missing.duckdb'}")
    text = errors(at)
    assert "**Warehouse**" in text
    assert "does not exist" in text
    assert "journey demo" in text


def test_a_file_being_written_says_so(app: Callable[..., AppTest], tmp_path: Path) -> None:
    """A page opened while another process writes the file (``journey demo`` building it)
    names that process and says to wait, not to check the URL."""
    path = tmp_path / "warehouse.duckdb"
    load(f"duckdb:///{path}", scenario(individuals=5))
    with held_file(path) as pid:
        text = errors(app(f"duckdb:///{path}", page="campaign"))
    assert "**Warehouse**" in text
    assert f"is being written by another process (PID {pid})" in text
    assert "Try again once it has finished" in text


def test_warehouse_without_tables(app: Callable[..., AppTest], tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    at = app(f"duckdb:///{path}")
    text = errors(at)
    assert "**Warehouse**" in text
    assert "events" in text


def test_bad_timezone_setting(
    app: Callable[..., AppTest], demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNEY_TIMEZONE", "Mars/Base")
    at = app(demo_url)
    text = errors(at)
    assert "**Configuration**" in text
    assert "JOURNEY_TIMEZONE" in text


def test_a_file_path_for_the_warehouse_names_the_url_it_meant(
    app: Callable[..., AppTest], tmp_path: Path
) -> None:
    path = tmp_path / "shop.duckdb"
    at = app(str(path))
    text = errors(at)
    assert "**Configuration**" in text
    assert f"JOURNEY_DATABASE_URL: {path} is a file path, not a database URL" in text
    assert f"use duckdb:///{path}" in text
    assert not at.exception
    assert not path.exists()


def test_first_run_builds_the_demo_warehouse(
    app: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JOURNEY_DATABASE_URL", raising=False)
    monkeypatch.setattr(
        "journey_ui.shell.build_demo", functools.partial(build_demo, individuals=200)
    )
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    ok(at)
    assert (tmp_path / "data" / "demo.duckdb").exists()
    assert "embedded demo warehouse" in " ".join(m.value for m in at.markdown)
    assert int(metrics(at)["Events"].replace(",", "")) > 0


# --------------------------------------------------------------------------- CSV bytes


@pytest.mark.parametrize(
    ("params", "args"),
    [
        pytest.param({}, [], id="recent"),
        pytest.param({"email": "EMAIL"}, ["--email", "EMAIL"], id="customer"),
        pytest.param({"event_date": CAMPAIGN_DATE}, ["--event-date", CAMPAIGN_DATE], id="campaign"),
    ],
)
def test_csv_equals_journey_export(
    demo_url: str, tmp_path: Path, params: dict[str, Any], args: list[str]
) -> None:
    email = journeys(demo_url)[c.EMAIL][0]
    params = {k: (email if v == "EMAIL" else v) for k, v in params.items()}
    args = [email if a == "EMAIL" else a for a in args]
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=AS_OF, **params)
    loaded = data.load_rows(create_engine(demo_url), data.QueryKey.of(query))
    page_csv = data.build_csv(loaded.rows)
    assert page_csv == cli_export(demo_url, tmp_path, *args)
    assert page_csv.count(b"\n") == loaded.rows.height + 1


def test_filtered_csv_is_the_export_of_the_kept_people(demo_url: str, tmp_path: Path) -> None:
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=AS_OF, event_date=CAMPAIGN_DATE)
    loaded = data.load_rows(create_engine(demo_url), data.QueryKey.of(query))
    filters = an.Filters(channels=("Paid Search",), event_types=("purchase",))
    page_csv = data.build_csv(loaded.rows, filters)
    exported = pl.read_csv(
        cli_export(demo_url, tmp_path, "--event-date", CAMPAIGN_DATE), infer_schema=False
    )
    kept = an.filter_people(loaded.rows, filters)[c.EMAIL].unique()
    expected = exported.filter(pl.col(c.EMAIL).is_in(kept.implode()))
    assert 0 < expected.height < exported.height
    got = pl.read_csv(page_csv, infer_schema=False)
    assert got.equals(expected)


def test_as_of_keeps_the_exact_time_of_the_link(app: Callable[..., AppTest], demo_url: str) -> None:
    exact = "2022-08-30T12:34:56Z"
    at = app(demo_url, as_of=exact)
    ok(at)
    assert at.query_params["as_of"] == exact
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=exact)
    frame = fetch_journeys(create_engine(demo_url), query).frame
    assert metrics(at)["Events"] == f"{frame.height:,}"
    # the permalink carries the page, its inputs and the as-of time
    at.switch_page("app_pages/campaign.py")
    at.query_params["event_date"] = CAMPAIGN_DATE
    at.run()
    ok(at)
    link = next(m.value for m in at.markdown if "Link to this exact view" in m.value)
    assert f"event_date={CAMPAIGN_DATE}" in link
    assert "as_of=2022-08-30T12%3A34%3A56Z" in link


def test_live_toggle_off_pins_a_time(app: Callable[..., AppTest], live_url: str) -> None:
    at = app(live_url)
    at.toggle(key="as_of.live").set_value(False).run()
    ok(at)
    pinned = at.query_params["as_of"]
    assert dt.datetime.fromisoformat(pinned.replace("Z", "+00:00")) <= dt.datetime.now(dt.UTC)
    at.toggle(key="as_of.live").set_value(True).run()
    ok(at)
    assert "as_of" not in at.query_params


def test_refresh_to_now(app: Callable[..., AppTest], live_url: str) -> None:
    at = app(live_url)
    before = at.session_state["journey.now"]
    at.button(key="as_of.refresh").click().run()
    ok(at)
    assert at.session_state["journey.now"] >= before
    assert at.session_state["journey.now"].second == 0


def test_pages_follow_the_configured_timezone(
    app: Callable[..., AppTest], demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNEY_TIMEZONE", "America/New_York")
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(at)
    query = JourneyQuery.build(
        now=dt.datetime.now(dt.UTC),
        as_of=AS_OF,
        event_date=CAMPAIGN_DATE,
        timezone="America/New_York",
    )
    frame = fetch_journeys(create_engine(demo_url), query).frame
    assert query.start is not None
    assert metrics(at)["Events"] == f"{frame.height:,}"
    assert metrics(at)["Newly known"] == f"{an.kpis(frame, since=query.start).newly_known:,}"
    assert at.datetime_input(key="as_of.value").label == "As-of time (America/New_York)"
    # 2022-08-31 00:00 UTC is 2022-08-30 20:00 in New York
    assert at.datetime_input(key="as_of.value").value == dt.datetime(2022, 8, 30, 20, 0)


def test_attribution_page_is_in_the_navigation(app: Callable[..., AppTest], demo_url: str) -> None:
    """The Attribution page has the sidebar's as-of control; a linked day is its last moment."""
    at = app(demo_url, page="attribution", event_date=CAMPAIGN_DATE, as_of="2022-08-31")
    ok(at)
    assert at.title[0].value == "Attribution"
    assert at.query_params["as_of"] == "2022-08-31T23:59:59.999999Z"
    assert at.toggle(key="as_of.live").value is False


def test_a_page_runs_only_inside_the_app(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages take their context from app.py; run alone, one says how to start the app."""
    monkeypatch.setenv("JOURNEY_DATABASE_URL", demo_url)
    at = AppTest.from_file(str(ROOT / "app_pages" / "campaign.py"), default_timeout=60).run()
    assert not at.exception
    assert "streamlit run app.py" in errors(at)
    assert not at.metric


def test_channel_file_groups_the_dashboard(
    app: Callable[..., AppTest], demo_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """JOURNEY_CHANNELS_FILE (the Attribution page's grouping) also groups the dashboard."""
    rules = tmp_path / "channels.toml"
    rules.write_text('[[rules]]\nchannel = "Newsletters"\nsource = ["newsletter"]\n')
    monkeypatch.setenv("JOURNEY_CHANNELS_FILE", str(rules))
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(at)
    channels = table_with(at, c.CHANNEL)
    assert "Newsletters" in channels[c.CHANNEL].tolist()
