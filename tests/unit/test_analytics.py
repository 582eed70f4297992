"""Dashboard figures (analytics.campaign) and channel grouping (analytics.channels)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.errors import InputError
from journey_core.rules import RESULT_SCHEMA

SITE = "https://shop.io"
PAID_SEARCH = "Paid Search"
PAID_SOCIAL = "Paid Social"
EMAIL = "Email"
DIRECT = "Direct"
ORGANIC_SEARCH = "Organic Search"
ORGANIC_SOCIAL = "Organic Social"
REFERRAL = "Referral"
UNASSIGNED = "Unassigned"


def U(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def result(*rows: dict[str, Any]) -> pl.DataFrame:
    """Journey result rows from partial dicts, sorted like fetch_journeys returns them.

    Defaults: known at 2022-07-01, internal referrer, page on the site.
    """
    full = []
    for i, row in enumerate(rows):
        base: dict[str, Any] = {
            c.EMAIL: "a@x.io",
            c.KNOWN_AT: U("2022-07-01 00:00"),
            c.EVENT_ID: f"e{i:03d}",
            c.EVENT_TYPE: "page_view",
            c.ANONYMOUS_ID: "anon-a",
            c.PAGE_URL: f"{SITE}/p",
            c.REFERRER: f"{SITE}/",
        }
        base.update(row)
        if isinstance(base.get(c.OCCURRED_AT), str):
            base[c.OCCURRED_AT] = U(base[c.OCCURRED_AT])
        if isinstance(base.get(c.KNOWN_AT), str):
            base[c.KNOWN_AT] = U(base[c.KNOWN_AT])
        full.append({name: base.get(name) for name in c.RESULT_COLUMNS})
    frame = pl.DataFrame(full, schema=RESULT_SCHEMA, orient="row")
    return frame.with_columns(
        (pl.col(c.OCCURRED_AT) < pl.col(c.KNOWN_AT)).alias(c.BEFORE_KNOWN)
    ).sort(c.SORT_COLUMNS)


def paid(at: str, **extra: Any) -> dict[str, Any]:
    """An ad click landing from google / cpc / brand."""
    return {
        c.OCCURRED_AT: at,
        c.EVENT_TYPE: "ad_click",
        c.UTM_SOURCE: "google",
        c.UTM_MEDIUM: "cpc",
        c.UTM_CAMPAIGN: "brand",
        c.REFERRER: "https://www.google.com/",
        **extra,
    }


def view(at: str, **extra: Any) -> dict[str, Any]:
    """An internal page view."""
    return {c.OCCURRED_AT: at, **extra}


# --------------------------------------------------------------------------- sessions


def test_sessions_split_after_30_minutes_per_person() -> None:
    rows = result(
        paid("2022-07-02 10:00"),
        view("2022-07-02 10:20"),
        view("2022-07-02 10:50"),  # exactly 30 minutes later: same visit
        view("2022-07-02 11:20:01"),  # 30 min 1 s later: a new visit
        view("2022-07-02 10:05", email="b@x.io", referrer=None),
    )
    out = an.with_sessions(rows)
    expected = pl.DataFrame(
        {
            c.EMAIL: ["a@x.io"] * 4 + ["b@x.io"],
            c.SESSION: [1, 1, 1, 2, 1],
            c.IS_TOUCH: [True, False, False, True, True],
            c.CHANNEL: [PAID_SEARCH, PAID_SEARCH, PAID_SEARCH, UNASSIGNED, DIRECT],
            c.SESSION_CAMPAIGN: ["brand", "brand", "brand", an.NO_CAMPAIGN, an.NO_CAMPAIGN],
            c.SESSION_START: [U("2022-07-02 10:00")] * 3
            + [U("2022-07-02 11:20:01"), U("2022-07-02 10:05")],
        }
    )
    assert_frame_equal(out.select(expected.columns), expected, check_dtypes=False)


def test_sessions_keep_rows_and_order() -> None:
    rows = result(paid("2022-07-02 10:00"), view("2022-07-02 10:01"), view("2022-07-03 09:00"))
    out = an.with_sessions(rows)
    assert_frame_equal(out.select(c.RESULT_COLUMNS), rows)
    assert out.columns == [*rows.columns, *an.SESSION_COLUMNS]


def test_touches_landing_page_is_not_a_second_touch_but_a_new_campaign_is() -> None:
    rows = result(
        paid("2022-07-02 10:00"),
        # the landing page carries the same tags: same touch
        view(
            "2022-07-02 10:00:05",
            utm_source="google",
            utm_medium="cpc",
            utm_campaign="brand",
            referrer="https://www.google.com/",
        ),
        view("2022-07-02 10:03"),
        # an email click within the visit: a new touch, and the visit's channel changes
        view(
            "2022-07-02 10:05",
            utm_source="newsletter",
            utm_medium="email",
            utm_campaign="w1",
            referrer=None,
        ),
        view("2022-07-02 10:06"),
    )
    out = an.with_sessions(rows)
    assert out.get_column(c.IS_TOUCH).to_list() == [True, False, False, True, False]
    assert out.get_column(c.CHANNEL).to_list() == [PAID_SEARCH] * 3 + [EMAIL] * 2
    assert out.get_column(c.SESSION_SOURCE).to_list() == ["google"] * 3 + ["newsletter"] * 2
    assert out.get_column(c.SESSION).to_list() == [1] * 5


def test_sources_and_media_of_untagged_touches() -> None:
    rows = result(
        view("2022-07-02 10:00", referrer="https://www.bing.com/"),
        view("2022-07-03 10:00", referrer=None),
        view("2022-07-04 10:00", referrer="https://t.co/x"),
    )
    out = an.with_sessions(rows)
    assert out.select(c.CHANNEL, c.SESSION_SOURCE, c.SESSION_MEDIUM).rows() == [
        (ORGANIC_SEARCH, "bing.com", "organic"),
        (DIRECT, an.DIRECT_SOURCE, an.DIRECT_MEDIUM),
        (ORGANIC_SOCIAL, "t.co", "referral"),  # GA4: a social site's referral
    ]


times = st.lists(st.integers(min_value=0, max_value=600), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(a=times, b=times)
def test_sessions_invariants(a: list[int], b: list[int]) -> None:
    """Sessions number 1..n per person in time order; a new one starts after > 30 minutes."""
    base = U("2022-07-02 00:00")
    rows = result(
        *(view((base + dt.timedelta(minutes=m)).isoformat()[:19]) for m in a),
        *(view((base + dt.timedelta(minutes=m)).isoformat()[:19], email="b@x.io") for m in b),
    )
    out = an.with_sessions(rows)
    assert out.height == rows.height
    for email, minutes in (("a@x.io", sorted(a)), ("b@x.io", sorted(b))):
        got = out.filter(pl.col(c.EMAIL) == email).get_column(c.SESSION).to_list()
        expected, n, prev = [], 0, None
        for m in minutes:
            if prev is None or m - prev > 30:
                n += 1
            expected.append(n)
            prev = m
        assert got == expected


# --------------------------------------------------------------------------- KPIs and profile


def test_kpis_since_counts_active_and_newly_known() -> None:
    rows = result(
        view("2022-07-01 12:00"),  # a@: known 07-01, active only before `since`
        view("2022-07-05 12:00", email="b@x.io", known_at="2022-07-04 00:00"),
        {
            c.OCCURRED_AT: "2022-07-06 12:00",
            c.EMAIL: "b@x.io",
            c.KNOWN_AT: "2022-07-04 00:00",
            c.EVENT_TYPE: "purchase",
            c.REVENUE: 40.5,
        },
        view("2022-07-06 13:00", email="c@x.io", known_at="2022-06-01 00:00"),
    )
    got = an.kpis(rows, since=U("2022-07-03 00:00"))
    assert got == an.Kpis(
        people=2, events=4, sessions=4, conversions=1, revenue=40.5, newly_known=1, cohort=3
    )
    assert an.kpis(rows.clear()) == an.Kpis(0, 0, 0, 0, 0.0, None)


def test_profile_card_figures() -> None:
    rows = result(
        view(
            "2022-06-20 10:00",
            referrer="https://t.co/",
            anonymous_id="d1",
            known_at="2022-06-25 10:00",
        ),
        paid("2022-06-22 10:00", anonymous_id="d2", known_at="2022-06-25 10:00"),
        view("2022-06-22 10:01", anonymous_id="d2", known_at="2022-06-25 10:00"),
        {
            c.OCCURRED_AT: "2022-06-25 10:00",
            c.EVENT_TYPE: "signup",
            c.ANONYMOUS_ID: "d2",
            c.KNOWN_AT: "2022-06-25 10:00",
            c.REFERRER: None,
        },
        {
            c.OCCURRED_AT: "2022-06-25 10:10",
            c.EVENT_TYPE: "purchase",
            c.REVENUE: 12.5,
            c.ANONYMOUS_ID: "d2",
            c.KNOWN_AT: "2022-06-25 10:00",
        },
        paid("2022-06-28 09:00", anonymous_id="d2", known_at="2022-06-25 10:00"),
    )
    got = an.profile(rows)
    assert got == an.Profile(
        email="a@x.io",
        known_at=U("2022-06-25 10:00"),
        first_seen=U("2022-06-20 10:00"),
        last_seen=U("2022-06-28 09:00"),
        devices=2,
        sessions=4,
        events=6,
        touches_before_known=2,
        channels=(PAID_SEARCH, ORGANIC_SOCIAL, DIRECT),
        first_channel=ORGANIC_SOCIAL,
        known_via=DIRECT,
        orders=1,
        revenue=12.5,
    )
    assert an.profile(rows.clear()) is None


def test_profile_rejects_several_people() -> None:
    with pytest.raises(InputError, match="one individual"):
        an.profile(result(view("2022-07-02 10:00"), view("2022-07-02 10:00", email="b@x.io")))


# --------------------------------------------------------------------------- trend, breakdowns


def test_daily_trend_zero_fills_and_uses_local_days() -> None:
    rows = result(
        view("2022-07-01 22:30", known_at="2022-07-01 22:30"),  # 02-07 00:30 in Berlin
        view("2022-07-03 10:00", email="b@x.io", known_at="2022-06-01 00:00"),
        {
            c.OCCURRED_AT: "2022-07-03 11:00",
            c.EMAIL: "b@x.io",
            c.KNOWN_AT: "2022-06-01 00:00",
            c.EVENT_TYPE: "purchase",
        },
    )
    got = an.daily_trend(
        rows, start=U("2022-07-01 00:00"), end=U("2022-07-03 23:00"), tz="Europe/Berlin"
    )
    expected = pl.DataFrame(
        {
            an.DAY: [
                dt.date(2022, 7, 1),
                dt.date(2022, 7, 2),
                dt.date(2022, 7, 3),
                dt.date(2022, 7, 4),
            ],
            an.EVENTS: [0, 1, 2, 0],
            an.PEOPLE: [0, 1, 1, 0],
            an.CONVERSIONS: [0, 0, 1, 0],
            an.NEWLY_KNOWN_PEOPLE: [0, 1, 0, 0],
        }
    )
    assert_frame_equal(got, expected, check_dtypes=False)


def test_breakdown_counts_events_for_their_visit_channel() -> None:
    rows = result(
        paid("2022-07-02 10:00"),
        {c.OCCURRED_AT: "2022-07-02 10:05", c.EVENT_TYPE: "purchase", c.REVENUE: 30.0},
        view("2022-07-03 10:00", referrer=None),
        view("2022-07-03 10:00", email="b@x.io", referrer=None),
    )
    got = an.breakdown(rows, by=c.CHANNEL)
    expected = pl.DataFrame(
        {
            c.CHANNEL: [DIRECT, PAID_SEARCH],
            an.PEOPLE: [2, 1],
            an.SESSIONS: [2, 1],
            an.EVENTS: [2, 2],
            an.CONVERSIONS: [0, 1],
            c.REVENUE: [0.0, 30.0],
        }
    )
    assert_frame_equal(got, expected, check_dtypes=False)
    with pytest.raises(InputError, match="not a breakdown"):
        an.breakdown(rows, by=c.EVENT_TYPE)


def test_touchpoints_before_known_for_newly_known_people() -> None:
    rows = result(
        paid("2022-07-02 10:00", known_at="2022-07-05 00:00"),
        view("2022-07-02 10:01", known_at="2022-07-05 00:00"),
        view("2022-07-03 10:00", referrer=None, known_at="2022-07-05 00:00"),
        paid("2022-07-03 10:00", email="b@x.io", known_at="2022-07-04 00:00"),
        paid("2022-07-06 10:00", email="b@x.io", known_at="2022-07-04 00:00"),  # after known
        paid("2022-07-02 10:00", email="old@x.io", known_at="2022-06-01 00:00"),
    )
    got = an.touchpoints_before_known(rows, newly_known_since=U("2022-07-01 00:00"))
    expected = pl.DataFrame(
        {
            c.CHANNEL: [PAID_SEARCH, DIRECT],
            c.SESSION_SOURCE: ["google", an.DIRECT_SOURCE],
            c.SESSION_MEDIUM: ["cpc", an.DIRECT_MEDIUM],
            c.SESSION_CAMPAIGN: ["brand", an.NO_CAMPAIGN],
            an.TOUCHES: [2, 1],
            an.PEOPLE: [2, 1],
            an.SHARE: [1.0, 0.5],
        }
    )
    assert_frame_equal(got, expected, check_dtypes=False)


def test_people_table() -> None:
    rows = result(
        paid("2022-07-02 10:00", known_at="2022-07-02 10:00"),
        {
            c.OCCURRED_AT: "2022-07-02 10:05",
            c.EVENT_TYPE: "purchase",
            c.REVENUE: 9.5,
            c.KNOWN_AT: "2022-07-02 10:00",
        },
        view("2022-07-04 10:00", referrer=None, known_at="2022-07-02 10:00"),
        view("2022-07-03 10:00", email="b@x.io", referrer=None, known_at="2022-06-01 00:00"),
    )
    got = an.people_table(rows, since=U("2022-07-01 00:00"))
    expected = pl.DataFrame(
        {
            c.EMAIL: ["a@x.io", "b@x.io"],
            c.KNOWN_AT: [U("2022-07-02 10:00"), U("2022-06-01 00:00")],
            an.IS_NEWLY_KNOWN: [True, False],
            an.FIRST_EVENT: [U("2022-07-02 10:00"), U("2022-07-03 10:00")],
            an.LAST_EVENT: [U("2022-07-04 10:00"), U("2022-07-03 10:00")],
            an.EVENTS: [3, 1],
            an.SESSIONS: [2, 1],
            an.CHANNELS_USED: ["Paid Search, Direct", "Direct"],
            an.CONVERSIONS: [1, 0],
            c.REVENUE: [9.5, 0.0],
        }
    )
    assert_frame_equal(got, expected, check_dtypes=False)


def test_hourly_by_channel_in_local_time() -> None:
    rows = result(
        paid("2022-07-02 10:10"), view("2022-07-02 10:20"), view("2022-07-02 12:00", referrer=None)
    )
    got = an.hourly_by_channel(
        rows, start=U("2022-07-02 00:00"), end=U("2022-07-03 00:00"), tz="Europe/Berlin"
    )
    expected = pl.DataFrame(
        {
            an.HOUR: [dt.datetime(2022, 7, 2, 12), dt.datetime(2022, 7, 2, 14)],
            c.CHANNEL: [PAID_SEARCH, DIRECT],
            an.EVENTS: [2, 1],
        }
    )
    assert_frame_equal(got, expected, check_dtypes=False)


# --------------------------------------------------------------------------- filters and reports


def test_filter_people_keeps_whole_journeys() -> None:
    rows = result(
        paid("2022-07-02 10:00"),
        view("2022-07-02 10:01"),
        view("2022-07-05 10:00", referrer=None),
        view("2022-07-03 10:00", email="b@x.io", referrer=None),
    )
    got = an.filter_people(rows, an.Filters(campaigns=("brand",)))
    assert got.get_column(c.EVENT_ID).to_list() == ["e000", "e001", "e002"]
    both = an.filter_people(rows, an.Filters(channels=(DIRECT,), event_types=("page_view",)))
    assert both.get_column(c.EMAIL).unique().sort().to_list() == ["a@x.io", "b@x.io"]
    none = an.filter_people(rows, an.Filters(campaigns=("brand",), channels=(DIRECT,)))
    assert none.is_empty()
    assert an.filter_people(rows, an.Filters()) is rows


def test_filter_options_most_people_first() -> None:
    rows = result(
        paid("2022-07-02 10:00"),
        view("2022-07-03 10:00", email="b@x.io", referrer=None),
        view("2022-07-03 10:00", email="c@x.io", referrer=None),
    )
    got = an.filter_options(rows)
    assert got[c.CHANNEL] == [DIRECT, PAID_SEARCH]
    assert got[c.SESSION_CAMPAIGN] == [an.NO_CAMPAIGN, "brand"]
    assert got[c.EVENT_TYPE] == ["page_view", "ad_click"]
