"""Which route the dashboard's figures take (``journey_ui.data.choose_route``, issue 12)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from journey_core.config import FIGURES_ROUTES, Settings
from journey_core.rules.query import JourneyQuery
from journey_ui.data import POLARS, WAREHOUSE, QueryKey, choose_route, file_megabytes

EMBEDDED = ["duckdb", "sqlite"]
SERVERS = ["postgresql", "hive", "databricks", "trino", "snowflake", "bigquery", "mysql"]


@pytest.mark.parametrize("dialect", [pytest.param(d, id=d) for d in EMBEDDED])
def test_auto_takes_polars_for_the_embedded_files(dialect: str) -> None:
    assert choose_route(dialect) == POLARS
    assert choose_route(dialect, "auto") == POLARS


@pytest.mark.parametrize("dialect", [pytest.param(d, id=d) for d in SERVERS])
def test_auto_takes_the_warehouse_for_every_server(dialect: str) -> None:
    assert choose_route(dialect, "auto") == WAREHOUSE


@pytest.mark.parametrize(
    ("dialect", "setting"),
    [
        pytest.param(d, s, id=f"{d}-{s}")
        for d in ("duckdb", "postgresql")
        for s in (WAREHOUSE, POLARS)
    ],
)
def test_a_set_route_wins_on_every_engine(dialect: str, setting: str) -> None:
    assert choose_route(dialect, setting) == setting


@pytest.mark.parametrize(
    ("file_mb", "route"),
    [
        pytest.param(None, POLARS, id="unknown-size"),
        pytest.param(0.5, POLARS, id="small"),
        pytest.param(32.0, POLARS, id="at-the-limit"),
        pytest.param(32.000001, WAREHOUSE, id="just-above"),
        pytest.param(578.0, WAREHOUSE, id="10M-demo"),
    ],
)
@pytest.mark.parametrize("dialect", [pytest.param(d, id=d) for d in EMBEDDED])
def test_auto_takes_the_warehouse_for_a_large_embedded_file(
    dialect: str, file_mb: float | None, route: str
) -> None:
    assert choose_route(dialect, "auto", file_mb=file_mb, polars_max_mb=32.0) == route


def test_the_size_limit_is_a_setting_and_a_set_route_ignores_it() -> None:
    settings = Settings.from_env({"JOURNEY_POLARS_ROUTE_MAX_MB": "1000"})
    assert Settings().polars_route_max_mb == 16.0
    # The default 20,000-person demo file (57 MB at 1M events) takes the warehouse route
    # (its Polars route peaked over 600 MB), a small file the Polars route.
    assert choose_route("duckdb", file_mb=57.0) == WAREHOUSE
    assert choose_route("duckdb", file_mb=5.0) == POLARS
    assert choose_route("duckdb", file_mb=578.0) == WAREHOUSE
    assert choose_route("duckdb", file_mb=578.0, polars_max_mb=settings.polars_route_max_mb) == (
        POLARS
    )
    assert choose_route("duckdb", POLARS, file_mb=578.0, polars_max_mb=0) == POLARS
    assert choose_route("postgresql", file_mb=None, polars_max_mb=1e9) == WAREHOUSE


def test_file_megabytes_of_embedded_files_only(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    path.write_bytes(b"x" * 2_000_000)
    assert file_megabytes(f"duckdb:///{path}") == pytest.approx(2.0)
    assert file_megabytes(f"sqlite:///{tmp_path / 'missing.db'}") is None
    assert file_megabytes("postgresql://db/w") is None
    assert file_megabytes("duckdb:///:memory:") is None


def test_every_setting_value_is_a_route() -> None:
    assert Settings().figures_route == "auto"
    for setting in FIGURES_ROUTES:
        assert choose_route("duckdb", setting) in (WAREHOUSE, POLARS)


def test_the_route_is_part_of_the_cache_key_and_kept_by_derived_keys() -> None:
    query = JourneyQuery(
        as_of=dt.datetime(2022, 8, 31, tzinfo=dt.UTC), event_date=dt.date(2022, 8, 1)
    )
    polars = QueryKey.of(query, route=POLARS)
    assert QueryKey.of(query) != polars
    assert QueryKey.of(query).route == WAREHOUSE
    assert polars.polars
    assert polars.earlier(dt.timedelta(hours=1)).route == POLARS
    wider = polars.of_query(JourneyQuery(as_of=query.as_of, event_date=dt.date(2022, 7, 1)))
    assert wider.route == POLARS
    assert wider.event_date == dt.date(2022, 7, 1)
