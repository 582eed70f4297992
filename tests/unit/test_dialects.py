"""The warehouse SELECTs are SQLAlchemy Core, so they compile for other warehouses' dialects.

PostgreSQL, DuckDB and SQLite run for real elsewhere in the suite; Trino, Snowflake and
BigQuery are checked here by compiling every query the reader sends, through every preset.
Their dialect packages are dev extras (they install from PyPI); without one, its cases skip.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import events_query, links_query
from journey_core.warehouse.mapping import load_mapping

AS_OF = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
EMAIL = "o'brien;--@example.com"


def _dialect(module: str, attr: str) -> Callable[[], Dialect]:
    def make() -> Dialect:
        mod = pytest.importorskip(module)
        return getattr(mod, attr)()

    return make


DIALECTS = {
    "postgresql": _dialect("sqlalchemy.dialects.postgresql.psycopg", "dialect"),
    "duckdb": _dialect("duckdb_engine", "Dialect"),
    "sqlite": _dialect("sqlalchemy.dialects.sqlite", "dialect"),
    "trino": _dialect("trino.sqlalchemy.dialect", "TrinoDialect"),
    "snowflake": _dialect("snowflake.sqlalchemy", "dialect"),
    "bigquery": _dialect("sqlalchemy_bigquery", "BigQueryDialect"),
}


def _statements(preset: str) -> dict[str, sa.Select[Any]]:
    mapping = load_mapping(preset)
    campaign = dt.date(2022, 7, 1)
    ids = ["anon-1", "anon-2"]
    return {
        "links": links_query(mapping, as_of=AS_OF),
        "links-email": links_query(mapping, as_of=AS_OF, email=EMAIL),
        "links-anon": links_query(mapping, as_of=AS_OF, anonymous_ids=ids),
        "events-recent": events_query(mapping, query=JourneyQuery(as_of=AS_OF)),
        "events-campaign": events_query(
            mapping, query=JourneyQuery(as_of=AS_OF, event_date=campaign)
        ),
        "events-email": events_query(
            mapping, query=JourneyQuery(as_of=AS_OF, email=EMAIL), anonymous_ids=ids
        ),
        "events-both": events_query(
            mapping,
            query=JourneyQuery(as_of=AS_OF, email=EMAIL, event_date=campaign),
            anonymous_ids=ids,
        ),
    }


@pytest.mark.parametrize("preset", ["canonical", "segment", "snowplow"])
@pytest.mark.parametrize("dialect_name", list(DIALECTS))
def test_selects_compile(dialect_name: str, preset: str) -> None:
    dialect = DIALECTS[dialect_name]()
    for name, stmt in _statements(preset).items():
        compiled = stmt.compile(dialect=dialect)
        text = str(compiled)
        assert text.lstrip().upper().startswith("SELECT"), name
        # User input travels as bound parameters, never inside the SQL text.
        assert "brien" not in text, name
        if "email" in name:
            assert EMAIL in compiled.params.values(), name
        for word in ("INSERT", "UPDATE", "DELETE", "DROP", "CREATE"):
            assert word not in text.upper().split(), (name, word)


@pytest.mark.parametrize("dialect_name", ["trino", "snowflake", "bigquery"])
def test_vendor_dialect_packages_install(dialect_name: str) -> None:
    """The dev extras bring the three vendor dialects; a skip here means they did not."""
    module = {
        "trino": "trino.sqlalchemy",
        "snowflake": "snowflake.sqlalchemy",
        "bigquery": "sqlalchemy_bigquery",
    }[dialect_name]
    assert importlib.import_module(module) is not None


def test_snowplow_schema_is_qualified_per_dialect() -> None:
    stmt = _statements("snowplow")["events-recent"]
    bigquery = str(stmt.compile(dialect=DIALECTS["bigquery"]()))
    trino = str(stmt.compile(dialect=DIALECTS["trino"]()))
    assert "`atomic`.`events`" in bigquery
    assert "atomic.events" in trino


def test_segment_reads_pages_and_tracks_as_one_union() -> None:
    source = load_mapping("segment").events_source()
    text = str(sa.select(source).compile(dialect=DIALECTS["postgresql"]()))
    assert text.count("UNION ALL") == 1
    assert "FROM pages" in text
    assert "FROM tracks" in text
