"""Attribution figures: pure Plotly builders checked without a browser."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.analytics import attribution as a
from journey_core.analytics.attribution import Model
from journey_ui.figures import attribution as charts
from journey_ui.figures.palette import MUTED, OUTCOME_COLORS

TABLE = pl.DataFrame(
    {
        c.MODEL: ["first_touch", "first_touch", "linear", "linear"],
        c.CHANNEL: ["Email", "Direct", "Email", "Direct"],
        c.CONVERSIONS: [1.0, 2.0, 1.5, 1.5],
        c.REVENUE: [10.0, 0.0, 7.5, 2.5],
    }
)


def test_model_comparison_has_one_trace_per_model_in_total_order() -> None:
    fig = charts.model_comparison(TABLE, highlight=Model.LINEAR)
    assert [t.name for t in fig.data] == ["First touch", "Linear"]
    # Direct has 3.5 in total, Email 2.5: Direct first
    assert list(fig.data[0].x) == ["Direct", "Email"]
    assert list(fig.data[0].y) == [2.0, 1.0]
    assert list(fig.data[1].y) == [1.5, 1.5]
    assert [t.opacity for t in fig.data] == [0.35, 1.0]
    assert fig.layout.barmode == "group"


def test_model_comparison_models_above_the_plot() -> None:
    """Under the plot (y = -0.22) the legend met a small window's slanted channel names and
    the axis title; above it, a title of its own (the page's heading says what it shows)."""
    fig = charts.model_comparison(TABLE)
    assert fig.layout.legend.y >= 1
    assert fig.layout.legend.yanchor == "bottom"
    assert fig.layout.title.text is None
    assert fig.layout.xaxis.title.text is None  # the names say it (it met them at 800 px)
    assert fig.layout.xaxis.automargin is True


def test_model_comparison_by_revenue() -> None:
    fig = charts.model_comparison(TABLE, metric=c.REVENUE)
    assert list(fig.data[1].x) == ["Email", "Direct"]
    assert list(fig.data[1].y) == [7.5, 2.5]
    assert fig.layout.yaxis.title.text == "Revenue (USD)"


EMPTY_SUMMARY = pl.DataFrame(
    schema={c.TRANSFORMED_PATH: pl.String, c.CONVERSIONS: pl.Int64, c.NON_CONVERSIONS: pl.Int64}
)


def test_empty_inputs_give_a_message_not_an_error() -> None:
    empty = TABLE.clear()
    for fig in (
        charts.model_comparison(empty),
        charts.path_sankey(a.sankey_links(EMPTY_SUMMARY)),
        charts.time_to_convert_chart(pl.DataFrame(schema={a.PEOPLE: pl.Int64})),
    ):
        assert len(fig.data) == 0
        assert "No " in fig.layout.annotations[0].text


def test_sankey_nodes_are_ordered_by_step_with_outcomes_last() -> None:
    links = pl.DataFrame(
        {
            a.SOURCE_NODE: ["1. Email", "2. Direct", "1. Direct"],
            a.TARGET_NODE: ["2. Direct", "Conversion", "No conversion"],
            a.VALUE: [3, 3, 4],
        }
    )
    fig = charts.path_sankey(links)
    sankey = fig.data[0]
    assert list(sankey.node.label) == [
        "1. Direct",
        "1. Email",
        "2. Direct",
        "Conversion",
        "No conversion",
    ]
    assert list(sankey.link.source) == [1, 2, 0]
    assert list(sankey.link.target) == [2, 3, 4]
    assert list(sankey.link.value) == [3, 3, 4]
    # the same channel keeps one colour at every step
    assert sankey.node.color[0] == sankey.node.color[2]
    assert sankey.node.color[3] == OUTCOME_COLORS[a.CONVERTED]


def test_sankey_puts_the_grouped_paths_last_in_their_step() -> None:
    links = pl.DataFrame(
        {
            a.SOURCE_NODE: ["1. Other", "1. Paid Search", "1. Email"],
            a.TARGET_NODE: ["Conversion", "No conversion", "Conversion"],
            a.VALUE: [9, 2, 3],
        }
    )
    labels = list(charts.path_sankey(links).data[0].node.label)
    assert labels == ["1. Email", "1. Paid Search", "1. Other", "Conversion", "No conversion"]


def test_time_to_convert_chart_names_median_and_p90() -> None:
    hist = pl.DataFrame(
        {
            a.MEASURE: [a.FROM_FIRST_TOUCH] * 2 + [a.FROM_KNOWN] * 2,
            a.BIN: ["< 1 day", "1+ days"] * 2,
            a.PEOPLE: [2, 1, 0, 3],
        }
    )
    summary = pl.DataFrame(
        {
            a.MEASURE: [a.FROM_FIRST_TOUCH, a.FROM_KNOWN],
            a.GROUP: ["All", "All"],
            a.PEOPLE: [3, 3],
            a.MEDIAN_DAYS: [0.5, 2.25],
            a.P90_DAYS: [1.0, 4.0],
        }
    )
    fig = charts.time_to_convert_chart(hist, summary)
    assert [t.name for t in fig.data] == [
        "From first touch<br>median 0.5 days, 90th percentile 1.0 day",
        "From becoming known<br>median 2.2 days, 90th percentile 4.0 days",
    ]
    # Entries of a fixed width, wide enough for the longest line, at the figure's foot.
    legend = fig.layout.legend
    assert (legend.entrywidthmode, legend.yref, legend.y) == ("pixels", "container", 0)
    longest = max(len(line) for t in fig.data for line in str(t.name).split("<br>"))
    assert legend.entrywidth >= 7 * longest  # about 7 px a character at 12 px
    assert list(fig.data[1].y) == [0, 3]


# --------------------------------------------------------------------------- human labels

#: Names people must never read on the page (column, model and event names of the code).
INTERNAL = (
    "transformed_path",
    "non_conversions",
    "last_non_direct",
    "last_touch",
    "first_touch",
    "time_decay",
    "position_based",
    "median_days",
    "p90_days",
    "add_to_cart",
    "from first touch",
    "from becoming known",
)


def figure_text(fig: go.Figure) -> str:
    """Every string a figure can show: titles, names, labels, cells, hover templates."""
    return json.dumps(fig.to_plotly_json(), default=str)


def assert_no_internal_names(text: str) -> None:
    found = [name for name in INTERNAL if name in text]
    assert not found, found


COMPARISON = pl.DataFrame(
    {
        c.MODEL: [m.value for m in Model for _ in range(2)],
        c.CHANNEL: ["Email", "Direct"] * len(Model),
        c.CONVERSIONS: [4.0, 6.0, 5.0, 5.0, 6.0, 4.0, 4.5, 5.5, 4.5, 5.5, 4.0, 6.0],
        c.REVENUE: [
            400.0,
            600.0,
            500.0,
            500.0,
            1234.5,
            400.0,
            450.0,
            550.0,
            450.0,
            550.0,
            400.0,
            600.0,
        ],
    }
)


def test_model_change_table_compares_every_model_with_last_touch() -> None:
    got = charts.model_change_table(COMPARISON)
    expected = pl.DataFrame(
        {
            c.CHANNEL: ["Direct", "Email"],
            "Last touch": [5.0, 5.0],
            "First touch": [6.0, 4.0],
            "Last non-direct touch": [4.0, 6.0],
            "Linear": [5.5, 4.5],
            "Time decay": [5.5, 4.5],
            "Position-based": [6.0, 4.0],
            "First touch vs last touch": [0.2, -0.2],
            "Last non-direct touch vs last touch": [-0.2, 0.2],
            "Linear vs last touch": [0.1, -0.1],
            "Time decay vs last touch": [0.1, -0.1],
            "Position-based vs last touch": [0.2, -0.2],
        }
    )
    assert_frame_equal(got, expected, check_exact=False)


def test_model_change_is_null_where_last_touch_credits_nothing() -> None:
    table = pl.DataFrame(
        {
            c.MODEL: ["last_touch", "linear"],
            c.CHANNEL: ["Email", "Email"],
            c.CONVERSIONS: [0.0, 2.0],
        }
    )
    assert charts.model_change_table(table)["Linear vs last touch"].to_list() == [None]


def test_model_comparison_table_has_each_change_beside_its_model_and_colours() -> None:
    got = charts.model_comparison_table(COMPARISON)
    assert got.title == "Model comparison: conversions"
    names = got.values.columns
    assert names[:4] == ["Channel", "Last touch", "First touch", "First touch vs last touch"]
    assert got.fills.columns == names
    # ties on last touch: by name
    assert got.values["Channel"].to_list() == ["Direct", "Email"]
    assert got.values["Last touch"].to_list() == [5.0, 5.0]
    assert got.values["First touch"].to_list() == [6.0, 4.0]
    assert got.values["First touch vs last touch"].to_list() == pytest.approx([0.2, -0.2])
    assert got.fills["First touch vs last touch"].to_list() == [
        charts.GAIN_COLOR,
        charts.LOSS_COLOR,
    ]
    assert set(got.fills["First touch"].to_list()) == {""}
    assert got.formats["Last touch"] == "credit"
    assert got.formats["First touch vs last touch"] == "change"
    # shown headers: a short one beside each model, its tooltip naming the model
    assert [got.headers[name] for name in names[:4]] == [
        "Channel",
        "Last touch",
        "First touch",
        charts.CHANGE_HEADER,
    ]
    assert set(got.helps) == {name for name in names if got.formats.get(name) == "change"}
    assert got.helps["First touch vs last touch"].startswith(
        "First touch's credit against Last touch's"
    )
    assert_no_internal_names(" ".join(names))


def test_model_comparison_table_of_no_conversions_is_empty() -> None:
    got = charts.model_comparison_table(COMPARISON.clear())
    assert got.values.is_empty()
    assert got.fills.columns == got.values.columns
    assert got.fills.height == 0


def test_model_comparison_table_of_revenue_is_money() -> None:
    got = charts.model_comparison_table(COMPARISON, metric=c.REVENUE)
    assert got.title == "Model comparison: revenue"
    assert 1234.5 in got.values.select(pl.exclude("Channel")).to_numpy()
    assert {got.formats[name] for name in got.values.columns[1:] if "vs" not in name} == {"money"}


def test_model_bars_hover_is_formatted_with_human_names() -> None:
    fig = charts.model_comparison(COMPARISON, metric=c.REVENUE, currency="GBP")
    assert fig.layout.yaxis.title.text == "Revenue (GBP)"
    assert "GBP %{y:,.2f}" in fig.data[0].hovertemplate
    assert "%{y:,.1f} conversions" in charts.model_comparison(COMPARISON).data[0].hovertemplate
    assert_no_internal_names(figure_text(fig))


def test_top_paths_group_the_rest_as_other() -> None:
    summary = pl.DataFrame(
        {
            c.TRANSFORMED_PATH: ["Email", "Direct", "Referral", "Direct > Email"],
            c.CONVERSIONS: [3, 5, 0, 1],
            c.NON_CONVERSIONS: [1, 1, 4, 2],
        }
    )
    expected = pl.DataFrame(
        {
            c.TRANSFORMED_PATH: ["Direct", "Email", "Other"],
            c.CONVERSIONS: [5, 3, 1],
            c.NON_CONVERSIONS: [1, 1, 6],
        }
    )
    assert_frame_equal(charts.top_paths(summary, 2), expected)
    assert charts.top_paths(summary, 9).height == 4
    assert charts.paths_note(4, 2) == "Top 2 of 4 paths shown; the rest grouped as Other."


def test_time_to_convert_chart_says_what_it_measures_from() -> None:
    hist = pl.DataFrame(
        {
            a.MEASURE: [a.FROM_FIRST_TOUCH, a.FROM_KNOWN],
            a.BIN: ["< 1 day", "< 1 day"],
            a.PEOPLE: [2, 1],
        }
    )
    fig = charts.time_to_convert_chart(hist)
    assert [t.name for t in fig.data] == ["From first touch", "From becoming known"]
    assert "From becoming known" in fig.data[1].hovertemplate
    assert_no_internal_names(figure_text(fig))


def test_sankey_labels_sit_beside_the_nodes_with_their_paths() -> None:
    links = pl.DataFrame(
        {
            a.SOURCE_NODE: ["1. Email", "1. Email", "2. Direct", "1. Other"],
            a.TARGET_NODE: ["2. Direct", "Conversion", "No conversion", "Conversion"],
            a.VALUE: [1_200, 30, 1_200, 7],
        }
    )
    fig = charts.path_sankey(links)
    sankey = fig.data[0]
    assert sankey.arrangement == "fixed"
    assert sankey.textfont.color == "rgba(0,0,0,0)"  # drawn as annotations instead
    notes = {n.text: n for n in fig.layout.annotations}
    # first step in the left margin, outcomes in the right margin, the middle on white
    assert notes["Email · 1,230"].xanchor == "right"
    assert notes["Email · 1,230"].x == 0.0
    assert notes["Conversion · 37"].xanchor == "left"
    assert notes["Conversion · 37"].x == 1.0
    assert notes["Direct · 1,200"].bgcolor == "rgba(255,255,255,0.9)"
    assert {"<b>Step 1</b>", "<b>Step 2</b>", "<b>Outcome</b>"} <= set(notes)
    assert sankey.node.color[list(sankey.node.label).index("1. Other")] == MUTED
    # the nodes of a column are stacked top to bottom, each at its own height
    ys = [y for label, y in zip(sankey.node.label, sankey.node.y, strict=True) if label[0] == "1"]
    assert ys == sorted(ys)
    assert len(set(ys)) == len(ys)
    assert_no_internal_names(figure_text(fig))
