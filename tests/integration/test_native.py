"""The warehouse-native statement returns exactly what the pure rules (the oracle) return.

:func:`journey_core.warehouse.native.journey_statement` runs each rule as ONE SQL statement;
these tests compare its rows with :func:`journey_core.rules.journeys` on the whole tables,
on DuckDB and SQLite files and on PostgreSQL (marker ``postgres``), for the README's worked
example, the scenario world and random worlds with times on every bound +/- 1 microsecond.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.rules import journeys
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys, write_tables
from journey_core.warehouse.mapping import load_mapping, parse_mapping
from journey_core.warehouse.native import journey_statement, native_journeys
from tests.conftest import WarehouseFactory
from tests.support.frames import events_frame, identities_frame
from tests.support.postgres import PostgresServer
from tests.support.scenario import queries, scenario
from tests.support.snowplow import QUERY as SNOWPLOW_QUERY
from tests.support.snowplow import load_snowplow
from tests.unit.test_rules import AS_OF, CAMPAIGN_EVENTS, CAMPAIGN_IDS

WORKED_QUERIES = [
    pytest.param({"event_date": dt.date(2022, 7, 1)}, id="event_date"),
    pytest.param({"email": "ann@example.com"}, id="email"),
    pytest.param({"email": "ann@example.com", "event_date": dt.date(2022, 7, 1)}, id="both-ann"),
    pytest.param({"email": "ben@example.com", "event_date": dt.date(2022, 7, 1)}, id="both-ben"),
    pytest.param({}, id="recent"),
    pytest.param({"email": "cara@example.com"}, id="not-known-yet"),
    pytest.param({"event_date": dt.date(2022, 7, 1), "timezone": "Asia/Tokyo"}, id="tokyo"),
]


def _native(url: str, query: JourneyQuery, **kw: Any) -> pl.DataFrame:
    engine = create_engine(url)
    try:
        return native_journeys(engine, query, **kw)
    finally:
        engine.dispose()


def _assert_same(got: pl.DataFrame, expected: pl.DataFrame, query: JourneyQuery) -> None:
    try:
        assert_frame_equal(got, expected)
    except AssertionError as exc:
        raise AssertionError(f"{query!r}: {exc}") from None


@pytest.mark.parametrize("kwargs", WORKED_QUERIES)
def test_worked_example(warehouse: WarehouseFactory, kwargs: dict[str, Any]) -> None:
    url = warehouse(CAMPAIGN_EVENTS, CAMPAIGN_IDS)
    query = JourneyQuery(as_of=AS_OF, **kwargs)
    expected = journeys(CAMPAIGN_EVENTS, CAMPAIGN_IDS, query=query)
    assert_frame_equal(_native(url, query), expected)


def test_worked_example_can_fail(warehouse: WarehouseFactory) -> None:
    # The comparison is not vacuous: Ben's campaign journey has his anonymous ad click.
    url = warehouse(CAMPAIGN_EVENTS, CAMPAIGN_IDS)
    query = JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1))
    got = _native(url, query)
    assert got.select(c.EMAIL, c.EVENT_ID, c.BEFORE_KNOWN).rows() == [
        ("ann@example.com", "a-0705", False),
        ("ben@example.com", "b-0620", True),
        ("ben@example.com", "b-0710", False),
        ("ben@example.com", "b-0712", False),
        ("ben@example.com", "b-0831", False),
    ]


def test_scenario_world(warehouse: WarehouseFactory) -> None:
    events, identities = scenario(individuals=60)
    url = warehouse(events, identities)
    for query in queries(identities):
        expected = journeys(events, identities, query=query)
        _assert_same(_native(url, query), expected, query)


# Emails padded with Unicode whitespace, one with a quote and a backslash, a blank anonymous
# id, and an event id twice (the copy on device d2 has the larger anonymous id: it loses).
ODD_EVENTS = events_frame(
    [
        {"event_id": "1", "occurred_at": AS_OF.replace(tzinfo=None), "anonymous_id": "d"},
        {"event_id": "1", "occurred_at": AS_OF.replace(tzinfo=None), "anonymous_id": "d2"},
        {"event_id": "2", "occurred_at": dt.datetime(2022, 8, 31), "email": "\tAnn@X.io\n"},
        {"event_id": "3", "occurred_at": dt.datetime(2022, 8, 31), "email": "a\xa0b@x.io"},
        {"event_id": "4", "occurred_at": dt.datetime(2022, 8, 31), "email": "\x0bO'B\\x@x.io\x85"},
    ]
)
ODD_IDS = identities_frame(
    [
        ("d", "\xa0ann@x.io\u3000", "2022-08-01 00:00:00"),
        ("d2", "ann@x.io", "2022-08-01 00:00:00"),
        ("\t", "ann@x.io", "2022-08-02 00:00:00"),
    ]
)
ODD_QUERIES = [
    pytest.param(JourneyQuery(as_of=AS_OF, email="ann@x.io"), ["2", "1"], id="padded"),
    pytest.param(JourneyQuery(as_of=AS_OF, email="o'b\\x@x.io"), ["4"], id="quote-backslash"),
    pytest.param(JourneyQuery(as_of=AS_OF), ["2", "1", "4"], id="recent"),
]


@pytest.mark.parametrize(("query", "event_ids"), ODD_QUERIES)
def test_odd_emails_and_duplicate_ids(
    warehouse: WarehouseFactory, query: JourneyQuery, event_ids: list[str]
) -> None:
    url = warehouse(ODD_EVENTS, ODD_IDS)
    expected = journeys(ODD_EVENTS, ODD_IDS, query=query)
    assert expected.get_column(c.EVENT_ID).to_list() == event_ids
    assert_frame_equal(_native(url, query), expected)


@pytest.mark.parametrize(
    ("links", "owner"),
    [
        pytest.param(
            [("d", "zed@x.io", "2022-08-01 00:00:00"), ("d", "amy@x.io", "2022-08-01 00:00:00")],
            "amy@x.io",
            id="tie at the latest link: smallest email",
        ),
        pytest.param(
            [("d", "amy@x.io", "2022-08-01 00:00:00"), ("d", "zed@x.io", "2022-08-01 00:00:01")],
            "zed@x.io",
            id="latest link wins",
        ),
        pytest.param(
            [("d", "amy@x.io", "2022-08-01 00:00:00"), ("d", "zed@x.io", "2022-08-31 12:00:01")],
            "amy@x.io",
            id="a link after as_of does not count",
        ),
    ],
)
def test_stitching_owner(
    warehouse: WarehouseFactory, links: list[tuple[str, str, str]], owner: str
) -> None:
    ev = events_frame(
        [{"event_id": "1", "occurred_at": dt.datetime(2022, 8, 31), "anonymous_id": "d"}]
    )
    ids = identities_frame(links)
    url = warehouse(ev, ids)
    query = JourneyQuery(as_of=AS_OF)
    expected = journeys(ev, ids, query=query)
    assert expected.get_column(c.EMAIL).to_list() == [owner]
    assert_frame_equal(_native(url, query), expected)


BRANCH_EVENTS = events_frame(
    [  # each event's person comes from its own valid email, else from its anonymous id's owner
        {
            "event_id": "own",
            "occurred_at": dt.datetime(2022, 8, 31),
            "email": "ann@x.io",
            "anonymous_id": "d",
        },
        {
            "event_id": "padded",
            "occurred_at": dt.datetime(2022, 8, 31, 1),
            "email": " Ann@X.io ",
            "anonymous_id": "d",
        },
        {
            "event_id": "invalid",
            "occurred_at": dt.datetime(2022, 8, 31, 2),
            "email": "ann@x",
            "anonymous_id": "d",
        },
        {
            "event_id": "blank",
            "occurred_at": dt.datetime(2022, 8, 31, 3),
            "email": " \u3000",
            "anonymous_id": "d",
        },
        {"event_id": "cookie", "occurred_at": dt.datetime(2022, 8, 31, 4), "anonymous_id": "d"},
        {"event_id": "orphan", "occurred_at": dt.datetime(2022, 8, 31, 5), "anonymous_id": "u"},
        {"event_id": "nobody", "occurred_at": dt.datetime(2022, 8, 31, 6), "email": "x@"},
    ]
)
BRANCH_IDS = identities_frame([("d", "zed@x.io", "2022-08-31 10:00:00")])  # after ann's links


@pytest.mark.parametrize(
    "query",
    [
        pytest.param(JourneyQuery(as_of=AS_OF), id="recent"),
        pytest.param(JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 8, 1)), id="event_date"),
        pytest.param(JourneyQuery(as_of=AS_OF, email="zed@x.io"), id="email-owner"),
        pytest.param(JourneyQuery(as_of=AS_OF, email="ann@x.io"), id="email-own"),
    ],
)
def test_own_email_else_the_owner(warehouse: WarehouseFactory, query: JourneyQuery) -> None:
    # The statement reads the events carrying an email and the others by separate joins
    # (statements.journey_statement): an invalid or blank email falls to the owner.
    url = warehouse(BRANCH_EVENTS, BRANCH_IDS)
    expected = journeys(BRANCH_EVENTS, BRANCH_IDS, query=query)
    people = dict(expected.select(c.EVENT_ID, c.EMAIL).rows())
    everyone = {
        "own": "ann@x.io",
        "padded": "ann@x.io",
        "invalid": "zed@x.io",
        "blank": "zed@x.io",
        "cookie": "zed@x.io",
    }
    assert people == {k: v for k, v in everyone.items() if query.email in (None, v)}
    assert_frame_equal(_native(url, query), expected)


def test_a_mapped_warehouse_without_identities(tmp_path: Any) -> None:
    # The statement reads through the mapping's canonical selects (here: renamed columns).
    url = f"duckdb:///{tmp_path / 'hits.duckdb'}"
    write_tables(url, events=CAMPAIGN_EVENTS, identities=CAMPAIGN_IDS)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE hits AS SELECT * FROM events"))
        conn.execute(sa.text("ALTER TABLE hits RENAME COLUMN occurred_at TO ts"))
    engine.dispose()
    columns = {name: name for name in c.EVENT_COLUMNS} | {c.OCCURRED_AT: "ts"}
    mapping = parse_mapping({"events": {"table": "hits", "columns": columns}})
    query = JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1))
    expected = journeys(CAMPAIGN_EVENTS, CAMPAIGN_IDS.clear(), query=query)
    got = _native(url, query, mapping=mapping)
    assert got.get_column(c.EMAIL).unique().to_list() == ["ben@example.com"]
    assert_frame_equal(got, expected)


def test_snowplow_preset_equals_the_product_route(tmp_path: Any) -> None:
    # atomic.events through the snowplow preset: user ids (not emails) identify people.
    url = f"duckdb:///{tmp_path / 'snowplow.duckdb'}"
    load_snowplow(url)
    mapping = load_mapping("snowplow")
    engine = create_engine(url)
    try:
        campaign = fetch_journeys(engine, SNOWPLOW_QUERY, mapping=mapping).frame
        user = campaign.get_column(c.EMAIL).sort()[0]
        lookups = [
            replace(SNOWPLOW_QUERY, email=user, event_date=None),
            replace(SNOWPLOW_QUERY, email=user),
        ]
        assert campaign.height > 0
        assert_frame_equal(native_journeys(engine, SNOWPLOW_QUERY, mapping=mapping), campaign)
        for query in lookups:
            expected = fetch_journeys(engine, query, mapping=mapping).frame
            assert expected.height > 0
            _assert_same(native_journeys(engine, query, mapping=mapping), expected, query)
    finally:
        engine.dispose()


def test_time_bounds_are_bound_parameters() -> None:
    query = JourneyQuery(as_of=AS_OF, email="o'brien@example.com", event_date=dt.date(2022, 7, 1))
    compiled = journey_statement(query).compile()
    sql = str(compiled)
    assert "o'brien" not in sql
    assert "2022" not in sql
    assert compiled.params["email"] == "o'brien@example.com"
    assert compiled.params["start"] == dt.datetime(2022, 7, 1)
    assert compiled.params["lookback_start"] == dt.datetime(2022, 6, 2, 12)


# --------------------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with PostgresServer() as pg:
        pg.execute_admin("CREATE DATABASE native")
        yield pg.url(dbname="native")


@pytest.mark.postgres
@pytest.mark.parametrize("kwargs", WORKED_QUERIES)
def test_worked_example_on_postgres(pg_url: str, kwargs: dict[str, Any]) -> None:
    write_tables(pg_url, events=CAMPAIGN_EVENTS, identities=CAMPAIGN_IDS)
    query = JourneyQuery(as_of=AS_OF, **kwargs)
    expected = journeys(CAMPAIGN_EVENTS, CAMPAIGN_IDS, query=query)
    assert_frame_equal(_native(pg_url, query), expected)


@pytest.mark.postgres
def test_scenario_world_on_postgres(pg_url: str) -> None:
    events, identities = scenario(individuals=60)
    write_tables(pg_url, events=events, identities=identities)
    for query in queries(identities):
        expected = journeys(events, identities, query=query)
        _assert_same(_native(pg_url, query), expected, query)


@pytest.mark.postgres
@pytest.mark.parametrize(("query", "event_ids"), ODD_QUERIES)
def test_odd_emails_on_postgres(pg_url: str, query: JourneyQuery, event_ids: list[str]) -> None:
    write_tables(pg_url, events=ODD_EVENTS, identities=ODD_IDS)
    expected = journeys(ODD_EVENTS, ODD_IDS, query=query)
    assert expected.get_column(c.EVENT_ID).to_list() == event_ids
    assert_frame_equal(_native(pg_url, query), expected)


# --------------------------------------------------------------------------- random worlds
PROP_AS_OF = dt.datetime(2022, 8, 31, 12, 0, tzinfo=dt.UTC)
US = dt.timedelta(microseconds=1)
DATES = [dt.date(2022, 6, 1), dt.date(2022, 7, 1), dt.date(2022, 8, 31)]
ZONES = ["UTC", "America/New_York"]
QUERY_BOUNDS = {
    PROP_AS_OF,
    PROP_AS_OF - dt.timedelta(hours=24),
    PROP_AS_OF - dt.timedelta(days=90),
    *(JourneyQuery(as_of=PROP_AS_OF, event_date=d, timezone=z).start for d in DATES for z in ZONES),
}
# Every bound any query can have, and one microsecond either side; plus far outside.
TIMES = sorted(
    {(b + k * US).replace(tzinfo=None) for b in QUERY_BOUNDS if b for k in (-1, 0, 1)}
    | {dt.datetime(2022, 5, 1), dt.datetime(2022, 9, 3)}
)
times = st.sampled_from(TIMES)
anons = st.sampled_from(["a1", "a2", "a3", " a1", None, " ", "\t"])
emails = st.sampled_from(
    [
        *("ann@x.io", " ANN@x.io", "\tann@x.io\n", "ann@x.io\xa0", "bob@x.io", "Bob@X.io "),
        *("cy@x.io", None, "", "not-an-email", "a@b", "a b@x.io", "ann@x.io."),
    ]
)
event_rows = st.lists(
    st.fixed_dictionaries(
        {
            c.EVENT_ID: st.sampled_from([f"e{i}" for i in range(10)]),
            c.OCCURRED_AT: times,
            c.ANONYMOUS_ID: anons,
            c.EMAIL: st.one_of(st.none(), st.none(), emails),
            c.EVENT_TYPE: st.sampled_from(["page_view", "signup", None]),
            c.PAGE_URL: st.sampled_from(["/a", "/b", None]),
        }
    ),
    max_size=14,
)
identity_rows = st.lists(st.tuples(anons, emails, times), max_size=6)
random_queries = st.builds(
    lambda email, event_date, tz: JourneyQuery(
        as_of=PROP_AS_OF, email=email, event_date=event_date, timezone=tz
    ),
    email=st.sampled_from([None, "ann@x.io", "bob@x.io", "cy@x.io"]),
    event_date=st.sampled_from([None, *DATES]),
    tz=st.sampled_from(ZONES),
)


@given(events=event_rows, identities=identity_rows, query=random_queries)
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_random_worlds_on_duckdb(
    tmp_path_factory: pytest.TempPathFactory,
    events: list[dict[str, Any]],
    identities: list[tuple[str | None, str | None, dt.datetime]],
    query: JourneyQuery,
) -> None:
    ev = events_frame(events)
    ids = identities_frame([(a, e, t.isoformat(" ")) for a, e, t in identities])
    expected = journeys(ev, ids, query=query)
    url = f"duckdb:///{tmp_path_factory.mktemp('native') / 'w.duckdb'}"
    write_tables(url, events=ev, identities=ids)
    assert_frame_equal(_native(url, query), expected)
