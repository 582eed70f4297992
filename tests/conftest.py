"""Tiers by folder (unit/integration/e2e markers) and shared fixtures: small inline warehouses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from journey_core.warehouse import write_tables
from tests.support.frames import DEMO_END, T, U, events_frame, identities_frame

ROOT = Path(__file__).resolve().parents[1]
TIERS = ("unit", "integration", "e2e")
__all__ = ["DEMO_END", "ROOT", "TIERS", "T", "U", "events_frame", "identities_frame", "tier_of"]


def tier_of(path: Path) -> str:
    """The tier of a collected file: its folder under ``tests/``; doctests elsewhere are unit.

    >>> tier_of(ROOT / "tests" / "e2e" / "test_dashboard.py")
    'e2e'
    >>> tier_of(ROOT / "src" / "journey_core" / "config.py")
    'unit'
    """
    path = path.resolve()
    parts = path.relative_to(ROOT).parts if path.is_relative_to(ROOT) else ()
    if len(parts) > 2 and parts[0] == "tests" and parts[1] in TIERS:
        return parts[1]
    return "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its folder's tier, so ``pytest -m unit`` runs the fast tier.

    A tier marker written on a test must match its folder (an ``e2e`` test lives in tests/e2e),
    and a unit test may not start PostgreSQL.
    """
    for item in items:
        tier = tier_of(item.path)
        for name in (*TIERS, "postgres"):
            if name == tier or item.get_closest_marker(name) is None:
                continue
            if name in TIERS or tier == "unit":
                msg = f"{item.nodeid} is marked {name!r} but lives in the {tier!r} tier: move it"
                raise pytest.UsageError(msg)
        item.add_marker(getattr(pytest.mark, tier))


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
