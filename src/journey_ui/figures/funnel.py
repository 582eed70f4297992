"""The funnel chart: a Plotly builder (no Streamlit) over ``analytics.funnel.funnel``.

Colours, fonts and labels come from :mod:`journey_ui.figures.palette`: a channel has its
colour here too, and steps read as ``1. Page view``, never as raw event names.
"""

from __future__ import annotations

from typing import Final

import plotly.graph_objects as go
import polars as pl

from journey_core import columns as c
from journey_core.analytics import funnel as fn
from journey_ui.figures.campaign import empty_figure
from journey_ui.figures.palette import (
    FONT,
    GRID,
    MUTED,
    NEWLY_COLOR,
    PREVIOUSLY_COLOR,
    SERIES_COLORS,
    SURFACE,
    channel_color,
    event_label,
)

__all__ = ["MAX_GROUPS", "funnel_chart", "pct", "step_names"]

#: Most breakdown groups drawn (those with most people at step 1); the table has them all.
MAX_GROUPS: Final = 6


def pct(value: float) -> str:
    """A share as people read it: ``42.5%``, ``<0.1%`` for tiny non-zero shares.

    >>> pct(0.4251), pct(0.0004), pct(0.0)
    ('42.5%', '<0.1%', '0.0%')
    """
    if 0 < value < 0.001:
        return "<0.1%"
    return f"{value:.1%}"


def step_names(funnel: pl.DataFrame) -> list[str]:
    """``1. Page view``, ``2. Sign-up``, ... for the funnel's steps."""
    steps = funnel.select(c.STEP, c.EVENT_TYPE).unique(c.STEP).sort(c.STEP)
    return [f"{k}. {event_label(e)}" for k, e in steps.iter_rows()]


def _layout(fig: go.Figure, *, height: int, legend: bool) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 8, "r": 8, "t": 40 if legend else 16, "b": 8},
        font={"family": FONT, "size": 13},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        hoverlabel={"font": {"family": FONT, "size": 12}, "align": "left"},
        showlegend=legend,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
    )
    return fig


def _hover(name: str, row: dict[str, object]) -> str:
    lines = [
        f"<b>{name}</b>",
        f"People: {row[c.PEOPLE]:,}",
        f"Of step 1: {pct(float(row[fn.FROM_START]))}",  # type: ignore[arg-type]
    ]
    if row[c.STEP] != 1:
        lines.append(f"From the step before: {pct(float(row[fn.FROM_PREVIOUS]))}")  # type: ignore[arg-type]
        lines.append(f"Dropped off here: {row[c.DROP_OFF]:,}")
    return "<br>".join(lines)


def funnel_chart(
    funnel: pl.DataFrame, *, who: str = fn.ALL_PEOPLE, breakdown: str | None = None
) -> go.Figure:
    """The funnel: one horizontal funnel (people · share of step 1), or with a breakdown,
    the share of step 1 per step for the :data:`MAX_GROUPS` largest groups side by side."""
    if funnel.is_empty() or funnel.get_column(c.PEOPLE).sum() == 0:
        return empty_figure("Nobody did the first step in this period.")
    names = step_names(funnel)
    groups = funnel.get_column(c.GROUP).unique(maintain_order=True).to_list()
    if groups == [fn.ALL_PEOPLE]:
        rows = funnel.sort(c.STEP).to_dicts()
        color = PREVIOUSLY_COLOR if who == fn.PREVIOUSLY_KNOWN else NEWLY_COLOR
        fig = go.Figure(
            go.Funnel(
                y=names,
                x=[r[c.PEOPLE] for r in rows],
                marker={"color": color},
                text=[f"   {r[c.PEOPLE]:,} · {pct(r[fn.FROM_START])}" for r in rows],
                textinfo="text",
                textposition="outside",
                textfont={"size": 13},
                hovertext=[_hover(n, r) for n, r in zip(names, rows, strict=True)],
                hoverinfo="text",
                connector={"line": {"color": GRID, "width": 1}, "fillcolor": SURFACE},
                cliponaxis=False,
            )
        )
        peak = max(int(rows[0][c.PEOPLE]), 1)
        fig.update_xaxes(range=[-peak * 0.8, peak * 0.8], visible=False)
        fig.update_yaxes(showgrid=False, ticklabelstandoff=8, automargin=True)
        _layout(fig, height=90 + 64 * len(names), legend=False)
        longest = max(len(n) for n in names)
        fig.update_layout(funnelgap=0.2, margin={"l": 24 + int(7.6 * longest)})
        return fig
    shown = groups[:MAX_GROUPS]
    fig = go.Figure()
    for i, group in enumerate(shown):
        rows = funnel.filter(pl.col(c.GROUP) == group).sort(c.STEP).to_dicts()
        series = SERIES_COLORS[i % len(SERIES_COLORS)]
        color = channel_color(group) if breakdown == c.CHANNEL else series
        fig.add_bar(
            x=names,
            y=[r[fn.FROM_START] for r in rows],
            name=f"{group} ({rows[0][c.PEOPLE]:,})",
            marker={"color": color},
            text=[f"{r[c.PEOPLE]:,}" for r in rows],
            textposition="outside",
            cliponaxis=False,
            hovertext=[_hover(f"{n} · {group}", r) for n, r in zip(names, rows, strict=True)],
            hoverinfo="text",
        )
    fig.update_yaxes(
        tickformat=".0%",
        range=[0, 1.12],
        gridcolor=GRID,
        title={"text": "Share of step 1", "font": {"color": MUTED}},
    )
    fig.update_xaxes(showgrid=False)
    _layout(fig, height=420, legend=True)
    # Fixed-width legend entries: long group names never run into the next one.
    longest = max(len(str(t.name)) for t in fig.data)
    fig.update_layout(
        barmode="group",
        bargap=0.25,
        bargroupgap=0.06,
        legend={"entrywidth": 40 + 8 * longest, "entrywidthmode": "pixels"},
        # With many groups the bars are narrow: counts share one size that fits a bar, and
        # are left to the hover text rather than run into each other ("2,7992,203").
        uniformtext={"minsize": 9, "mode": "hide"},
    )
    return fig
