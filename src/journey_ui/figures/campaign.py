"""Plotly figures of journeys: pure ``DataFrame -> go.Figure`` builders, no Streamlit.

Colours and labels come from :mod:`journey_ui.figures.palette` (shared with the attribution
figures): a channel has one colour in every chart, and people see labels
(:data:`~journey_ui.figures.palette.LABELS`, :func:`~journey_ui.figures.palette.event_label`),
never raw column names.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import plotly.graph_objects as go
import polars as pl

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.timeutil import parse_timezone
from journey_ui.figures.palette import (
    CHANNEL_COLORS,
    EVENT_LABELS,
    EVENTS_COLOR,
    EXTRA_COLORS,
    FONT,
    GRID,
    LABELS,
    MUTED,
    NEWLY_COLOR,
    SERIES_COLORS,
    channel_color,
    event_label,
    fade,
    label,
    ordered_channels,
)
from journey_ui.format import DEFAULT_CURRENCY, fmt_money


def _base_layout(fig: go.Figure, *, height: int, legend: bool = True) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 8, "r": 8, "t": 40 if legend else 16, "b": 8},
        font={"family": FONT, "size": 13},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        hoverlabel={"font": {"family": FONT, "size": 12}, "align": "left"},
        showlegend=legend,
        legend={
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.02,
            "xanchor": "left",
            "x": 0,
            "title": {"text": ""},
        },
        separators=".,",
    )
    fig.update_xaxes(gridcolor=GRID, zeroline=False, automargin=True)
    fig.update_yaxes(gridcolor=GRID, zeroline=False, automargin=True)
    return fig


_BAR_ROW_PX: Final = 46
"""A ranked bar's row: its name above it, then the bar (:func:`breakdown_chart`)."""
_BAR_WIDTH: Final = 0.42
"""A ranked bar's thickness, as a share of its row (the rest holds its name)."""


def empty_figure(message: str, *, height: int = 220) -> go.Figure:
    """A blank chart carrying ``message`` (used when there is nothing to draw)."""
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        font={"size": 14, "color": MUTED},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base_layout(fig, height=height, legend=False)


# --------------------------------------------------------------------------- trends


#: Room for each legend entry (px): Plotly measures legend text before the web font loads,
#: then clips it ("Newly known peop"); a fixed width per entry never clips.
LEGEND_ENTRY_WIDTH = 190
PARTIAL_NOTE = "partial day"


def _legend_room(fig: go.Figure) -> None:
    fig.update_layout(legend={"entrywidth": LEGEND_ENTRY_WIDTH, "entrywidthmode": "pixels"})


def _legend_name(value: str, limit: int = 40) -> str:
    """A legend entry: a URL without its scheme, cut to ``limit`` characters.

    >>> _legend_name("https://shop.example.com/products/sneakers-and-more", 30)
    'shop.example.com/products/sne…'
    """
    text = value.removeprefix("https://").removeprefix("http://")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mark_partial(fig: go.Figure, day: dt.date, *, until: str | None = None) -> None:
    """A note above the partial last day (its figures stop at the as-of time)."""
    text = PARTIAL_NOTE if until is None else f"{PARTIAL_NOTE} (to {until})"
    fig.add_annotation(
        x=day,
        y=1,
        xref="x",
        yref="paper",
        yanchor="bottom",
        xanchor="right",
        text=text,
        showarrow=False,
        font={"size": 11, "color": MUTED},
    )


def daily_trend_chart(
    trend: pl.DataFrame, *, partial: dt.date | None = None, until: str | None = None
) -> go.Figure:
    """Events per day (bars, left axis) and newly known people per day (line, right axis).

    ``partial``: the last day when it is partial (the period stops at the as-of time
    ``until``): its bar is hatched and faded and its point joined by a dotted line, so a
    low partial day does not read as a drop.
    """
    if trend.is_empty():
        return empty_figure("No days in the window.")
    days = trend.get_column(an.DAY).to_list()
    is_partial = [day == partial for day in days]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=days,
            y=trend.get_column(an.EVENTS).to_list(),
            name="Events",
            marker={
                "color": [fade(EVENTS_COLOR, 0.45) if p else EVENTS_COLOR for p in is_partial],
                "pattern": {"shape": ["/" if p else "" for p in is_partial], "solidity": 0.3},
            },
            customdata=[" (partial day)" if p else "" for p in is_partial],
            hovertemplate="%{x|%a %d %b %Y}%{customdata}<br>Events: %{y:,}<extra></extra>",
        )
    )
    newly = trend.get_column(an.NEWLY_KNOWN_PEOPLE).to_list()
    whole = len(days) - 1 if partial is not None and days[-1] == partial else len(days)
    fig.add_trace(
        go.Scatter(
            x=days[:whole],
            y=newly[:whole],
            name="Newly known people",
            mode="lines+markers",
            yaxis="y2",
            line={"color": NEWLY_COLOR, "width": 2.5},
            marker={"size": 5},
            hovertemplate="%{x|%a %d %b %Y}<br>Newly known: %{y:,}<extra></extra>",
        )
    )
    if whole < len(days):
        fig.add_trace(
            go.Scatter(
                x=days[max(whole - 1, 0) :],
                y=newly[max(whole - 1, 0) :],
                name="Newly known (partial day)",
                mode="lines+markers",
                yaxis="y2",
                line={"color": NEWLY_COLOR, "width": 2, "dash": "dot"},
                marker={"size": 5, "symbol": "circle-open"},
                hovertemplate="%{x|%a %d %b %Y}<br>Newly known: %{y:,}<extra></extra>",
                showlegend=False,
            )
        )
        _mark_partial(fig, days[-1], until=until)
    _base_layout(fig, height=340)
    _legend_room(fig)
    fig.update_layout(
        yaxis={
            "title": {"text": "Events", "font": {"color": MUTED, "size": 12}},
            "tickformat": ",d",
            "rangemode": "tozero",
        },
        yaxis2={
            "title": {"text": "Newly known people", "font": {"color": NEWLY_COLOR, "size": 12}},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "rangemode": "tozero",
            "tickfont": {"color": NEWLY_COLOR},
            "tickformat": ",d",
            "tickmode": "auto",
            "nticks": 6,
            "automargin": True,
        },
        bargap=0.15,
        hovermode="x unified",
    )
    # A few events or people a day: tick every whole one, never "3, 3, 2, 2" (half ticks).
    per_day = trend.group_by(an.DAY).agg(pl.col(an.EVENTS, an.NEWLY_KNOWN_PEOPLE).sum())
    if _small(per_day.get_column(an.EVENTS).max()):
        fig.update_layout(yaxis_dtick=1)
    if _small(per_day.get_column(an.NEWLY_KNOWN_PEOPLE).max()):
        fig.update_layout(yaxis2_tickmode="linear", yaxis2_dtick=1)
    fig.update_xaxes(type="date", tickformat="%d %b")
    return fig


#: One hour in milliseconds (Plotly's unit for widths and ticks on a date axis).
HOUR_MS = 3_600_000
#: The hourly chart shows at least this much time, however few hours have events.
HOURLY_MIN_SPAN = dt.timedelta(hours=6)
#: Below this many events, a count axis ticks every whole event.
SMALL_COUNTS = 6


def _small(top: object) -> bool:
    return isinstance(top, int | float) and top < SMALL_COUNTS


def split_trend_chart(
    split: pl.DataFrame,
    *,
    by: str,
    value: str = an.EVENTS,
    partial: dt.date | None = None,
    until: str | None = None,
) -> go.Figure:
    """The daily trend split by ``by`` (:func:`analytics.trend_by`): ``value`` per day,
    stacked by value of ``by`` (its top values and ``(other)``), the partial last day hatched.
    """
    if split.is_empty():
        return empty_figure("No days in the window.")
    values = split.get_column(by).unique(maintain_order=True).to_list()
    fig = go.Figure()
    for index, name in enumerate(values):
        part = split.filter(pl.col(by) == name)
        days = part.get_column(an.DAY).to_list()
        color = (
            channel_color(str(name))
            if by == c.CHANNEL
            else (MUTED if name == an.OTHER else SERIES_COLORS[index % len(SERIES_COLORS)])
        )
        shown = str(name)
        fig.add_trace(
            go.Bar(
                x=days,
                y=part.get_column(value).to_list(),
                name=_legend_name(shown),
                marker={
                    "color": [fade(color, 0.45) if d == partial else color for d in days],
                    "pattern": {"shape": ["/" if d == partial else "" for d in days]},
                },
                customdata=[
                    [p, k, " (partial day)" if d == partial else ""]
                    for p, k, d in zip(
                        part.get_column(an.PEOPLE).to_list(),
                        part.get_column(an.CONVERSIONS).to_list(),
                        days,
                        strict=True,
                    )
                ],
                hovertext=[shown] * part.height,
                hovertemplate="%{hovertext}%{customdata[2]}: %{y:,} "
                + label(value).lower()
                + " · %{customdata[0]:,} people · %{customdata[1]:,} conversions<extra></extra>",
            )
        )
    if partial is not None:
        _mark_partial(fig, partial, until=until)
    _base_layout(fig, height=360)
    longest = max(len(str(trace.name)) for trace in fig.data)
    fig.update_layout(
        legend={
            "entrywidth": max(LEGEND_ENTRY_WIDTH, 40 + 7 * longest),
            "entrywidthmode": "pixels",
            "traceorder": "normal",
        },
        barmode="stack",
        bargap=0.15,
        hovermode="x unified",
    )
    fig.update_xaxes(type="date", tickformat="%d %b")
    fig.update_yaxes(
        title={"text": label(value), "font": {"size": 12, "color": MUTED}}, tickformat=",d"
    )
    return fig


def partial_hours(start: dt.datetime, end: dt.datetime, tz: str = "UTC") -> set[dt.datetime]:
    """The local hours (naive, as :func:`analytics.hourly_by_channel` has them) that the
    window ``start``..``end`` (both included) covers only in part: its first hour unless the
    window starts on the hour, and the hour of ``end`` unless ``end`` is that hour's last
    microsecond (``?as_of=2026-01-01``: the day's last microsecond, so 23:00 is whole).

    >>> utc = dt.UTC
    >>> sorted(partial_hours(dt.datetime(2026, 1, 1, 0, 41, tzinfo=utc),
    ...                      dt.datetime(2026, 1, 2, 0, 41, tzinfo=utc)))
    [datetime.datetime(2026, 1, 1, 0, 0), datetime.datetime(2026, 1, 2, 0, 0)]
    """
    zone = parse_timezone(tz)

    def hour(value: dt.datetime) -> dt.datetime:
        return value.astimezone(zone).replace(minute=0, second=0, microsecond=0, tzinfo=None)

    first, last = hour(start), hour(end)
    whole_last = hour(end + dt.timedelta(microseconds=1)) != last
    out = set() if whole_last else {last}
    if start.astimezone(zone).replace(tzinfo=None) != first:
        out.add(first)
    return out


def hourly_chart(
    hourly: pl.DataFrame,
    *,
    tz: str = "UTC",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> go.Figure:
    """Events per hour, stacked by channel (from :func:`analytics.hourly_by_channel`).

    With the window's ``start`` and ``end``, the hours it covers only in part
    (:func:`partial_hours`) are drawn lighter and say so in their hover: a short first or last
    bar is not a dip in activity.
    """
    if hourly.is_empty():
        return empty_figure("No events in the window.")
    partial = partial_hours(start, end, tz) if start is not None and end is not None else set()
    fig = go.Figure()
    channels = ordered_channels(hourly.get_column(c.CHANNEL).unique().to_list())
    for channel in channels:
        part = hourly.filter(pl.col(c.CHANNEL) == channel)
        hours = part.get_column(an.HOUR).to_list()
        fig.add_trace(
            go.Bar(
                x=hours,
                y=part.get_column(an.EVENTS).to_list(),
                name=channel,
                marker={
                    "color": channel_color(channel),
                    "opacity": [0.4 if h in partial else 1.0 for h in hours],
                },
                customdata=[" (partial hour)" if h in partial else "" for h in hours],
                hovertemplate=(
                    f"%{{x|%d %b %H:00}}%{{customdata}}<br>{channel}: %{{y:,}} events"
                    "<extra></extra>"
                ),
            )
        )
    _base_layout(fig, height=360)
    # Fixed-width legend entries: a long channel name is never cut by the next one.
    longest = max((len(name) for name in channels), default=0)
    fig.update_layout(
        barmode="stack",
        bargap=0.1,
        legend={
            "traceorder": "normal",
            "entrywidth": 40 + 8 * longest,
            "entrywidthmode": "pixels",
        },
    )
    # Each bar is one hour wide (a lone hour must not fill the chart), the axis spans at least
    # HOURLY_MIN_SPAN, and ticks fall on whole hours and whole events: never "08:00, 08:00"
    # or "2, 2, 1, 1" (half-hour and half-event ticks printed rounded).
    fig.update_traces(width=HOUR_MS * 0.9, offset=0)
    first, last = hourly.get_column(an.HOUR).min(), hourly.get_column(an.HOUR).max()
    assert isinstance(first, dt.datetime)
    assert isinstance(last, dt.datetime)
    axis_end = max(last + dt.timedelta(hours=1), first + HOURLY_MIN_SPAN)
    per_hour = hourly.group_by(an.HOUR).agg(pl.col(an.EVENTS).sum()).get_column(an.EVENTS)
    fig.update_xaxes(
        type="date",
        range=[first, axis_end],
        dtick=HOUR_MS * max(1, round((axis_end - first) / dt.timedelta(hours=8))),
        tickformat="%H:00<br>%d %b",
        title={"text": f"Hour ({tz})", "font": {"size": 12, "color": MUTED}},
    )
    fig.update_yaxes(
        title={"text": "Events", "font": {"size": 12, "color": MUTED}},
        tickformat=",d",
        rangemode="tozero",
        dtick=1 if _small(per_hour.max()) else None,
    )
    return fig


# --------------------------------------------------------------------------- breakdowns


def breakdown_chart(
    table: pl.DataFrame,
    *,
    by: str,
    value: str = an.PEOPLE,
    limit: int = 10,
    currency: str = DEFAULT_CURRENCY,
) -> go.Figure:
    """Horizontal bars of ``value`` per ``by`` (a breakdown from :func:`analytics.breakdown`).

    Channels take their own colours; other dimensions one colour. The largest bar is on top.
    Revenue is in ``currency`` (bar text and hover text).
    """
    if table.is_empty():
        return empty_figure("Nothing to break down.")
    top = table.sort(value, descending=True).head(limit)
    names = [str(v) for v in top.get_column(by).to_list()]
    values = top.get_column(value).to_list()
    colors = [channel_color(n) for n in names] if by == c.CHANNEL else NEWLY_COLOR
    money = value == c.REVENUE
    fmt = ",.0f" if not money else ",.2f"
    unit = f"{currency} " if money else ""
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker={"color": colors},
            text=[fmt_money(v, currency) if money else format(v, fmt) for v in values],
            texttemplate=" %{text}",  # a gap after the bar's end ("6,670" touched it)
            textposition="outside",
            cliponaxis=False,
            width=_BAR_WIDTH,
            hovertemplate=f"%{{y}}<br>{label(value)}: {unit}%{{x:{fmt}}}<extra></extra>",
        )
    )
    rows = max(limit, len(names))
    _base_layout(fig, height=60 + _BAR_ROW_PX * rows, legend=False)
    # Each name above its bar, inside the plot: as names beside the bars, a long one took a
    # half-width chart's whole width in a 1024 px window and left the bars no room.
    fig.update_yaxes(
        range=[rows - 0.5, -0.5 - _BAR_WIDTH],  # the first row on top, room for its name
        showgrid=False,
        automargin=False,
        ticks="",
        ticklabelposition="inside top",
        ticklabelshift=round(_BAR_ROW_PX * _BAR_WIDTH / 2),  # above the bar, not over it
        ticklabelstandoff=0,
    )
    peak = max(max(values), 1) if values else 1
    # Each bar says its value and the hover names the measure: no ticks, and no axis title,
    # which sat under the rows kept for alignment and read as the table's header below.
    fig.update_xaxes(range=[0, peak * 1.18], showticklabels=False, showgrid=False)
    return fig


__all__ = [
    "CHANNEL_COLORS",
    "EVENT_LABELS",
    "EXTRA_COLORS",
    "LABELS",
    "breakdown_chart",
    "channel_color",
    "daily_trend_chart",
    "empty_figure",
    "event_label",
    "hourly_chart",
    "label",
    "partial_hours",
    "split_trend_chart",
]
