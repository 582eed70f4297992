"""One readable person: visit feed newest first, first touch, devices (numbers written out),
and the timeline builder (journey_ui.figures.person) whose labels never collide."""

from __future__ import annotations

import datetime as dt
import itertools

import plotly.graph_objects as go
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.analytics import person
from journey_core.timeutil import TS
from journey_ui.figures.palette import channel_color
from journey_ui.figures.person import PLOT_WIDTH, timeline

T0 = dt.datetime(2022, 7, 1, 9, 0, tzinfo=dt.UTC)
KNOWN = T0 + dt.timedelta(days=2, minutes=3)


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _rows() -> pl.DataFrame:
    """Visit 1: 3 page views from a Google ad; visit 2 (two days later, direct): 13 page
    views, sign-up, add to cart, purchase of 63.28, from another device."""
    rows: list[dict[str, object]] = []
    for i in range(3):
        rows.append(
            {
                "event_id": f"a{i}",
                "occurred_at": _at(i),
                "anonymous_id": "laptop",
                "event_type": "page_view",
                "page_url": f"https://shop.example.com/p{i}",
                "utm_source": "google" if i == 0 else None,
                "utm_medium": "cpc" if i == 0 else None,
                "utm_campaign": "spring" if i == 0 else None,
                "referrer": "https://www.google.com/" if i == 0 else None,
            }
        )
    day2 = 2 * 24 * 60
    for i in range(13):
        rows.append(
            {
                "event_id": f"b{i:02d}",
                "occurred_at": _at(day2 + i),
                "anonymous_id": "phone",
                "event_type": "page_view",
                "page_url": f"https://shop.example.com/q{i}",
            }
        )
    for i, (kind, revenue) in enumerate(
        [("sign_up", None), ("add_to_cart", None), ("purchase", 63.28)]
    ):
        rows.append(
            {
                "event_id": f"c{i}",
                "occurred_at": _at(day2 + 3 + i),
                "anonymous_id": "phone",
                "event_type": kind,
                "revenue": revenue,
            }
        )
    frame = pl.DataFrame(rows, infer_schema_length=None)
    return _known(
        frame.with_columns(
            pl.lit("vic@example.com").alias(c.EMAIL), pl.col(c.OCCURRED_AT).cast(TS)
        ),
        KNOWN,
    )


def _known(frame: pl.DataFrame, known: dt.datetime) -> pl.DataFrame:
    """``frame`` with the person known at ``known`` (``known_at`` and ``before_known``)."""
    return frame.with_columns(pl.lit(known, TS).alias(c.KNOWN_AT)).with_columns(
        (pl.col(c.OCCURRED_AT) < pl.col(c.KNOWN_AT)).alias(c.BEFORE_KNOWN)
    )


def test_visit_feed_newest_first_with_sizes_and_revenue() -> None:
    expected = pl.DataFrame(
        {
            c.SESSION: [2, 1],
            c.SESSION_START: [_at(2 * 24 * 60), _at(0)],
            c.SESSION_END: [_at(2 * 24 * 60 + 12), _at(2)],
            person.EVENTS: [16, 3],
            person.PAGE_VIEWS: [13, 3],
            c.LANDING_PAGE: ["https://shop.example.com/q0", "https://shop.example.com/p0"],
            c.CHANNEL: ["Direct", "Paid Search"],
            c.SESSION_SOURCE: ["(direct)", "google"],
            c.SESSION_MEDIUM: ["(none)", "cpc"],
            c.SESSION_CAMPAIGN: ["(not set)", "spring"],
            person.ACTIONS: [["sign_up", "add_to_cart", "purchase"], []],
            person.ORDERS: [1, 0],
            c.REVENUE: [63.28, 0.0],
            c.BEFORE_KNOWN: [True, True],
        },
        schema=person.FEED_SCHEMA,
    )
    assert_frame_equal(person.visit_feed(_rows()), expected)


@pytest.mark.parametrize(
    ("known", "flags"),
    [
        pytest.param(T0 - dt.timedelta(days=1), [False, False], id="known-before-both"),
        pytest.param(_at(1), [False, True], id="known-during-visit-1"),
        pytest.param(_at(3 * 24 * 60), [True, True], id="known-after-both"),
    ],
)
def test_visit_feed_before_known(known: dt.datetime, flags: list[bool]) -> None:
    rows = _known(_rows(), known)
    assert person.visit_feed(rows).get_column(c.BEFORE_KNOWN).to_list() == flags


def test_visit_feed_of_nothing_keeps_schema() -> None:
    empty = person.visit_feed(_rows().clear())
    assert empty.schema == pl.Schema(person.FEED_SCHEMA)


def test_first_touch_is_the_first_visits_acquisition() -> None:
    assert person.first_touch(_rows()) == person.FirstTouch(
        at=_at(0),
        channel="Paid Search",
        source="google",
        medium="cpc",
        campaign="spring",
        landing_page="https://shop.example.com/p0",
        referrer="https://www.google.com/",
    )
    assert person.first_touch(_rows().clear()) is None


def test_devices_most_events_first() -> None:
    assert person.devices(_rows()) == ["phone", "laptop"]  # 16 events, then 3


# --------------------------------------------------------------------------- timeline
def _cells(fig: go.Figure) -> list[go.Scatter]:
    """The traces that draw markers (not the legend's entries, which draw none)."""
    return [trace for trace in fig.data if trace.hoverinfo != "skip"]


def _texts_at(fig: go.Figure) -> list[tuple[object, object, str]]:
    """(x, y, text) of every printed marker label."""
    out = []
    for trace in _cells(fig):
        for x, y, text in zip(trace.x, trace.y, trace.text or [""] * len(trace.x), strict=True):
            if text:
                out.append((x, y, text))
    return out


def test_timeline_cells_are_one_marker_each_with_their_size() -> None:
    fig = timeline(_rows(), tz="UTC")
    cells = [(x, y) for t in _cells(fig) for x, y in zip(t.x, t.y, strict=True)]
    assert len(cells) == len(set(cells))  # one marker per (visit, lane): distinct positions
    assert "13" in [text for _, _, text in _texts_at(fig)]
    assert (2, "Page view", "13") in _texts_at(fig)
    assert (1, "Page view", "3") in _texts_at(fig)
    hover = " ".join(h for t in _cells(fig) for h in t.hovertext)
    assert "Visit 2 · Page view × 13" in hover
    assert "Revenue: USD 63.28" in hover  # in the currency (JOURNEY_CURRENCY), issue 13
    assert list(fig.layout.xaxis.tickvals) == [1, 2]
    assert [t.split("<br>")[0] for t in fig.layout.xaxis.ticktext] == ["1", "2"]


def test_timeline_labels_never_collide_with_many_visits() -> None:
    base = _rows().filter(pl.col(c.EVENT_ID) == "a1")
    many = pl.concat(
        [
            base.with_columns(
                pl.lit(f"v{i}").alias(c.EVENT_ID),
                (pl.col(c.OCCURRED_AT) + dt.timedelta(hours=i)).alias(c.OCCURRED_AT),
            )
            for i in range(120)
        ]
    )
    fig = timeline(many, tz="UTC")
    assert len(fig.layout.xaxis.tickvals) <= 16
    ticks = list(fig.layout.xaxis.tickvals)
    assert all(b - a == ticks[1] - ticks[0] for a, b in itertools.pairwise(ticks))
    assert _texts_at(fig) == []  # too narrow to print a number: hover only
    sizes = [s for t in _cells(fig)[1:] for s in t.marker.size]
    assert max(sizes) <= 0.8 * PLOT_WIDTH / 120


@pytest.mark.parametrize(
    ("known", "x"),
    [
        pytest.param(_at(1), 1, id="during-visit-1"),
        pytest.param(_at(60), 1.5, id="between-visits"),
        pytest.param(KNOWN, 2, id="during-visit-2"),
    ],
)
def test_timeline_known_line_between_or_on_visits(known: dt.datetime, x: float) -> None:
    rows = _known(_rows(), known)
    lines = [s for s in timeline(rows).layout.shapes if s.type == "line"]
    assert [line.x0 for line in lines] == [x]


def test_timeline_known_before_first_visit_has_no_line() -> None:
    rows = _known(_rows(), T0 - dt.timedelta(days=9))
    assert [s for s in timeline(rows).layout.shapes if s.type == "line"] == []


def test_timeline_by_channel_lanes() -> None:
    fig = timeline(_rows(), lane="channel", tz="UTC")
    assert list(fig.layout.yaxis.categoryarray) == ["Direct", "Paid Search", "Visits"]
    assert (2, "Direct", "16") in _texts_at(fig)  # the 16 events of visit 2, one marker


def test_timeline_legend_entries_have_one_symbol_size_and_room_for_each_name() -> None:
    """A channel whose first marker was large drew its legend symbol over the entry before it
    ("Organic Search" ran into Organic Social's diamond)."""
    legend = timeline(_rows(), tz="UTC").layout.legend
    assert legend.itemsizing == "constant"
    assert legend.entrywidth >= 7 * len("Paid Search")


def test_timeline_legend_names_each_channel_by_its_colour_as_a_circle() -> None:
    """The cells keep their shape (a diamond before the person became known), the legend
    shows a circle: from the cells' trace it took the first marker's diamond."""
    fig = timeline(_rows(), tz="UTC")
    entries = [t for t in fig.data if t.showlegend is not False]
    assert [t.name for t in entries] == ["Paid Search", "Direct"]
    assert [t.marker.symbol for t in entries] == ["circle", "circle"]
    assert [t.marker.color for t in entries] == [channel_color(t.name) for t in entries]
    cells = {t.name: t.marker.opacity for t in _cells(fig)[1:]}
    assert [t.marker.opacity for t in entries] == [cells[t.name] for t in entries]
    paid = next(t for t in _cells(fig) if t.name == "Paid Search")
    assert list(paid.marker.symbol) == ["diamond"]  # visit 1, before known
