"""Figure builders (journey_ui.figures.campaign): DataFrame -> Figure, without a browser."""

from __future__ import annotations

import datetime as dt
import json

import plotly.graph_objects as go
import polars as pl
import pytest

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.analytics import funnel as fn
from journey_ui.figures import campaign as charts
from journey_ui.figures import funnel as funnel_figs
from journey_ui.figures import person as person_charts
from journey_ui.figures.palette import channel_color
from tests.unit.test_analytics import U, paid, result, view

RAW_NAMES = ("utm_source", "utm_medium", "utm_campaign", "occurred_at", "event_type", "known_at")


def journey() -> pl.DataFrame:
    """One person: an organic visit before becoming known, an ad click, a sign-up, a purchase."""
    known = "2022-07-05 10:00"
    return result(
        view("2022-07-01 09:00", referrer="https://www.google.com/", known_at=known),
        view("2022-07-01 09:02", known_at=known),
        paid(
            "2022-07-05 09:55",
            known_at=known,
            utm_content="v1",
            utm_term="sneakers",
            page_url="https://shop.io/sale?utm_source=google",
        ),
        {
            c.OCCURRED_AT: "2022-07-05 10:00",
            c.EVENT_TYPE: "signup",
            c.KNOWN_AT: known,
            c.PAGE_URL: "https://shop.io/signup",
        },
        {
            c.OCCURRED_AT: "2022-07-08 18:00",
            c.EVENT_TYPE: "purchase",
            c.KNOWN_AT: known,
            c.REVENUE: 49.9,
            c.REFERRER: None,
        },
    )


def _funnel_rows() -> pl.DataFrame:
    return result(
        {c.OCCURRED_AT: "2022-07-10 10:00", c.EVENT_TYPE: "page_view"},
        {c.OCCURRED_AT: "2022-07-10 10:00", c.EVENT_TYPE: "page_view", c.EMAIL: "b@x.io"},
        {c.OCCURRED_AT: "2022-07-10 10:05", c.EVENT_TYPE: "purchase", c.EMAIL: "b@x.io"},
    )


def test_funnel_chart_one_funnel_with_share_of_step_one() -> None:
    funnel = fn.funnel(_funnel_rows(), fn.FunnelSpec(steps=("page_view", "purchase")))
    fig = funnel_figs.funnel_chart(funnel)
    assert [t.type for t in fig.data] == ["funnel"]
    assert list(fig.data[0].x) == [2, 1]
    assert list(fig.data[0].y) == ["1. Page view", "2. Purchase"]
    assert [t.strip() for t in fig.data[0].text] == ["2 · 100.0%", "1 · 50.0%"]
    assert "Dropped off here: 1" in fig.data[0].hovertext[1]
    assert "Dropped off" not in fig.data[0].hovertext[0]


def test_funnel_chart_breakdown_bars_in_channel_colours() -> None:
    rows = _funnel_rows().with_columns(
        pl.when(pl.col(c.EMAIL) == "b@x.io")
        .then(pl.lit("google"))
        .otherwise(pl.lit(None))
        .alias(c.UTM_SOURCE),
        pl.when(pl.col(c.EMAIL) == "b@x.io")
        .then(pl.lit("cpc"))
        .otherwise(pl.lit(None))
        .alias(c.UTM_MEDIUM),
    )
    spec = fn.FunnelSpec(steps=("page_view", "purchase"), breakdown=c.CHANNEL)
    fig = funnel_figs.funnel_chart(fn.funnel(rows, spec), breakdown=c.CHANNEL)
    assert [t.type for t in fig.data] == ["bar", "bar"]
    assert [t.name for t in fig.data] == ["Paid Search (1)", "Unassigned (1)"]
    assert list(fig.data[0].y) == [1.0, 1.0]
    assert list(fig.data[1].y) == [1.0, 0.0]
    assert fig.data[0].marker.color == channel_color("Paid Search")


def test_daily_trend_chart_has_events_and_newly_known_on_two_axes() -> None:
    trend = pl.DataFrame(
        {
            an.DAY: [dt.date(2022, 7, 1), dt.date(2022, 7, 2)],
            an.EVENTS: [10, 0],
            an.PEOPLE: [3, 0],
            an.CONVERSIONS: [1, 0],
            an.NEWLY_KNOWN_PEOPLE: [2, 0],
        }
    )
    fig = charts.daily_trend_chart(trend)
    bars, line = fig.data
    assert bars.type == "bar"
    assert list(bars.y) == [10, 0]
    assert line.type == "scatter"
    assert line.yaxis == "y2"
    assert list(line.y) == [2, 0]
    assert fig.layout.yaxis2.overlaying == "y"


def test_hourly_chart_stacks_channels_in_legend_order() -> None:
    hourly = pl.DataFrame(
        {
            an.HOUR: [dt.datetime(2022, 7, 2, 10)] * 2 + [dt.datetime(2022, 7, 2, 11)],
            c.CHANNEL: ["Direct", "Email", "Direct"],
            an.EVENTS: [3, 2, 1],
        }
    )
    fig = charts.hourly_chart(hourly)
    assert fig.layout.barmode == "stack"
    assert [t.name for t in fig.data] == ["Email", "Direct"]
    assert [t.marker.color for t in fig.data] == [
        charts.CHANNEL_COLORS["Email"],
        charts.CHANNEL_COLORS["Direct"],
    ]
    assert list(fig.data[1].y) == [3, 1]


def test_daily_trend_ticks_whole_events_and_people_when_few() -> None:
    # Seen on the hand-made warehouse: the axes read "3, 3, 2, 2, 1" and "1, 1, 1, 0".
    trend = pl.DataFrame(
        {
            an.DAY: [dt.date(2022, 8, 1), dt.date(2022, 8, 2)],
            an.EVENTS: [3, 1],
            an.NEWLY_KNOWN_PEOPLE: [1, 0],
        }
    )
    fig = charts.daily_trend_chart(trend)
    assert fig.layout.yaxis.dtick == 1
    assert (fig.layout.yaxis2.tickmode, fig.layout.yaxis2.dtick) == ("linear", 1)
    busy = trend.with_columns(pl.lit(400).alias(an.EVENTS), pl.lit(40).alias(an.NEWLY_KNOWN_PEOPLE))
    busy_fig = charts.daily_trend_chart(busy)
    assert busy_fig.layout.yaxis.dtick is None
    assert busy_fig.layout.yaxis2.dtick is None


def test_hourly_chart_ticks_whole_hours_and_events_for_a_lone_hour() -> None:
    # Seen on Recent activity with one active hour: the bar filled the chart and the ticks
    # read "08:00, 08:00, 09:00" and "2, 2, 1, 1".
    hourly = pl.DataFrame(
        {an.HOUR: [dt.datetime(2022, 8, 12, 9)], c.CHANNEL: ["Direct"], an.EVENTS: [2]}
    )
    fig = charts.hourly_chart(hourly)
    assert fig.data[0].width == pytest.approx(0.9 * charts.HOUR_MS)
    assert list(fig.layout.xaxis.range) == [
        dt.datetime(2022, 8, 12, 9),
        dt.datetime(2022, 8, 12, 15),
    ]
    assert fig.layout.xaxis.dtick == charts.HOUR_MS
    assert fig.layout.yaxis.dtick == 1
    busy = hourly.with_columns(pl.lit(40).alias(an.EVENTS))
    assert charts.hourly_chart(busy).layout.yaxis.dtick is None


@pytest.mark.parametrize(
    ("start", "end", "tz", "expected"),
    [
        pytest.param(
            "2022-07-01 10:41", "2022-07-02 10:41", "UTC", [(1, 10), (2, 10)], id="inside-hours"
        ),
        pytest.param("2022-07-01 10:00", "2022-07-02 10:00", "UTC", [(2, 10)], id="on-the-hour"),
        pytest.param(
            "2022-07-01 23:59:59.999999",
            "2022-07-02 23:59:59.999999",
            "UTC",
            [(1, 23)],
            id="a-day-as-of-ends-a-whole-hour",
        ),
        pytest.param(
            "2022-07-01 10:41", "2022-07-02 10:41", "Asia/Kolkata", [(1, 16), (2, 16)], id="tz"
        ),
    ],
)
def test_partial_hours(start: str, end: str, tz: str, expected: list[tuple[int, int]]) -> None:
    got = charts.partial_hours(U(start), U(end), tz)
    assert sorted(got) == [dt.datetime(2022, 7, day, hour) for day, hour in expected]


def test_hourly_chart_draws_partial_hours_lighter_and_says_so() -> None:
    # The window 10:41 -> 12:41: 10:00 and 12:00 are partial, 11:00 is whole.
    hours = [dt.datetime(2022, 7, 2, h) for h in (10, 11, 12)]
    hourly = pl.DataFrame({an.HOUR: hours, c.CHANNEL: ["Email"] * 3, an.EVENTS: [1, 5, 2]})
    fig = charts.hourly_chart(hourly, start=U("2022-07-02 10:41"), end=U("2022-07-02 12:41"))
    (bars,) = fig.data
    assert list(bars.marker.opacity) == [0.4, 1.0, 0.4]
    assert list(bars.customdata) == [" (partial hour)", "", " (partial hour)"]
    assert "%{customdata}" in bars.hovertemplate
    # Without the window nothing is marked.
    assert charts.hourly_chart(hourly).data[0].marker.opacity == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("by", "value"),
    [
        pytest.param(c.CHANNEL, an.PEOPLE, id="channels"),
        pytest.param(c.SESSION_CAMPAIGN, an.SESSIONS, id="campaigns"),
    ],
)
def test_breakdown_chart_largest_first(by: str, value: str) -> None:
    table = pl.DataFrame({by: ["Direct", "Email", "Paid Search"], value: [5, 9, 1]})
    fig = charts.breakdown_chart(table, by=by, value=value, limit=2)
    (bars,) = fig.data
    assert list(bars.y) == ["Email", "Direct"]
    assert list(bars.x) == [9, 5]
    assert list(bars.text) == ["9", "5"]
    assert bars.texttemplate == " %{text}"  # shown a space after the bar's end
    if by == c.CHANNEL:
        assert list(bars.marker.color) == [
            charts.CHANNEL_COLORS["Email"],
            charts.CHANNEL_COLORS["Direct"],
        ]
    # the hover names the measure; no axis title floats under the rows (over the table)
    assert f"{charts.label(value)}: " in bars.hovertemplate
    assert not fig.layout.xaxis.title.text


def test_breakdown_chart_names_sit_above_their_bars() -> None:
    """Inside the plot, above each bar: as names beside the bars, a long one took a
    half-width chart's whole width in a 1024 px window (the browser check measures it)."""
    table = pl.DataFrame(
        {c.SESSION_CAMPAIGN: ["a_very_long_campaign_name_2022", "b"], an.PEOPLE: [3, 1]}
    )
    fig = charts.breakdown_chart(table, by=c.SESSION_CAMPAIGN, limit=4)
    axis = fig.layout.yaxis
    assert axis.ticklabelposition == "inside top"
    assert axis.ticklabelshift > 0  # moved up, off the bar
    assert fig.layout.margin.l <= 8  # no room taken beside the bars
    # the first row on top, with room above its bar for its name; four rows reserved
    assert axis.range[0] == 3.5
    assert axis.range[1] < -0.5 - fig.data[0].width / 2
    fewer = charts.breakdown_chart(table, by=c.SESSION_CAMPAIGN, limit=2)
    assert fig.layout.height > fewer.layout.height  # room for four rows, not two


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: person_charts.timeline(journey().clear()), id="timeline"),
        pytest.param(lambda: funnel_figs.funnel_chart(pl.DataFrame()), id="funnel"),
        pytest.param(lambda: charts.hourly_chart(pl.DataFrame()), id="hourly"),
        pytest.param(lambda: charts.daily_trend_chart(pl.DataFrame()), id="trend"),
        pytest.param(lambda: charts.breakdown_chart(pl.DataFrame(), by=c.CHANNEL), id="breakdown"),
    ],
)
def test_empty_inputs_explain_themselves(build: object) -> None:
    fig = build()  # type: ignore[operator]
    assert isinstance(fig, go.Figure)
    assert not fig.data
    assert fig.layout.annotations
    assert fig.layout.annotations[0].text


def test_figures_show_friendly_names_only() -> None:
    rows = an.with_sessions(journey())
    figures = [
        person_charts.timeline(rows),
        person_charts.timeline(rows, lane="channel"),
        funnel_figs.funnel_chart(fn.funnel(rows, fn.FunnelSpec(steps=("page_view", "purchase")))),
        charts.hourly_chart(
            an.hourly_by_channel(rows, start=U("2022-07-01 00:00"), end=U("2022-07-09 00:00"))
        ),
        charts.breakdown_chart(an.breakdown(rows), by=c.CHANNEL),
    ]
    for fig in figures:
        visible = json.dumps(
            {
                "layout": {
                    k: v for k, v in fig.to_plotly_json()["layout"].items() if k != "template"
                },
                "text": [
                    (
                        getattr(t, "hovertext", None),
                        getattr(t, "text", None),
                        t.name,
                        getattr(t, "y", None),
                    )
                    for t in fig.data
                ],
            },
            default=str,
        )
        for raw in RAW_NAMES:
            # "utm_source=" inside a URL is data, not a header
            assert raw not in visible.replace("utm_source=", "").replace("utm_medium=", "").replace(
                "utm_campaign=", ""
            ), raw


def test_labels() -> None:
    assert charts.label(c.UTM_SOURCE) == "UTM source"
    assert charts.label("something_new") == "Something new"
    assert charts.event_label("add_to_cart") == "Add to cart"
    assert charts.event_label("form_submit") == "Form submit"
    made_up = charts.channel_color("Made up")  # a channel a custom grouping adds
    assert made_up in charts.EXTRA_COLORS
    assert charts.channel_color("Made up") == made_up
