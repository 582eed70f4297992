"""Warehouses with awkward names and values: reserved words, dotted schemas; a DuckDB file
replaced or written while it is read (issue 14)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from journey_core.errors import WarehouseError
from journey_core.rules import journeys
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import (
    create_engine,
    data_quality,
    fetch_journeys,
    load_mapping,
    summarize,
    verify_schema,
    write_tables,
)
from journey_core.warehouse.filepool import FilePool
from tests.conftest import WarehouseFactory
from tests.unit.test_rules import AS_OF, CAMPAIGN_EVENTS, CAMPAIGN_IDS

# Table and column names that are keywords of DuckDB, SQLite or PostgreSQL.
RESERVED_MAPPING = """
[[events]]
table = "at"
[events.columns]
event_id = "order"
occurred_at = "at"
anonymous_id = "user"
email = "select"
event_type = "type"
utm_campaign = "from"
utm_source = "utm_source"
utm_medium = "utm_medium"
utm_content = "utm_content"
utm_term = "utm_term"
page_url = "page_url"
referrer = "referrer"
revenue = "revenue"
[[identities]]
table = "order"
[identities.columns]
anonymous_id = "user"
email = "select"
identified_at = "at"
"""
RENAME_EVENTS = (
    'select event_id as "order", occurred_at as "at", anonymous_id as "user", '
    'email as "select", event_type as "type", utm_campaign as "from", utm_source, '
    "utm_medium, utm_content, utm_term, page_url, referrer, revenue from events"
)
RENAME_IDENTITIES = (
    'select anonymous_id as "user", email as "select", identified_at as "at" from identities'
)
CREATE_EVENTS = (
    'create table "at" ("order" text, "at" timestamp, "user" text, "select" text, "type" text, '
    '"from" text, utm_source text, utm_medium text, utm_content text, utm_term text, '
    "page_url text, referrer text, revenue double precision)"
)
CREATE_IDENTITIES = 'create table "order" ("user" text, "select" text, "at" timestamp)'
QUERIES = [
    pytest.param({"event_date": dt.date(2022, 7, 1)}, id="event_date"),
    pytest.param({"email": "ben@example.com"}, id="email"),
    pytest.param({"email": "ben@example.com", "event_date": dt.date(2022, 7, 1)}, id="both"),
    pytest.param({}, id="recent"),
]


def _renamed(url: str) -> None:
    engine = create_engine(url, read_only=False)
    with engine.begin() as conn:
        conn.execute(sa.text(CREATE_EVENTS))
        conn.execute(sa.text(f'insert into "at" {RENAME_EVENTS}'))
        conn.execute(sa.text(CREATE_IDENTITIES))
        conn.execute(sa.text(f'insert into "order" {RENAME_IDENTITIES}'))
    engine.dispose()


@pytest.mark.parametrize("kwargs", QUERIES)
def test_reserved_word_names_are_quoted(
    warehouse: WarehouseFactory, tmp_path: Path, kwargs: dict[str, object]
) -> None:
    url = warehouse(CAMPAIGN_EVENTS, CAMPAIGN_IDS)
    _renamed(url)
    toml = tmp_path / "reserved.toml"
    toml.write_text(RESERVED_MAPPING)
    engine = create_engine(url)
    mapping = verify_schema(engine, load_mapping(str(toml)))
    query = JourneyQuery(as_of=AS_OF, **kwargs)  # type: ignore[arg-type]
    expected = journeys(CAMPAIGN_EVENTS, CAMPAIGN_IDS, query=query)
    assert expected.height > 0
    assert_frame_equal(fetch_journeys(engine, query, mapping=mapping).frame, expected)
    assert summarize(engine, mapping=mapping).events == CAMPAIGN_EVENTS.height
    assert data_quality(engine, as_of=AS_OF, mapping=mapping).height > 0
    engine.dispose()


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param('"my.schema"', id="quoted dotted"),
        pytest.param('main."x.y"', id="database and quoted dotted"),
        pytest.param("a.b.c", id="three parts"),
    ],
)
def test_dotted_schema_on_duckdb_is_a_clear_error(tmp_path: Path, schema: str) -> None:
    db = tmp_path / "dotted.duckdb"
    engine = create_engine(f"duckdb:///{db}", read_only=False)
    with engine.begin() as conn:
        conn.execute(sa.text('create schema "my.schema"'))
        conn.execute(
            sa.text(
                'create table "my.schema".events (event_id text, occurred_at timestamp, email text)'
            )
        )
    engine.dispose()
    toml = tmp_path / "dotted.toml"
    toml.write_text(
        f"schema = '{schema}'\nidentities = []\n[events]\ntable = \"events\"\n"
        'columns = { event_id = "event_id", occurred_at = "occurred_at", email = "email" }\n'
    )
    reader = create_engine(f"duckdb:///{db}")
    with pytest.raises(WarehouseError) as err:
        verify_schema(reader, load_mapping(str(toml)))
    message = str(err.value)
    assert "\n" not in message
    assert "events.schema" in message
    assert schema in message
    reader.dispose()


def _write_duckdb(path: Path, events: pl.DataFrame) -> None:
    write_tables(f"duckdb:///{path}", events=events, identities=CAMPAIGN_IDS)


def test_duckdb_file_replaced_under_a_live_engine_is_reread(tmp_path: Path) -> None:
    path = tmp_path / "live.duckdb"
    _write_duckdb(path, CAMPAIGN_EVENTS.head(3))
    engine = create_engine(f"duckdb:///{path}")
    assert summarize(engine).events == 3
    # An ETL job writes a new file and renames it over the old path.
    fresh = tmp_path / "fresh.duckdb"
    _write_duckdb(fresh, CAMPAIGN_EVENTS)
    os.replace(fresh, path)
    assert summarize(engine).events == CAMPAIGN_EVENTS.height
    query = JourneyQuery(as_of=AS_OF)
    expected = journeys(CAMPAIGN_EVENTS, CAMPAIGN_IDS, query=query)
    assert_frame_equal(fetch_journeys(engine, query).frame, expected)
    engine.dispose()


# A writer that retries while a reader holds the file, for at most 60 s (not a timing test:
# it only has to get through once the reader's idle connection is closed).
PATIENT_WRITER = """
import sys, time, duckdb
deadline = time.monotonic() + 60
while True:
    try:
        con = duckdb.connect(sys.argv[1])
        break
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower() or time.monotonic() > deadline:
            raise
        time.sleep(0.05)
con.execute("delete from events")
con.close()
"""


def _pool(engine: sa.Engine) -> FilePool:
    assert isinstance(engine.pool, FilePool)
    return engine.pool


def test_idle_duckdb_engine_does_not_block_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "shared.duckdb"
    _write_duckdb(path, CAMPAIGN_EVENTS)
    engine = create_engine(f"duckdb:///{path}", idle_seconds=0.2)
    assert summarize(engine).events == CAMPAIGN_EVENTS.height  # the engine has been used
    proc = subprocess.run(
        [sys.executable, "-c", PATIENT_WRITER, str(path)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert _pool(engine).open() == 0  # the idle connection was closed, the writer got through
    assert summarize(engine).events == 0
    engine.dispose()


def test_duckdb_connections_are_reused_while_the_file_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "reused.duckdb"
    _write_duckdb(path, CAMPAIGN_EVENTS)
    engine = create_engine(f"duckdb:///{path}", idle_seconds=600)
    query = JourneyQuery(as_of=AS_OF, email="ann@example.com")
    first = fetch_journeys(engine, query).frame
    for _ in range(5):
        assert_frame_equal(fetch_journeys(engine, query).frame, first)
        assert summarize(engine).events == CAMPAIGN_EVENTS.height
    pool = _pool(engine)
    assert pool.opened == 1  # one connection served every read
    assert (pool.idle(), pool.open()) == (1, 1)
    assert pool.close_idle(older_than=0) == 1
    assert pool.open() == 0  # nothing holds the file
    assert summarize(engine).events == CAMPAIGN_EVENTS.height
    assert pool.opened == 2
    engine.dispose()
    assert pool.open() == 0


def test_idle_connections_close_after_the_idle_time_only(tmp_path: Path) -> None:
    path = tmp_path / "clock.duckdb"
    _write_duckdb(path, CAMPAIGN_EVENTS.head(3))
    now = [0.0]
    engine = sa.create_engine(
        f"duckdb:///{path}",
        connect_args={"read_only": True},
        poolclass=FilePool,
        file_path=path,
        idle_seconds=600,
        clock=lambda: now[0],
    )
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from events")).scalar_one() == 3
    pool = _pool(engine)
    now[0] = 599.0
    assert pool.close_idle(older_than=pool.idle_seconds) == 0
    assert pool.open() == 1
    now[0] = 600.0
    assert pool.close_idle(older_than=pool.idle_seconds) == 1
    assert pool.open() == 0
    engine.dispose()


def test_a_replaced_file_is_opened_once_its_old_reads_end(tmp_path: Path) -> None:
    path = tmp_path / "swap.duckdb"
    _write_duckdb(path, CAMPAIGN_EVENTS.head(3))
    engine = create_engine(f"duckdb:///{path}", idle_seconds=600)
    assert summarize(engine).events == 3  # one idle connection to the old file
    old_read = engine.connect()  # a read of the old file still under way
    assert old_read.execute(sa.text("select count(*) from events")).scalar_one() == 3
    fresh = tmp_path / "fresh.duckdb"
    _write_duckdb(fresh, CAMPAIGN_EVENTS)
    os.replace(fresh, path)
    counts: list[int] = []
    reader = threading.Thread(target=lambda: counts.append(summarize(engine).events))
    reader.start()
    reader.join(timeout=0.5)
    # DuckDB would hand a connection opened now the old database (the one old_read shares),
    # so the new read waits for the old one to end.
    assert not counts
    old_read.close()
    reader.join(timeout=60)
    assert counts == [CAMPAIGN_EVENTS.height]
    assert summarize(engine).events == CAMPAIGN_EVENTS.height
    engine.dispose()


def test_a_writer_in_the_same_process_gets_the_file_a_reader_pooled(tmp_path: Path) -> None:
    path = tmp_path / "rewrite.duckdb"
    _write_duckdb(path, CAMPAIGN_EVENTS)
    engine = create_engine(f"duckdb:///{path}", idle_seconds=600)
    assert summarize(engine).events == CAMPAIGN_EVENTS.height
    assert _pool(engine).open() == 1
    # DuckDB refuses a read-write connection to a file this process holds read-only.
    _write_duckdb(path, CAMPAIGN_EVENTS.head(2))
    assert summarize(engine).events == 2  # the file changed: read through a new connection
    engine.dispose()


def test_a_disposed_engine_keeps_its_connection_setup(tmp_path: Path) -> None:
    path = tmp_path / "setup.duckdb"
    _write_duckdb(path, CAMPAIGN_EVENTS)
    engine = create_engine(f"duckdb:///{path}", duckdb_memory="100MB")
    limits = []
    for _ in range(2):
        with engine.connect() as conn:
            limits.append(conn.exec_driver_sql("select current_setting('memory_limit')").scalar())
        engine.dispose()  # a new pool: the engine's connect listeners must come along
    assert isinstance(engine.pool, FilePool)
    assert limits[0] == limits[1]
    assert "MiB" in str(limits[0])  # 100MB (95.3 MiB), not DuckDB's default of 80% of RAM
