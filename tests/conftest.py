"""Shared fixtures: small inline warehouses written to real DuckDB and SQLite files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from journey_core.io.demo import write_tables
from tests.support.frames import DEMO_END, T, U, events_frame, identities_frame

ROOT = Path(__file__).resolve().parents[1]
__all__ = ["DEMO_END", "ROOT", "T", "U", "events_frame", "identities_frame"]


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


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small seeded demo warehouse (DuckDB file) ending at 2022-08-31 00:00 UTC."""
    import datetime as _dt

    from journey_core.io.demo import build_demo

    url = f"duckdb:///{tmp_path_factory.mktemp('demo') / 'demo.duckdb'}"
    end = _dt.datetime.fromisoformat(DEMO_END.replace("Z", "+00:00"))
    build_demo(url, individuals=300, seed=7, end=end)
    return url
