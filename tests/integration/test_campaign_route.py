"""The Campaign influence and Recent activity pages on the warehouse route (issue 12).

Their figures, one page of people, the newest events and the filter options are computed in
the warehouse (:mod:`journey_core.warehouse.figures`, :mod:`journey_core.warehouse.pages`);
the CSV streams into a file. Here: the page against the rule, the oracle and `journey export`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest
import streamlit as st
from polars.testing import assert_frame_equal
from streamlit.testing.v1 import AppTest

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.analytics import funnel as fn
from journey_core.errors import WarehouseError
from journey_core.io.demo import build_demo
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, figures
from journey_core.warehouse import pages as wp
from journey_core.warehouse.figures import period_queries
from journey_core.warehouse.native import count_journeys
from journey_ui import data, sections
from journey_ui.cache import ByteCache
from journey_ui.format import fmt_change
from tests.integration.test_pages import (
    AS_OF,
    AS_OF_DT,
    CAMPAIGN_DATE,
    app,
    charts_count,
    cli_export,
    fmt,
    journeys,
    metrics,
    ok,
    table_with,
)
from tests.support.postgres import PostgresServer

__all__ = ["app"]  # the fixture, used by name below

START = dt.datetime(2022, 8, 1, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache of its own per test (pages of another size must not be found)."""
    monkeypatch.setattr(data, "CACHE", ByteCache(max_bytes=2**28))


def _key(**params: Any) -> data.QueryKey:
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=AS_OF, **params)
    return data.QueryKey.of(query, mask_pii=params.pop("mask_pii", False))


@pytest.mark.parametrize(
    ("params", "args", "mask"),
    [
        pytest.param({}, [], False, id="recent"),
        pytest.param(
            {"event_date": CAMPAIGN_DATE}, ["--event-date", CAMPAIGN_DATE], False, id="campaign"
        ),
        pytest.param(
            {"event_date": CAMPAIGN_DATE},
            ["--event-date", CAMPAIGN_DATE, "--mask-pii"],
            True,
            id="campaign-masked",
        ),
    ],
)
def test_streamed_csv_equals_journey_export(
    demo_url: str, tmp_path: Path, params: dict[str, Any], args: list[str], mask: bool
) -> None:
    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=AS_OF, **params)
    key = data.QueryKey.of(query, mask_pii=mask)
    made = data.csv_file(create_engine(demo_url), demo_url, key, an.Filters())
    got = made.read()
    assert made.closed  # read once, then closed; the file was unlinked when made
    assert got == cli_export(demo_url, tmp_path, *args)
    assert got.count(b"\n") > 100


def test_streamed_filtered_csv_equals_the_polars_csv(demo_url: str) -> None:
    engine = create_engine(demo_url)
    key = _key(event_date=CAMPAIGN_DATE)
    filters = an.Filters(channels=("Paid Search",), event_types=("purchase",))
    expected = data.build_csv(data.load_rows(engine, key).rows, filters)
    got = data.csv_file(engine, demo_url, key, filters).read()
    assert got == expected
    everyone = data.csv_file(engine, demo_url, key, an.Filters()).read()
    assert 0 < got.count(b"\n") < everyone.count(b"\n")


def test_page_views_equal_the_polars_reports(demo_url: str) -> None:
    engine = create_engine(demo_url)
    key = _key(event_date=CAMPAIGN_DATE)
    filters = an.Filters(channels=("Email",))
    rows = data.load_rows(engine, key).rows
    expected = an.campaign_report(rows, start=START, end=key.as_of, filters=filters)
    view, message = data.campaign(engine, demo_url, key, filters)
    assert message is None
    assert view.kpis.events == expected.kpis.events == view.total_rows
    assert_frame_equal(view.people.frame, expected.people, check_exact=False, rel_tol=1e-12)
    assert view.people.total == expected.people.height
    assert_frame_equal(view.preview, expected.preview.select(list(wp.PREVIEW_SCHEMA)))
    assert data.campaign_options(engine, demo_url, key) == an.filter_options(rows)
    recent_key = _key()
    recent, _ = data.recent(engine, demo_url, recent_key)
    recent_rows = data.load_rows(engine, recent_key).rows
    assert recent.people.total == recent_rows.get_column(c.EMAIL).n_unique() > 0
    assert recent.kpis.people == recent.people.total


def test_known_people_active_is_everyone_in_the_table_and_the_csv(
    app: Callable[..., AppTest], demo_url: str
) -> None:
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(at)
    key = _key(event_date=CAMPAIGN_DATE)
    engine = create_engine(demo_url)
    _, individuals = count_journeys(engine, key.query())
    csv = pl.read_csv(data.csv_file(engine, demo_url, key, an.Filters()).read())
    assert metrics(at)["Known people active"] == f"{individuals:,}"
    assert csv[c.EMAIL].n_unique() == individuals
    assert f"People ({individuals:,})" in " ".join(t.label for t in at.tabs)


def test_people_table_pages(
    app: Callable[..., AppTest], demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wp, "PAGE_ROWS", 40)
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(at)
    frame = an.people_table(
        an.with_sessions(journeys(demo_url, event_date=CAMPAIGN_DATE)), since=START
    )
    assert frame.height > 80  # three pages at least
    shown = {df.key: df.value for df in at.dataframe}["campaign.people"]
    assert shown[c.EMAIL].tolist() == frame[c.EMAIL].head(40).to_list()
    captions = " ".join(x.value for x in at.caption)
    assert f"Showing people 1 to 40 of {frame.height:,}" in captions
    at.number_input(key="campaign.people.page").set_value(2).run()
    ok(at)
    shown = {df.key: df.value for df in at.dataframe}["campaign.people"]
    assert shown[c.EMAIL].tolist() == frame[c.EMAIL].slice(40, 40).to_list()
    assert f"Showing people 41 to 80 of {frame.height:,}" in " ".join(x.value for x in at.caption)


# --------------------------------------------------------------------------- issue 13


def _oracle(url: str, filters: an.Filters) -> an.CampaignReport:
    """The page's figures by the Polars oracle: the period up to the as-of time and the
    previous period of as many days, with the page's filters."""
    engine = create_engine(url)
    key = _key(event_date=CAMPAIGN_DATE)
    period, earlier = period_queries(key.query(), end=key.as_of)  # the page's period
    return an.campaign_report(
        data.load_rows(engine, key.of_query(period)).rows,
        start=START,
        end=period.as_of,
        filters=filters,
        previous=data.load_rows(engine, key.of_query(earlier)).rows,
    )


def _deltas(at: AppTest) -> dict[str, str | None]:
    return {m.label: m.delta for m in at.metric}


@pytest.fixture(scope="module")
def pg_demo_url() -> Iterator[str]:
    """The small seeded demo (``demo_url``'s rows) in a PostgreSQL database of its own."""
    with PostgresServer() as pg:
        pg.execute_admin("CREATE DATABASE demo")
        url = pg.admin_url("demo")
        build_demo(url, individuals=300, seed=7, end=AS_OF_DT)
        yield url


@pytest.mark.postgres
def test_the_page_on_postgres_computes_each_period_s_cohort_once(
    app: Callable[..., AppTest], pg_demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without a held cohort every widget ran the rule again in its own statement: the 10M
    # demo's page did not finish in 27 minutes on PostgreSQL (bench/RESULTS.md).
    # A cohort is one statement (touch_rows) or, held on PostgreSQL, two steps (touch_steps).
    calls: list[JourneyQuery] = []
    for built in ("touch_rows", "touch_steps"):
        rule = getattr(figures, built)

        def counted(query: JourneyQuery, *args: Any, rule: Any = rule, **kwargs: Any) -> Any:
            calls.append(query)
            return rule(query, *args, **kwargs)

        monkeypatch.setattr(figures, built, counted)
    at = app(pg_demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(at)
    ran = [(q.start, q.as_of) for q in calls if q.start is not None]  # not the landing page's
    expected = _oracle(pg_demo_url, an.Filters())
    now, before = expected.kpis, expected.previous
    assert before is not None
    shown = metrics(at)
    assert shown["Known people active"] == f"{now.cohort:,}" == f"{expected.cohort_size:,}"
    assert shown["Newly known"] == f"{now.newly_known:,}"
    assert shown["Events"] == f"{now.events:,}"
    assert shown["Conversions"] == f"{now.conversions:,}"
    change = an.relative_change(float(now.events), before.events)
    assert change is not None
    assert _deltas(at)["Events"] == fmt_change(change)
    assert charts_count(at) >= 3
    # The figures, the people table, the filter options and the funnel read one held table
    # per period: the rule ran once for the period and once for the previous period.
    assert len(ran) == 2, ran


def test_every_key_figure_is_compared_with_the_previous_period(
    app: Callable[..., AppTest], demo_url: str
) -> None:
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(at)
    expected = _oracle(demo_url, an.Filters())
    now, before = expected.kpis, expected.previous
    assert before is not None
    pairs = {
        "Known people active": (now.cohort, before.cohort),
        "Newly known": (now.newly_known, before.newly_known),
        "Events": (now.events, before.events),
        "Conversions": (now.conversions, before.conversions),
        "Revenue (USD)": (now.revenue, before.revenue),
    }
    shown = _deltas(at)
    assert set(shown) == set(pairs)  # no any-time figures without a filter
    for name, (value, previous) in pairs.items():
        change = an.relative_change(float(value or 0), previous)
        assert shown[name] == (None if change is None else fmt_change(change)), name
    assert sum(delta is not None for delta in shown.values()) >= 4  # not vacuous
    # One cohort: the key figure is the table's and the CSV's people.
    assert metrics(at)["Known people active"] == f"{now.cohort:,}" == f"{expected.cohort_size:,}"
    captions = " ".join(x.value for x in at.caption)
    # 01 Aug to 30 Aug (the as-of time is midnight of 31 Aug): 30 days, so 02 Jul to 31 Jul.
    assert "previous period of the same length, 02 Jul – 31 Jul 2022" in captions
    helps = {m.label: m.help for m in at.metric}
    assert f"Previous period (02 Jul – 31 Jul 2022): {before.events:,}." in helps["Events"]


def test_the_page_is_drawn_before_the_previous_period_is_asked_for(
    app: Callable[..., AppTest], demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The previous period is a cohort of its own (minutes at 100M events): the page asks
    for it last. Frozen where it is asked for (``st.stop``), the page already shows the
    period's figures, charts, journeys and download, and says the comparison is coming."""
    asked: list[tuple[Any, ...]] = []

    def frozen(*args: Any, **kwargs: Any) -> an.Kpis:
        asked.append(args)
        st.stop()

    monkeypatch.setattr(data, "campaign_previous", frozen)
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(at)
    assert len(asked) == 1
    now = _oracle(demo_url, an.Filters()).kpis
    shown = metrics(at)
    assert shown["Events"] == f"{now.events:,}"
    assert shown["Known people active"] == f"{now.cohort:,}"
    assert not any(_deltas(at).values())  # no change before the previous period's
    captions = " ".join(x.value for x in at.caption)
    assert sections.COMPARING.format(dates="02 Jul – 31 Jul 2022") in captions
    assert "Changes against the previous period of the same length, 02 Jul – 31 Jul 2022, " in (
        captions
    )
    assert "no figures for it" not in captions
    helps = " ".join(m.help or "" for m in at.metric)
    assert "Previous period" not in helps
    assert charts_count(at) >= 3  # the trend, channels and campaigns: drawn already
    assert c.EMAIL in table_with(at, c.EMAIL).columns
    assert len(at.get("download_button")) == 1


def test_a_failed_previous_period_keeps_the_period_s_figures(
    app: Callable[..., AppTest], demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The previous period's cohort failing (out of memory at scale, a lost connection) costs
    the changes only: the figures stay, with the error under them."""

    def failing(*args: Any, **kwargs: Any) -> an.Kpis:
        raise WarehouseError("Cannot read the warehouse: Out of Memory Error (a test).")

    monkeypatch.setattr(data, "campaign_previous", failing)
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    assert not at.exception
    assert [e.value for e in at.error] == [
        "**Warehouse**: Cannot read the warehouse: Out of Memory Error (a test)."
    ]
    now = _oracle(demo_url, an.Filters()).kpis
    assert metrics(at)["Newly known"] == f"{now.newly_known:,}"
    assert not any(_deltas(at).values())
    captions = " ".join(x.value for x in at.caption)
    assert "previous period of the same length, 02 Jul – 31 Jul 2022 (no figures for it)." in (
        captions
    )
    assert "follow once" not in captions


def test_a_touch_filter_shows_scoped_conversions_beside_the_any_time_ones(
    app: Callable[..., AppTest], demo_url: str
) -> None:
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF, channel="Email")
    ok(at)
    k = _oracle(demo_url, an.Filters(channels=("Email",))).kpis
    assert k.conversions_any_time is not None
    assert k.revenue_any_time is not None
    assert k.conversions < k.conversions_any_time  # some purchases came before the touch
    got = metrics(at)
    assert "Conversions" not in got
    assert got["Conversions after a matching touch"] == f"{k.conversions:,}"
    assert got["Conversions, any time"] == f"{k.conversions_any_time:,}"
    assert got["Revenue after a matching touch (USD)"] == fmt(k.revenue)
    assert got["Revenue, any time (USD)"] == fmt(k.revenue_any_time)
    helps = {m.label: m.help for m in at.metric}
    assert "30 days after the person's touch" in helps["Conversions after a matching touch"]
    # An event-type filter alone scopes nothing: the figures stay plain.
    plain = app(
        demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF, event_type="purchase"
    )
    ok(plain)
    assert {"Conversions", "Revenue (USD)"} <= set(metrics(plain))
    assert "Conversions, any time" not in metrics(plain)


def test_the_page_states_who_a_figure_leaves_out(
    app: Callable[..., AppTest], demo_url: str
) -> None:
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(at)
    expected = _oracle(demo_url, an.Filters())
    newly = expected.kpis.newly_known or 0
    spec = fn.FunnelSpec(steps=fn.NEWLY_KNOWN_STEPS, since=START, who=fn.NEWLY_KNOWN)
    rows = an.with_sessions(journeys(demo_url, event_date=CAMPAIGN_DATE))
    first = int(fn.funnel(rows, spec).filter(pl.col(c.STEP) == 1)[c.PEOPLE].sum())
    captions = " ".join(x.value for x in at.caption)
    for exclusion in expected.excluded:
        if exclusion.figure == c.PEOPLE:
            assert exclusion.message in captions
    missing = newly - first
    note = f"{missing:,} of the {newly:,} newly known people did no Page view since the start"
    assert (note in captions) == (missing > 0)


@pytest.mark.parametrize("dimension", [c.SOURCE_MEDIUM, c.KNOWN_STATUS])
def test_the_breakdown_picker_drives_trend_table_and_funnel(
    app: Callable[..., AppTest], demo_url: str, dimension: str
) -> None:
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(at)
    at.selectbox(key="campaign.breakdown").set_value(dimension).run()
    ok(at)
    short = {v: k for k, v in sections.BREAKDOWNS.items()}[dimension]
    assert at.query_params["breakdown"] == short
    rows = an.with_sessions(journeys(demo_url, event_date=CAMPAIGN_DATE))
    table = table_with(at, dimension)  # the key figures per value
    expected = an.breakdown(rows, by=dimension, since=START)
    assert table[dimension].tolist() == expected[dimension].to_list()
    assert table[an.PEOPLE].tolist() == expected[an.PEOPLE].to_list()
    split = an.trend_by(
        rows, by=dimension, start=START, end=AS_OF_DT, since=START, top=data.SPLIT_TOP
    )
    trend = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [trace["name"] for trace in trend["data"]]
    assert names == split[dimension].unique(maintain_order=True).to_list()
    assert len(names) > 1
    # The trend's caption speaks of "(other)" only when smaller values were summed into it.
    captions = " ".join(x.value for x in at.caption)
    assert ("the rest as (other)" in captions) == (an.OTHER in names)
    # The table's conversions add up to the key figure (both count from the start).
    conversions = next(m for m in at.metric if m.label == "Conversions").value
    assert f"{int(table[an.CONVERSIONS].sum()):,}" == conversions
    spec = fn.FunnelSpec(
        steps=fn.NEWLY_KNOWN_STEPS, since=START, who=fn.NEWLY_KNOWN, breakdown=dimension
    )
    funnel = fn.funnel(rows, spec)
    groups = table_with(at, "Step")
    assert groups["Group"].tolist() == funnel[c.GROUP].to_list()
    assert groups["People"].tolist() == funnel[c.PEOPLE].to_list()


def test_the_breakdown_comes_back_from_a_link(app: Callable[..., AppTest], demo_url: str) -> None:
    at = app(
        demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF, breakdown="landing_page"
    )
    ok(at)
    assert at.selectbox(key="campaign.breakdown").value == c.LANDING_PAGE
    assert any(c.LANDING_PAGE in df.value.columns for df in at.dataframe)
    bad = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF, breakdown="week")
    ok(bad)
    assert bad.selectbox(key="campaign.breakdown").value == sections.NO_BREAKDOWN
    warning = " ".join(w.value for w in bad.warning)
    assert "Break down by" in warning
    assert "week" in warning


@pytest.mark.postgres
@pytest.mark.parametrize("page", ["campaign", "attribution"])
def test_a_page_on_postgres_shows_what_it_shows_on_duckdb(
    app: Callable[..., AppTest], demo_url: str, pg_demo_url: str, page: str
) -> None:
    # The same seeded demo in both warehouses; the DuckDB page is checked against the
    # oracle above (and in test_attribution_page).
    on_pg = app(pg_demo_url, page=page, event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(on_pg)
    on_duckdb = app(demo_url, page=page, event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(on_duckdb)
    assert len(metrics(on_pg)) >= 3
    assert metrics(on_pg) == metrics(on_duckdb)
    assert _deltas(on_pg) == _deltas(on_duckdb)
    assert [d.value.shape for d in on_pg.dataframe] == [d.value.shape for d in on_duckdb.dataframe]
    # revenue summed in another order: equal to float precision; integers may be nullable
    pd.testing.assert_frame_equal(
        on_pg.dataframe[0].value, on_duckdb.dataframe[0].value, check_dtype=False
    )
