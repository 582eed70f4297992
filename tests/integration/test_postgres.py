"""PostgreSQL: a real server started by the suite, read through a SELECT-only role.

Covers the read-only guarantee, results identical to DuckDB and SQLite, pushdown of a
one-person lookup, inert hostile input, and actionable errors without credentials.
"""

from __future__ import annotations

import datetime as dt
import logging
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl
import psycopg
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal
from psycopg import sql

import journey_cli.commands as cli
from journey_core import columns as c
from journey_core.errors import InputError, WarehouseError
from journey_core.io.demo import generate
from journey_core.rules.identity import blank_to_null, normalized_email
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import (
    create_engine,
    fetch_journeys,
    summarize,
    verify_schema,
    write_tables,
)
from journey_core.warehouse.constructs import (
    _checked_blank,
    _checked_email,
    non_blank,
    valid_email,
)
from journey_core.warehouse.mapping import load_mapping, parse_mapping
from tests.support.postgres import AdminQuery, PostgresServer
from tests.support.scenario import END, load, queries, scenario
from tests.support.snowplow import QUERY, load_snowplow

pytestmark = pytest.mark.postgres

READER = "journey_reader"
# Characters that need URL quoting, so that a leak in any form would be caught.
READER_PASSWORD = "Rd-s3cret/pw@x:%!"
SUPER_PASSWORD = "Sup3r-s3cret-pw"


@dataclass(frozen=True)
class Warehouse:
    pg: PostgresServer
    db: str

    def reader_url(self, password: str = READER_PASSWORD) -> str:
        return self.pg.url(READER, password, self.db)

    def admin(self, statement: AdminQuery, params: Any = None) -> list[tuple[Any, ...]]:
        return self.pg.execute_admin(statement, params, dbname=self.db)

    def checksum(self) -> list[tuple[Any, ...]]:
        """Row count and content hash of every table in the public schema."""
        tables = [
            r[0]
            for r in self.admin(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        out = []
        for name in tables:
            stmt = sql.SQL(
                "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} t"
            )
            out.append((name, *self.admin(stmt.format(sql.Identifier(name)))[0]))
        return out


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with PostgresServer(password_auth=True, password=SUPER_PASSWORD) as server:
        server.execute_admin(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(READER), sql.Literal(READER_PASSWORD)
            )
        )
        yield server


def _new_database(pg: PostgresServer, name: str) -> Warehouse:
    pg.execute_admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    wh = Warehouse(pg, name)
    wh.admin(sql.SQL("REVOKE ALL ON SCHEMA public FROM PUBLIC"))
    wh.admin(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(READER)))
    return wh


def _grant_select(wh: Warehouse, schema: str = "public") -> None:
    wh.admin(
        sql.SQL(
            "GRANT USAGE ON SCHEMA {s} TO {r}; GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {r}"
        ).format(s=sql.Identifier(schema), r=sql.Identifier(READER))
    )


@pytest.fixture(scope="module")
def frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    return scenario()


@pytest.fixture(scope="module")
def warehouse(pg: PostgresServer, frames: tuple[pl.DataFrame, pl.DataFrame]) -> Warehouse:
    wh = _new_database(pg, "scenario")
    load(pg.admin_url("scenario"), frames)
    _grant_select(wh)
    return wh


@pytest.fixture
def reader(warehouse: Warehouse) -> Iterator[sa.Engine]:
    engine = create_engine(warehouse.reader_url())
    yield engine
    engine.dispose()


# ----------------------------------------------------------------- read-only


def test_reader_role_may_only_select(warehouse: Warehouse, reader: sa.Engine) -> None:
    privileges = warehouse.admin(
        sql.SQL(
            "SELECT p, has_table_privilege({r}, 'public.events', p) "
            "FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE']) p"
        ).format(r=sql.Literal(READER))
    )
    assert dict(privileges) == {
        "SELECT": True,
        "INSERT": False,
        "UPDATE": False,
        "DELETE": False,
        "TRUNCATE": False,
    }
    with reader.connect() as conn, pytest.raises(sa.exc.DBAPIError):
        conn.execute(sa.text("DELETE FROM events"))


def test_product_engine_is_read_only_even_for_the_owner(warehouse: Warehouse) -> None:
    engine = create_engine(warehouse.pg.admin_url(warehouse.db))
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as info:
            conn.execute(sa.text("CREATE TABLE intruder (x int)"))
        assert isinstance(info.value.orig, psycopg.errors.ReadOnlySqlTransaction)
    finally:
        engine.dispose()


def test_summarize_through_reader(reader: sa.Engine, frames: tuple[pl.DataFrame, ...]) -> None:
    events, identities = frames
    summary = summarize(reader)
    assert (summary.events, summary.identities) == (events.height, identities.height)
    assert READER_PASSWORD not in summary.url
    assert summary.last_event is not None
    assert summary.last_event.tzinfo is not None


# ------------------------------------------------------------- cross-engine


@pytest.fixture(scope="module")
def file_engines(
    tmp_path_factory: pytest.TempPathFactory, frames: tuple[pl.DataFrame, pl.DataFrame]
) -> Iterator[dict[str, sa.Engine]]:
    root = tmp_path_factory.mktemp("engines")
    urls = {
        "duckdb": f"duckdb:///{root / 'w.duckdb'}",
        "sqlite": f"sqlite:///{root / 'w.sqlite'}",
    }
    engines = {}
    for name, url in urls.items():
        load(url, frames)
        engines[name] = create_engine(url)
    yield engines
    for engine in engines.values():
        engine.dispose()


def test_same_results_on_duckdb_sqlite_and_postgres(
    reader: sa.Engine,
    file_engines: dict[str, sa.Engine],
    frames: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    compared = 0
    for query in queries(frames[1]):
        expected = fetch_journeys(reader, query)
        for name, engine in file_engines.items():
            got = fetch_journeys(engine, query)
            try:
                assert_frame_equal(got.frame, expected.frame)
            except AssertionError as exc:
                raise AssertionError(f"{name} differs from postgresql for {query}") from exc
            assert got.message == expected.message
        compared += expected.events
    assert compared > 1000  # the comparison is over real rows, not empty frames


def test_edge_cases_on_postgres(reader: sa.Engine) -> None:
    one = fetch_journeys(reader, JourneyQuery(as_of=END, email="edge.one@example.com"))
    # edge-a was re-linked to Edge Two, so all its history is Edge Two's; Edge One keeps
    # the event that carries their (padded, mixed-case) email and no anonymous id.
    assert one.frame.get_column(c.EVENT_ID).to_list() == ["edge-2"]
    assert one.frame.get_column(c.EMAIL).to_list() == ["edge.one@example.com"]
    two = fetch_journeys(reader, JourneyQuery(as_of=END, email="edge.two@example.com"))
    expected = pl.DataFrame(
        {
            c.EVENT_ID: ["edge-1", "edge-3", "edge-4", "edge-6"],
            c.ANONYMOUS_ID: ["edge-a", "edge-a", "edge-b", "edge-a"],
            c.KNOWN_AT: [dt.datetime(2022, 8, 23, 13, tzinfo=dt.UTC)] * 4,
            c.REVENUE: [None, None, None, 42.5],
            c.BEFORE_KNOWN: [True, True, True, False],
        },
        schema_overrides={c.KNOWN_AT: pl.Datetime("us", "UTC")},
    )
    # edge-3 is stored twice and returned once; edge-b's link to late@ is after as_of.
    assert_frame_equal(two.frame.select(expected.columns), expected)
    late = fetch_journeys(reader, JourneyQuery(as_of=END, email="late@example.com"))
    assert late.frame.is_empty()
    assert late.message is not None
    assert "late@example.com" in late.message


# ---------------------------------------------------------- fast constructs

# Values around each edge of PostgreSQL's fast paths (constructs.valid_email, non_blank):
# ASCII or not, the 254-character and 64-character limits, an "@" after leading spaces,
# Unicode whitespace at either end, blank, control characters and no "@" at all.
CONFORMED_VALUES = [
    "Ann@Example.COM",
    "  ann@example.com\u3000",
    "\u00c9lo@example.fr",
    "ann@ex\u00e4mple.de",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    " " * 10 + "a" * 60 + "@example.com",
    "a@" + "b" * 249 + ".co",
    "a@" + "b" * 250 + ".co",
    " a@" + "b" * 249 + ".co ",
    "\u00e9" + "a@" + "b" * 248 + ".co",
    "\u00e9" + "a@" + "b" * 249 + ".co",
    "a@b",
    "@b.co",
    "a b@c.de",
    "a@b.c.",
    "a@@b.co",
    "\x01a@b.co",
    "",
    "   ",
    "\u3000\u00a0",
    "!x",
    "~x",
    " x",
    "\u00a0x",
    "anon-1",
    None,
]


def test_fast_constructs_equal_their_exact_spellings(reader: sa.Engine) -> None:
    rows = sa.values(sa.column("v", sa.String()), name="t").data([(v,) for v in CONFORMED_VALUES])
    v = rows.c.v
    stmt = sa.select(
        v,
        valid_email(v),
        _checked_email(v),
        non_blank(v),
        _checked_blank(v),
    ).select_from(rows)
    compiled = str(stmt.compile(dialect=reader.dialect))
    assert "octet_length(" in compiled
    assert "ascii(" in compiled  # the fast paths are what runs here
    with reader.connect() as conn:
        got = [tuple(row) for row in conn.execute(stmt)]
    assert len(got) == len(CONFORMED_VALUES)
    for value, fast_email, exact_email, fast_blank, exact_blank in got:
        assert fast_email == exact_email, value
        assert fast_blank == exact_blank, value
    # and both agree with the rules (the server's lower() folds all of Unicode only under a
    # linguistic LC_CTYPE: the test cluster's "C" folds ASCII, so there emails are compared
    # for ASCII values alone)
    values = pl.DataFrame({"v": CONFORMED_VALUES}, schema={"v": pl.String})
    emails = values.select(normalized_email("v")).get_column("v").to_list()
    blanks = values.select(blank_to_null("v")).get_column("v").to_list()
    assert [row[3] for row in got] == blanks
    ascii_rows = [(row[1], want) for row, want in zip(got, emails, strict=True) if _ascii(row[0])]
    assert len(ascii_rows) > len(CONFORMED_VALUES) // 2
    assert all(have == want for have, want in ascii_rows), ascii_rows


def _ascii(value: str | None) -> bool:
    return value is None or value.isascii()


# ------------------------------------------------------------------ pushdown


@pytest.fixture(scope="module")
def large(pg: PostgresServer) -> tuple[Warehouse, pl.DataFrame, pl.DataFrame]:
    wh = _new_database(pg, "large")
    events, identities = generate(individuals=3000, seed=5, end=END)
    write_tables(pg.admin_url("large"), events=events, identities=identities)
    wh.admin("ANALYZE")
    _grant_select(wh)
    return wh, events, identities


def test_one_person_lookup_fetches_only_candidate_rows(
    large: tuple[Warehouse, pl.DataFrame, pl.DataFrame],
) -> None:
    wh, events, identities = large
    email = identities.get_column(c.EMAIL).sort()[len(identities) // 3]
    query = JourneyQuery(as_of=END, email=email)
    engine = create_engine(wh.reader_url())
    fetched: list[tuple[str, int]] = []

    @sa.event.listens_for(engine, "after_cursor_execute")
    def count_rows(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            fetched.append((statement, cursor.rowcount))

    try:
        result = fetch_journeys(engine, query)
    finally:
        engine.dispose()
    rows = sum(n for _, n in fetched)
    assert result.events > 0
    # The person's own links, the links of their anonymous ids, and their candidate events.
    own_anon = identities.filter(pl.col(c.EMAIL) == email).get_column(c.ANONYMOUS_ID)
    candidates = events.filter(
        (pl.col(c.EMAIL) == email) | pl.col(c.ANONYMOUS_ID).is_in(own_anon.implode())
    )
    assert (
        rows
        <= 2 * identities.filter(pl.col(c.ANONYMOUS_ID).is_in(own_anon.implode())).height
        + 2 * candidates.height
    )
    assert rows < events.height / 500, f"{rows} rows crossed for one person of {events.height}"
    assert not any(email in statement for statement, _ in fetched)  # bound, never inlined


# ------------------------------------------------------------- hostile input

HOSTILE_EMAILS = [
    "o'brien@example.com",
    "x'; DROP TABLE events; --@example.com",
    "a@example.com'--",
    "a@example.com; DELETE FROM identities",
    "/*comment*/a@example.com",
    "a\x00@example.com",
    "robert'); DROP TABLE identities;--",
    "ü" * 60 + "@" + "例え" * 40 + ".com",
    "Ω" * 300 + "@example.com",
    '"quoted"@example.com',
    "a@b.c' OR '1'='1",
    "%' OR email LIKE '%",
]
HOSTILE_DATES = [
    "2022-07-01'; DROP TABLE events; --",
    "2022-07-01 --",
    "2022-07-01\x00",
    "2022-07-01/**/",
    "२०२२-०७-०१",
    "' OR 1=1 --",
]


def test_hostile_input_is_inert(warehouse: Warehouse, reader: sa.Engine) -> None:
    before = warehouse.checksum()
    now = END + dt.timedelta(days=1)
    outcomes = {"invalid": 0, "empty": 0}
    fields: set[str] = set()
    for email in HOSTILE_EMAILS:
        try:
            query = JourneyQuery.build(now=now, email=email, as_of="2022-08-31T00:00:00Z")
        except InputError as exc:
            fields.add(exc.field)
            outcomes["invalid"] += 1
            continue
        result = fetch_journeys(reader, query)
        assert result.frame.is_empty(), email
        assert result.message is not None
        outcomes["empty"] += 1
    for date in HOSTILE_DATES:
        with pytest.raises(InputError) as info:
            JourneyQuery.build(now=now, event_date=date)
        assert info.value.field == "event_date"
    for as_of in ["2022-08-31'; DROP TABLE events;--", "now()", "2022-08-31\x00"]:
        with pytest.raises(InputError):
            JourneyQuery.build(now=now, as_of=as_of)
    assert fields == {"email"}
    assert outcomes["invalid"] >= 3
    assert outcomes["empty"] >= 3
    assert warehouse.checksum() == before


def test_hostile_mapping_names_are_quoted_identifiers(
    warehouse: Warehouse, reader: sa.Engine
) -> None:
    before = warehouse.checksum()
    mapping = parse_mapping(
        {
            "events": {
                "table": 'events"; DROP TABLE events; --',
                "columns": {"event_id": "event_id", "occurred_at": "occurred_at", "email": "email"},
            }
        }
    )
    with pytest.raises(WarehouseError, match="has no table"):
        verify_schema(reader, mapping)
    with pytest.raises(WarehouseError):
        fetch_journeys(reader, JourneyQuery(as_of=END), mapping=mapping)
    assert warehouse.checksum() == before


# -------------------------------------------------------------------- errors


def _assert_clean(message: str) -> None:
    for secret in (READER_PASSWORD, SUPER_PASSWORD, "Rd-s3cret", "s3cret%2F"):
        assert secret not in message
    assert "Traceback" not in message


def test_unreachable_host(caplog: pytest.LogCaptureFixture) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    caplog.set_level(logging.DEBUG)
    password = quote(READER_PASSWORD, safe="")
    engine = create_engine(f"postgresql://{READER}:{password}@127.0.0.1:{port}/w")
    with pytest.raises(WarehouseError) as info:
        fetch_journeys(engine, JourneyQuery(as_of=END))
    message = str(info.value)
    assert f"Cannot reach the warehouse at 127.0.0.1:{port}" in message
    _assert_clean(message)
    _assert_clean(caplog.text)


def test_bad_password(warehouse: Warehouse, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    engine = create_engine(warehouse.reader_url(password="wrong-" + READER_PASSWORD))
    with pytest.raises(WarehouseError) as info:
        verify_schema(engine)
    message = str(info.value)
    assert f"rejected the login of user {READER!r}" in message
    assert "wrong user name or password" in message
    _assert_clean(message)
    assert "wrong-" not in message
    _assert_clean(caplog.text)


def test_unknown_database(warehouse: Warehouse) -> None:
    engine = create_engine(warehouse.pg.url(READER, READER_PASSWORD, "no_such_db"))
    with pytest.raises(WarehouseError, match="has no database 'no_such_db'") as info:
        fetch_journeys(engine, JourneyQuery(as_of=END))
    _assert_clean(str(info.value))


@pytest.fixture(scope="module")
def broken(pg: PostgresServer) -> Warehouse:
    wh = _new_database(pg, "broken")
    wh.admin(
        "CREATE TABLE events (event_id text, occurred_at text, anonymous_id text, email text);"
        "INSERT INTO events VALUES ('e1', '2022-08-01 00:00:00', 'a', 'x@example.com');"
        "CREATE TABLE hits (id text, ts timestamp, cookie text, amount text);"
        "CREATE TABLE secret (id text, ts timestamp, cookie text)"
    )
    wh.admin(sql.SQL("GRANT SELECT ON events, hits TO {}").format(sql.Identifier(READER)))
    return wh


def _hits_mapping(**columns: object) -> dict[str, Any]:
    base: dict[str, object] = {"event_id": "id", "occurred_at": "ts", "anonymous_id": "cookie"}
    return {"events": {"table": "hits", "columns": {**base, **columns}}}


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        pytest.param(
            "snowplow",
            "has no table 'atomic.events' (mapping key events.table, events.schema)",
            id="missing-table",
        ),
        pytest.param(
            _hits_mapping(occurred_at="timestamp"),
            "Table 'hits' has no column 'timestamp', needed for 'occurred_at' "
            "(mapping key events.columns.occurred_at)",
            id="missing-column",
        ),
        pytest.param(
            {
                "events": {
                    "table": "events",
                    "columns": {
                        "event_id": "event_id",
                        "occurred_at": "occurred_at",
                        "email": "email",
                    },
                }
            },
            "Column 'occurred_at' of table 'events' holds text values, but 'occurred_at' "
            "(mapping key events.columns.occurred_at) needs timestamp values",
            id="wrong-type-timestamp",
        ),
        pytest.param(
            _hits_mapping(revenue="amount"),
            "Column 'amount' of table 'hits' holds text values, but 'revenue' "
            "(mapping key events.columns.revenue) needs number values",
            id="wrong-type-number",
        ),
        pytest.param(
            {
                "events": {
                    "table": "secret",
                    "columns": {"event_id": "id", "occurred_at": "ts", "anonymous_id": "cookie"},
                }
            },
            f"The warehouse user '{READER}' may not read",
            id="no-privilege",
        ),
    ],
)
def test_schema_errors_name_table_column_and_key(
    broken: Warehouse, mapping: str | dict[str, Any], expected: str
) -> None:
    # An empty table with a text revenue column fails no query; only the check sees it.
    fails_at_query_time = "revenue" not in expected
    schema = load_mapping(mapping) if isinstance(mapping, str) else parse_mapping(mapping)
    engine = create_engine(broken.reader_url())
    try:
        with pytest.raises(WarehouseError) as info:
            verify_schema(engine, schema)  # what the CLI and the dashboard do first
        assert expected in str(info.value)
        _assert_clean(str(info.value))
        if fails_at_query_time:
            # A reader that skips the check still gets the same message.
            with pytest.raises(WarehouseError) as info:
                fetch_journeys(engine, JourneyQuery(as_of=END), mapping=schema)
            assert expected in str(info.value)
    finally:
        engine.dispose()


def test_cast_fixes_a_text_timestamp(broken: Warehouse) -> None:
    mapping = parse_mapping(
        {
            "events": {
                "table": "events",
                "columns": {
                    "event_id": "event_id",
                    "occurred_at": {"column": "occurred_at", "cast": True},
                    "email": "email",
                },
            }
        }
    )
    engine = create_engine(broken.reader_url())
    try:
        fitted = verify_schema(engine, mapping)
        result = fetch_journeys(
            engine, JourneyQuery(as_of=END, email="x@example.com"), mapping=fitted
        )
    finally:
        engine.dispose()
    assert result.frame.get_column(c.EVENT_ID).to_list() == ["e1"]
    assert result.frame.get_column(c.OCCURRED_AT).to_list() == [
        dt.datetime(2022, 8, 1, tzinfo=dt.UTC)
    ]


@pytest.mark.parametrize(
    ("url_kind", "expected"),
    [
        pytest.param("bad-password", "rejected the login", id="bad-password"),
        pytest.param("unreachable", "Cannot reach the warehouse", id="unreachable"),
        pytest.param("unquoted-password", "must be percent-encoded", id="unquoted-password"),
        pytest.param("missing-column", "mapping key events.columns.occurred_at", id="column"),
    ],
)
def test_cli_reports_warehouse_errors_without_traceback_or_password(
    broken: Warehouse,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    url_kind: str,
    expected: str,
) -> None:
    args = ["export", "--as-of", "2022-08-31T00:00:00Z"]
    if url_kind == "bad-password":
        args += ["--db", broken.reader_url(password="nope" + READER_PASSWORD)]
    elif url_kind == "unreachable":
        password = quote(READER_PASSWORD, safe="")
        args += ["--db", f"postgresql://{READER}:{password}@127.0.0.1:1/w"]
    elif url_kind == "unquoted-password":
        args += ["--db", f"postgresql://{READER}:{READER_PASSWORD}@127.0.0.1:1/w"]
    else:
        toml = tmp_path / "mapping.toml"
        toml.write_text(
            textwrap.dedent(
                """
                [events]
                table = "hits"
                [events.columns]
                event_id = "id"
                occurred_at = "event_time"
                anonymous_id = "cookie"
                """
            )
        )
        args += ["--db", broken.reader_url(), "--mapping", str(toml)]
    code: object
    if url_kind == "unquoted-password":  # argparse refuses a --db that is not a URL
        with pytest.raises(SystemExit) as stopped:
            cli.main(args)
        code, expected_code = stopped.value.code, cli.EXIT_INPUT
    else:
        code, expected_code = cli.main(args), cli.EXIT_WAREHOUSE
    out, err = capsys.readouterr()
    assert code == expected_code
    assert out == ""
    assert expected in err
    assert err.count("\n") == 1
    _assert_clean(err)


# ---------------------------------------------------------- vendor presets


def test_segment_preset_on_postgres(pg: PostgresServer) -> None:
    wh = _new_database(pg, "segment")
    wh.admin(
        textwrap.dedent(
            """
            CREATE SCHEMA website;
            CREATE TABLE website.pages (
                id text, anonymous_id text, user_id text, "timestamp" timestamptz,
                url text, path text, referrer text, title text,
                context_campaign_source text, context_campaign_medium text,
                context_campaign_name text);
            CREATE TABLE website.tracks (
                id text, anonymous_id text, user_id text, "timestamp" timestamptz,
                event text, event_text text, context_page_url text);
            CREATE TABLE website.identifies (
                id text, anonymous_id text, user_id text, "timestamp" timestamptz,
                email text);
            INSERT INTO website.pages VALUES
              ('p1', 'anon-1', NULL, '2022-08-01 10:00+00', 'https://s.example/?utm_source=fb',
               '/', 'https://facebook.com/', 'Home', 'facebook', 'paid_social', 'summer'),
              ('p2', 'anon-1', 'u-1', '2022-08-02 10:00+02', 'https://s.example/pricing',
               '/pricing', NULL, 'Pricing', NULL, NULL, NULL),
              ('p3', 'anon-9', NULL, '2022-08-02 11:00+00', 'https://s.example/', '/', NULL,
               'Home', NULL, NULL, NULL);
            INSERT INTO website.tracks VALUES
              ('t1', 'anon-1', 'u-1', '2022-08-02 08:05+00', 'signed_up', 'Signed Up',
               'https://s.example/signup'),
              ('t2', NULL, 'u-1', '2022-08-03 09:00+00', 'order_completed', 'Order Completed',
               NULL);
            INSERT INTO website.identifies VALUES
              ('i1', 'anon-1', 'u-1', '2022-08-02 08:04+00', 'Ann@Example.com');
            """
        )
    )
    _grant_select(wh, "website")
    mapping = parse_mapping({"preset": "segment", "schema": "website"}, origin="test")
    engine = create_engine(wh.reader_url())
    try:
        fitted = verify_schema(engine, mapping)
        result = fetch_journeys(
            engine, JourneyQuery(as_of=END, email="ann@example.com"), mapping=fitted
        )
    finally:
        engine.dispose()
    expected = pl.DataFrame(
        {
            c.EVENT_ID: ["p1", "p2", "t1", "t2"],
            c.OCCURRED_AT: [
                dt.datetime(2022, 8, 1, 10, tzinfo=dt.UTC),
                dt.datetime(2022, 8, 2, 8, tzinfo=dt.UTC),
                dt.datetime(2022, 8, 2, 8, 5, tzinfo=dt.UTC),
                dt.datetime(2022, 8, 3, 9, tzinfo=dt.UTC),
            ],
            c.EVENT_TYPE: ["page_view", "page_view", "signed_up", "order_completed"],
            c.ANONYMOUS_ID: ["anon-1", "anon-1", "anon-1", "u-1"],
            c.UTM_SOURCE: ["facebook", None, None, None],
            c.UTM_TERM: [None, None, None, None],
            c.PAGE_URL: [
                "https://s.example/?utm_source=fb",
                "https://s.example/pricing",
                "https://s.example/signup",
                None,
            ],
            c.BEFORE_KNOWN: [True, True, False, False],
        },
        schema_overrides={c.UTM_TERM: pl.String(), c.OCCURRED_AT: pl.Datetime("us", "UTC")},
    )
    # p2 at 10:00+02 is 08:00 UTC, before the identify at 08:04; t2 is a server-side call
    # without an anonymous id, stitched through its user_id; anon-9 was never identified.
    ordered = result.frame.sort(c.OCCURRED_AT)
    assert_frame_equal(ordered.select(expected.columns), expected)
    assert set(result.frame.get_column(c.EMAIL)) == {"ann@example.com"}


def test_snowplow_preset_on_postgres_matches_duckdb(pg: PostgresServer, tmp_path: Path) -> None:
    wh = _new_database(pg, "snowplow")
    load_snowplow(pg.admin_url("snowplow"))
    _grant_select(wh, "atomic")
    duck_url = f"duckdb:///{tmp_path / 'sp.duckdb'}"
    load_snowplow(duck_url)
    mapping = load_mapping("snowplow")
    frames = []
    for url in (wh.reader_url(), duck_url):
        engine = create_engine(url)
        try:
            frames.append(
                fetch_journeys(engine, QUERY, mapping=verify_schema(engine, mapping)).frame
            )
        finally:
            engine.dispose()
    assert frames[0].height > 100
    assert_frame_equal(frames[0], frames[1])
