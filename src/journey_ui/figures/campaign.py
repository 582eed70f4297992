"""Plotly figures of journeys: pure ``DataFrame -> go.Figure`` builders, no Streamlit.

Colours and labels come from :mod:`journey_ui.figures.palette` (shared with the attribution
figures): a channel has one colour in every chart, and people see labels
(:data:`~journey_ui.figures.palette.LABELS`, :func:`~journey_ui.figures.palette.event_label`),
never raw column names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import plotly.graph_objects as go
import polars as pl

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.timeutil import parse_timezone
from journey_ui.figures.palette import (
    ACTIVE,
    CHANNEL_COLORS,
    EVENT_LABELS,
    EVENT_ORDER,
    EVENTS_COLOR,
    EXTRA_COLORS,
    FONT,
    GRID,
    KNOWN_LINE,
    LABELS,
    MUTED,
    NEWLY_COLOR,
    SURFACE,
    SURFACE_ALT,
    channel_color,
    event_label,
    label,
    ordered_channels,
)

Lane = Literal["event_type", "channel"]


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


def _label_margin(labels: Sequence[str]) -> int:
    """Left margin (px) that fits the longest category label at 13 px (no clipping)."""
    longest = max((len(text) for text in labels), default=0)
    return min(300, 16 + int(7.4 * longest))


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


def _local_naive(series: pl.Series, tz: str) -> list[dt.datetime]:
    """Datetimes in ``tz`` without tzinfo: Plotly draws them as wall-clock times."""
    return series.dt.convert_time_zone(tz).dt.replace_time_zone(None).to_list()


def _fmt_time(value: dt.datetime, tz: str) -> str:
    return value.astimezone(parse_timezone(tz)).strftime("%d %b %Y %H:%M")


# --------------------------------------------------------------------------- timeline


def timeline(frame: pl.DataFrame, *, lane: Lane = "event_type", tz: str = "UTC") -> go.Figure:
    """One individual's journey over time.

    One lane per event type (or per channel), markers coloured by the visit's channel, hover
    with the UTM tags, page and referrer; visits (sessions) drawn as shaded bands with their
    number in a top "Visits" lane, and a red line where the person became known.
    """
    if frame.is_empty():
        return empty_figure("No events to show for this person in the window.")
    rows = an.with_sessions(frame) if c.CHANNEL not in frame.columns else frame
    sessions = an.session_summary(rows)
    lane_col = c.EVENT_TYPE if lane == "event_type" else c.CHANNEL
    if lane == "event_type":
        present = rows.get_column(c.EVENT_TYPE).drop_nulls().unique().to_list()
        order = [e for e in EVENT_ORDER if e in present] + sorted(set(present) - set(EVENT_ORDER))
        lanes = [event_label(e) for e in order]
        lane_of = {e: event_label(e) for e in order}
    else:
        lanes = ordered_channels(rows.get_column(c.CHANNEL).unique().to_list())
        lane_of = {name: name for name in lanes}
    visits_lane = "Visits"
    category_order = [visits_lane, *lanes]

    fig = go.Figure()
    # Visits: shaded bands (drawn below) and one numbered marker per visit.
    first = rows.get_column(c.OCCURRED_AT).min()
    last = rows.get_column(c.OCCURRED_AT).max()
    assert isinstance(first, dt.datetime)
    assert isinstance(last, dt.datetime)
    span = max(last - first, dt.timedelta(hours=1))
    min_width = span / 250
    starts = _local_naive(sessions.get_column(c.SESSION_START), tz)
    ends = _local_naive(sessions.get_column(c.SESSION_END), tz)
    for index, (s0, s1) in enumerate(zip(starts, ends, strict=True)):
        if s1 - s0 < min_width:
            mid = s0 + (s1 - s0) / 2
            s0, s1 = mid - min_width / 2, mid + min_width / 2
        fig.add_shape(
            type="rect",
            xref="x",
            yref="paper",
            x0=s0,
            x1=s1,
            y0=0,
            y1=1,
            fillcolor=SURFACE if index % 2 == 0 else SURFACE_ALT,
            line={"width": 0},
            layer="below",
        )
    visit_hover = [
        f"<b>Visit {n}</b><br>{_fmt_time(start, tz)} · {events} event{'s' if events != 1 else ''}"
        f" · {_duration(end - start)}<br>Channel: {chan}<br>Source / medium: {src} / {med}"
        f"<br>Campaign: {camp}<br>Landing page: {land or '—'}"
        for n, start, end, events, chan, src, med, camp, land in sessions.select(
            c.SESSION,
            c.SESSION_START,
            c.SESSION_END,
            an.EVENTS,
            c.CHANNEL,
            c.SESSION_SOURCE,
            c.SESSION_MEDIUM,
            c.SESSION_CAMPAIGN,
            c.LANDING_PAGE,
        ).iter_rows()
    ]
    fig.add_trace(
        go.Scatter(
            x=starts,
            y=[visits_lane] * sessions.height,
            mode="markers+text",
            text=[str(n) for n in sessions.get_column(c.SESSION).to_list()],
            textposition="top center",
            textfont={"size": 10, "color": MUTED},
            marker={
                "symbol": "square",
                "size": 11,
                "color": [channel_color(x) for x in sessions.get_column(c.CHANNEL).to_list()],
                "line": {"width": 0},
            },
            hovertext=visit_hover,
            hoverinfo="text",
            showlegend=False,
            name="Visits",
            cliponaxis=False,
        )
    )
    # Events: one trace per channel, so the legend explains the colours.
    for channel in ordered_channels(rows.get_column(c.CHANNEL).unique().to_list()):
        part = rows.filter(pl.col(c.CHANNEL) == channel)
        # A legend entry with a plain circle (the events mix circles and diamonds).
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=channel,
                legendgroup=channel,
                marker={"size": 10, "color": channel_color(channel), "symbol": "circle"},
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=_local_naive(part.get_column(c.OCCURRED_AT), tz),
                y=[lane_of.get(v, str(v)) for v in part.get_column(lane_col).to_list()],
                mode="markers",
                name=channel,
                legendgroup=channel,
                showlegend=False,
                marker={
                    "size": 10,
                    "color": channel_color(channel),
                    "line": {"width": 1, "color": "white"},
                    "symbol": [
                        "diamond" if before else "circle"
                        for before in part.get_column(c.BEFORE_KNOWN).to_list()
                    ],
                },
                hovertext=[_event_hover(r, tz) for r in part.iter_rows(named=True)],
                hoverinfo="text",
            )
        )
    height = 158 + 44 * len(category_order)
    plot_height = height - 64 - 70
    known_at = rows.get_column(c.KNOWN_AT)[0]
    if isinstance(known_at, dt.datetime) and first - span / 20 <= known_at <= last + span / 20:
        x_known = known_at.astimezone(parse_timezone(tz)).replace(tzinfo=None)
        fig.add_shape(
            type="line",
            xref="x",
            yref="paper",
            x0=x_known,
            x1=x_known,
            y0=0,
            y1=1 + 26 / plot_height,  # up to its label, above the zoom buttons
            line={"color": KNOWN_LINE, "width": 2, "dash": "dash"},
        )
        # Above the zoom buttons' row, on the side of the line with more room.
        right_half = known_at - first > span / 2
        fig.add_annotation(
            x=x_known,
            y=1,
            xref="x",
            yref="paper",
            text=f"Became known · {_fmt_time(known_at, tz)}",
            showarrow=False,
            xanchor="right" if right_half else "left",
            yanchor="bottom",
            xshift=-4 if right_half else 4,
            yshift=26,
            font={"color": KNOWN_LINE, "size": 12},
            bgcolor="rgba(255,255,255,0.85)",
        )
    _base_layout(fig, height=height)
    fig.update_layout(
        legend={
            "y": -44 / plot_height,
            "yanchor": "top",
            "x": 0,
            "xanchor": "left",
            "title": {"text": "Visit channel:  ", "side": "left"},
        },
        margin={"t": 64, "b": 70, "l": _label_margin(category_order)},
        hovermode="closest",
    )
    fig.update_yaxes(
        type="category",
        categoryorder="array",
        categoryarray=list(reversed(category_order)),
        range=[-0.6, len(category_order) - 0.4],
        showgrid=True,
        fixedrange=True,
        automargin=False,
        ticklabelstandoff=6,
    )
    fig.update_xaxes(
        type="date",
        tickformat="%d %b",
        hoverformat="%d %b %Y %H:%M",
        automargin=False,
        rangeselector={
            "buttons": [
                {"count": 1, "label": "1 day", "step": "day", "stepmode": "backward"},
                {"count": 7, "label": "7 days", "step": "day", "stepmode": "backward"},
                {"count": 30, "label": "30 days", "step": "day", "stepmode": "backward"},
                {"step": "all", "label": "All"},
            ],
            "x": 1,
            "xanchor": "right",
            "y": 1.0,
            "yanchor": "bottom",
            "font": {"size": 11},
            "bgcolor": SURFACE,
            "activecolor": ACTIVE,
        },
    )
    return fig


def _pct(value: float | None, digits: int = 0) -> str:
    """``42%``; ``<1%`` for small non-zero shares; an em dash when undefined."""
    if value is None:
        return "—"
    if 0 < value < 0.01 and digits == 0:
        return "<1%"
    return f"{value:.{digits}%}"


def _duration(value: dt.timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def _event_hover(row: dict[str, Any], tz: str) -> str:
    lines = [
        f"<b>{event_label(row[c.EVENT_TYPE])}</b> · {_fmt_time(row[c.OCCURRED_AT], tz)}",
        f"Visit {row[c.SESSION]} · {row[c.CHANNEL]}"
        + (" · before known" if row[c.BEFORE_KNOWN] else ""),
    ]
    tags = [
        (label(name), row[name])
        for name in (c.UTM_SOURCE, c.UTM_MEDIUM, c.UTM_CAMPAIGN, c.UTM_CONTENT, c.UTM_TERM)
        if row.get(name)
    ]
    if tags:
        lines.append("<br>".join(f"{k}: {v}" for k, v in tags))
    lines.append(f"Page: {_short(row[c.PAGE_URL])}")
    if row.get(c.REFERRER):
        lines.append(f"Referrer: {_short(row[c.REFERRER])}")
    if row.get(c.REVENUE) is not None:
        lines.append(f"Revenue: {row[c.REVENUE]:,.2f}")
    if row.get(c.ANONYMOUS_ID):
        lines.append(f"Device: {row[c.ANONYMOUS_ID]}")
    return "<br>".join(lines)


def _short(url: str | None, limit: int = 90) -> str:
    if not url:
        return "—"
    return url if len(url) <= limit else url[: limit - 1] + "…"


# --------------------------------------------------------------------------- trends


def daily_trend_chart(trend: pl.DataFrame) -> go.Figure:
    """Events per day (bars, left axis) and newly known people per day (line, right axis)."""
    if trend.is_empty():
        return empty_figure("No days in the window.")
    days = trend.get_column(an.DAY).to_list()
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=days,
            y=trend.get_column(an.EVENTS).to_list(),
            name="Events",
            marker={"color": EVENTS_COLOR},
            hovertemplate="%{x|%a %d %b %Y}<br>Events: %{y:,}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=days,
            y=trend.get_column(an.NEWLY_KNOWN_PEOPLE).to_list(),
            name="Newly known people",
            mode="lines+markers",
            yaxis="y2",
            line={"color": NEWLY_COLOR, "width": 2.5},
            marker={"size": 5},
            hovertemplate="%{x|%a %d %b %Y}<br>Newly known: %{y:,}<extra></extra>",
        )
    )
    _base_layout(fig, height=340)
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


def hourly_chart(hourly: pl.DataFrame, *, tz: str = "UTC") -> go.Figure:
    """Events per hour, stacked by channel (from :func:`analytics.hourly_by_channel`)."""
    if hourly.is_empty():
        return empty_figure("No events in the window.")
    fig = go.Figure()
    for channel in ordered_channels(hourly.get_column(c.CHANNEL).unique().to_list()):
        part = hourly.filter(pl.col(c.CHANNEL) == channel)
        fig.add_trace(
            go.Bar(
                x=part.get_column(an.HOUR).to_list(),
                y=part.get_column(an.EVENTS).to_list(),
                name=channel,
                marker={"color": channel_color(channel)},
                hovertemplate=f"%{{x|%d %b %H:00}}<br>{channel}: %{{y:,}} events<extra></extra>",
            )
        )
    _base_layout(fig, height=360)
    fig.update_layout(barmode="stack", bargap=0.1, legend={"traceorder": "normal"})
    # Each bar is one hour wide (a lone hour must not fill the chart), the axis spans at least
    # HOURLY_MIN_SPAN, and ticks fall on whole hours and whole events: never "08:00, 08:00"
    # or "2, 2, 1, 1" (half-hour and half-event ticks printed rounded).
    fig.update_traces(width=HOUR_MS * 0.9, offset=0)
    first, last = hourly.get_column(an.HOUR).min(), hourly.get_column(an.HOUR).max()
    assert isinstance(first, dt.datetime)
    assert isinstance(last, dt.datetime)
    end = max(last + dt.timedelta(hours=1), first + HOURLY_MIN_SPAN)
    per_hour = hourly.group_by(an.HOUR).agg(pl.col(an.EVENTS).sum()).get_column(an.EVENTS)
    fig.update_xaxes(
        type="date",
        range=[first, end],
        dtick=HOUR_MS * max(1, round((end - first) / dt.timedelta(hours=8))),
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
    table: pl.DataFrame, *, by: str, value: str = an.PEOPLE, limit: int = 10
) -> go.Figure:
    """Horizontal bars of ``value`` per ``by`` (a breakdown from :func:`analytics.breakdown`).

    Channels take their own colours; other dimensions one colour. The largest bar is on top.
    """
    if table.is_empty():
        return empty_figure("Nothing to break down.")
    top = table.sort(value, descending=True).head(limit)
    names = [str(v) for v in top.get_column(by).to_list()]
    values = top.get_column(value).to_list()
    colors = [channel_color(n) for n in names] if by == c.CHANNEL else NEWLY_COLOR
    fmt = ",.0f" if value != c.REVENUE else ",.2f"
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker={"color": colors},
            text=[format(v, fmt) for v in values],
            textposition="outside",
            cliponaxis=False,
            hovertemplate=f"%{{y}}<br>{label(value)}: %{{x:{fmt}}}<extra></extra>",
        )
    )
    _base_layout(fig, height=90 + 32 * max(limit, len(names)), legend=False)
    fig.update_layout(margin={"l": _label_margin(names)})
    fig.update_yaxes(autorange="reversed", showgrid=False, automargin=False, ticklabelstandoff=6)
    peak = max(max(values), 1) if values else 1
    fig.update_xaxes(
        title={"text": label(value), "font": {"size": 12, "color": MUTED}},
        range=[0, peak * 1.18],
        tickformat=",.0f" if value != c.REVENUE else ",.2f",
    )
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
    "timeline",
]
