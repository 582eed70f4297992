"""Which route the dashboard's figures take (``journey_ui.data.choose_route``, issue 12)."""

from __future__ import annotations

import datetime as dt

import pytest

from journey_core.config import FIGURES_ROUTES, Settings
from journey_core.rules.query import JourneyQuery
from journey_ui.data import POLARS, WAREHOUSE, QueryKey, choose_route

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
