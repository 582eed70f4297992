"""Attribution figures: pure Plotly builders checked without a browser."""

from __future__ import annotations

import polars as pl

from journey_core import columns as c
from journey_core.analytics import attribution as a
from journey_core.analytics.attribution import Model
from journey_ui.figures import attribution as charts

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


def test_model_comparison_by_revenue() -> None:
    fig = charts.model_comparison(TABLE, metric=c.REVENUE)
    assert list(fig.data[1].x) == ["Email", "Direct"]
    assert list(fig.data[1].y) == [7.5, 2.5]
    assert fig.layout.yaxis.title.text == "Revenue"


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
    assert sankey.node.color[3] == charts.OUTCOME_COLOURS[a.CONVERTED]


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
        "from first touch (median 0.5 d, p90 1.0 d)",
        "from becoming known (median 2.2 d, p90 4.0 d)",
    ]
    assert list(fig.data[1].y) == [0, 3]
