"""Plotly figures for attribution: model comparison bars, path Sankey, time-to-convert histogram.

``DataFrame -> go.Figure`` builders over the tables of :mod:`~journey_core.analytics.attribution`;
no Streamlit, no data access, testable without a browser. Colours, fonts and labels come from
:mod:`journey_ui.figures.palette`, so a channel has the same colour here as on the campaign
pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import plotly.graph_objects as go
import polars as pl

from journey_core import columns as c
from journey_core.analytics import attribution as a
from journey_core.analytics.attribution import Model
from journey_ui.figures.palette import (
    FONT,
    MEASURE_COLORS,
    MUTED,
    OUTCOME_COLORS,
    SERIES_COLORS,
    channel_color,
    fade,
    label,
)

#: Re-exported from the palette: the outcome nodes of the path Sankey.
OUTCOME_COLOURS: Final = OUTCOME_COLORS


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title=title,
        font={"family": FONT, "size": 13},
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"size": 14, "color": MUTED},
            }
        ],
        height=320,
    )
    return fig


def channel_colours(channels: Sequence[str]) -> dict[str, str]:
    """Each channel's colour from the shared palette (the same as on the campaign pages).

    >>> channel_colours(["Direct", "Email"])
    {'Direct': '#475569', 'Email': '#16A34A'}
    """
    return {ch: channel_color(ch) for ch in channels}


def model_comparison(
    table: pl.DataFrame,
    *,
    by: str = c.CHANNEL,
    metric: str = c.CONVERSIONS,
    highlight: Model | str | None = None,
    top: int = 12,
) -> go.Figure:
    """Grouped bars: for each ``by`` value (x), one bar per model (``metric`` on y).

    ``table`` is :func:`.attribution.attribute`'s output. The ``top`` groups by
    total ``metric`` are shown; ``highlight`` keeps one model opaque and fades the others.
    """
    title = "Attributed " + ("revenue" if metric == c.REVENUE else "conversions") + " by model"
    if table.height == 0 or table[metric].sum() == 0:
        return _empty(title, "No conversions in this window.")
    order = (
        table.group_by(by)
        .agg(pl.col(metric).sum().alias("_t"))
        .sort(["_t", by], descending=[True, False])
        .head(top)[by]
        .to_list()
    )
    fig = go.Figure()
    models = list(dict.fromkeys(table[c.MODEL].to_list()))
    chosen = None if highlight is None else str(Model(highlight))
    for i, model in enumerate(models):
        rows = table.filter(pl.col(c.MODEL) == model)
        values = dict(zip(rows[by].to_list(), rows[metric].to_list(), strict=True))
        model_name = Model(model).label if model in set(Model) else model
        fig.add_bar(
            name=model_name,
            x=order,
            y=[values.get(g, 0.0) for g in order],
            marker_color=SERIES_COLORS[i % len(SERIES_COLORS)],
            opacity=1.0 if chosen in (None, model) else 0.35,
            hovertemplate=f"{model_name}<br>%{{x}}: %{{y:,.2f}}<extra></extra>",
        )
    fig.update_layout(
        title=title,
        font={"family": FONT, "size": 13},
        barmode="group",
        xaxis_title=label(by),
        yaxis_title="Revenue" if metric == c.REVENUE else "Conversions (credit)",
        legend_title="Model",
        height=420,
        margin={"t": 60, "b": 40},
    )
    return fig


def path_sankey(links: pl.DataFrame, *, title: str = "Paths to conversion") -> go.Figure:
    """A Sankey of :func:`journey_core.analytics.attribution.sankey_links` (steps → outcome)."""
    if links.height == 0:
        return _empty(title, "No paths in this window.")
    nodes: list[str] = []
    for name in (*links[a.SOURCE_NODE].to_list(), *links[a.TARGET_NODE].to_list()):
        if name not in nodes:
            nodes.append(name)
    nodes.sort(key=_node_order)
    index = {n: i for i, n in enumerate(nodes)}
    channels = [_channel_of(n) for n in nodes]
    colours = channel_colours([ch for ch in dict.fromkeys(channels) if ch not in OUTCOME_COLORS])
    node_colours = [OUTCOME_COLORS.get(ch) or colours[ch] for ch in channels]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "label": nodes,
                "color": node_colours,
                "pad": 14,
                "thickness": 16,
                "hovertemplate": "%{label}: %{value:,} paths<extra></extra>",
            },
            link={
                "source": [index[s] for s in links[a.SOURCE_NODE]],
                "target": [index[t] for t in links[a.TARGET_NODE]],
                "value": links[a.VALUE].to_list(),
                "color": [
                    fade(node_colours[index[t]] if t in OUTCOME_COLORS else node_colours[index[s]])
                    for s, t in zip(links[a.SOURCE_NODE], links[a.TARGET_NODE], strict=True)
                ],
                "hovertemplate": "%{source.label} → %{target.label}: %{value:,}<extra></extra>",
            },
        )
    )
    fig.update_layout(
        title=title,
        font={"family": FONT, "size": 13},
        height=460,
        margin={"t": 60, "b": 20, "l": 10, "r": 10},
    )
    return fig


def _node_order(name: str) -> tuple[int, str]:
    if name in OUTCOME_COLORS:
        return (10_000, name)
    step = name.split(".", 1)[0]
    return (int(step) if step.isdigit() else 9_999, name)


def _channel_of(node: str) -> str:
    if node in OUTCOME_COLORS:
        return node
    return node.split(". ", 1)[-1].removeprefix("… ")


def time_to_convert_chart(
    histogram: pl.DataFrame, summary: pl.DataFrame | None = None
) -> go.Figure:
    """Bars of people per day bin, one series per measure (from first touch / from known).

    With ``summary`` (:func:`~journey_core.analytics.attribution.time_to_convert_summary`), each
    series' legend shows the cohort median and p90.
    """
    title = "Time to first conversion"
    if histogram.height == 0 or histogram[a.PEOPLE].sum() == 0:
        return _empty(title, "No conversions in this window.")
    fig = go.Figure()
    for measure in (a.FROM_FIRST_TOUCH, a.FROM_KNOWN):
        rows = histogram.filter(pl.col(a.MEASURE) == measure)
        name = measure
        if summary is not None:
            cohort = summary.filter((pl.col(a.MEASURE) == measure) & (pl.col(a.GROUP) == a.ALL))
            if cohort.height:
                med, p90 = cohort.row(0, named=True)[a.MEDIAN_DAYS], cohort[a.P90_DAYS][0]
                name = f"{measure} (median {med:.1f} d, p90 {p90:.1f} d)"
        fig.add_bar(
            name=name,
            x=rows[a.BIN].to_list(),
            y=rows[a.PEOPLE].to_list(),
            marker_color=MEASURE_COLORS[measure],
            hovertemplate="%{x}: %{y:,} people<extra></extra>",
        )
    fig.update_layout(
        title=title,
        font={"family": FONT, "size": 13},
        barmode="group",
        xaxis_title="Days to first conversion",
        yaxis_title="People",
        legend={"orientation": "h", "y": -0.25},
        height=400,
        margin={"t": 60},
    )
    return fig
