"""One person's timeline: visits on a numbered axis, so no two labels ever share a place.

A pure ``DataFrame -> go.Figure`` builder, no Streamlit. The x axis is the visit number
(1, 2, ... in time order, each visit one equal step whatever the time between them, its date
under the number); one lane per event type (or per channel). Each (visit, lane) cell is ONE
marker whose size and number give how many events it holds ("13" page views), coloured by
the visit's channel, a diamond before the person became known; its hover lists the times and
pages. Numbers are printed inside markers only when the marker is wide enough, and the
marker size is capped by the width of one visit, so labels never collide. A dashed line
between two visits marks when the person became known.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Final, Literal

import plotly.graph_objects as go
import polars as pl

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.timeutil import parse_timezone
from journey_ui.figures.campaign import empty_figure
from journey_ui.figures.palette import (
    EVENT_ORDER,
    FONT,
    GRID,
    KNOWN_LINE,
    MUTED,
    channel_color,
    event_label,
    ordered_channels,
)
from journey_ui.format import DEFAULT_CURRENCY, fmt_money

__all__ = ["MAX_MARKER", "MIN_LABELLED", "PLOT_WIDTH", "Lane", "marker_size", "timeline"]

Lane = Literal["event_type", "channel"]
VISITS_LANE: Final = "Visits"
#: The plot width the marker sizes are planned for (px; the page is wider at 1440 px).
PLOT_WIDTH: Final = 900
MAX_MARKER: Final = 30
#: Markers narrower than this carry no number (it would not fit inside).
MIN_LABELLED: Final = 14
_PAGES_IN_HOVER: Final = 6


def marker_size(count: int, *, visits: int) -> float:
    """The marker diameter (px) of a cell of ``count`` events among ``visits`` visits.

    Grows with the square root of the count, never wider than 80% of one visit's width.

    >>> marker_size(1, visits=11), marker_size(13, visits=11), marker_size(13, visits=200)
    (13.0, 23.4, 3.6)
    """
    cap = min(MAX_MARKER, 0.8 * PLOT_WIDTH / max(visits, 1))
    return round(min(cap, 9 + 4 * math.sqrt(max(count, 1))), 1)


def _local(value: dt.datetime, tz: str) -> dt.datetime:
    return value.astimezone(parse_timezone(tz))


def _fmt(value: dt.datetime, tz: str) -> str:
    return _local(value, tz).strftime("%d %b %Y %H:%M")


def _short(url: str | None, limit: int = 70) -> str:
    if not url:
        return "—"
    return url if len(url) <= limit else url[: limit - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _cell_hover(cell: dict[str, Any], tz: str, currency: str = DEFAULT_CURRENCY) -> str:
    n = int(cell["n"])
    times: list[dt.datetime] = cell["times"]
    what = f"{event_label(cell['what'])} × {n}" if cell["lane_is_type"] else _plural(n, "event")
    lines = [
        f"<b>Visit {cell[c.SESSION]} · {what}</b>",
        f"{_fmt(min(times), tz)}" + (f" – {_fmt(max(times), tz)}" if n > 1 else ""),
        f"Channel: {cell[c.CHANNEL]}" + (" · before known" if cell[c.BEFORE_KNOWN] else ""),
    ]
    pages = [p for p in cell["pages"] if p]
    if pages:
        shown = [_short(p) for p in pages[:_PAGES_IN_HOVER]]
        more = len(pages) - len(shown)
        lines.append(
            "Pages:<br>  " + "<br>  ".join(shown) + (f"<br>  … {more} more" if more else "")
        )
    revenue = cell["revenue"]
    if revenue:
        lines.append(f"Revenue: {fmt_money(revenue, currency)}")
    return "<br>".join(lines)


_NARROW_PLOT_PX: Final = 520
"""The timeline's plot width in a 1024 px window, for how many rows its legend takes."""
_LEGEND_SYMBOL_PX: Final = 40
_LEGEND_ROW_PX: Final = 26
_CELL_OPACITY: Final = 0.7
"""Plotly's own opacity for markers sized one by one, written out so the legend's circles
show the cells' colour (at 1 they read darker than every cell)."""


def timeline(
    frame: pl.DataFrame,
    *,
    lane: Lane = "event_type",
    tz: str = "UTC",
    currency: str = DEFAULT_CURRENCY,
) -> go.Figure:
    """One person's visits on a numbered axis (see the module docstring)."""
    if frame.is_empty():
        return empty_figure("No events to show for this person in the window.")
    rows = frame if c.CHANNEL in frame.columns else an.with_sessions(frame)
    sessions = an.session_summary(rows)
    visits = sessions.height
    by_type = lane == "event_type"
    lane_col = c.EVENT_TYPE if by_type else c.CHANNEL
    present = [str(v) for v in rows.get_column(lane_col).drop_nulls().unique().to_list()]
    if by_type:
        order = [e for e in EVENT_ORDER if e in present] + sorted(set(present) - set(EVENT_ORDER))
        lane_name = {e: event_label(e) for e in order}
    else:
        order = ordered_channels(present)
        lane_name = {name: name for name in order}
    lanes = [lane_name[v] for v in order]
    categories = [VISITS_LANE, *lanes]

    cells = (
        rows.filter(pl.col(lane_col).is_not_null())
        .with_columns(pl.col(lane_col).cast(pl.String).alias("what"))
        .group_by(c.SESSION, "what", maintain_order=True)
        .agg(
            pl.len().alias("n"),
            pl.col(c.OCCURRED_AT).alias("times"),
            pl.col(c.PAGE_URL).alias("pages"),
            pl.col(c.CHANNEL).first(),
            pl.col(c.BEFORE_KNOWN).first(),
            pl.col(c.REVENUE).fill_null(0.0).sum().alias("revenue"),
        )
    )

    fig = go.Figure()
    # The Visits lane: one square per visit in its channel's colour (details on hover).
    visit_rows = list(sessions.iter_rows(named=True))
    fig.add_trace(
        go.Scatter(
            x=[v[c.SESSION] for v in visit_rows],
            y=[VISITS_LANE] * visits,
            mode="markers",
            marker={
                "symbol": "square",
                "size": [marker_size(1, visits=visits) for _ in visit_rows],
                "color": [channel_color(v[c.CHANNEL]) for v in visit_rows],
                "line": {"width": 0},
            },
            hovertext=[
                f"<b>Visit {v[c.SESSION]}</b> · {_fmt(v[c.SESSION_START], tz)}<br>"
                f"{_plural(int(v[an.EVENTS]), 'event')}<br>Channel: {v[c.CHANNEL]}<br>"
                f"Source / medium: {v[c.SESSION_SOURCE]} / {v[c.SESSION_MEDIUM]}<br>"
                f"Campaign: {v[c.SESSION_CAMPAIGN]}<br>"
                f"Landing page: {_short(v[c.LANDING_PAGE])}"
                for v in visit_rows
            ],
            hoverinfo="text",
            showlegend=False,
            name=VISITS_LANE,
        )
    )
    # Events: one trace per channel (the legend explains the colours), one marker per cell.
    names = ordered_channels(cells.get_column(c.CHANNEL).unique().to_list())
    for channel in names:
        part = cells.filter(pl.col(c.CHANNEL) == channel)
        records = [{**r, "lane_is_type": by_type} for r in part.iter_rows(named=True)]
        sizes = [marker_size(int(r["n"]), visits=visits) for r in records]
        fig.add_trace(
            go.Scatter(
                x=[r[c.SESSION] for r in records],
                y=[lane_name.get(str(r["what"]), str(r["what"])) for r in records],
                mode="markers+text",
                text=[
                    str(r["n"]) if r["n"] > 1 and size >= MIN_LABELLED else ""
                    for r, size in zip(records, sizes, strict=True)
                ],
                textposition="middle center",
                textfont={"size": 10, "color": "white", "family": FONT},
                name=channel,
                legendgroup=channel,
                showlegend=False,
                marker={
                    "size": sizes,
                    "color": channel_color(channel),
                    "line": {"width": 1, "color": "white"},
                    "symbol": ["diamond" if r[c.BEFORE_KNOWN] else "circle" for r in records],
                    "opacity": _CELL_OPACITY,
                },
                hovertext=[_cell_hover(r, tz, currency) for r in records],
                hoverinfo="text",
            )
        )
        # The legend names the colour alone, as a circle: from the cells' trace it took its
        # first marker's shape (a diamond when that cell came before the person was known).
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=channel,
                legendgroup=channel,
                marker={
                    "color": channel_color(channel),
                    "symbol": "circle",
                    "size": 10,
                    "opacity": _CELL_OPACITY,
                },
                hoverinfo="skip",
            )
        )

    # The legend sits at the figure's foot, under the axis title, in as many rows as a narrow
    # window (a plot about 520 px wide) needs; its place does not move with the plot's height
    # (placed under the plot, it overlapped the axis title once it wrapped).
    entry = 12 + 7 * max((len(str(n)) for n in names), default=0)
    lines = math.ceil(len(names) / max(1, _NARROW_PLOT_PX // (entry + _LEGEND_SYMBOL_PX)))
    bottom = 72 + _LEGEND_ROW_PX * max(1, lines)
    height = 150 + 44 * len(categories) + bottom - 80
    plot_height = height - 60 - bottom
    # Became known: between the last visit that started before and the first one after.
    known_at = rows.get_column(c.KNOWN_AT)[0]
    starts = sessions.get_column(c.SESSION_START).to_list()
    if isinstance(known_at, dt.datetime) and starts and known_at > starts[0]:
        after = sum(1 for s in starts if s < known_at)  # visits that began before known_at
        ends = sessions.get_column(c.SESSION_END).to_list()
        # Known during a visit: on that visit; else between it and the next one.
        x_known = after if ends[after - 1] >= known_at else after + 0.5
        fig.add_shape(
            type="line",
            xref="x",
            yref="paper",
            x0=x_known,
            x1=x_known,
            y0=0,
            y1=1 + 8 / plot_height,
            line={"color": KNOWN_LINE, "width": 2, "dash": "dash"},
        )
        right_half = x_known > (visits + 1) / 2
        fig.add_annotation(
            x=x_known,
            y=1,
            xref="x",
            yref="paper",
            text=f"Became known · {_fmt(known_at, tz)}",
            showarrow=False,
            xanchor="right" if right_half else "left",
            yanchor="bottom",
            xshift=-4 if right_half else 4,
            yshift=8,
            font={"color": KNOWN_LINE, "size": 12},
            bgcolor="rgba(255,255,255,0.85)",
        )

    step = max(1, math.ceil(visits / 16))  # at most 16 tick labels: they never overlap
    ticks = [v for v in visit_rows if (v[c.SESSION] - 1) % step == 0]
    fig.update_layout(
        height=height,
        font={"family": FONT, "size": 13},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        hoverlabel={"font": {"family": FONT, "size": 12}, "align": "left"},
        hovermode="closest",
        legend={
            "orientation": "h",
            "yref": "container",
            "y": 0,
            "yanchor": "bottom",
            "x": 0,
            "xanchor": "left",
            "title": {"text": "Visit channel:  ", "side": "left"},
            # one symbol size: a channel whose first marker was large drew its legend symbol
            # over the entry before it ("Organic Search" ran into Organic Social's diamond)
            "itemsizing": "constant",
            # and room after each name: entries are as wide as the longest name
            "entrywidth": entry,
        },
        margin={
            "t": 60,
            "b": bottom,
            "r": 8,
            "l": min(300, 16 + int(7.4 * max(map(len, categories)))),
        },
    )
    fig.update_yaxes(
        type="category",
        categoryorder="array",
        categoryarray=list(reversed(categories)),
        range=[-0.6, len(categories) - 0.4],
        gridcolor=GRID,
        zeroline=False,
        fixedrange=True,
        ticklabelstandoff=6,
    )
    fig.update_xaxes(
        range=[0.4, visits + 0.6],
        tickmode="array",
        tickvals=[v[c.SESSION] for v in ticks],
        ticktext=[
            f"{v[c.SESSION]}<br><span style='color:{MUTED}'>"
            f"{_local(v[c.SESSION_START], tz).strftime('%d %b')}</span>"
            for v in ticks
        ],
        title={"text": "Visit (oldest left, newest right)", "font": {"size": 12, "color": MUTED}},
        gridcolor=GRID,
        zeroline=False,
    )
    return fig
