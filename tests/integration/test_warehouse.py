"""Reading real DuckDB and SQLite files: same answers as the pure rules, clear errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.errors import WarehouseError
from journey_core.rules import journeys
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys, read_frame, summarize
from journey_core.warehouse import fetch as fetch_module
from journey_core.warehouse.read import read_prepared
from tests.conftest import WarehouseFactory
from tests.support.frames import U
from tests.support.process import held_file
from tests.unit.test_rules import AS_OF, CAMPAIGN_EVENTS, CAMPAIGN_IDS

QUERIES = [
    pytest.param({"event_date": dt.date(2022, 7, 1)}, id="event_date"),
    pytest.param({"email": "ben@example.com"}, id="email"),
    pytest.param({"email": "BEN@example.com ", "event_date": dt.date(2022, 7, 1)}, id="both"),
    pytest.param({}, id="neither"),
]


@pytest.mark.parametrize("kwargs", QUERIES)
def test_warehouse_matches_pure_rules(
    warehouse: WarehouseFactory, kwargs: dict[str, object]
) -> None:
    url = warehouse(CAMPAIGN_EVENTS, CAMPAIGN_IDS)
    query = JourneyQuery.build(now=AS_OF, as_of=AS_OF, **kwargs)  # type: ignore[arg-type]
    result = fetch_journeys(create_engine(url), query)
    expected = journeys(CAMPAIGN_EVENTS, CAMPAIGN_IDS, query=query)
    assert expected.height > 0
    assert_frame_equal(result.frame, expected)
    assert result.message is None


def test_unknown_email_says_why(warehouse: WarehouseFactory) -> None:
    url = warehouse(CAMPAIGN_EVENTS, CAMPAIGN_IDS)
    result = fetch_journeys(create_engine(url), JourneyQuery(as_of=AS_OF, email="cara@example.com"))
    assert result.frame.is_empty()
    assert result.frame.columns == list(c.RESULT_COLUMNS)
    assert result.message is not None
    assert result.message.startswith("No known individual has the email cara@example.com")


def test_empty_window_says_why(warehouse: WarehouseFactory) -> None:
    url = warehouse(CAMPAIGN_EVENTS, CAMPAIGN_IDS)
    quiet = dt.datetime(2022, 8, 20, tzinfo=dt.UTC)
    result = fetch_journeys(create_engine(url), JourneyQuery(as_of=quiet))
    assert result.events == 0
    assert result.message is not None
    assert "No known individual was active between 2022-08-19 00:00 UTC and 2022-08-20" in (
        result.message
    )


def test_summary(warehouse: WarehouseFactory) -> None:
    summary = summarize(create_engine(warehouse(CAMPAIGN_EVENTS, CAMPAIGN_IDS)))
    assert (summary.events, summary.identities) == (9, 2)
    assert summary.first_event == U("2022-05-01 10:00")
    assert summary.last_event == U("2022-08-31 09:00")


def test_reads_never_write(tmp_path: Path) -> None:
    from journey_core.warehouse import write_tables

    for suffix in ("duckdb", "sqlite"):
        url = f"{suffix}:///{tmp_path / f'ro.{suffix}'}"
        write_tables(url, events=CAMPAIGN_EVENTS, identities=CAMPAIGN_IDS)
        engine = create_engine(url)
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError):
            conn.execute(sa.text("delete from events"))
        engine.dispose()
        check = create_engine(url)
        with check.connect() as conn:
            assert conn.execute(sa.text("select count(*) from events")).scalar_one() == 9


def test_wrong_column_type_is_reported(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "typed.sqlite"
    with sqlite3.connect(db) as con:
        con.execute(
            "create table events (event_id text, occurred_at text, anonymous_id text, email text,"
            " event_type text, page_url text, referrer text, utm_source text, utm_medium text,"
            " utm_campaign text, utm_content text, utm_term text, revenue text)"
        )
        con.execute(
            "insert into events values ('1', 'not a time', 'a', 'a@x.io', 'page_view',"
            " null, null, null, null, null, null, null, 'lots')"
        )
        con.execute(
            "insert into events values ('2', '2022-08-31 05:00:00', 'a', 'a@x.io', 'page_view',"
            " null, null, null, null, null, null, null, 'lots')"
        )
        con.execute("create table identities (anonymous_id text, email text, identified_at text)")
    with pytest.raises(WarehouseError) as err:
        fetch_journeys(create_engine(f"sqlite:///{db}"), JourneyQuery(as_of=AS_OF))
    assert "Traceback" not in str(err.value)
    # One message naming the table, the column and the mapping key to fix.
    assert str(err.value).startswith(
        "Column 'revenue' of table 'events' holds text values, but 'revenue' "
        "(mapping key events.columns.revenue) needs number values."
    )


def test_malformed_url() -> None:
    with pytest.raises(WarehouseError, match="not a valid SQLAlchemy URL"):
        create_engine("not a url at all")


def test_pushdown_fetches_only_candidates(tmp_path: Path) -> None:
    """A one-person lookup reads that person's rows, not the table."""
    from journey_core.io.demo import build_demo

    url = f"duckdb:///{tmp_path / 'big.duckdb'}"
    build_demo(url, individuals=2_000, seed=1, end=dt.datetime(2022, 8, 31))
    engine = create_engine(url)
    fetched: list[int] = []

    def counting_read(
        conn: sa.Connection, stmt: sa.Select[Any], schema: dict[str, pl.DataType]
    ) -> pl.DataFrame:
        frame = read_frame(conn, stmt, schema)
        fetched.append(frame.height)
        return frame

    def counting_prepared(
        conn: sa.Connection,
        key: Hashable,
        build: Callable[[Mapping[str, Any]], sa.Select[Any]],
        values: Mapping[str, Any],
        schema: dict[str, pl.DataType],
    ) -> pl.DataFrame:
        frame = read_prepared(conn, key, build, values, schema)
        fetched.append(frame.height)
        return frame

    with engine.connect() as conn:
        total = conn.execute(sa.text("select count(*) from events")).scalar_one()
        email = conn.execute(
            sa.text("select email from identities order by identified_at desc limit 1")
        ).scalar_one()
    query = JourneyQuery(as_of=dt.datetime(2022, 8, 31, tzinfo=dt.UTC), email=email)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fetch_module, "read_frame", counting_read)
        mp.setattr(fetch_module, "read_prepared", counting_prepared)
        result = fetch_journeys(engine, query)
    assert result.events > 0
    assert 0 < sum(fetched) < total / 200, (fetched, total)


def test_locked_duckdb_file_is_reported_and_recovers(tmp_path: Path) -> None:
    """Another process writing the file holds DuckDB's lock: a clear error naming it, then
    recovery."""
    from journey_core.warehouse import write_tables

    path = tmp_path / "locked.duckdb"
    write_tables(f"duckdb:///{path}", events=CAMPAIGN_EVENTS, identities=CAMPAIGN_IDS)
    engine = create_engine(f"duckdb:///{path}")
    query = JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1))
    with held_file(path) as pid, pytest.raises(WarehouseError) as err:
        fetch_journeys(engine, query)
    said = str(err.value)
    assert f"The DuckDB file {path} is being written by another process (PID {pid})" in said
    assert "Try again once it has finished" in said
    assert "Traceback" not in said
    assert fetch_journeys(engine, query).events == 5  # the same engine works again
