"""The funnel oracle (analytics.funnel) on hand-made journeys, expected numbers written out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.analytics import funnel as fn
from journey_core.errors import InputError
from tests.unit.test_analytics import U, paid, result

NEW = "2022-07-05 00:00"  # known since the start: newly known
OLD = "2022-06-01 00:00"  # known before it: previously known
SINCE = U("2022-07-01 00:00")
STEPS = ("view", "cart", "buy")


def ev(email: str, at: str, event: str, known: str = OLD, **extra: Any) -> dict[str, Any]:
    return {c.EMAIL: email, c.OCCURRED_AT: at, c.EVENT_TYPE: event, c.KNOWN_AT: known, **extra}


def spec(**kwargs: Any) -> fn.FunnelSpec:
    return fn.FunnelSpec(**{"steps": STEPS, **kwargs})


def counts(frame: pl.DataFrame, s: fn.FunnelSpec) -> list[int]:
    return fn.funnel(frame, s).get_column(c.PEOPLE).to_list()


def test_funnel_numbers_written_out() -> None:
    rows = result(
        # a: view, cart after 1 h, buy 2 h after the cart
        ev("a@x.io", "2022-07-10 10:00", "view"),
        ev("a@x.io", "2022-07-10 11:00", "cart"),
        ev("a@x.io", "2022-07-10 13:00", "buy"),
        # b: view, cart after 3 h, never buys
        ev("b@x.io", "2022-07-10 10:00", "view"),
        ev("b@x.io", "2022-07-10 13:00", "cart"),
        # c: views only
        ev("c@x.io", "2022-07-11 09:00", "view"),
        # d: never views
        ev("d@x.io", "2022-07-11 09:00", "cart"),
    )
    got = fn.funnel(rows, spec())
    expected = pl.DataFrame(
        {
            c.GROUP: [fn.ALL_PEOPLE] * 3,
            c.STEP: [1, 2, 3],
            c.EVENT_TYPE: list(STEPS),
            c.PEOPLE: [3, 2, 1],
            fn.FROM_START: [1.0, 2 / 3, 1 / 3],
            fn.FROM_PREVIOUS: [1.0, 2 / 3, 0.5],
            c.DROP_OFF: [0, 1, 1],
            # median of 1 h and 3 h; then a's 2 h
            fn.MEDIAN_SECONDS: [None, 7200.0, 7200.0],
        },
        schema_overrides={c.STEP: pl.Int64, c.PEOPLE: pl.Int64, c.DROP_OFF: pl.Int64},
    )
    assert_frame_equal(got, expected)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(
            [("buy", "10:00"), ("cart", "10:01"), ("view", "10:02")], [1, 0, 0], id="wrong-order"
        ),
        pytest.param(
            [("view", "10:00"), ("buy", "10:01"), ("cart", "10:02")], [1, 1, 0], id="buy-first"
        ),
        pytest.param(
            [("view", "10:00"), ("cart", "10:01"), ("buy", "10:01")],
            [1, 1, 1],
            id="same-time-later-id",
        ),
        pytest.param(
            [("view", "10:00"), ("buy", "10:01"), ("cart", "10:01")],
            [1, 1, 0],
            id="same-time-earlier-id",
        ),
        pytest.param(
            [("view", "10:00"), ("cart", "10:01"), ("view", "10:02"), ("buy", "10:03")],
            [1, 1, 1],
            id="view-again-in-between",
        ),
    ],
)
def test_order_matters(events: list[tuple[str, str]], expected: list[int]) -> None:
    # Event ids follow the list order (e000, e001, ...), so ties break by position.
    rows = result(*(ev("a@x.io", f"2022-07-10 {t}", e) for e, t in events))
    assert counts(rows, spec()) == expected


def test_window_excludes_late_conversions() -> None:
    window = dt.timedelta(days=30)
    start = U("2022-07-02 10:00")
    rows = result(
        # on time: the buy exactly 30 days after the view counts
        ev("a@x.io", "2022-07-02 10:00", "view"),
        ev("a@x.io", "2022-07-20 10:00", "cart"),
        ev("a@x.io", (start + window).isoformat()[:26], "buy"),
        # late: one microsecond after the window
        ev("b@x.io", "2022-07-02 10:00", "view"),
        ev("b@x.io", "2022-07-03 10:00", "cart"),
        ev("b@x.io", (start + window + dt.timedelta(microseconds=1)).isoformat()[:26], "buy"),
    )
    assert counts(rows, spec(window=window)) == [2, 2, 1]
    assert counts(rows, spec(window=dt.timedelta(days=31))) == [2, 2, 2]
    assert counts(rows, spec(window=dt.timedelta(days=10))) == [2, 1, 0]


def test_window_runs_from_the_first_step_one() -> None:
    # The window is anchored at the person's first view since the start, not a later one.
    rows = result(
        ev("a@x.io", "2022-06-20 10:00", "view"),  # before the start: not step 1
        ev("a@x.io", "2022-07-01 10:00", "view"),
        ev("a@x.io", "2022-07-20 10:00", "view"),
        ev("a@x.io", "2022-07-21 10:00", "cart"),
    )
    assert counts(rows, spec(since=SINCE, window=dt.timedelta(days=10))) == [1, 0, 0]
    assert counts(rows, spec(since=SINCE, window=dt.timedelta(days=20))) == [1, 1, 0]


def test_repeated_events_count_once_per_person() -> None:
    rows = result(
        *(ev("a@x.io", f"2022-07-10 10:0{i}", "view") for i in range(4)),
        ev("a@x.io", "2022-07-10 11:00", "cart"),
        ev("a@x.io", "2022-07-10 11:30", "cart"),
        ev("a@x.io", "2022-07-10 12:00", "buy"),
        ev("a@x.io", "2022-07-10 12:05", "buy"),
    )
    got = fn.funnel(rows, spec())
    assert got.get_column(c.PEOPLE).to_list() == [1, 1, 1]
    # Time between steps uses the earliest qualifying events: 10:00 -> 11:00 -> 12:00.
    assert got.get_column(fn.MEDIAN_SECONDS).to_list() == [None, 3600.0, 3600.0]


def test_newly_and_previously_known_and_their_default_steps() -> None:
    rows = result(
        ev("new@x.io", "2022-07-05 10:00", "page_view", NEW),
        ev("new@x.io", "2022-07-05 10:01", "signup", NEW),
        ev("new@x.io", "2022-07-06 10:00", "purchase", NEW),
        ev("old@x.io", "2022-07-05 10:00", "page_view"),
        ev("old@x.io", "2022-07-05 10:01", "add_to_cart"),
        ev("old@x.io", "2022-07-05 10:02", "purchase"),
    )
    newly = fn.FunnelSpec(steps=fn.default_steps(fn.NEWLY_KNOWN), since=SINCE, who=fn.NEWLY_KNOWN)
    previously = fn.FunnelSpec(
        steps=fn.default_steps(fn.PREVIOUSLY_KNOWN), since=SINCE, who=fn.PREVIOUSLY_KNOWN
    )
    assert "signup" not in previously.steps
    assert counts(rows, newly) == [1, 1, 1]
    assert counts(rows, previously) == [1, 1, 1]
    # With the Sign-up step, previously known people (who signed up before) drop at step 2.
    assert counts(rows, fn.FunnelSpec(steps=newly.steps, since=SINCE)) == [2, 1, 1]


@pytest.mark.parametrize(
    ("who", "people", "drop_off"),
    [
        pytest.param(fn.NEWLY_KNOWN, [2, 1, 0], [0, 1, 1], id="newly-known"),
        pytest.param(fn.PREVIOUSLY_KNOWN, [1, 1, 1], [0, 0, 0], id="previously-known"),
        pytest.param(fn.ALL_PEOPLE, [3, 2, 1], [0, 1, 1], id="everyone"),
    ],
)
def test_who_splits_newly_and_previously_known(
    who: str, people: list[int], drop_off: list[int]
) -> None:
    rows = result(
        # a: previously known, does all three in order
        ev("a@x.io", "2022-07-10 10:00", "view"),
        ev("a@x.io", "2022-07-10 10:05", "cart"),
        ev("a@x.io", "2022-07-10 10:10", "buy"),
        # b: newly known, buys before viewing: reaches only step 1
        ev("b@x.io", "2022-07-10 09:00", "buy", "2022-07-09 00:00"),
        ev("b@x.io", "2022-07-10 09:30", "view", "2022-07-09 00:00"),
        # c: newly known, view then cart
        ev("c@x.io", "2022-07-11 09:00", "view", "2022-07-11 00:00"),
        ev("c@x.io", "2022-07-11 09:01", "cart", "2022-07-11 00:00"),
        # d: newly known, never views
        ev("d@x.io", "2022-07-11 09:00", "cart", "2022-07-11 00:00"),
    )
    got = fn.funnel(rows, spec(since=U("2022-07-05 00:00"), who=who))
    assert got.get_column(c.PEOPLE).to_list() == people
    assert got.get_column(c.DROP_OFF).to_list() == drop_off


def test_a_step_nobody_reached_drops_everyone_of_the_step_before() -> None:
    got = fn.funnel(result(ev("a@x.io", "2022-07-10 10:00", "view")), spec())
    assert got.get_column(c.PEOPLE).to_list() == [1, 0, 0]
    assert got.get_column(fn.FROM_PREVIOUS).to_list() == [1.0, 0.0, 0.0]
    assert got.get_column(c.DROP_OFF).to_list() == [0, 1, 0]


KNOWN = {
    "a@x.io": "2022-06-01 00:00",
    "b@x.io": "2022-07-03 00:00",
    "c@x.io": "2022-07-01 00:00",
    "d@x.io": "2022-07-04 00:00",
}
journeys = st.lists(
    st.tuples(
        st.sampled_from(sorted(KNOWN)),
        st.integers(min_value=0, max_value=50),
        st.sampled_from(["view", "cart", "buy", "other"]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(events=journeys)
def test_funnel_invariants(events: list[tuple[str, int, str]]) -> None:
    """Counts never grow along the funnel; newly and previously known add up to everyone;
    step 1 is everyone who viewed since the start."""
    base = U("2022-07-05 00:00")
    rows = result(
        *(
            ev(e, (base + dt.timedelta(minutes=m)).isoformat()[:19], t, KNOWN[e])
            for e, m, t in events
        )
    )
    split = {who: counts(rows, spec(since=U("2022-07-02 00:00"), who=who)) for who in fn.WHO}
    for people in split.values():
        assert people == sorted(people, reverse=True)
    both = [n + p for n, p in zip(split[fn.NEWLY_KNOWN], split[fn.PREVIOUSLY_KNOWN], strict=True)]
    assert both == split[fn.ALL_PEOPLE]
    assert split[fn.ALL_PEOPLE][0] == len({e for e, _, t in events if t == "view"})


def test_breakdown_by_first_touch() -> None:
    rows = result(
        paid("2022-07-10 09:59", **{c.EMAIL: "a@x.io"}),
        ev("a@x.io", "2022-07-10 10:00", "view"),
        ev("a@x.io", "2022-07-10 10:05", "cart"),
        # b's first touch is direct; a later ad visit does not change their group
        ev("b@x.io", "2022-07-10 08:00", "view", OLD, referrer=None),
        paid("2022-07-12 09:59", **{c.EMAIL: "b@x.io"}),
        ev("c@x.io", "2022-07-11 08:00", "view", OLD, referrer=None),
    )
    got = fn.funnel(rows, spec(breakdown=c.CHANNEL))
    assert got.select(c.GROUP, c.STEP, c.PEOPLE).rows() == [
        ("Direct", 1, 2),
        ("Direct", 2, 0),
        ("Direct", 3, 0),
        ("Paid Search", 1, 1),
        ("Paid Search", 2, 1),
        ("Paid Search", 3, 0),
    ]
    campaigns = fn.funnel(rows, spec(breakdown=c.SESSION_CAMPAIGN))
    assert campaigns.filter(pl.col(c.STEP) == 1).select(c.GROUP, c.PEOPLE).rows() == [
        ("(not set)", 2),
        ("brand", 1),
    ]


def test_breakdown_by_source_medium_landing_page_and_known_status() -> None:
    rows = result(
        paid(
            "2022-07-10 09:59", **{c.EMAIL: "a@x.io", c.PAGE_URL: "https://s.io/sale"}, known_at=NEW
        ),
        ev("a@x.io", "2022-07-10 10:00", "view", NEW),
        ev("a@x.io", "2022-07-10 10:05", "cart", NEW),
        ev("b@x.io", "2022-07-10 08:00", "view", OLD, referrer=None, page_url="https://s.io/"),
        ev("b@x.io", "2022-07-10 08:10", "cart", OLD, referrer=None),
        ev("c@x.io", "2022-07-11 08:00", "view", OLD, referrer=None, page_url="https://s.io/"),
    )
    firsts = pl.col(c.STEP) == 1
    pairs = fn.funnel(rows, spec(breakdown=c.SOURCE_MEDIUM)).filter(firsts)
    assert pairs.select(c.GROUP, c.PEOPLE).rows() == [
        ("(direct) / (none)", 2),
        ("google / cpc", 1),
    ]
    pages = fn.funnel(rows, spec(breakdown=c.LANDING_PAGE)).filter(pl.col(c.STEP) == 2)
    assert pages.select(c.GROUP, c.PEOPLE).rows() == [
        ("https://s.io/", 1),
        ("https://s.io/sale", 1),
    ]
    status = fn.funnel(rows, spec(breakdown=c.KNOWN_STATUS, since=SINCE))
    assert status.select(c.GROUP, c.STEP, c.PEOPLE).rows() == [
        (fn.PREVIOUSLY_KNOWN, 1, 2),
        (fn.PREVIOUSLY_KNOWN, 2, 1),
        (fn.PREVIOUSLY_KNOWN, 3, 0),
        (fn.NEWLY_KNOWN, 1, 1),
        (fn.NEWLY_KNOWN, 2, 1),
        (fn.NEWLY_KNOWN, 3, 0),
    ]
    with pytest.raises(InputError, match="start date"):
        spec(breakdown=c.KNOWN_STATUS)


def test_people_reached_and_dropped_sorted_and_bounded() -> None:
    rows = result(
        ev("zed@x.io", "2022-07-10 10:00", "view"),
        ev("zed@x.io", "2022-07-10 10:30", "cart"),
        ev("amy@x.io", "2022-07-10 10:00", "view"),
        ev("amy@x.io", "2022-07-10 11:00", "cart"),
        ev("bo@x.io", "2022-07-10 09:00", "view"),
    )
    s = spec()
    reached = fn.people_at(rows, s, step=2)
    assert reached.rows() == [
        ("amy@x.io", U("2022-07-10 11:00")),
        ("zed@x.io", U("2022-07-10 10:30")),
    ]
    dropped = fn.people_at(rows, s, step=2, outcome=fn.DROPPED)
    assert dropped.rows() == [("bo@x.io", U("2022-07-10 09:00"))]
    assert fn.people_at(rows, s, step=1, limit=2).get_column(c.EMAIL).to_list() == [
        "amy@x.io",
        "bo@x.io",
    ]
    assert fn.people_at(rows, s, step=3, outcome=fn.DROPPED).get_column(c.EMAIL).to_list() == [
        "amy@x.io",
        "zed@x.io",
    ]


def test_nobody_gives_zeros_never_null_rates() -> None:
    rows = result(ev("a@x.io", "2022-07-10 10:00", "other"))
    got = fn.funnel(rows, spec())
    assert got.get_column(c.PEOPLE).to_list() == [0, 0, 0]
    assert got.get_column(fn.FROM_START).to_list() == [0.0, 0.0, 0.0]
    assert got.get_column(fn.FROM_PREVIOUS).to_list() == [0.0, 0.0, 0.0]
    assert got.drop(fn.MEDIAN_SECONDS).null_count().sum_horizontal().item() == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"steps": ("view",)}, "steps", id="one-step"),
        pytest.param({"window": dt.timedelta(0)}, "window", id="no-window"),
        pytest.param({"who": fn.NEWLY_KNOWN}, "who", id="who-without-since"),
        pytest.param({"who": "Everyone else"}, "who", id="bad-who"),
        pytest.param({"breakdown": c.EVENT_TYPE}, "breakdown", id="bad-breakdown"),
    ],
)
def test_bad_specs(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as info:
        spec(**kwargs)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("step", "outcome"),
    [pytest.param(1, fn.DROPPED, id="nobody-drops-at-1"), pytest.param(4, fn.REACHED, id="no-4")],
)
def test_bad_people_step(step: int, outcome: str) -> None:
    with pytest.raises(InputError):
        fn.people_at(
            result(ev("a@x.io", "2022-07-10 10:00", "view")), spec(), step=step, outcome=outcome
        )
