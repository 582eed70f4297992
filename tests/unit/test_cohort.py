"""The held cohort's statements (``warehouse.cohort``): a TEMP table per input set, its
statement compiled for DuckDB (the only engine that holds one) with every value bound."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.schema import DropTable

from journey_core.analytics.channels import ChannelConfig
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse.cohort import active_store, store_of, table_name
from journey_core.warehouse.constructs import temp_table_as
from journey_core.warehouse.figures import touch_rows, touch_source
from journey_core.warehouse.mapping import CANONICAL, load_mapping

AS_OF = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
QUERY = JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1))


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(
            dataclasses.replace(QUERY, as_of=AS_OF - dt.timedelta(microseconds=1)), id="as-of"
        ),
        pytest.param(dataclasses.replace(QUERY, event_date=dt.date(2022, 7, 2)), id="start"),
        pytest.param(dataclasses.replace(QUERY, timezone="Asia/Tokyo"), id="timezone"),
    ],
)
def test_each_input_set_has_its_own_table(other: JourneyQuery) -> None:
    config = ChannelConfig.default()
    assert table_name(QUERY, CANONICAL, config) == table_name(QUERY, CANONICAL, config)
    assert table_name(other, CANONICAL, config) != table_name(QUERY, CANONICAL, config)
    filtered = table_name(QUERY, CANONICAL, config, ("Email",))
    assert filtered != table_name(QUERY, CANONICAL, config)
    assert table_name(QUERY, load_mapping("segment"), config) != table_name(
        QUERY, CANONICAL, config
    )


def test_outside_a_session_the_figures_read_the_statement() -> None:
    assert active_store() is None
    assert touch_source(QUERY).name == touch_rows(QUERY).name


def test_only_a_read_only_duckdb_file_holds_a_cohort() -> None:
    assert store_of(sa.create_engine("sqlite://")) is None
    assert store_of(sa.create_engine("duckdb:///:memory:")) is None


def test_the_temp_table_statement_compiles_for_duckdb_with_bound_values() -> None:
    dialect = pytest.importorskip("duckdb_engine").Dialect()
    select = sa.select(*touch_rows(QUERY).c)
    compiled = temp_table_as("journey_cohort_0123", select).compile(dialect=dialect)
    sql = str(compiled)
    assert sql.startswith("CREATE TEMPORARY TABLE journey_cohort_0123 AS WITH ")
    # The rule's values stay bound as in its SELECT (SQLAlchemy's Select.into renders them).
    assert compiled.params == select.compile(dialect=dialect).params
    assert "2022-08-31" not in sql
    drop = DropTable(sa.Table("journey_cohort_0123", sa.MetaData()), if_exists=True)
    assert str(drop.compile(dialect=dialect)).strip() == "DROP TABLE IF EXISTS journey_cohort_0123"
