"""Plotly figures for attribution: model comparison bars, path Sankey, time-to-convert histogram.

``DataFrame -> go.Figure`` builders over the tables of :mod:`~journey_core.analytics.attribution`;
no Streamlit, no data access, testable without a browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import plotly.graph_objects as go
import polars as pl

from journey_core import columns as c
from journey_core.analytics import attribution as a
from journey_core.analytics.attribution import Model

# A colour-blind-safe qualitative palette (Okabe-Ito, then Tableau extras).
PALETTE: Final = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#999999",
    "#8C564B",
    "#17BECF",
    "#BCBD22",
    "#7F7F7F",
)
OUTCOME_COLOURS: Final = {a.CONVERTED: "#2CA02C", a.NOT_CONVERTED: "#BBBBBB"}


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title=title,
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
                "font": {"size": 14},
            }
        ],
        height=320,
    )
    return fig


def channel_colours(channels: Sequence[str]) -> dict[str, str]:
    """A stable colour per channel, in the order given.

    >>> channel_colours(["Direct", "Email"])
    {'Direct': '#0072B2', 'Email': '#E69F00'}
    """
    return {ch: PALETTE[i % len(PALETTE)] for i, ch in enumerate(channels)}


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
        label = Model(model).label if model in set(Model) else model
        fig.add_bar(
            name=label,
            x=order,
            y=[values.get(g, 0.0) for g in order],
            marker_color=PALETTE[i % len(PALETTE)],
            opacity=1.0 if chosen in (None, model) else 0.35,
            hovertemplate=f"{label}<br>%{{x}}: %{{y:,.2f}}<extra></extra>",
        )
    fig.update_layout(
        title=title,
        barmode="group",
        xaxis_title=by.replace("_", " ").capitalize(),
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
    colours = channel_colours([ch for ch in dict.fromkeys(channels) if ch not in OUTCOME_COLOURS])
    node_colours = [OUTCOME_COLOURS.get(ch) or colours[ch] for ch in channels]
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
                    _fade(
                        node_colours[index[t]] if t in OUTCOME_COLOURS else node_colours[index[s]]
                    )
                    for s, t in zip(links[a.SOURCE_NODE], links[a.TARGET_NODE], strict=True)
                ],
                "hovertemplate": "%{source.label} → %{target.label}: %{value:,}<extra></extra>",
            },
        )
    )
    fig.update_layout(title=title, height=460, margin={"t": 60, "b": 20, "l": 10, "r": 10})
    return fig


def _node_order(name: str) -> tuple[int, str]:
    if name in OUTCOME_COLOURS:
        return (10_000, name)
    step = name.split(".", 1)[0]
    return (int(step) if step.isdigit() else 9_999, name)


def _channel_of(node: str) -> str:
    if node in OUTCOME_COLOURS:
        return node
    return node.split(". ", 1)[-1].removeprefix("… ")


def _fade(hex_colour: str, alpha: float = 0.35) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


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
    colours = {a.FROM_FIRST_TOUCH: "#0072B2", a.FROM_KNOWN: "#E69F00"}
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
            marker_color=colours[measure],
            hovertemplate="%{x}: %{y:,} people<extra></extra>",
        )
    fig.update_layout(
        title=title,
        barmode="group",
        xaxis_title="Days to first conversion",
        yaxis_title="People",
        legend={"orientation": "h", "y": -0.25},
        height=400,
        margin={"t": 60},
    )
    return fig
