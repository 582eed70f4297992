"""What the warehouse holds: reflection, the information_schema fallback, ``verify_schema``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from journey_core.config import ENV_MAPPING
from journey_core.errors import WarehouseError
from journey_core.warehouse.diagnose import unreadable
from journey_core.warehouse.engine import safe_url
from journey_core.warehouse.mapping import (
    CANONICAL,
    REQUIRED_EVENT_COLUMNS,
    REQUIRED_IDENTITY_COLUMNS,
    SchemaMapping,
    TableMapping,
)
from journey_core.warehouse.statements import columns_query, probe_queries

__all__ = ["reflected_columns", "verify_schema"]

Columns = dict[str, tuple[str, sa.types.TypeEngine[Any]]]


def reflected_columns(
    engine: Engine, inspector: sa.Inspector, table: TableMapping
) -> Columns | None:
    """Lower-cased column name -> (real name, type) of ``table``, or ``None`` if absent."""
    if not inspector.has_table(table.table, schema=table.schema):
        return None
    if engine.dialect.name != "duckdb":
        try:
            cols = inspector.get_columns(table.table, schema=table.schema)
            return {col["name"].lower(): (col["name"], col["type"]) for col in cols}
        except (sa.exc.SQLAlchemyError, NotImplementedError):
            pass
    # duckdb-engine reflects through PostgreSQL catalogs that DuckDB 2 lacks; the SQL
    # standard's information_schema serves it and any other dialect whose reflection fails.
    with engine.connect() as conn:
        rows = conn.execute(columns_query(table)).all()
    return {str(name).lower(): (str(name), _type_from_name(str(kind))) for name, kind in rows}


def _type_from_name(name: str) -> sa.types.TypeEngine[Any]:
    """A SQLAlchemy type for an information_schema ``data_type`` such as ``TIMESTAMP``.

    >>> _type_from_name("TIMESTAMP WITH TIME ZONE"), _type_from_name("geometry")
    (DateTime(), NullType())
    """
    upper = name.upper()
    if upper.startswith(("TIMESTAMP", "DATE")):
        return sa.DateTime()
    if upper.startswith(("BOOL",)):
        return sa.Boolean()
    numeric = ("INT", "BIGINT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER")
    if upper.startswith((*numeric, "DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC")):
        return sa.Float()
    if upper.startswith(("VARCHAR", "CHAR", "TEXT", "STRING", "CHARACTER")):
        return sa.String()
    return sa.types.NullType()


def verify_schema(engine: Engine, mapping: SchemaMapping = CANONICAL) -> SchemaMapping:
    """Check the warehouse against ``mapping`` and return the mapping fitted to it.

    The fitted mapping uses the warehouse's own spelling of every column and reads the
    optional columns the warehouse lacks as null. Raises :class:`WarehouseError` naming
    the table, the column and the mapping key of the first problem: a missing table, a
    missing column, a column of the wrong type; or why the warehouse cannot be read.
    """
    try:
        inspector = sa.inspect(engine)
        lenient = engine.dialect.name == "sqlite"  # SQLite keeps timestamps as text
        fitted: dict[str, list[TableMapping]] = {"events": [], "identities": []}
        groups = (
            ("events", mapping.events, REQUIRED_EVENT_COLUMNS),
            ("identities", mapping.identities, REQUIRED_IDENTITY_COLUMNS),
        )
        for group, tables, required in groups:
            for table in tables:
                present = reflected_columns(engine, inspector, table)
                if present is None:
                    raise WarehouseError(_missing_table(engine, inspector, table))
                fitted[group].append(
                    table.resolve(present, required=required, text_timestamps=lenient)
                )
        result = replace(
            mapping, events=tuple(fitted["events"]), identities=tuple(fitted["identities"])
        )
        with engine.connect() as conn:
            for probe in probe_queries(result):
                conn.execute(probe)
    except sa.exc.SQLAlchemyError as exc:
        raise unreadable(engine, exc) from None
    return result


def _missing_table(engine: Engine, inspector: sa.Inspector, table: TableMapping) -> str:
    where = f"schema {table.schema!r}" if table.schema else "the default schema"
    try:
        names = sorted(inspector.get_table_names(schema=table.schema))
    except sa.exc.SQLAlchemyError:
        names = []
    if names:
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        seen = f"Tables in {where}: {shown}."
    else:
        seen = f"There are no tables in {where} that this user can see."
    return (
        f"The warehouse {safe_url(engine.url)} has no table {table.qualified()!r} "
        f"(mapping key {table.key}.table{', ' + table.key + '.schema' if table.schema else ''})."
        f" {seen} Load your data, or fix the mapping (--mapping / {ENV_MAPPING})."
    )
