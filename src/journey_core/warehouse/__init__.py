"""The warehouse layer: the only place that emits SQL.

:mod:`~journey_core.warehouse.engine` opens warehouses (read-only: DuckDB files open
read-only, SQLite with ``PRAGMA query_only``, PostgreSQL sessions read-only);
:mod:`~journey_core.warehouse.mapping` says which tables and columns feed the canonical
schema and :mod:`~journey_core.warehouse.schema` checks them; every statement sent is built
in :mod:`~journey_core.warehouse.statements` (SQLAlchemy Core, bound parameters only, from the
shared constructs of :mod:`~journey_core.warehouse.constructs`) and run by
:mod:`~journey_core.warehouse.read` (whole or in bounded batches), whose failures
:mod:`~journey_core.warehouse.diagnose` explains; :mod:`~journey_core.warehouse.fetch`
applies the rules to what comes back, :mod:`~journey_core.warehouse.native` runs them in
the warehouse as one statement, :mod:`~journey_core.warehouse.quality` counts messy
rows, and :mod:`~journey_core.warehouse.write` is the one writer (the demo warehouse).
"""

from sqlalchemy.engine import Engine

from journey_core.warehouse.diagnose import explain
from journey_core.warehouse.engine import (
    DUCKDB_CONFIG,
    create_engine,
    local_file,
    safe_url,
    short_url,
    url_problem,
)
from journey_core.warehouse.fetch import (
    JourneyResult,
    WarehouseSummary,
    fetch_journeys,
    summarize,
)
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping, load_mapping
from journey_core.warehouse.quality import data_quality
from journey_core.warehouse.read import read_frame, reading
from journey_core.warehouse.schema import verify_schema
from journey_core.warehouse.statements import events_query, links_query
from journey_core.warehouse.write import write_tables

__all__ = [
    "CANONICAL",
    "DUCKDB_CONFIG",
    "Engine",
    "JourneyResult",
    "SchemaMapping",
    "WarehouseSummary",
    "create_engine",
    "data_quality",
    "events_query",
    "explain",
    "fetch_journeys",
    "links_query",
    "load_mapping",
    "local_file",
    "read_frame",
    "reading",
    "safe_url",
    "short_url",
    "summarize",
    "url_problem",
    "verify_schema",
    "write_tables",
]
