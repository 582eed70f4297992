"""The pure parts of the Campaign influence page (issue 13): the partial as-of day, the
previous period's dates, the URL forms of the new controls and the charts that show them."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.errors import InputError
from journey_ui import sections, urlstate
from journey_ui.figures import campaign as charts
from journey_ui.figures import person
from journey_ui.figures.palette import MUTED, channel_color

UTC = dt.UTC
DAYS = [dt.date(2022, 8, d) for d in (29, 30, 31)]


@pytest.mark.parametrize(
    ("end", "tz", "expected"),
    [
        pytest.param(dt.datetime(2022, 8, 31, 10, 30, tzinfo=UTC), "UTC", DAYS[2], id="mid-day"),
        pytest.param(
            dt.datetime(2022, 8, 30, 23, 59, 59, 999999, tzinfo=UTC), "UTC", None, id="whole-day"
        ),
        # 22:00 UTC is midnight in Paris: the day before ends whole there.
        pytest.param(
            dt.datetime(2022, 8, 30, 21, 59, 59, 999999, tzinfo=UTC),
            "Europe/Paris",
            None,
            id="whole-local-day",
        ),
        pytest.param(dt.datetime(2022, 8, 31, tzinfo=UTC), "UTC", DAYS[2], id="first-instant"),
    ],
)
def test_partial_day(end: dt.datetime, tz: str, expected: dt.date | None) -> None:
    assert an.partial_day(end, tz) == expected


@pytest.mark.parametrize(
    ("period", "tz", "expected"),
    [
        pytest.param(
            (dt.datetime(2022, 7, 2, tzinfo=UTC), dt.datetime(2022, 8, 1, tzinfo=UTC)),
            "UTC",
            "02 Jul – 31 Jul 2022",
            id="month",
        ),
        pytest.param(
            (dt.datetime(2021, 12, 20, tzinfo=UTC), dt.datetime(2022, 1, 5, tzinfo=UTC)),
            "UTC",
            "20 Dec 2021 – 04 Jan 2022",
            id="across-years",
        ),
        pytest.param(
            (dt.datetime(2022, 7, 31, 22, tzinfo=UTC), dt.datetime(2022, 8, 1, 22, tzinfo=UTC)),
            "Europe/Paris",
            "01 Aug 2022",
            id="one-local-day",
        ),
    ],
)
def test_period_text(period: tuple[dt.datetime, dt.datetime], tz: str, expected: str) -> None:
    assert sections.period_text(period, tz) == expected


def test_breakdown_param_names_every_dimension_by_a_short_url_name() -> None:
    param = sections.BREAKDOWN_PARAM
    assert set(sections.BREAKDOWNS.values()) <= set(an.DIMENSIONS)
    assert param.parse(["source_medium"]) == c.SOURCE_MEDIUM
    assert param.fmt(c.ANONYMOUS_ID) == ["device"]
    assert param.fmt(sections.NO_BREAKDOWN) == []
    with pytest.raises(InputError, match="'week' is not one of channel, source_medium"):
        param.parse(["week"])
    assert "breakdown" in urlstate.allowed("campaign")
    assert {"who", "steps", "window"} <= urlstate.allowed("campaign")
    assert "breakdown" not in urlstate.allowed("attribution")


@pytest.mark.parametrize("raw", ["0", "366", "7.5", "-1", "week"])
def test_window_param_rejects_what_the_input_cannot_hold(raw: str) -> None:
    window = urlstate.int_param("window", "funnel.window", default=30, low=1, high=365)
    with pytest.raises(InputError, match="whole number from 1 to 365"):
        window.parse([raw])
    assert window.parse([" 12 "]) == 12


def trend(events: list[int], newly: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            an.DAY: DAYS,
            an.EVENTS: events,
            an.PEOPLE: [1, 1, 1],
            an.CONVERSIONS: [0, 0, 0],
            an.NEWLY_KNOWN_PEOPLE: newly,
        }
    )


def test_daily_trend_marks_the_partial_day() -> None:
    fig = charts.daily_trend_chart(trend([100, 120, 5], [4, 6, 0]), partial=DAYS[2], until="10:30")
    bars, line, tail = fig.data
    assert list(bars.marker.pattern.shape) == ["", "", "/"]
    assert bars.marker.color[2] != bars.marker.color[0]
    assert list(bars.customdata) == ["", "", " (partial day)"]
    # The solid line stops at the last whole day; a dotted one joins the partial day.
    assert list(line.x) == DAYS[:2]
    assert list(tail.x) == DAYS[1:]
    assert list(tail.y) == [6, 0]
    assert tail.line.dash == "dot"
    assert not tail.showlegend
    notes = [a.text for a in fig.layout.annotations]
    assert notes == ["partial day (to 10:30)"]


def test_daily_trend_without_a_partial_day_is_two_plain_traces() -> None:
    fig = charts.daily_trend_chart(trend([100, 120, 90], [4, 6, 3]))
    bars, line = fig.data
    assert list(bars.marker.pattern.shape) == ["", "", ""]
    assert list(line.y) == [4, 6, 3]
    assert not fig.layout.annotations


def test_trend_legends_give_each_entry_room() -> None:
    """Plotly measured the legend before the font loaded and cut "Newly known peop"."""
    fig = charts.daily_trend_chart(trend([1, 2, 3], [1, 1, 1]))
    assert fig.layout.legend.entrywidthmode == "pixels"
    assert fig.layout.legend.entrywidth >= 8 * len("Newly known people")


def test_split_trend_stacks_the_top_values_then_other() -> None:
    split = pl.DataFrame(
        {
            an.DAY: [d for d in DAYS for _ in range(3)],
            c.CHANNEL: ["Email", "Direct", an.OTHER] * 3,
            an.EVENTS: [5, 3, 1, 6, 2, 0, 1, 0, 0],
            an.PEOPLE: [2, 1, 1, 3, 1, 0, 1, 0, 0],
            an.CONVERSIONS: [1, 0, 0, 0, 0, 0, 0, 0, 0],
        }
    )
    fig = charts.split_trend_chart(split, by=c.CHANNEL, partial=DAYS[2], until="10:30")
    assert [t.name for t in fig.data] == ["Email", "Direct", an.OTHER]
    assert fig.layout.barmode == "stack"
    assert fig.layout.legend.traceorder == "normal"
    email = fig.data[0]
    assert list(email.y) == [5, 6, 1]
    assert email.marker.color[0] == channel_color("Email")
    assert list(email.marker.pattern.shape) == ["", "", "/"]
    assert list(email.customdata[0]) == [2, 1, ""]
    assert "people" in email.hovertemplate
    assert "conversions" in email.hovertemplate
    by_source = charts.split_trend_chart(
        split.rename({c.CHANNEL: c.SOURCE_MEDIUM}), by=c.SOURCE_MEDIUM
    )
    colours = [t.marker.color[0] for t in by_source.data]
    assert colours[-1] == MUTED  # (other) is grey
    assert len(set(colours)) == 3


def test_revenue_hovers_name_the_currency() -> None:
    table = pl.DataFrame({c.CHANNEL: ["Email"], c.REVENUE: [1234.5]})
    fig = charts.breakdown_chart(table, by=c.CHANNEL, value=c.REVENUE, currency="EUR")
    assert "EUR %{x:,.2f}" in fig.data[0].hovertemplate
    assert list(fig.data[0].text) == ["EUR 1,234.50"]
    assert "Revenue: EUR" in fig.data[0].hovertemplate  # named in the hover (no axis title)
    people = charts.breakdown_chart(table.rename({c.REVENUE: an.PEOPLE}), by=c.CHANNEL)
    assert "EUR" not in people.data[0].hovertemplate


def test_person_timeline_revenue_names_the_currency() -> None:
    at = dt.datetime(2022, 8, 1, 10, tzinfo=UTC)
    rows = pl.DataFrame(
        {
            c.EMAIL: ["a@x.io", "a@x.io"],
            c.OCCURRED_AT: [at, at + dt.timedelta(minutes=5)],
            c.EVENT_ID: ["1", "2"],
            c.EVENT_TYPE: ["page_view", "purchase"],
            c.KNOWN_AT: [at, at],
            c.REVENUE: [None, 42.0],
            c.PAGE_URL: ["https://s.io/", "https://s.io/buy"],
            c.REFERRER: [None, None],
            c.UTM_SOURCE: [None, None],
            c.UTM_MEDIUM: [None, None],
            c.UTM_CAMPAIGN: [None, None],
            c.ANONYMOUS_ID: ["d1", "d1"],
            c.BEFORE_KNOWN: [False, False],
        }
    )
    fig = person.timeline(rows, currency="GBP")
    hovers = " ".join(str(h) for t in fig.data for h in (t.hovertext or ()))
    assert "Revenue: GBP 42.00" in hovers
