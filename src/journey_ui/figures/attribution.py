"""Plotly figures for attribution: model comparison bars, path Sankey, time-to-convert histogram.

``DataFrame -> go.Figure`` builders over the tables of :mod:`~journey_core.analytics.attribution`;
no Streamlit, no data access, testable without a browser. Colours, fonts and labels come from
:mod:`journey_ui.figures.palette`, so a channel has the same colour here as on the campaign
pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import plotly.graph_objects as go
import polars as pl

from journey_core import columns as c
from journey_core.analytics import attribution as a
from journey_core.analytics.attribution import Model
from journey_core.config import DEFAULT_CURRENCY
from journey_ui import format as fmt
from journey_ui.figures.palette import (
    FONT,
    MEASURE_COLORS,
    MEASURE_LABELS,
    MUTED,
    OUTCOME_COLORS,
    SERIES_COLORS,
    channel_color,
    fade,
    label,
)

#: The model the comparison table measures changes against (GA4 compares with last click).
BASELINE: Final = Model.LAST_TOUCH
#: Where the paths beyond the top ones are grouped in the Sankey.
OTHER_PATHS: Final = "Other"
#: Change colours of the model comparison: more credit than last touch, less.
GAIN_COLOR: Final = "#DCFCE7"
LOSS_COLOR: Final = "#FEE2E2"
#: Column names of :func:`model_change_table` (the baseline's credit and the change against it).
CHANGE_SUFFIX: Final = " vs last touch"
CHANGE_HEADER: Final = "Change"
"""The shown header of each model's change column, right after the model's own (the column's
name, ``<model> vs last touch``, is unique; five such headers made the table scroll sideways
even at 1440 px)."""


def model_label(model: str) -> str:
    """A model's name for people (``last_non_direct`` → ``Last non-direct touch``).

    >>> model_label("last_non_direct"), model_label("custom")
    ('Last non-direct touch', 'custom')
    """
    return Model(model).label if model in set(Model) else model


def measure_label(measure: str) -> str:
    """What a time-to-convert measure counts from (``from first touch`` → ``From first touch``)."""
    return MEASURE_LABELS.get(measure, measure)


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
    currency: str = DEFAULT_CURRENCY,
) -> go.Figure:
    """Grouped bars: for each ``by`` value (x), one bar per model (``metric`` on y).

    ``table`` is :func:`.attribution.attribute`'s output. The ``top`` groups by
    total ``metric`` are shown; ``highlight`` keeps one model opaque and fades the others.
    Revenue is in ``currency`` (axis title and hover text).
    """
    money = metric in (c.REVENUE, c.REVENUE_CREDIT)
    value_fmt = f"{currency} %{{y:,.2f}}" if money else "%{y:,.1f} conversions"
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
        model_name = model_label(model)
        fig.add_bar(
            name=model_name,
            x=order,
            y=[values.get(g, 0.0) for g in order],
            marker_color=SERIES_COLORS[i % len(SERIES_COLORS)],
            opacity=1.0 if chosen in (None, model) else 0.35,
            hovertemplate=(  # the axis has no title: the hover names what its names are
                f"<b>{model_name}</b><br>{label(by)}: %{{x}}<br>{value_fmt}<extra></extra>"
            ),
        )
    fig.update_layout(
        # No title of its own, nor one under the names: the page's "Credit by model", its
        # Measure switch and the names say what it shows. The models' rows sit where the
        # title was: under the plot (at y = -0.22) they and the axis title met a 1024 px
        # window's slanted names; in a column beside it the dashboard's theme cut "Last
        # non-direct touch" (it draws text wider than Plotly measures it).
        font={"family": FONT, "size": 13},
        barmode="group",
        yaxis_title=fmt.money_title("Revenue", currency) if money else "Conversions (credit)",
        legend={
            "title": {"text": "Model:  ", "side": "left"},
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.02,
            "xanchor": "left",
            "x": 0,
            "entrywidth": 175,
            "entrywidthmode": "pixels",
        },
        height=460,
        # Room under the plot and right of it for names slanted in a small window: Plotly's
        # own margin, measured for narrower text than the theme draws, cut "Organic Search"
        # at the chart's foot at 800 px; the last name reaches past its bars.
        margin={"t": 16, "b": 90, "r": 56},
    )
    fig.update_xaxes(automargin=True)
    return fig


_SANKEY_HEIGHT: Final = 540
_SANKEY_MARGIN: Final = {"t": 90, "b": 20, "l": 170, "r": 150}
_SANKEY_PAD: Final = 14
_SANKEY_THICKNESS: Final = 16


def path_sankey(links: pl.DataFrame, *, title: str = "Paths to conversion") -> go.Figure:
    """A Sankey of :func:`journey_core.analytics.attribution.sankey_links` (steps → outcome).

    Nodes sit in fixed columns (step 1, 2, ..., outcome) under column headings; each node's
    label (channel and paths) is drawn beside it: in the left margin for the first step, in
    the right margin for the outcomes, and on a white ground left of the node in between, so
    no label is lost over the flows.
    """
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
    node_colours = [
        OUTCOME_COLORS.get(ch) or (MUTED if ch == OTHER_PATHS else colours[ch]) for ch in channels
    ]
    xs, ys, columns, values = _sankey_layout(nodes, links)
    last = max(columns)
    fig = go.Figure(
        go.Sankey(
            arrangement="fixed",
            node={
                "label": nodes,
                "x": xs,
                "y": ys,
                "color": node_colours,
                "pad": _SANKEY_PAD,
                "thickness": _SANKEY_THICKNESS,
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
                "hovertemplate": "%{source.label} → %{target.label}: %{value:,} paths"
                "<extra></extra>",
            },
            # the labels are drawn beside the nodes as annotations (below)
            textfont={"color": "rgba(0,0,0,0)", "size": 1, "shadow": "none"},
        )
    )
    annotations: list[dict[str, object]] = []
    for i, name in enumerate(nodes):
        col = columns[i]
        text = f"{channels[i] if col < last else name} · {fmt.fmt_int(values[i])}"
        if col == 0:
            place = {"x": 0.0, "xanchor": "right", "xshift": -(_SANKEY_THICKNESS + 4)}
        elif col == last:
            place = {"x": 1.0, "xanchor": "left", "xshift": _SANKEY_THICKNESS + 4}
        else:
            place = {
                "x": xs[i],
                "xanchor": "right",
                "xshift": -(_SANKEY_THICKNESS + 6),
                "bgcolor": "rgba(255,255,255,0.9)",
            }
        annotations.append(
            {
                "text": text,
                "y": 1 - ys[i],
                "yanchor": "middle",
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "font": {"size": 12},
                **place,
            }
        )
    for col in range(last + 1):
        heading = "Outcome" if col == last else f"Step {col + 1}"
        annotations.append(
            {
                "text": f"<b>{heading}</b>",
                "x": 0.001 + 0.998 * col / max(last, 1),
                "y": 1.0,
                "yshift": 22,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "font": {"size": 12, "color": MUTED},
            }
        )
    fig.update_layout(
        title=title,
        font={"family": FONT, "size": 13},
        height=_SANKEY_HEIGHT,
        margin=_SANKEY_MARGIN,
        annotations=annotations,
    )
    return fig


def _sankey_layout(
    nodes: Sequence[str], links: pl.DataFrame
) -> tuple[list[float], list[float], list[int], list[int]]:
    """Each node's x and y (centre, 0..1 from the top), column and value (paths through it)."""
    into: dict[str, int] = {}
    out: dict[str, int] = {}
    for s, t, v in links.select(a.SOURCE_NODE, a.TARGET_NODE, a.VALUE).iter_rows():
        out[s] = out.get(s, 0) + int(v)
        into[t] = into.get(t, 0) + int(v)
    values = [max(into.get(n, 0), out.get(n, 0)) for n in nodes]
    steps = [_node_order(n)[0] for n in nodes]
    last = max((st for st in steps if st < 9_999), default=1)
    columns = [last if st >= 9_999 else st - 1 for st in steps]
    last = max(columns)
    plot_height = _SANKEY_HEIGHT - _SANKEY_MARGIN["t"] - _SANKEY_MARGIN["b"]
    pad = _SANKEY_PAD / plot_height
    per_column = [[i for i in range(len(nodes)) if columns[i] == col] for col in range(last + 1)]
    scale = min(
        (1 - pad * (len(members) - 1)) / max(sum(values[i] for i in members), 1)
        for members in per_column
        if members
    )
    xs = [0.001 + 0.998 * col / max(last, 1) for col in columns]
    ys = [0.0] * len(nodes)
    for members in per_column:
        cursor = 0.0
        for i in members:
            size = values[i] * scale
            ys[i] = min(max(cursor + size / 2, 0.001), 0.999)
            cursor += size + pad
    return xs, ys, columns, values


def _node_order(name: str) -> tuple[int, bool, str]:
    """Step by step, then the outcomes; in a step by channel name, the grouped paths
    (:data:`OTHER_PATHS`) last (they sat between Organic Search and Paid Search)."""
    if name in OUTCOME_COLORS:
        return (10_000, False, name)
    step = name.split(".", 1)[0]
    return (int(step) if step.isdigit() else 9_999, _channel_of(name) == OTHER_PATHS, name)


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
        name = measure_label(measure)
        if summary is not None:
            cohort = summary.filter((pl.col(a.MEASURE) == measure) & (pl.col(a.GROUP) == a.ALL))
            if cohort.height:
                med, p90 = cohort.row(0, named=True)[a.MEDIAN_DAYS], cohort[a.P90_DAYS][0]
                # On a line of its own: in full in a narrow window too.
                name += f"<br>median {fmt.fmt_days(med)}, 90th percentile {fmt.fmt_days(p90)}"
        fig.add_bar(
            name=name,
            x=rows[a.BIN].to_list(),
            y=rows[a.PEOPLE].to_list(),
            marker_color=MEASURE_COLORS[measure],
            hovertemplate=f"<b>{measure_label(measure)}</b><br>%{{x}}: %{{y:,}} people"
            "<extra></extra>",
        )
    fig.update_layout(
        title=title,
        font={"family": FONT, "size": 13},
        barmode="group",
        xaxis_title="Days to first conversion",
        yaxis_title="People",
        # At the figure's foot, an entry of two lines in a fixed width: side by side where
        # they fit, else one under the other (a fraction of the width each overlapped the
        # long entries, and the axis title, in a narrow window).
        legend={
            "orientation": "h",
            "yref": "container",
            "y": 0,
            "yanchor": "bottom",
            "x": 0,
            "xanchor": "left",
            "font": {"size": 12},
            "tracegroupgap": 6,
            # Room for the longest line (8 px a character): Plotly measures legend text before
            # the web font loads and clips what it did not measure (as LEGEND_ENTRY_WIDTH).
            "entrywidth": 8 * max(len(line) for t in fig.data for line in t.name.split("<br>")),
            "entrywidthmode": "pixels",
        },
        height=480,
        margin={"t": 60, "b": 110, "r": 30},
    )
    fig.update_xaxes(automargin=True)
    return fig


# --------------------------------------------------------------------------- model comparison


def model_change_table(
    table: pl.DataFrame,
    *,
    metric: str = c.CONVERSIONS,
    by: str = c.CHANNEL,
    baseline: Model = BASELINE,
) -> pl.DataFrame:
    """One row per ``by`` value, one ``metric`` column per model (named by its label), and for
    every other model its relative change against ``baseline`` (``"<label> vs last touch"``,
    a ratio; null where the baseline credited nothing). Rows by the baseline's credit, largest
    first; ``table`` is :func:`.attribution.attribute`'s output.

    >>> t = pl.DataFrame({"channel": ["Email", "Email"], "model": ["last_touch", "linear"],
    ...                   "conversions": [4.0, 5.0]})
    >>> model_change_table(t).row(0)
    ('Email', 4.0, 5.0, 0.25)
    """
    models = [m for m in Model if m.value in set(table[c.MODEL].to_list())]
    ordered = [baseline, *(m for m in models if m != baseline)] if baseline in models else models
    wide = (
        table.select(by, c.MODEL, metric)
        .group_by(by, c.MODEL)
        .agg(pl.col(metric).sum())
        .pivot(on=c.MODEL, index=by, values=metric)
    )
    for m in ordered:
        if m.value not in wide.columns:
            wide = wide.with_columns(pl.lit(0.0).alias(m.value))
    wide = wide.with_columns(pl.col(m.value).fill_null(0.0) for m in ordered)
    base = pl.col(baseline.value)
    changes = [
        pl.when(base > 0).then(pl.col(m.value) / base - 1).alias(m.label + CHANGE_SUFFIX)
        for m in ordered
        if m != baseline and baseline in ordered
    ]
    if not ordered:  # no conversions: no model, no row
        return wide.select(by)
    return wide.sort([ordered[0].value, by], descending=[True, False]).select(
        by, *(pl.col(m.value).alias(m.label) for m in ordered), *changes
    )


@dataclass(frozen=True, slots=True)
class ComparisonTable:
    """GA4's model comparison as a table: ``values`` (the numbers, human column names, each
    model's change right after its credit), how to show each column (``formats``: ``credit``,
    ``money`` or ``change``) and a background colour per cell (``fills``, same shape; empty
    where plain). ``headers`` are the shown headers (each change column a short
    :data:`CHANGE_HEADER` beside its model's, so the table fits a laptop's window) and
    ``helps`` what a header's tooltip says (which model's change it is)."""

    title: str
    values: pl.DataFrame
    formats: dict[str, str]
    fills: pl.DataFrame
    headers: dict[str, str]
    helps: dict[str, str]


def model_comparison_table(
    table: pl.DataFrame,
    *,
    metric: str = c.CONVERSIONS,
    by: str = c.CHANNEL,
) -> ComparisonTable:
    """GA4's model comparison: ``by`` x model credit, each model's change against last touch
    beside it, green where a model credits more, red where less (human column names).

    A table, not a figure: it scrolls sideways in a narrow window instead of cutting its
    numbers ("1,180.0" read "180.0" in a Plotly table at 1024 px).
    """
    title = "Model comparison: " + ("revenue" if metric == c.REVENUE else "conversions")
    wide = model_change_table(table, metric=metric, by=by)
    changes = [name for name in wide.columns[1:] if name.endswith(CHANGE_SUFFIX)]
    credits = [name for name in wide.columns[1:] if not name.endswith(CHANGE_SUFFIX)]
    order = credits[:1]  # last touch, then each model with its change (none: no credit)
    for name in credits[1:]:
        order += [name, *([name + CHANGE_SUFFIX] if name + CHANGE_SUFFIX in changes else [])]
    values = wide.select(pl.col(by).alias(label(by)), *order)
    money = metric in (c.REVENUE, c.REVENUE_CREDIT)
    formats = {
        name: "change" if name in changes else "money" if money else "credit" for name in order
    }
    fills = values.select(
        pl.repeat("", pl.len()).alias(label(by)),  # a column as long as the table, even empty
        *(
            pl.when(pl.col(name).abs() >= 0.0005)
            .then(pl.when(pl.col(name) > 0).then(pl.lit(GAIN_COLOR)).otherwise(pl.lit(LOSS_COLOR)))
            .otherwise(pl.lit(""))
            .alias(name)
            if name in changes
            else pl.lit("").alias(name)
            for name in order
        ),
    )
    headers = {name: CHANGE_HEADER if name in changes else name for name in values.columns}
    helps = {
        name: f"{name.removesuffix(CHANGE_SUFFIX)}'s credit against Last touch's: "
        "green where it credits more, red where less."
        for name in changes
    }
    return ComparisonTable(
        title=title, values=values, formats=formats, fills=fills, headers=headers, helps=helps
    )


# --------------------------------------------------------------------------- paths


def top_paths(summary: pl.DataFrame, top: int) -> pl.DataFrame:
    """The ``top`` most frequent paths of a path summary (conversions, then all paths), the rest
    summed into one ``Other`` path (columns: path, conversions, non-conversions).

    >>> s = pl.DataFrame({"transformed_path": ["Email", "Direct", "Referral"],
    ...                   "conversions": [3, 2, 1], "non_conversions": [1, 1, 1]})
    >>> top_paths(s, 1)["transformed_path"].to_list()
    ['Email', 'Other']
    """
    ranked = summary.select(c.TRANSFORMED_PATH, c.CONVERSIONS, c.NON_CONVERSIONS).sort(
        [c.CONVERSIONS, pl.col(c.CONVERSIONS) + pl.col(c.NON_CONVERSIONS), c.TRANSFORMED_PATH],
        descending=[True, True, False],
    )
    head, rest = ranked.head(top), ranked.slice(top)
    if rest.height == 0:
        return head
    other = rest.select(
        pl.lit(OTHER_PATHS).alias(c.TRANSFORMED_PATH),
        pl.col(c.CONVERSIONS).sum(),
        pl.col(c.NON_CONVERSIONS).sum(),
    )
    return pl.concat([head, other.cast(head.schema)])


def paths_note(total: int, top: int) -> str:
    """What the Sankey shows, in words.

    >>> paths_note(120, 15), paths_note(9, 15)
    ('Top 15 of 120 paths shown; the rest grouped as Other.', 'All 9 paths shown.')
    """
    if total <= top:
        return f"All {fmt.fmt_int(total)} paths shown."
    return f"Top {top} of {fmt.fmt_int(total)} paths shown; the rest grouped as {OTHER_PATHS}."
