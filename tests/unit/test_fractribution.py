"""Our attribution against Snowplow's dbt-snowplow-fractribution integration test.

The fixture (vendored in ``tests/fixtures/``, Apache-2.0, licence in
``dbt-snowplow-fractribution/LICENSE.upstream``) holds 98 Snowplow events and the expected
outputs upstream computed with: conversion window 2022-06-03..2022-08-01 (dates, inclusive),
``path_lookback_days`` 30, ``path_lookback_steps`` 0 (no step limit), one channel per session
taken from the session's first page view (sessions are page views grouped by Snowplow's
``domain_sessionid``), conversion = ``tr_total > 0`` on any event, customer id
``'f' || domain_userid``, and the "exposure" path transform (consecutive repeats collapsed).

Our settings mirror that: ``session_id`` = ``domain_sessionid``, touches are page views,
conversions are events of any type with revenue > 0, 30-day lookback, repeats collapsed.

Channel names: ours follow GA4, upstream's its own macro. The test maps names with our own
``[rename]`` mechanism (a user channel file), before any path is built:

=================  ===================  ==========================================
ours (GA4)         fractribution        why
=================  ===================  ==========================================
Organic Search     Organic_Search       spelling
Paid Search        Paid_Search_Other    spelling (no brand/generic split upstream)
Organic Video      Video                spelling (youtube.com)
Affiliates         Unmatched_Channel    upstream only knows medium "affiliates"
Organic Social     Referral             GA4 lists quora.com as social; upstream
                                        classifies medium "referral" as Referral
=================  ===================  ==========================================

Upstream leaves ``revenue`` empty on path-summary rows without conversions; we report 0.0,
so the expected blanks are read as 0.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.analytics import attribution as a
from journey_core.analytics.attribution import AttributionSettings, Model
from journey_core.analytics.channels import ChannelConfig
from tests.support.fixtures import fixture_dir

FOLDER = "dbt-snowplow-fractribution"
START = dt.datetime(2022, 6, 3, tzinfo=dt.UTC)
END = dt.datetime(2022, 8, 1, 23, 59, 59, 999_999, tzinfo=dt.UTC)
TS = pl.Datetime("us", "UTC")

FRACTRIBUTION_NAMES = ChannelConfig.from_toml_text(
    """
    [rename]
    "Organic Search" = "Organic_Search"
    "Paid Search" = "Paid_Search_Other"
    "Organic Video" = "Video"
    "Affiliates" = "Unmatched_Channel"
    "Organic Social" = "Referral"
    """,
    source="fractribution channel names",
)
SETTINGS = AttributionSettings(
    conversion_event_types=None,
    require_revenue=True,
    lookback=dt.timedelta(days=30),
    touch_event_types=("page_view",),
    collapse_repeats=True,
    channels=FRACTRIBUTION_NAMES,
)


def _dir() -> Path:
    path = fixture_dir(FOLDER)
    assert (path / "LICENSE.upstream").is_file()
    return path


def expected(name: str) -> pl.DataFrame:
    return pl.read_csv(
        _dir() / f"snowplow_fractribution_{name}_expected.csv", infer_schema_length=0
    )


def _ts(column: str) -> pl.Expr:
    return pl.col(column).str.to_datetime(time_unit="us", time_zone="UTC")


def journey_rows() -> pl.DataFrame:
    """The Snowplow events as journey rows (customer id in the email column)."""
    events = pl.read_csv(_dir() / "snowplow_fractribution_events.csv", infer_schema_length=0)
    return events.select(
        pl.format("f{}", "domain_userid").alias(c.EMAIL),
        pl.col("event_id").alias(c.EVENT_ID),
        _ts("derived_tstamp").alias(c.OCCURRED_AT),
        pl.col("event_name").alias(c.EVENT_TYPE),
        pl.col("domain_sessionid").alias(c.SESSION_ID),
        pl.col("mkt_source").alias(c.UTM_SOURCE),
        pl.col("mkt_medium").alias(c.UTM_MEDIUM),
        pl.col("mkt_campaign").alias(c.UTM_CAMPAIGN),
        pl.col("page_referrer").alias(c.REFERRER),
        pl.col("page_url").alias(c.PAGE_URL),
        pl.col("tr_total").cast(pl.Float64).alias(c.REVENUE),
    )


def report_for(s: AttributionSettings) -> a.AttributionReport:
    return a.analyze(journey_rows(), settings=s, start=START, end=END)


@pytest.fixture(scope="module")
def report() -> a.AttributionReport:
    return report_for(SETTINGS)


def test_sessions_by_customer_id(report: a.AttributionReport) -> None:
    ours = report.touches.select(
        pl.col(c.EMAIL).alias("customer_id"),
        pl.col(c.TOUCH_AT).alias("visit_start_tstamp"),
        c.CHANNEL,
        c.CAMPAIGN,
        c.SOURCE,
        c.MEDIUM,
    ).sort("customer_id", "visit_start_tstamp")
    theirs = (
        expected("sessions_by_customer_id")
        .select(
            "customer_id",
            _ts("visit_start_tstamp").alias("visit_start_tstamp"),
            "channel",
            "campaign",
            "source",
            "medium",
        )
        .sort("customer_id", "visit_start_tstamp")
    )
    assert theirs.height == 97
    assert_frame_equal(ours, theirs)


def test_channel_counts(report: a.AttributionReport) -> None:
    keys = ["channel", "campaign", "source", "medium"]
    ours = report.channel_counts.rename({a.TOUCHES: "number_of_sessions"}).sort(keys)
    theirs = (
        expected("channel_counts")
        .with_columns(pl.col("number_of_sessions").cast(pl.Int64))
        .sort(keys)
    )
    assert theirs.height == 9
    assert_frame_equal(ours, theirs)


def test_conversions_by_customer_id(report: a.AttributionReport) -> None:
    ours = report.conversions.select(
        pl.col(c.EMAIL).alias("customer_id"),
        pl.col(c.CONVERTED_AT).alias("conversion_tstamp"),
        c.REVENUE,
    ).sort("customer_id")
    theirs = (
        expected("conversions_by_customer_id")
        .select(
            "customer_id",
            _ts("conversion_tstamp").alias("conversion_tstamp"),
            pl.col("revenue").cast(pl.Float64),
        )
        .sort("customer_id")
    )
    assert theirs.height == 6
    assert_frame_equal(ours, theirs)


def test_paths_to_conversion(report: a.AttributionReport) -> None:
    ours = report.conversion_paths.select(
        pl.col(c.EMAIL).alias("customer_id"),
        pl.col(c.CONVERTED_AT).alias("conversion_tstamp"),
        c.REVENUE,
        c.PATH,
        c.TRANSFORMED_PATH,
    ).sort("customer_id")
    theirs = (
        expected("paths_to_conversion")
        .select(
            "customer_id",
            _ts("conversion_tstamp").alias("conversion_tstamp"),
            pl.col("revenue").cast(pl.Float64),
            "path",
            "transformed_path",
        )
        .sort("customer_id")
    )
    assert theirs.height == 6
    assert_frame_equal(ours, theirs)


def test_paths_to_non_conversion(report: a.AttributionReport) -> None:
    ours = report.non_conversion_paths.select(
        pl.col(c.EMAIL).alias("customer_id"), c.PATH, c.TRANSFORMED_PATH
    ).sort("customer_id")
    theirs = expected("paths_to_non_conversion").sort("customer_id")
    assert theirs.height == 61
    assert_frame_equal(ours, theirs)


def test_path_summary(report: a.AttributionReport) -> None:
    ours = report.path_summary.select(
        c.TRANSFORMED_PATH, c.CONVERSIONS, c.NON_CONVERSIONS, c.REVENUE
    ).sort(c.TRANSFORMED_PATH)
    theirs = (
        expected("path_summary")
        .select(
            "transformed_path",
            pl.col("conversions").cast(pl.Int64),
            pl.col("non_conversions").cast(pl.Int64),
            pl.col("revenue").cast(pl.Float64).fill_null(0.0),  # upstream: empty = none
        )
        .sort("transformed_path")
    )
    assert theirs.height == 9
    assert_frame_equal(ours, theirs)


def test_last_touch_channel_attribution(report: a.AttributionReport) -> None:
    ours = (
        report.by_channel.filter(pl.col(c.MODEL) == Model.LAST_TOUCH)
        .select(c.CHANNEL, c.CONVERSIONS, c.REVENUE)
        .sort(c.CHANNEL)
    )
    theirs = (
        expected("channel_attribution")
        .filter(pl.col("ATTRIBUTION_TYPE") == "last_touch")
        .select(
            pl.col("CHANNEL").alias(c.CHANNEL),
            pl.col("CONVERSIONS").cast(pl.Float64).alias(c.CONVERSIONS),
            pl.col("REVENUE").cast(pl.Float64).alias(c.REVENUE),
        )
        .sort(c.CHANNEL)
    )
    assert theirs.height == 6
    # upstream's revenue carries decimal noise (234.4200000000000284): compare to 1e-9
    assert_frame_equal(ours, theirs, abs_tol=1e-9, rel_tol=0)


def test_default_ga4_names_differ_only_as_documented() -> None:
    default = AttributionSettings(
        conversion_event_types=None, require_revenue=True, touch_event_types=("page_view",)
    )
    ours = a.analyze(journey_rows(), settings=default, start=START, end=END).channel_counts
    pairs = set(
        ours.join(
            report_for(SETTINGS).channel_counts,
            on=["campaign", "source", "medium"],
            suffix="_fractribution",
        )
        .select(c.CHANNEL, "channel_fractribution")
        .iter_rows()
    )
    assert pairs == {
        ("Direct", "Direct"),
        ("Referral", "Referral"),
        ("Organic Search", "Organic_Search"),
        ("Paid Search", "Paid_Search_Other"),
        ("Organic Video", "Video"),
        ("Affiliates", "Unmatched_Channel"),
        ("Organic Social", "Referral"),
    }


def test_without_session_ids_thirty_minute_sessions_merge_two_quick_revisits() -> None:
    """Our own sessionization (30 minutes of inactivity) instead of Snowplow's session ids:
    two people whose second page view came within seconds, under a new campaign, keep one
    session, so their paths lose the second channel. Everything else is the same."""
    rows = journey_rows().drop(c.SESSION_ID)
    ours = a.analyze(rows, settings=SETTINGS, start=START, end=END)
    theirs = expected("paths_to_non_conversion")
    diff = (
        ours.non_conversion_paths.select(
            pl.col(c.EMAIL).alias("customer_id"), pl.col(c.PATH).alias("ours")
        )
        .join(theirs, on="customer_id")
        .filter(pl.col("ours") != pl.col("path"))
        .sort("customer_id")
    )
    assert diff.select("customer_id", "ours", "path").rows() == [
        ("ff0004497876110531212", "Organic_Search", "Organic_Search > Paid_Search_Other"),
        ("ff0008275880593050809", "Referral", "Referral > Direct"),
    ]
    assert (
        ours.conversion_paths[c.PATH].to_list()
        == report_for(SETTINGS).conversion_paths[c.PATH].to_list()
    )
