"""One cohort, scoped conversions, the previous period and breakdowns (analytics.campaign).

Hand-made journeys with their expected numbers written out; the warehouse route is tested
equal to these functions in tests/integration/test_sql_figures.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as hst
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.analytics import attribution
from journey_core.analytics import campaign as an
from journey_core.errors import InputError
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import figures
from tests.support.frames import events_frame, identities_frame
from tests.support.oracle import RANDOM_AS_OF, oracle_rows, random_events, random_ids
from tests.unit.test_analytics import U, result, view

START = U("2022-07-01 00:00")
AS_OF = U("2022-07-31 12:00")
X = an.Filters(campaigns=("x",))
EARLIER = "2022-06-01 00:00"  # known before the start: previously known


def click(at: str, campaign: str = "x", **extra: Any) -> dict[str, Any]:
    """An ad click of ``campaign`` (google / cpc)."""
    return {
        c.OCCURRED_AT: at,
        c.EVENT_TYPE: "ad_click",
        c.UTM_SOURCE: "google",
        c.UTM_MEDIUM: "cpc",
        c.UTM_CAMPAIGN: campaign,
        c.REFERRER: "https://www.google.com/",
        **extra,
    }


def purchase(at: str, revenue: float, **extra: Any) -> dict[str, Any]:
    return {c.OCCURRED_AT: at, c.EVENT_TYPE: "purchase", c.REVENUE: revenue, **extra}


def report(frame: pl.DataFrame, **kwargs: Any) -> an.CampaignReport:
    return an.campaign_report(frame, start=START, end=AS_OF, **kwargs)


# --------------------------------------------------------------------------- scoped conversions
def test_conversions_count_only_after_a_matching_touch_within_the_lookback() -> None:
    rows = result(
        # a (newly known on the start): bought for 10 before clicking campaign x (not
        # counted), 15 two days after but before the start (her earlier journey, not the
        # period's: not counted), 20 eleven days after (counted), 40 forty days after
        # (outside the 30-day lookback: not counted).
        purchase("2022-06-20 10:00", 10.0),
        click("2022-06-21 10:00"),
        purchase("2022-06-23 10:00", 15.0),
        purchase("2022-07-02 10:00", 20.0),
        purchase("2022-07-31 10:00", 40.0),
        # b: clicked campaign y only; kept out by the filter.
        click("2022-07-02 10:00", "y", email="b@x.io"),
        purchase("2022-07-02 11:00", 5.0, email="b@x.io"),
        # d: clicked x twice; a purchase 35 days after the first click is 5 days after the
        # second one, so it counts.
        click("2022-07-01 09:00", email="d@x.io"),
        click("2022-07-06 09:00", email="d@x.io"),
        purchase("2022-08-05 09:00", 7.5, email="d@x.io"),
    )
    got = an.campaign_report(rows, start=START, end=U("2022-08-06 00:00"), filters=X)
    k = got.kpis
    assert (k.conversions, k.revenue) == (2, 27.5)
    assert (k.conversions_any_time, k.revenue_any_time) == (3, 67.5)  # since the start
    assert got.cohort_size == 2  # a and d
    # The breakdowns, the trend and the people table count the same scoped conversions.
    assert got.channels.get_column(c.CONVERSIONS).sum() == 2
    assert got.channels.get_column(c.REVENUE).sum() == 27.5
    assert got.campaigns.get_column(c.CONVERSIONS).sum() == 2
    assert got.trend.get_column(c.CONVERSIONS).sum() == 2
    assert got.people.select(c.EMAIL, c.CONVERSIONS, c.REVENUE).sort(c.EMAIL).rows() == [
        ("a@x.io", 1, 20.0),
        ("d@x.io", 1, 7.5),
    ]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param(an.Filters(), (3, 35.0, None, None), id="no-filter-any-time"),
        pytest.param(X, (1, 20.0, 3, 35.0), id="campaign"),
        pytest.param(an.Filters(channels=("Paid Search",)), (1, 20.0, 3, 35.0), id="channel"),
        pytest.param(an.Filters(sources=("google",)), (1, 20.0, 3, 35.0), id="source"),
        pytest.param(an.Filters(event_types=("purchase",)), (3, 35.0, None, None), id="type"),
    ],
)
def test_which_filters_scope_conversions(
    filters: an.Filters, expected: tuple[int, float, int | None, float | None]
) -> None:
    rows = result(
        purchase("2022-07-02 10:00", 10.0),
        click("2022-07-03 10:00"),
        purchase("2022-07-04 10:00", 20.0),
        purchase("2022-08-10 10:00", 5.0),
    )
    k = an.campaign_report(rows, start=START, end=U("2022-08-11 00:00"), filters=filters).kpis
    assert (k.conversions, k.revenue, k.conversions_any_time, k.revenue_any_time) == expected


def test_a_purchase_carrying_the_campaign_tags_is_in_scope() -> None:
    rows = result(purchase("2022-07-02 10:00", 9.0, **{c.UTM_CAMPAIGN: "x"}))
    assert report(rows, filters=X).kpis.conversions == 1


def test_the_lookback_is_configurable_and_matches_attribution() -> None:
    assert attribution.AttributionSettings().lookback == an.CONVERSION_LOOKBACK
    rows = result(click("2022-07-01 10:00"), purchase("2022-07-04 10:00", 3.0))
    short = report(rows, filters=X, lookback=dt.timedelta(days=2)).kpis
    long = report(rows, filters=X, lookback=dt.timedelta(days=3)).kpis  # inclusive
    assert (short.conversions, long.conversions) == (0, 1)


def test_a_newly_known_persons_earlier_purchase_is_not_the_periods() -> None:
    rows = result(
        # n: bought anonymously for 25 before the start, became known on it, bought 10 after.
        purchase("2022-06-20 10:00", 25.0, email="n@x.io", known_at="2022-07-01 00:00"),
        purchase("2022-07-02 10:00", 10.0, email="n@x.io", known_at="2022-07-01 00:00"),
        # p: previously known, bought 5 in the period.
        purchase("2022-07-03 10:00", 5.0, known_at=EARLIER),
    )
    got = report(rows)
    # Her earlier journey is in the rows (events, visits, the CSV) ...
    assert (got.kpis.events, got.kpis.sessions, got.total_rows) == (3, 3, 3)
    # ... but every figure counts the conversions since the start: the same two everywhere.
    assert (got.kpis.conversions, got.kpis.revenue) == (2, 15.0)
    assert got.trend.get_column(c.CONVERSIONS).sum() == 2
    for table in (got.channels, got.campaigns):
        assert table.select(pl.col(c.CONVERSIONS, c.REVENUE).sum()).row(0) == (2, 15.0)
    status = an.breakdown(rows, by=c.KNOWN_STATUS, since=START)
    assert status.select(c.KNOWN_STATUS, c.EVENTS, c.CONVERSIONS, c.REVENUE).sort(
        c.KNOWN_STATUS
    ).rows() == [(an.NEWLY_KNOWN, 2, 1, 10.0), (an.PREVIOUSLY_KNOWN, 1, 1, 5.0)]
    assert got.people.select(c.EMAIL, c.EVENTS, c.CONVERSIONS, c.REVENUE).sort(c.EMAIL).rows() == [
        ("a@x.io", 1, 1, 5.0),
        ("n@x.io", 2, 1, 10.0),
    ]


# --------------------------------------------------------------------------- one cohort
def test_the_cohort_is_every_person_in_the_rows_and_exclusions_say_who_is_left_out() -> None:
    rows = result(
        # a: previously known, active since the start.
        view("2022-07-02 10:00", known_at=EARLIER),
        purchase("2022-07-02 10:05", 12.0, known_at=EARLIER),
        # n: newly known (an identity link on 07-05), its only event is before the start.
        view("2022-06-20 10:00", email="n@x.io", known_at="2022-07-05 00:00"),
        # s: no page view at all, only a purchase.
        purchase("2022-07-10 10:00", 8.0, email="s@x.io", known_at="2022-07-10 10:00"),
    )
    got = report(rows, steps=("page_view", "purchase"))
    assert got.cohort_size == 3 == got.people.height
    assert (got.kpis.cohort, got.kpis.people, got.kpis.newly_known) == (3, 2, 2)
    assert got.excluded == (
        an.Exclusion(
            c.PEOPLE,
            1,
            "1 of the 3 people has no event since 01 Jul 2022 (they became known since "
            "then; their journey is earlier).",
        ),
        # The funnel's step 1 is a page view since the start (analytics.funnel): n's is
        # before it and s has none.
        an.Exclusion(
            "funnel",
            2,
            "2 of the 3 people have no page_view event since 01 Jul 2022, so the funnel "
            "starts without them.",
        ),
    )


def test_nothing_is_excluded_when_every_figure_counts_everyone() -> None:
    rows = result(view("2022-07-02 10:00"), view("2022-07-03 10:00", email="b@x.io"))
    got = report(rows, steps=("page_view", "purchase"))
    assert got.excluded == ()
    assert got.cohort_size == 2


# --------------------------------------------------------------------------- previous period
@pytest.mark.parametrize(
    ("start", "end", "tz", "expected"),
    [
        pytest.param(
            "2022-07-01 00:00", "2022-07-10 12:00", "UTC", "2022-06-21 00:00", id="ten-days"
        ),
        pytest.param(
            "2022-07-01 00:00", "2022-07-01 08:00", "UTC", "2022-06-30 00:00", id="one-day"
        ),
        # Tokyo: 07-01 00:00 local is 06-30 15:00 UTC; 07-01..07-03 local is 3 days.
        pytest.param(
            "2022-06-30 15:00", "2022-07-03 01:00", "Asia/Tokyo", "2022-06-27 15:00", id="tokyo"
        ),
    ],
)
def test_previous_period_has_as_many_local_days(
    start: str, end: str, tz: str, expected: str
) -> None:
    assert an.previous_period(U(start), U(end), tz) == (U(expected), U(start))


def test_previous_period_figures_and_relative_change() -> None:
    now = result(
        view("2022-07-02 10:00", known_at=EARLIER),
        purchase("2022-07-02 10:05", 30.0, known_at=EARLIER),
        view("2022-07-05 10:00", email="b@x.io", known_at=EARLIER),
        purchase("2022-07-05 10:01", 15.0, email="b@x.io", known_at=EARLIER),
        view("2022-07-06 10:00", email="c@x.io", known_at="2022-07-06 10:00"),
    )
    before = result(
        view("2022-06-25 10:00", known_at="2022-06-01 00:00"),
        purchase("2022-06-25 10:05", 20.0, known_at="2022-06-01 00:00"),
        view("2022-06-26 10:00", email="b@x.io", known_at="2022-06-26 10:00"),
    )
    got = an.campaign_report(now, start=START, end=U("2022-07-10 12:00"), previous=before)
    assert got.previous == an.Kpis(
        people=2, events=3, sessions=2, conversions=1, revenue=20.0, newly_known=1, cohort=2
    )
    assert (got.kpis.people, got.kpis.conversions, got.kpis.revenue) == (3, 2, 45.0)
    changes = got.changes
    assert changes[c.PEOPLE] == 0.5  # 3 against 2
    assert changes[c.CONVERSIONS] == 1.0  # 2 against 1
    assert changes[c.REVENUE] == 1.25  # 45 against 20
    assert changes[c.NEWLY_KNOWN_PEOPLE] == 0.0  # 1 against 1
    assert changes["conversions_any_time"] is None
    assert report(now).changes[c.PEOPLE] is None  # no previous period given


# --------------------------------------------------------------------------- breakdowns
def journeys() -> pl.DataFrame:
    return result(
        # a: previously known; one google / cpc visit landing on /sale, then a direct visit.
        click("2022-07-02 10:00", known_at=EARLIER, page_url=None),
        view("2022-07-02 10:01", known_at=EARLIER, **{c.PAGE_URL: "https://shop.io/sale"}),
        purchase("2022-07-02 10:05", 10.0, known_at=EARLIER),
        view(
            "2022-07-03 10:00",
            known_at=EARLIER,
            **{c.REFERRER: None, c.ANONYMOUS_ID: "anon-a2"},
        ),
        # b: newly known, one facebook / social visit.
        {
            c.OCCURRED_AT: "2022-07-02 12:00",
            c.EMAIL: "b@x.io",
            c.KNOWN_AT: "2022-07-02 12:00",
            c.ANONYMOUS_ID: None,
            c.UTM_SOURCE: "facebook",
            c.UTM_MEDIUM: "social",
            c.PAGE_URL: "https://shop.io/",
        },
    )


@pytest.mark.parametrize(
    ("by", "values"),
    [
        pytest.param(
            c.SOURCE_MEDIUM,
            # People, then visits, then the value (ties): as the channel table sorts.
            [("(direct) / (none)", 1, 1, 1, 0, 0.0), ("facebook / social", 1, 1, 1, 0, 0.0),
             ("google / cpc", 1, 1, 3, 1, 10.0)],
            id="source-medium",
        ),
        pytest.param(
            c.LANDING_PAGE,
            [("https://shop.io/", 1, 1, 1, 0, 0.0), ("https://shop.io/p", 1, 1, 1, 0, 0.0),
             ("https://shop.io/sale", 1, 1, 3, 1, 10.0)],
            id="landing-page",
        ),
        pytest.param(
            c.ANONYMOUS_ID,
            [("(not set)", 1, 1, 1, 0, 0.0), ("anon-a", 1, 1, 3, 1, 10.0),
             ("anon-a2", 1, 1, 1, 0, 0.0)],
            id="device",
        ),
        pytest.param(
            c.KNOWN_STATUS,
            [("Previously known", 1, 2, 4, 1, 10.0), ("Newly known", 1, 1, 1, 0, 0.0)],
            id="known-status",
        ),
    ],
)  # fmt: skip
def test_breakdown_by_every_dimension(by: str, values: list[tuple[Any, ...]]) -> None:
    got = an.breakdown(journeys(), by=by, since=START)
    assert got.columns == [by, c.PEOPLE, c.SESSIONS, c.EVENTS, c.CONVERSIONS, c.REVENUE]
    assert got.rows() == values


def test_known_status_needs_a_start_and_unknown_dimensions_are_refused() -> None:
    with pytest.raises(InputError, match="campaign start"):
        an.breakdown(journeys(), by=c.KNOWN_STATUS)
    with pytest.raises(InputError, match="is not a breakdown"):
        an.breakdown(journeys(), by="utm_term")


def test_trend_split_keeps_the_top_values_and_sums_the_rest_into_other() -> None:
    got = an.trend_by(journeys(), by=c.SOURCE_MEDIUM, start=START, end=U("2022-07-03 23:00"), top=1)
    expected = pl.DataFrame(
        {
            c.DAY: [dt.date(2022, 7, d) for d in (1, 1, 2, 2, 3, 3)],
            # The first value of the breakdown is kept; Other's people are distinct people.
            c.SOURCE_MEDIUM: ["(direct) / (none)", an.OTHER] * 3,
            c.EVENTS: [0, 0, 0, 4, 1, 0],
            c.PEOPLE: [0, 0, 0, 2, 1, 0],
            c.CONVERSIONS: [0, 0, 0, 1, 0, 0],
        },
        schema_overrides={c.EVENTS: pl.Int64, c.PEOPLE: pl.Int64, c.CONVERSIONS: pl.Int64},
    )
    assert_frame_equal(got, expected)


def test_trend_split_without_other_when_every_value_is_kept() -> None:
    got = an.trend_by(journeys(), by=c.KNOWN_STATUS, start=START, end=START, since=START)
    assert got.get_column(c.KNOWN_STATUS).to_list() == [an.PREVIOUSLY_KNOWN, an.NEWLY_KNOWN]


def test_period_queries_cut_at_the_end_and_go_back_as_many_days() -> None:
    query = JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1))
    tick = dt.timedelta(microseconds=1)
    # [07-01, 07-11): 10 days, as of just before 07-11; the previous period is [06-21, 07-01).
    period, before = figures.period_queries(query, end=U("2022-07-11 00:00"))
    assert period.as_of == U("2022-07-11 00:00") - tick
    assert (before.event_date, before.as_of) == (dt.date(2022, 6, 21), START - tick)
    # Up to the as-of (07-31 12:00): 31 days, so the previous period starts on 05-31.
    period, before = figures.period_queries(query)
    assert period == query
    assert before.event_date == dt.date(2022, 5, 31)
    with pytest.raises(InputError, match="not after the start"):
        figures.period_queries(query, end=START)


# --------------------------------------------------------------------------- one count everywhere
@given(
    events=random_events,
    identities=random_ids,
    start=hst.sampled_from([dt.date(2022, 8, 30), dt.date(2022, 8, 31)]),
    filters=hst.sampled_from(
        [an.Filters(), an.Filters(campaigns=("brand",)), an.Filters(channels=("Paid Search",))]
    ),
)
@example(  # a purchase before the start, then known since it (found by hand; drawn rarely)
    events=[
        {c.EVENT_ID: "e1", c.OCCURRED_AT: dt.datetime(2022, 8, 30, 23, 30), c.ANONYMOUS_ID: "a1"}
        | {c.EVENT_TYPE: "purchase", c.REVENUE: 10.5},
        {c.EVENT_ID: "e2", c.OCCURRED_AT: dt.datetime(2022, 8, 31, 2), c.ANONYMOUS_ID: "a1"},
    ],
    identities=[("a1", "ann@x.io", dt.datetime(2022, 8, 31, 1))],
    start=dt.date(2022, 8, 31),
    filters=an.Filters(),
)
@settings(max_examples=60, deadline=None)
def test_every_widget_counts_the_same_conversions(
    events: list[dict[str, Any]],
    identities: list[tuple[str, str, dt.datetime]],
    start: dt.date,
    filters: an.Filters,
) -> None:
    """Random worlds (newly known people with purchases before the start among them): the
    key figures, the daily trend, every breakdown table and the people table count the same
    conversions and revenue (and the trend's newly known people add up to the key figure)."""
    ids = identities_frame([(a, e, t.isoformat(" ")) for a, e, t in identities])
    query = JourneyQuery(as_of=RANDOM_AS_OF, event_date=start)
    assert query.start is not None
    rows = oracle_rows(events_frame(events), ids, query)
    got = an.campaign_report(rows, start=query.start, end=query.as_of, filters=filters, top=100)
    expected = (got.kpis.conversions, got.kpis.revenue)

    def total(frame: pl.DataFrame) -> tuple[int, float]:
        return int(frame.get_column(c.CONVERSIONS).sum()), float(frame.get_column(c.REVENUE).sum())

    assert int(got.trend.get_column(c.CONVERSIONS).sum()) == expected[0]
    assert int(got.trend.get_column(an.NEWLY_KNOWN_PEOPLE).sum()) == got.kpis.newly_known
    for name, frame in [("channels", got.channels), ("campaigns", got.campaigns)]:
        assert total(frame) == pytest.approx(expected), name
    assert total(got.people) == pytest.approx(expected)
    cohort = an.with_scope(an.filter_people(rows, filters), filters)
    for by in an.DIMENSIONS:
        table = an.breakdown(cohort, by=by, since=query.start)
        assert total(table) == pytest.approx(expected), by
