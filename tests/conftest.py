"""Shared fixtures: small inline warehouses written to real DuckDB and SQLite files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from journey_core import columns as c
from journey_core.demo import write_tables
from journey_core.rules import EVENT_SCHEMA, IDENTITY_SCHEMA
from tests.support.shared_fixtures import fixtures_dir

ROOT = Path(__file__).resolve().parents[1]
__all__ = ["ROOT", "fixtures_dir"]


def T(text: str) -> dt.datetime:
    """A naive UTC timestamp from ISO text, as the warehouse stores it."""
    return dt.datetime.fromisoformat(text)


def U(text: str) -> dt.datetime:
    """An aware UTC timestamp from ISO text, as results carry it."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def events_frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """Canonical events from partial dicts; missing columns are null."""
    schema = {**EVENT_SCHEMA, c.OCCURRED_AT: pl.Datetime("us")}
    full = [{name: row.get(name) for name in c.EVENT_COLUMNS} for row in rows]
    return pl.DataFrame(full, schema=schema, orient="row")


def identities_frame(rows: Sequence[tuple[str | None, str | None, str]]) -> pl.DataFrame:
    """Canonical identities from ``(anonymous_id, email, identified_at)`` tuples."""
    schema = {**IDENTITY_SCHEMA, c.IDENTIFIED_AT: pl.Datetime("us")}
    return pl.DataFrame([(a, e, T(t)) for a, e, t in rows], schema=schema, orient="row")


WarehouseFactory = Callable[[pl.DataFrame, pl.DataFrame], str]


@pytest.fixture(params=["duckdb", "sqlite"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> WarehouseFactory:
    """Write events and identities to a real database file; returns its URL."""
    counter = iter(range(1_000_000))

    def make(events: pl.DataFrame, identities: pl.DataFrame) -> str:
        suffix = "duckdb" if request.param == "duckdb" else "sqlite"
        url = f"{request.param}:///{tmp_path / f'w{next(counter)}.{suffix}'}"
        write_tables(url, events=events, identities=identities)
        return url

    return make


DEMO_END = "2022-08-31T00:00:00Z"


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small seeded demo warehouse (DuckDB file) ending at 2022-08-31 00:00 UTC."""
    import datetime as _dt

    from journey_core.demo import build_demo

    url = f"duckdb:///{tmp_path_factory.mktemp('demo') / 'demo.duckdb'}"
    end = _dt.datetime.fromisoformat(DEMO_END.replace("Z", "+00:00"))
    build_demo(url, individuals=300, seed=7, end=end)
    return url
