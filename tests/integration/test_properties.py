"""Hypothesis properties of the rules, checked against a naive reference and across engines."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.rules import build_links, journeys, stitch
from journey_core.rules.query import JourneyQuery, Rule
from journey_core.warehouse import create_engine, fetch_journeys
from tests.support.frames import events_frame, identities_frame
from tests.support.reference import reference_journeys

AS_OF = dt.datetime(2022, 8, 31, 12, 0)
US = dt.timedelta(microseconds=1)
# Times clustered on every bound the rules have, one microsecond either side.
OFFSETS = [
    dt.timedelta(days=-120),
    dt.timedelta(days=-90) - US,
    dt.timedelta(days=-90),
    dt.timedelta(days=-61, hours=-12) - US,  # 2022-07-01 00:00 minus 1 µs
    dt.timedelta(days=-61, hours=-12),  # 2022-07-01 00:00
    dt.timedelta(days=-30),
    dt.timedelta(hours=-24) - US,
    dt.timedelta(hours=-24),
    dt.timedelta(hours=-1),
    dt.timedelta(0),
    US,
    dt.timedelta(days=3),
]
times = st.sampled_from([AS_OF + o for o in OFFSETS])
anons = st.sampled_from(["a1", "a2", "a3", None, " "])
emails = st.sampled_from(
    ["ann@x.io", " ANN@x.io", "bob@x.io", "Bob@X.io ", "cy@x.io", None, "", "not-an-email", "a@b"]
)
event_types = st.sampled_from(["page_view", "signup", "purchase", None])

event_rows = st.lists(
    st.fixed_dictionaries(
        {
            "event_id": st.sampled_from([f"e{i}" for i in range(14)]),
            "occurred_at": times,
            "anonymous_id": anons,
            "email": st.one_of(st.none(), st.none(), emails),
            "event_type": event_types,
        }
    ),
    max_size=14,
)
identity_rows = st.lists(
    st.fixed_dictionaries({"anonymous_id": anons, "email": emails, "identified_at": times}),
    max_size=6,
)
queries = st.builds(
    lambda email, event_date, tz: JourneyQuery(
        as_of=AS_OF, email=email, event_date=event_date, timezone=tz
    ),
    email=st.sampled_from([None, "ann@x.io", "bob@x.io", "cy@x.io"]),
    event_date=st.sampled_from(
        [None, dt.date(2022, 6, 1), dt.date(2022, 7, 1), dt.date(2022, 8, 31)]
    ),
    tz=st.sampled_from(["UTC", "America/New_York"]),
)


def frames(
    events: list[dict[str, Any]], identities: list[dict[str, Any]]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    ids = identities_frame(
        [(r["anonymous_id"], r["email"], r["identified_at"].isoformat(" ")) for r in identities]
    )
    return events_frame(events), ids


@given(events=event_rows, identities=identity_rows, query=queries)
@settings(max_examples=400, deadline=None)
def test_matches_naive_reference(
    events: list[dict[str, Any]], identities: list[dict[str, Any]], query: JourneyQuery
) -> None:
    ev, ids = frames(events, identities)
    result = journeys(ev, ids, query=query)
    got = result.select(c.EMAIL, c.EVENT_ID, c.OCCURRED_AT).rows()
    assert got == reference_journeys(events, identities, query)


@given(events=event_rows, identities=identity_rows, query=queries)
@settings(max_examples=200, deadline=None)
def test_every_row_satisfies_its_rule_and_comes_from_the_warehouse(
    events: list[dict[str, Any]], identities: list[dict[str, Any]], query: JourneyQuery
) -> None:
    ev, ids = frames(events, identities)
    result = journeys(ev, ids, query=query)
    as_of = query.as_of
    source = {(r["event_id"], r["occurred_at"].replace(tzinfo=dt.UTC)) for r in events}
    for row in result.iter_rows(named=True):
        at, known_at = row[c.OCCURRED_AT], row[c.KNOWN_AT]
        assert (row[c.EVENT_ID], at) in source  # a subset of the warehouse's events
        assert known_at <= as_of
        assert at <= as_of
        assert row[c.BEFORE_KNOWN] == (at < known_at)
        if query.email is not None:
            assert row[c.EMAIL] == query.email
        if query.rule is Rule.RECENT:
            assert at >= as_of - query.recent_window
        elif query.rule is Rule.EMAIL:
            assert at >= as_of - query.lookback
        else:
            assert query.start is not None
            assert at >= query.start or (known_at >= query.start and at >= as_of - query.lookback)
    assert result.get_column(c.EVENT_ID).is_unique().all()


@given(events=event_rows, identities=identity_rows)
@settings(max_examples=200, deadline=None)
def test_stitching_is_idempotent(
    events: list[dict[str, Any]], identities: list[dict[str, Any]]
) -> None:
    ev, ids = frames(events, identities)
    links = build_links(ev.lazy(), ids.lazy(), as_of=AS_OF.replace(tzinfo=dt.UTC))
    once = stitch(ev.lazy(), links).collect()
    twice = stitch(once.lazy(), links).collect()
    assert_frame_equal(once, twice, check_row_order=False)


@given(events=event_rows, identities=identity_rows, query=queries)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_sqlite_and_duckdb_files_agree_with_the_pure_rules(
    tmp_path_factory: pytest.TempPathFactory,
    events: list[dict[str, Any]],
    identities: list[dict[str, Any]],
    query: JourneyQuery,
) -> None:
    from journey_core.warehouse import write_tables

    ev, ids = frames(events, identities)
    expected = journeys(ev, ids, query=query)
    base = tmp_path_factory.mktemp("engines")
    for url in (f"duckdb:///{base / 'w.duckdb'}", f"sqlite:///{base / 'w.sqlite'}"):
        write_tables(url, events=ev, identities=ids)
        engine = create_engine(url)
        try:
            got = fetch_journeys(engine, query).frame
        finally:
            engine.dispose()
        assert_frame_equal(got, expected, check_dtypes=True), url


def test_reference_sanity() -> None:
    # The reference itself must be able to fail: a hand-checked case.
    events = [
        {
            "event_id": "1",
            "occurred_at": AS_OF,
            "anonymous_id": "a1",
            "email": None,
            "event_type": None,
        }
    ]
    identities = [
        {"anonymous_id": "a1", "email": "Ann@x.io", "identified_at": AS_OF - dt.timedelta(days=1)}
    ]
    query = JourneyQuery(as_of=AS_OF)
    assert reference_journeys(events, identities, query) == [
        ("ann@x.io", "1", AS_OF.replace(tzinfo=dt.UTC))
    ]
    assert pl.DataFrame(events).height == 1
