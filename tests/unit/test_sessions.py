"""Visits, touches and conversions (analytics.sessions): one definition for every page."""

from __future__ import annotations

import datetime as dt
from types import ModuleType
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core import timeutil
from journey_core.analytics import attribution as a
from journey_core.analytics import campaign as an
from journey_core.analytics import sessions as s
from journey_core.analytics.attribution import AttributionSettings, PathUnit

SITE = "https://shop.io"


def U(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def events(*rows: dict[str, Any]) -> pl.DataFrame:
    """Journey rows from partial dicts: a page on the site, no tags, no referrer."""
    base = {
        c.EMAIL: "a@x.io",
        c.KNOWN_AT: U("2022-06-01 00:00"),
        c.EVENT_TYPE: "page_view",
        c.PAGE_URL: f"{SITE}/p",
        c.REFERRER: None,
        c.UTM_SOURCE: None,
        c.UTM_MEDIUM: None,
        c.UTM_CAMPAIGN: None,
        c.REVENUE: None,
    }
    full = [
        {**base, c.EVENT_ID: f"e{i:02d}", **row, c.OCCURRED_AT: U(row[c.OCCURRED_AT])}
        for i, row in enumerate(rows)
    ]
    schema: dict[str, pl.DataType] = {
        c.EMAIL: pl.String(),
        c.KNOWN_AT: timeutil.TS,
        c.EVENT_ID: pl.String(),
        c.OCCURRED_AT: timeutil.TS,
        c.EVENT_TYPE: pl.String(),
        c.PAGE_URL: pl.String(),
        c.REFERRER: pl.String(),
        c.UTM_SOURCE: pl.String(),
        c.UTM_MEDIUM: pl.String(),
        c.UTM_CAMPAIGN: pl.String(),
        c.REVENUE: pl.Float64(),
    }
    if any(c.SESSION_ID in row for row in rows):
        schema[c.SESSION_ID] = pl.String()
        full = [{c.SESSION_ID: None, **row} for row in full]
    return pl.DataFrame(full, schema=schema).sort(c.SORT_COLUMNS)


def at(time: str, **extra: Any) -> dict[str, Any]:
    return {c.OCCURRED_AT: time, **extra}


PAID = {c.UTM_SOURCE: "google", c.UTM_MEDIUM: "cpc", c.UTM_CAMPAIGN: "brand"}
MAIL = {c.UTM_SOURCE: "newsletter", c.UTM_MEDIUM: "email", c.UTM_CAMPAIGN: "w1"}
INTERNAL = {c.REFERRER: f"{SITE}/"}

# Two people, six visits: a paid visit with an email click inside it, a visit that starts on
# an internal page (began before the rows), an organic search visit with a purchase, a
# direct visit; bo has a social referral.
JOURNEY = events(
    at("2022-07-01 10:00", **PAID),
    at("2022-07-01 10:02", **INTERNAL),
    at("2022-07-01 10:10", **MAIL),
    at("2022-07-01 10:12", **INTERNAL),
    at("2022-07-02 09:00", **INTERNAL),
    at("2022-07-03 12:00", referrer="https://www.bing.com/"),
    at("2022-07-03 12:20", event_type="purchase", revenue=20.0, **INTERNAL),
    at("2022-07-05 08:00"),
    at("2022-07-01 11:00", email="bo@x.io", referrer="https://t.co/x"),
    at("2022-07-01 11:40", email="bo@x.io"),
)


def test_campaign_and_attribution_agree_on_visits() -> None:
    visits = an.session_summary(an.with_sessions(JOURNEY)).select(
        c.EMAIL,
        pl.col(c.SESSION_START).alias(c.TOUCH_AT),
        c.CHANNEL,
        pl.col(c.SESSION_SOURCE).alias(c.SOURCE),
        pl.col(c.SESSION_MEDIUM).alias(c.MEDIUM),
        pl.col(c.SESSION_CAMPAIGN).alias(c.CAMPAIGN),
    )
    touches = a.touches(JOURNEY, settings=AttributionSettings()).collect()
    assert_frame_equal(visits, touches.select(visits.columns))
    assert visits.height == 6
    assert visits[c.CHANNEL].to_list() == [
        "Paid Search",
        "Unassigned",
        "Organic Search",
        "Direct",
        "Organic Social",
        "Direct",
    ]


def test_campaign_and_attribution_agree_on_touches() -> None:
    rows = an.with_sessions(JOURNEY).filter(pl.col(c.IS_TOUCH))
    ours = rows.select(c.EMAIL, c.EVENT_ID, c.CHANNEL)
    theirs = a.touches(JOURNEY, settings=AttributionSettings(path_unit=PathUnit.TOUCH)).collect()
    assert_frame_equal(ours, theirs.select(ours.columns))
    assert ours.height == 7  # the six visits plus the email click inside the first


def test_campaign_and_attribution_agree_on_conversions() -> None:
    kpis = an.kpis(an.with_sessions(JOURNEY))
    conversions = a.conversions(JOURNEY, settings=AttributionSettings()).collect()
    assert kpis.conversions == conversions.height == 1


def test_a_repeated_acquisition_is_a_touch_only_with_repeats() -> None:
    rows = events(at("2022-07-01 10:00", **PAID), at("2022-07-01 10:01", **PAID))
    once = s.with_touches(rows.lazy()).collect()
    every = s.with_touches(rows.lazy(), repeats=True).collect()
    assert once[c.IS_TOUCH].to_list() == [True, False]
    assert every[c.IS_TOUCH].to_list() == [True, True]
    assert once[c.CHANNEL].to_list() == every[c.CHANNEL].to_list() == ["Paid Search"] * 2


@pytest.mark.parametrize(
    ("first", "channel", "source", "medium"),
    [
        pytest.param(INTERNAL, "Unassigned", "(not set)", "(not set)", id="internal-referrer"),
        pytest.param({}, "Direct", "(direct)", "(none)", id="no-referrer"),
        pytest.param(
            {c.REFERRER: "https://www.bing.com/"},
            "Organic Search",
            "bing.com",
            "organic",
            id="search",
        ),
        pytest.param(PAID, "Paid Search", "google", "cpc", id="tagged"),
    ],
)
def test_a_visit_takes_the_acquisition_of_its_first_event(
    first: dict[str, Any], channel: str, source: str, medium: str
) -> None:
    rows = events(at("2022-07-01 10:00", **first), at("2022-07-01 10:05", **INTERNAL))
    out = s.with_touches(rows.lazy()).collect()
    expected = pl.DataFrame(
        {
            c.IS_TOUCH: [True, False],
            c.CHANNEL: [channel] * 2,
            c.SOURCE: [source] * 2,
            c.MEDIUM: [medium] * 2,
        }
    )
    assert_frame_equal(out.select(expected.columns), expected)


def test_sessionize_follows_session_ids_and_falls_back_to_the_gap() -> None:
    rows = events(
        at("2022-07-01 10:00", session_id="x"),
        at("2022-07-01 10:01", session_id="y"),  # a new id: a new visit, however close
        at("2022-07-01 10:02", session_id="x"),  # back in visit x
        at("2022-07-01 12:00", session_id=None),  # no id: the inactivity visit number
    )
    out = s.sessionize(rows.lazy()).collect()
    expected = pl.DataFrame(
        {
            c.EVENT_ID: ["e00", "e01", "e02", "e03"],
            c.SESSION_ID: ["x", "y", "x", "2"],
            c.SESSION: [1, 2, 1, 3],
            c.IS_SESSION_START: [True, True, False, True],
            c.SESSION_START: [U(f"2022-07-01 {t}") for t in ("10:00", "10:01", "10:00", "12:00")],
        }
    )
    assert_frame_equal(out.select(expected.columns), expected)


def test_touches_inside_interleaved_visits_stay_in_their_visit() -> None:
    rows = events(
        at("2022-07-01 10:00", session_id="x", **PAID),
        at("2022-07-01 10:01", session_id="y", **MAIL),
        at("2022-07-01 10:02", session_id="x", **INTERNAL),
    )
    out = s.with_touches(rows.lazy()).collect()
    assert out[c.CHANNEL].to_list() == ["Paid Search", "Email", "Paid Search"]
    assert out[c.IS_TOUCH].to_list() == [True, True, False]


@pytest.mark.parametrize(
    ("types", "require_revenue", "expected"),
    [
        pytest.param(s.CONVERSION_EVENTS, False, [True, False, True], id="default-purchase"),
        pytest.param(("view",), False, [False, True, False], id="other-type"),
        pytest.param(None, True, [False, True, True], id="any-type-with-revenue"),
        pytest.param(("purchase",), True, [False, False, True], id="purchase-with-revenue"),
    ],
)
def test_is_conversion(
    types: tuple[str, ...] | None, require_revenue: bool, expected: list[bool]
) -> None:
    frame = pl.DataFrame(
        {c.EVENT_TYPE: ["purchase", "view", "purchase"], c.REVENUE: [None, 5.0, 12.0]}
    )
    got = frame.select(s.is_conversion(types, require_revenue=require_revenue)).to_series()
    assert got.to_list() == expected


def _names(module: ModuleType) -> dict[str, str]:
    return {
        name: value
        for name, value in vars(module).items()
        if name.isupper() and not name.startswith("_") and isinstance(value, str)
    }


def test_no_name_has_two_values() -> None:
    """A column or measure name means one thing: the modules agree with journey_core.columns."""
    seen: dict[str, tuple[str, str]] = {}
    for module in (c, s, an, a):
        for name, value in _names(module).items():
            if name in seen:
                assert seen[name][1] == value, f"{name} is {seen[name]} and {module.__name__}"
            seen[name] = (module.__name__, value)
    assert not hasattr(an, "CONVERSION_RATE")  # attribution's rate, not the campaign's


def test_utc_literals_take_naive_times_as_utc() -> None:
    naive = dt.datetime(2022, 7, 1, 12)
    berlin = dt.datetime(2022, 7, 1, 14, tzinfo=timeutil.parse_timezone("Europe/Berlin"))
    got = pl.select(timeutil.utc_lit(naive).alias("a"), timeutil.utc_lit(berlin).alias("b"))
    assert got.schema == pl.Schema({"a": timeutil.TS, "b": timeutil.TS})
    assert got.row(0) == (U("2022-07-01 12:00"), U("2022-07-01 12:00"))
