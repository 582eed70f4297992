"""The warehouse layer: the only place that emits SQL.

Engines and URLs, the schema mapping and its verification, error diagnosis, the SQLAlchemy Core
statements (bound parameters only), and the readers that run them. The product only reads: DuckDB
files open read-only, SQLite with ``PRAGMA query_only``, PostgreSQL sessions read-only.
"""

from sqlalchemy.engine import Engine

from journey_core.warehouse.core import (
    JourneyResult,
    WarehouseSummary,
    create_engine,
    events_query,
    fetch_journeys,
    links_query,
    local_file,
    reading,
    safe_url,
    summarize,
    verify_schema,
)
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping, load_mapping

__all__ = [
    "CANONICAL",
    "Engine",
    "JourneyResult",
    "SchemaMapping",
    "WarehouseSummary",
    "create_engine",
    "events_query",
    "fetch_journeys",
    "links_query",
    "load_mapping",
    "local_file",
    "reading",
    "safe_url",
    "summarize",
    "verify_schema",
]
