"""Attribution on small inline journeys: conversions, each model, paths, time to convert."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.analytics import attribution as a
from journey_core.analytics.attribution import AttributionSettings, Model, PathUnit
from journey_core.analytics.campaign import Filters
from journey_core.errors import InputError
from journey_core.rules import journeys as rule_journeys
from journey_core.rules.query import JourneyQuery
from tests.support.frames import T, events_frame, identities_frame

SITE = "https://shop.example.com"
UTM = {
    "paid": ("google", "cpc", "brand"),
    "email": ("newsletter", "email", "weekly"),
    "social": ("facebook", "paid_social", "summer"),
    "direct": (None, None, None),
}


def U(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def rows(*events: tuple[Any, ...]) -> pl.DataFrame:
    """Journey rows from ``(email, event_id, time, event_type, utm key, revenue)`` tuples."""
    out = []
    for email, event_id, at, event_type, utm, revenue in events:
        source, medium, campaign = UTM[utm]
        out.append(
            {
                c.EMAIL: email,
                c.KNOWN_AT: U("2022-06-01T00:00"),
                c.EVENT_ID: event_id,
                c.OCCURRED_AT: U(at),
                c.EVENT_TYPE: event_type,
                c.UTM_SOURCE: source,
                c.UTM_MEDIUM: medium,
                c.UTM_CAMPAIGN: campaign,
                c.PAGE_URL: f"{SITE}/p",
                c.REFERRER: None,
                c.REVENUE: revenue,
            }
        )
    schema: dict[str, pl.DataType] = {
        c.EMAIL: pl.String(),
        c.KNOWN_AT: pl.Datetime("us", "UTC"),
        c.EVENT_ID: pl.String(),
        c.OCCURRED_AT: pl.Datetime("us", "UTC"),
        c.EVENT_TYPE: pl.String(),
        c.UTM_SOURCE: pl.String(),
        c.UTM_MEDIUM: pl.String(),
        c.UTM_CAMPAIGN: pl.String(),
        c.PAGE_URL: pl.String(),
        c.REFERRER: pl.String(),
        c.REVENUE: pl.Float64(),
    }
    return pl.DataFrame(out, schema=schema)


# Four sessions 21, 14, 7 and 0 days before a 150.00 purchase (in the last session):
# Paid Search, Direct, Email, Direct. With a 7-day half-life the time-decay weights are
# 1/8, 1/4, 1/2, 1 -> credits 1/15, 2/15, 4/15, 8/15.
FOUR_TOUCHES = rows(
    ("ann@x.io", "e1", "2022-06-24T10:00", "page_view", "paid", None),
    ("ann@x.io", "e2", "2022-07-01T10:00", "page_view", "direct", None),
    ("ann@x.io", "e3", "2022-07-08T10:00", "email_click", "email", None),
    ("ann@x.io", "e4", "2022-07-15T10:00", "page_view", "direct", None),
    ("ann@x.io", "e5", "2022-07-15T10:00", "purchase", "direct", 150.0),
)
DEFAULT = AttributionSettings()


def credits_of(frame: pl.DataFrame, model: Model, s: AttributionSettings = DEFAULT) -> list[float]:
    t = a.touches(frame, settings=s)
    conv = a.conversions(frame, settings=s)
    out = a.credits(t, conv, settings=s, models=[model]).collect()
    return [round(x, 12) for x in out.sort(c.TOUCH_AT)[c.CREDIT].to_list()]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        pytest.param(Model.FIRST_TOUCH, [1.0, 0.0, 0.0, 0.0], id="first_touch"),
        pytest.param(Model.LAST_TOUCH, [0.0, 0.0, 0.0, 1.0], id="last_touch"),
        pytest.param(Model.LAST_NON_DIRECT, [0.0, 0.0, 1.0, 0.0], id="last_non_direct"),
        pytest.param(Model.LINEAR, [0.25, 0.25, 0.25, 0.25], id="linear"),
        pytest.param(
            Model.TIME_DECAY,
            [round(x / 15, 12) for x in (1, 2, 4, 8)],
            id="time_decay",
        ),
        pytest.param(Model.POSITION_BASED, [0.4, 0.1, 0.1, 0.4], id="position_based"),
    ],
)
def test_each_model_credits_the_four_touches(model: Model, expected: list[float]) -> None:
    assert credits_of(FOUR_TOUCHES, model) == expected


def test_attribute_per_channel_exact_conversions_and_revenue() -> None:
    t = a.touches(FOUR_TOUCHES, settings=DEFAULT)
    conv = a.conversions(FOUR_TOUCHES, settings=DEFAULT)
    result = a.attribute(a.credits(t, conv, settings=DEFAULT), touch_rows=t)
    expected = pl.DataFrame(
        {
            c.MODEL: ["first_touch"] * 3
            + ["last_touch"] * 3
            + ["last_non_direct"] * 3
            + ["linear"] * 3
            + ["time_decay"] * 3
            + ["position_based"] * 3,
            c.CHANNEL: [
                *("Paid Search", "Direct", "Email"),
                *("Direct", "Email", "Paid Search"),
                *("Email", "Direct", "Paid Search"),
                *("Direct", "Email", "Paid Search"),
                *("Direct", "Email", "Paid Search"),
                *("Direct", "Paid Search", "Email"),
            ],
            c.CONVERSIONS: [
                *(1.0, 0.0, 0.0),
                *(1.0, 0.0, 0.0),
                *(1.0, 0.0, 0.0),
                *(0.5, 0.25, 0.25),
                *(10 / 15, 4 / 15, 1 / 15),
                *(0.5, 0.4, 0.1),
            ],
            c.REVENUE: [
                *(150.0, 0.0, 0.0),
                *(150.0, 0.0, 0.0),
                *(150.0, 0.0, 0.0),
                *(75.0, 37.5, 37.5),
                *(100.0, 40.0, 10.0),
                *(75.0, 60.0, 15.0),
            ],
        }
    )
    assert_frame_equal(result, expected)


def test_attribute_per_campaign() -> None:
    t = a.touches(FOUR_TOUCHES, settings=DEFAULT)
    conv = a.conversions(FOUR_TOUCHES, settings=DEFAULT)
    cr = a.credits(t, conv, settings=DEFAULT, models=[Model.LINEAR])
    result = a.attribute(cr, by=(c.CAMPAIGN, c.CHANNEL), models=[Model.LINEAR])
    expected = pl.DataFrame(
        {
            c.MODEL: ["linear"] * 3,
            c.CAMPAIGN: ["(not set)", "brand", "weekly"],
            c.CHANNEL: ["Direct", "Paid Search", "Email"],
            c.CONVERSIONS: [0.5, 0.25, 0.25],
            c.REVENUE: [75.0, 37.5, 37.5],
        }
    )
    assert_frame_equal(result, expected)


def test_last_non_direct_falls_back_to_direct_when_every_touch_is_direct() -> None:
    frame = rows(
        ("bo@x.io", "e1", "2022-07-01T10:00", "page_view", "direct", None),
        ("bo@x.io", "e2", "2022-07-02T10:00", "purchase", "direct", 20.0),
    )
    assert credits_of(frame, Model.LAST_NON_DIRECT) == [0.0, 1.0]


def test_position_based_with_two_touches_splits_evenly_and_one_touch_gets_all() -> None:
    two = rows(
        ("bo@x.io", "e1", "2022-07-01T10:00", "page_view", "paid", None),
        ("bo@x.io", "e2", "2022-07-02T10:00", "purchase", "direct", 20.0),
    )
    one = rows(("cy@x.io", "e1", "2022-07-02T10:00", "purchase", "email", 20.0))
    assert credits_of(two, Model.POSITION_BASED) == [0.5, 0.5]
    assert credits_of(one, Model.POSITION_BASED) == [1.0]


def test_time_decay_half_life_is_configurable() -> None:
    s = AttributionSettings(half_life=dt.timedelta(days=14))
    # ages 21, 14, 7, 0 days with a 14-day half-life: 2^-1.5, 2^-1, 2^-0.5, 1
    weights = [2**-1.5, 2**-1, 2**-0.5, 1.0]
    assert credits_of(FOUR_TOUCHES, Model.TIME_DECAY, s) == [
        round(w / sum(weights), 12) for w in weights
    ]


def test_lookback_drops_older_touches() -> None:
    s = AttributionSettings(lookback=dt.timedelta(days=20))
    # the 21-day-old Paid Search touch is out; first touch moves to Direct (14 days)
    t = a.touches(FOUR_TOUCHES, settings=s)
    conv = a.conversions(FOUR_TOUCHES, settings=s)
    out = a.credits(t, conv, settings=s, models=[Model.FIRST_TOUCH]).collect()
    assert out[c.CHANNEL].to_list() == ["Direct", "Email", "Direct"]
    assert out[c.CREDIT].to_list() == [1.0, 0.0, 0.0]


def test_lookback_boundary_is_inclusive() -> None:
    s = AttributionSettings(lookback=dt.timedelta(days=21))
    assert credits_of(FOUR_TOUCHES, Model.FIRST_TOUCH, s) == [1.0, 0.0, 0.0, 0.0]


def test_conversion_without_touches_is_credited_to_no_touch() -> None:
    s = AttributionSettings(touch_event_types=("page_view",))
    frame = rows(("cy@x.io", "e1", "2022-07-02T10:00", "purchase", "email", 20.0))
    t = a.touches(frame, settings=s)
    conv = a.conversions(frame, settings=s)
    result = a.attribute(a.credits(t, conv, settings=s), models=[Model.LINEAR])
    expected = pl.DataFrame(
        {c.MODEL: ["linear"], c.CHANNEL: [a.NO_TOUCH], c.CONVERSIONS: [1.0], c.REVENUE: [20.0]}
    )
    assert_frame_equal(result, expected)


DAN = rows(
    ("dan@x.io", "d1", "2022-08-04T15:00", "page_view", "direct", None),
    ("dan@x.io", "d2", "2022-08-04T15:10", "purchase", "direct", 40.0),
    ("dan@x.io", "d3", "2022-08-15T15:00", "page_view", "social", None),
    ("dan@x.io", "d4", "2022-08-15T15:10", "purchase", "direct", 60.0),
    ("dan@x.io", "d5", "2022-09-20T10:00", "purchase", "direct", 10.0),
)


@pytest.mark.parametrize(
    ("filters", "counted"),
    [
        pytest.param(Filters(campaigns=("summer",)), ["d4"], id="campaign"),
        pytest.param(Filters(channels=("Paid Social",)), ["d4"], id="channel"),
        pytest.param(Filters(sources=("facebook",), media=("paid_social",)), ["d4"], id="both"),
        pytest.param(Filters(campaigns=("brand",)), [], id="no-matching-touch"),
        pytest.param(Filters(event_types=("purchase",)), ["d2", "d4", "d5"], id="not-a-touch"),
        pytest.param(Filters(), ["d2", "d4", "d5"], id="none"),
    ],
)
def test_scoped_counts_conversions_after_the_matching_touch_only(
    filters: Filters, counted: list[str]
) -> None:
    """As the campaign page: not before the first matching touch (d2), nor more than 30 days
    after it (d5); the touches stay those of every row."""
    s = AttributionSettings()
    report = a.analyze(a.scoped(DAN, filters, settings=s), settings=s)
    assert report.conversions.get_column(c.CONVERSION_ID).to_list() == counted
    assert_frame_equal(report.touches, a.analyze(DAN, settings=s).touches)


# --------------------------------------------------------------------------------------------
# Conversions


MIXED = rows(
    ("ann@x.io", "e1", "2022-07-01T10:00", "page_view", "paid", None),
    ("ann@x.io", "e2", "2022-07-01T10:05", "purchase", "direct", 30.0),
    ("ann@x.io", "e3", "2022-07-03T10:00", "signup", "direct", None),
    ("ann@x.io", "e4", "2022-07-09T10:00", "purchase", "direct", None),
    ("bo@x.io", "e5", "2022-07-04T10:00", "page_view", "direct", 12.5),
)


@pytest.mark.parametrize(
    ("s", "start", "end", "expected_ids", "expected_revenue"),
    [
        pytest.param(DEFAULT, None, None, ["e2", "e4"], [30.0, 0.0], id="default-purchase"),
        pytest.param(
            AttributionSettings(conversion_event_types=("purchase", "signup")),
            None,
            None,
            ["e2", "e3", "e4"],
            [30.0, 0.0, 0.0],
            id="several-types",
        ),
        pytest.param(
            AttributionSettings(conversion_event_types=None, require_revenue=True),
            None,
            None,
            ["e2", "e5"],
            [30.0, 12.5],
            id="any-type-with-revenue",
        ),
        pytest.param(
            DEFAULT,
            U("2022-07-02T00:00"),
            U("2022-07-09T10:00"),
            ["e4"],
            [0.0],
            id="window-inclusive-end",
        ),
    ],
)
def test_conversions(
    s: AttributionSettings,
    start: dt.datetime | None,
    end: dt.datetime | None,
    expected_ids: list[str],
    expected_revenue: list[float],
) -> None:
    out = a.conversions(MIXED, settings=s, start=start, end=end).collect()
    assert out[c.CONVERSION_ID].to_list() == expected_ids
    assert out[c.REVENUE].to_list() == expected_revenue


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"conversion_event_types": " , "}, "conversion_event_types", id="no-types"),
        pytest.param({"lookback_days": 0}, "lookback_days", id="lookback"),
        pytest.param({"half_life_days": float("nan")}, "half_life_days", id="half-life-nan"),
        pytest.param({"session_gap_minutes": -5}, "session_gap_minutes", id="gap"),
        pytest.param({"path_unit": "hour"}, "path_unit", id="path-unit"),
    ],
)
def test_settings_build_rejects_bad_input_naming_the_field(
    kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputError) as info:
        AttributionSettings.build(**kwargs)
    assert info.value.field == field


def test_position_weights_must_fit_in_one() -> None:
    with pytest.raises(InputError, match="position_weights"):
        AttributionSettings(first_weight=0.7, last_weight=0.5)


# --------------------------------------------------------------------------------------------
# Sessions, touches, paths


SESSIONS = rows(
    ("ann@x.io", "e1", "2022-07-01T10:00", "ad_click", "paid", None),
    ("ann@x.io", "e2", "2022-07-01T10:01", "page_view", "paid", None),
    ("ann@x.io", "e3", "2022-07-01T10:20", "email_click", "email", None),
    ("ann@x.io", "e4", "2022-07-01T10:40", "page_view", "direct", None),
    ("ann@x.io", "e5", "2022-07-01T11:30", "page_view", "direct", None),
    ("ann@x.io", "e6", "2022-07-02T09:00", "page_view", "paid", None),
    ("ann@x.io", "e7", "2022-07-02T09:10", "purchase", "direct", 80.0),
    ("bo@x.io", "f1", "2022-07-01T09:00", "page_view", "social", None),
    ("bo@x.io", "f2", "2022-07-03T09:00", "page_view", "social", None),
    ("bo@x.io", "f3", "2022-07-20T09:00", "page_view", "direct", None),
)


def test_sessions_split_after_thirty_minutes_of_inactivity() -> None:
    t = a.touches(SESSIONS, settings=DEFAULT).collect()
    expected = pl.DataFrame(
        {
            c.EMAIL: ["ann@x.io"] * 3 + ["bo@x.io"] * 3,
            c.SESSION_ID: ["1", "2", "3", "1", "2", "3"],
            c.EVENT_ID: ["e1", "e5", "e6", "f1", "f2", "f3"],
            c.CHANNEL: [
                "Paid Search",
                "Direct",
                "Paid Search",
                "Paid Social",
                "Paid Social",
                "Direct",
            ],
        }
    )
    assert_frame_equal(t.select(c.EMAIL, c.SESSION_ID, c.EVENT_ID, c.CHANNEL), expected)


def test_rows_carrying_session_ids_keep_them() -> None:
    frame = SESSIONS.with_columns(
        pl.when(pl.col(c.EMAIL) == "bo@x.io").then(pl.lit("s-bo")).alias(c.SESSION_ID)
    )
    t = a.touches(frame, settings=DEFAULT).collect()
    assert t.filter(pl.col(c.EMAIL) == "bo@x.io")[c.EVENT_ID].to_list() == ["f1"]
    assert t.filter(pl.col(c.EMAIL) == "ann@x.io")[c.EVENT_ID].to_list() == ["e1", "e5", "e6"]


def test_per_touch_paths_keep_every_tagged_event() -> None:
    s = AttributionSettings(path_unit=PathUnit.TOUCH)
    t = a.touches(SESSIONS, settings=s).collect()
    ann = t.filter(pl.col(c.EMAIL) == "ann@x.io")
    # session starts (e1, e5, e6) plus events with their own UTM tags (e2, e3)
    assert ann[c.EVENT_ID].to_list() == ["e1", "e2", "e3", "e5", "e6"]


@pytest.mark.parametrize(
    ("s", "path", "transformed"),
    [
        pytest.param(
            DEFAULT,
            "Paid Search > Direct > Paid Search",
            "Paid Search > Direct > Paid Search",
            id="per-session",
        ),
        pytest.param(
            AttributionSettings(path_unit=PathUnit.TOUCH),
            "Paid Search > Paid Search > Email > Direct > Paid Search",
            "Paid Search > Email > Direct > Paid Search",
            id="per-touch-collapsed",
        ),
        pytest.param(
            AttributionSettings(path_unit=PathUnit.TOUCH, collapse_repeats=False),
            "Paid Search > Paid Search > Email > Direct > Paid Search",
            "Paid Search > Paid Search > Email > Direct > Paid Search",
            id="per-touch-not-collapsed",
        ),
    ],
)
def test_conversion_paths(s: AttributionSettings, path: str, transformed: str) -> None:
    t = a.touches(SESSIONS, settings=s)
    conv = a.conversions(SESSIONS, settings=s)
    result = a.conversion_paths(t, conv, settings=s)
    expected = pl.DataFrame(
        {
            c.EMAIL: ["ann@x.io"],
            c.CONVERSION_ID: ["e7"],
            c.CONVERTED_AT: [U("2022-07-02T09:10")],
            c.REVENUE: [80.0],
            a.TOUCHES: [len(path.split(" > "))],
            c.PATH: [path],
            c.TRANSFORMED_PATH: [transformed],
        },
        schema_overrides={a.TOUCHES: pl.UInt32, c.CONVERTED_AT: pl.Datetime("us", "UTC")},
    )
    assert_frame_equal(result, expected)


def test_non_conversion_paths_look_back_from_the_last_touch() -> None:
    t = a.touches(SESSIONS, settings=DEFAULT)
    conv = a.conversions(SESSIONS, settings=DEFAULT)
    s10 = AttributionSettings(lookback=dt.timedelta(days=10))
    for s, path, transformed in [
        (DEFAULT, "Paid Social > Paid Social > Direct", "Paid Social > Direct"),
        (s10, "Direct", "Direct"),
    ]:
        result = a.non_conversion_paths(t, conv, settings=s)
        assert result.select(c.EMAIL, c.PATH, c.TRANSFORMED_PATH).rows() == [
            ("bo@x.io", path, transformed)
        ]


def test_path_summary_counts_conversions_non_conversions_and_revenue() -> None:
    conv_paths = pl.DataFrame(
        {
            c.TRANSFORMED_PATH: ["Direct", "Email > Direct", "Direct"],
            c.REVENUE: [10.0, 25.5, 4.5],
        }
    )
    non_paths = pl.DataFrame({c.TRANSFORMED_PATH: ["Direct", "Referral", "Referral", "Direct"]})
    expected = pl.DataFrame(
        {
            c.TRANSFORMED_PATH: ["Direct", "Email > Direct", "Referral"],
            c.CONVERSIONS: [2, 1, 0],
            c.NON_CONVERSIONS: [2, 0, 2],
            c.REVENUE: [14.5, 25.5, 0.0],
            a.CONVERSION_RATE: [0.5, 1.0, 0.0],
        }
    )
    assert_frame_equal(a.path_summary(conv_paths, non_paths), expected)


def test_sankey_links_follow_paths_to_their_outcome() -> None:
    summary = pl.DataFrame(
        {
            c.TRANSFORMED_PATH: ["Email > Direct", "Direct", "Paid > Email > Direct"],
            c.CONVERSIONS: [2, 1, 1],
            c.NON_CONVERSIONS: [1, 3, 0],
        }
    )
    result = a.sankey_links(summary, max_steps=2)
    expected = pl.DataFrame(
        {
            a.SOURCE_NODE: [
                "1. Direct",
                "1. Direct",
                "1. Email",
                "1. … Email",
                "2. Direct",
                "2. Direct",
            ],
            a.TARGET_NODE: [
                "Conversion",
                "No conversion",
                "2. Direct",
                "2. Direct",
                "Conversion",
                "No conversion",
            ],
            a.VALUE: [1, 3, 3, 1, 3, 1],
        }
    )
    assert_frame_equal(result, expected)


def test_channel_counts() -> None:
    t = a.touches(SESSIONS, settings=DEFAULT)
    result = a.channel_counts(t)
    expected = pl.DataFrame(
        {
            c.CHANNEL: ["Direct", "Paid Search", "Paid Social"],
            c.CAMPAIGN: ["(not set)", "brand", "summer"],
            c.SOURCE: ["(direct)", "google", "facebook"],
            c.MEDIUM: ["(none)", "cpc", "paid_social"],
            a.TOUCHES: [2, 2, 2],
        }
    )
    assert_frame_equal(result, expected)


# --------------------------------------------------------------------------------------------
# Time to convert


TTC = pl.concat(
    [
        rows(
            ("ann@x.io", "e1", "2022-07-01T00:00", "page_view", "paid", None),
            ("ann@x.io", "e2", "2022-07-03T00:00", "purchase", "direct", 10.0),
            ("ann@x.io", "e3", "2022-07-09T00:00", "purchase", "direct", 10.0),
            ("bo@x.io", "f1", "2022-07-01T00:00", "page_view", "email", None),
            ("bo@x.io", "f2", "2022-07-11T00:00", "purchase", "direct", 10.0),
            ("cy@x.io", "g1", "2022-07-01T00:00", "page_view", "paid", None),
            ("cy@x.io", "g2", "2022-07-01T12:00", "purchase", "direct", 10.0),
        ),
    ]
).with_columns(
    pl.when(pl.col(c.EMAIL) == "ann@x.io")
    .then(pl.lit(U("2022-07-02T00:00")))
    .when(pl.col(c.EMAIL) == "cy@x.io")
    .then(pl.lit(U("2022-07-02T00:00")))  # known after converting
    .otherwise(pl.col(c.KNOWN_AT))
    .dt.cast_time_unit("us")
    .alias(c.KNOWN_AT)
)


def test_time_to_convert_per_person() -> None:
    t = a.touches(TTC, settings=DEFAULT)
    conv = a.conversions(TTC, settings=DEFAULT)
    result = a.time_to_convert(t, conv).select(
        c.EMAIL, a.FIRST_TOUCH_CHANNEL, a.DAYS_FROM_FIRST_TOUCH, a.DAYS_FROM_KNOWN
    )
    expected = pl.DataFrame(
        {
            c.EMAIL: ["cy@x.io", "ann@x.io", "bo@x.io"],
            a.FIRST_TOUCH_CHANNEL: ["Paid Search", "Paid Search", "Email"],
            a.DAYS_FROM_FIRST_TOUCH: [0.5, 2.0, 10.0],
            a.DAYS_FROM_KNOWN: [None, 1.0, 40.0],
        }
    )
    assert_frame_equal(result, expected)


def test_time_to_convert_summary_median_and_p90() -> None:
    t = a.touches(TTC, settings=DEFAULT)
    ttc = a.time_to_convert(t, a.conversions(TTC, settings=DEFAULT))
    result = a.time_to_convert_summary(ttc)
    expected = pl.DataFrame(
        {
            a.MEASURE: [a.FROM_FIRST_TOUCH] * 3 + [a.FROM_KNOWN] * 3,
            a.GROUP: ["All", "Paid Search", "Email", "All", "Email", "Paid Search"],
            a.PEOPLE: [3, 2, 1, 2, 1, 1],
            # first touch: 0.5, 2, 10 -> median 2, p90 2 + 0.8 * 8 = 8.4
            # known: 1, 40 -> median 20.5, p90 1 + 0.9 * 39 = 36.1
            a.MEDIAN_DAYS: [2.0, 1.25, 10.0, 20.5, 40.0, 1.0],
            a.P90_DAYS: [8.4, 1.85, 10.0, 36.1, 40.0, 1.0],
        }
    )
    assert_frame_equal(result, expected)


def test_time_to_convert_histogram_has_every_bin() -> None:
    t = a.touches(TTC, settings=DEFAULT)
    ttc = a.time_to_convert(t, a.conversions(TTC, settings=DEFAULT))
    result = a.time_to_convert_histogram(ttc, bins=(0, 1, 7))
    expected = pl.DataFrame(
        {
            a.MEASURE: [a.FROM_FIRST_TOUCH] * 3 + [a.FROM_KNOWN] * 3,
            a.BIN: ["< 1 day", "1–7 days", "7+ days"] * 2,
            a.BIN_START: [0.0, 1.0, 7.0] * 2,
            a.BIN_END: [1.0, 7.0, None] * 2,
            a.PEOPLE: [1, 1, 1, 0, 1, 1],
        }
    )
    assert_frame_equal(result, expected)


def test_analyze_builds_every_table() -> None:
    report = a.analyze(SESSIONS, settings=DEFAULT, start=U("2022-07-01T00:00"))
    assert report.conversions.height == 1
    assert report.path_summary[c.CONVERSIONS].sum() == 1
    assert report.path_summary[c.NON_CONVERSIONS].sum() == 1
    assert (
        report.by_channel.group_by(c.MODEL)
        .agg(pl.col(c.CONVERSIONS).sum())[c.CONVERSIONS]
        .to_list()
        == [1.0] * 6
    )


# --------------------------------------------------------------------------------------------
# Invariants


CHANNEL_KEYS = list(UTM)


@st.composite
def journeys(draw: st.DrawFn) -> pl.DataFrame:
    people = draw(st.integers(1, 4))
    events: list[tuple[Any, ...]] = []
    base = dt.datetime(2022, 7, 1, tzinfo=dt.UTC)
    for p in range(people):
        n = draw(st.integers(1, 8))
        for k in range(n):
            minutes = draw(st.integers(0, 60 * 24 * 40))
            is_purchase = draw(st.booleans())
            revenue = draw(st.floats(0, 1000, allow_nan=False)) if is_purchase else None
            at = (base + dt.timedelta(minutes=minutes)).isoformat(timespec="minutes")[:16]
            events.append(
                (
                    f"p{p}@x.io",
                    f"e{p}-{k}",
                    at,
                    "purchase" if is_purchase else "page_view",
                    draw(st.sampled_from(CHANNEL_KEYS)),
                    revenue,
                )
            )
    return rows(*events)


@settings(max_examples=60, deadline=None)
@given(
    frame=journeys(),
    unit=st.sampled_from(list(PathUnit)),
    touch_types=st.sampled_from([None, ("page_view",)]),
    lookback_days=st.integers(1, 40),
)
def test_credit_of_every_conversion_sums_to_one(
    frame: pl.DataFrame, unit: PathUnit, touch_types: tuple[str, ...] | None, lookback_days: int
) -> None:
    s = AttributionSettings(
        path_unit=unit, touch_event_types=touch_types, lookback=dt.timedelta(days=lookback_days)
    )
    t = a.touches(frame, settings=s)
    conv = a.conversions(frame, settings=s)
    cr = a.credits(t, conv, settings=s).collect()
    sums = cr.group_by(c.MODEL, c.CONVERSION_ID).agg(pl.col(c.CREDIT).sum())
    n_conv = conv.collect().height
    assert sums.height == n_conv * len(Model)
    assert all(abs(x - 1.0) < 1e-9 for x in sums[c.CREDIT])
    lowest = cr.select(pl.col(c.CREDIT).min()).item()
    assert lowest is None or lowest >= 0
    table = a.attribute(cr.lazy(), touch_rows=t)
    totals = table.group_by(c.MODEL).agg(pl.col(c.CONVERSIONS, c.REVENUE).sum())
    revenue = conv.collect()[c.REVENUE].sum()
    assert totals.height == len(Model)
    for conversions, rev in totals.select(c.CONVERSIONS, c.REVENUE).iter_rows():
        assert conversions == pytest.approx(n_conv)
        assert rev == pytest.approx(revenue, abs=1e-6)


def test_sankey_links_keep_the_top_paths() -> None:
    summary = pl.DataFrame(
        {
            c.TRANSFORMED_PATH: ["Direct", "Email", "Referral"],
            c.CONVERSIONS: [0, 1, 0],
            c.NON_CONVERSIONS: [9, 0, 2],
        }
    )
    result = a.sankey_links(summary, top_paths=2)
    assert result.rows() == [("1. Direct", "No conversion", 9), ("1. Email", "Conversion", 1)]


# Ann was known (05-01) long before the campaign (07-01): the rule gives her events since the
# start only, but her Paid Search visit on 06-20 is in the 30-day lookback of her purchase on
# 07-05 10:00 (the lookback reaches back to 06-05 10:00). Bo becomes known on 07-02; of his
# anonymous visits, 06-01 (Social) is outside his purchase's lookback (from 06-10 10:00) and
# 06-15 (Email) inside it.
LOOKBACK_EVENTS = events_frame(
    [
        {
            c.EVENT_ID: eid,
            c.ANONYMOUS_ID: anon,
            c.EMAIL: email,
            c.OCCURRED_AT: T(at),
            c.EVENT_TYPE: kind,
            c.UTM_SOURCE: UTM[utm][0],
            c.UTM_MEDIUM: UTM[utm][1],
            c.UTM_CAMPAIGN: UTM[utm][2],
            c.PAGE_URL: f"{SITE}/p",
            c.REVENUE: revenue,
        }
        for eid, anon, email, at, kind, utm, revenue in [
            ("a0", None, "ann@x.io", "2022-05-01 00:00:00", "signup", "direct", None),
            ("a1", None, "ann@x.io", "2022-05-20 10:00:00", "page_view", "email", None),
            ("a2", None, "ann@x.io", "2022-06-20 10:00:00", "page_view", "paid", None),
            ("a3", None, "ann@x.io", "2022-07-03 10:00:00", "page_view", "direct", None),
            ("a4", None, "ann@x.io", "2022-07-05 10:00:00", "purchase", "direct", 50.0),
            ("b1", "anon-b", None, "2022-06-01 10:00:00", "page_view", "social", None),
            ("b2", "anon-b", None, "2022-06-15 10:00:00", "page_view", "email", None),
            ("b3", "anon-b", None, "2022-07-10 10:00:00", "purchase", "direct", 20.0),
        ]
    ]
)
LOOKBACK_IDS = identities_frame([("anon-b", "bo@x.io", "2022-07-02 00:00:00")])
LOOKBACK_QUERY = JourneyQuery(as_of=U("2022-07-31T23:59:59"), event_date=dt.date(2022, 7, 1))


def test_time_to_convert_from_the_first_touch_in_the_lookback() -> None:
    def rows_of(query: JourneyQuery) -> pl.DataFrame:
        return rule_journeys(LOOKBACK_EVENTS, LOOKBACK_IDS, query=query)

    cohort, people = a.cohort_rows(rows_of, LOOKBACK_QUERY, DEFAULT.lookback)
    assert people == 2
    start = LOOKBACK_QUERY.start
    report = a.analyze(cohort, settings=DEFAULT, start=start, end=LOOKBACK_QUERY.as_of)
    result = report.time_to_convert.select(
        c.EMAIL, a.FIRST_TOUCH_AT, a.FIRST_TOUCH_CHANNEL, a.DAYS_FROM_FIRST_TOUCH, a.DAYS_FROM_KNOWN
    )
    expected = pl.DataFrame(
        {
            c.EMAIL: ["ann@x.io", "bo@x.io"],
            a.FIRST_TOUCH_AT: [U("2022-06-20T10:00"), U("2022-06-15T10:00")],
            a.FIRST_TOUCH_CHANNEL: ["Paid Search", "Email"],
            # 06-20 10:00 -> 07-05 10:00 and 06-15 10:00 -> 07-10 10:00
            a.DAYS_FROM_FIRST_TOUCH: [15.0, 25.0],
            # 05-01 00:00 -> 07-05 10:00 and 07-02 00:00 -> 07-10 10:00
            a.DAYS_FROM_KNOWN: [65 + 10 / 24, 8 + 10 / 24],
        },
        schema_overrides={a.FIRST_TOUCH_AT: pl.Datetime("us", "UTC")},
    )
    assert_frame_equal(result, expected)
    # The first-touch model credits Ann's purchase to the Paid Search visit before the start.
    first = report.by_channel.filter(pl.col(c.MODEL) == Model.FIRST_TOUCH.value)
    credited = dict(first.select(c.CHANNEL, c.CONVERSIONS).iter_rows())
    # Bo's 06-01 Social visit is a touch (from start - lookback on), outside his lookback.
    assert credited == {"Paid Search": 1.0, "Email": 1.0, "Direct": 0.0, "Paid Social": 0.0}
    # Without the lookback rows, Ann's first touch would be her 07-03 visit (2 days).
    only_cohort = rows_of(LOOKBACK_QUERY)
    cut = a.analyze(only_cohort, settings=DEFAULT, start=start, end=LOOKBACK_QUERY.as_of)
    assert cut.time_to_convert.get_column(a.DAYS_FROM_FIRST_TOUCH).to_list()[0] == 2.0


def test_lookback_query_needs_an_event_date() -> None:
    with pytest.raises(InputError, match="event date"):
        a.lookback_query(JourneyQuery(as_of=U("2022-07-31T00:00")), dt.timedelta(days=30))


# A random world (test_sql_attribution's seed 315592639583016642887503840370521439345) on
# which Polars 2.1's pl.format panicked inside conversions(); concat_str does not.
PANIC_EVENTS = events_frame(
    [
        {
            "event_id": "e11",
            "anonymous_id": "a1",
            "event_type": "signup",
            "page_url": "https://www.shop.example/",
            "referrer": "https://www.google.com/search",
            "utm_source": "www.bing.com",
            "utm_medium": "cpc",
            "utm_campaign": "brand",
            "occurred_at": T("2022-08-31 00:02:00.000001"),
        },
        {
            "event_id": "e15",
            "anonymous_id": "a1",
            "email": "bob@x.io",
            "event_type": "page_view",
            "page_url": "https://shop.example/",
            "referrer": "https://shop.example/p",
            "occurred_at": T("2022-08-30 23:30:59.999999"),
            "revenue": 3.25,
        },
        {
            "event_id": "e2",
            "event_type": "signup",
            "page_url": "https://shop.example/",
            "referrer": "https://a b.c/",
            "occurred_at": T("2022-08-31 00:00:59.999999"),
            "revenue": 10.5,
        },
        {
            "event_id": "e9",
            "event_type": "signup",
            "referrer": "t.co/abc",
            "utm_source": "email",
            "utm_medium": "CPC",
            "occurred_at": T("2022-08-31 09:00:00"),
            "revenue": 10.5,
        },
        {
            "event_id": "e0",
            "anonymous_id": "a2",
            "email": "bob@x.io",
            "event_type": "page_view",
            "page_url": "https://shop.example/",
            "referrer": "https://a b.c/",
            "utm_source": "www.bing.com",
            "utm_medium": "paid_x",
            "utm_campaign": "Cross-Network",
            "occurred_at": T("2022-08-30 23:01:00.000001"),
        },
        {
            "event_id": "e3",
            "anonymous_id": "a2",
            "email": "bob@x.io",
            "event_type": "page_view",
            "page_url": "https://www.shop.example/",
            "referrer": "https://.lonely.dot/",
            "utm_source": "email",
            "utm_medium": "cpc",
            "occurred_at": T("2022-08-30 23:00:59.999999"),
            "revenue": 10.5,
        },
        {
            "event_id": "e8",
            "anonymous_id": "a1",
            "email": " Cy@X.io",
            "event_type": "purchase",
            "referrer": "android-app://com.google.android.gm/",
            "utm_source": "www.bing.com",
            "utm_medium": "email",
            "utm_campaign": "summer shop",
            "occurred_at": T("2022-08-30 23:31:00"),
            "revenue": 0.0,
        },
        {
            "event_id": "e14",
            "anonymous_id": "a2",
            "event_type": "purchase",
            "page_url": "https://shop.example/",
            "referrer": "//u@b.co.uk/x",
            "utm_source": "facebook",
            "occurred_at": T("2022-08-31 09:00:00"),
            "revenue": 0.0,
        },
        {
            "event_id": "e5",
            "anonymous_id": "a1",
            "email": "bob@x.io",
            "event_type": "signup",
            "page_url": "https://www.shop.example/",
            "referrer": "android-app://com.google.android.gm/",
            "utm_source": "Google ",
            "utm_medium": "cpc",
            "utm_campaign": "summer shop",
            "occurred_at": T("2022-08-31 09:00:00.000001"),
            "revenue": 3.25,
        },
        {
            "event_id": "e6",
            "anonymous_id": "a1",
            "email": " Cy@X.io",
            "event_type": "page_view",
            "page_url": "https://www.shop.example/",
            "referrer": "//u@b.co.uk/x",
            "utm_source": "email",
            "utm_medium": "social",
            "occurred_at": T("2022-08-31 00:01:00.000001"),
            "revenue": 10.5,
        },
    ]
)
PANIC_IDS = identities_frame(
    [
        ("a2", "dee@x.io", "2022-08-31 00:01:59.999999"),
        ("a1", "ann@x.io", "2022-08-30 23:00:00"),
        ("a2", "dee@x.io", "2022-08-30 23:30:59.999999"),
    ]
)


def test_conversions_of_the_world_that_made_polars_format_panic() -> None:
    s = AttributionSettings.build(
        conversion_event_types="purchase, signup", lookback_days=1 / 48, half_life_days=0.01
    )
    query = JourneyQuery(
        as_of=dt.datetime(2022, 8, 31, 12, tzinfo=dt.UTC),
        event_date=dt.date(2022, 8, 31),
        timezone="America/New_York",
    )
    rows, _ = a.cohort_rows(
        lambda q: rule_journeys(PANIC_EVENTS, PANIC_IDS, query=q), query, s.lookback
    )
    got = a.conversions(rows, settings=s, start=query.start, end=query.as_of).collect()
    assert got.select(c.EMAIL, c.CONVERSION_ID).rows() == [
        ("dee@x.io", "e14"),
        ("bob@x.io", "e5"),
    ]
