"""Snowplow's web model test events (snowplow/dbt-snowplow-web at cc4799c, Apache-2.0).

The files are vendored in ``tests/fixtures/dbt-snowplow-web/`` beside their licence notice
``LICENSE.upstream-at-cc4799c``; this module reads them there and loads them into a
warehouse as Snowplow's loader would (``atomic.events``).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa

from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine
from tests.support.fixtures import fixture_dir

SNOWPLOW = fixture_dir("dbt-snowplow-web")
# Upstream's start date; as_of after the last event.
QUERY = JourneyQuery(as_of=dt.datetime(2021, 3, 31, tzinfo=dt.UTC), event_date=dt.date(2020, 7, 3))
STITCH_COOKIE = "434dff58"  # prefix of the cookie with seven user ids in turn
_NUMERIC = {"tr_total", "tr_tax", "tr_shipping", "ti_price", "se_value", "ti_quantity"}


def read_events() -> pl.DataFrame:
    """The raw ``atomic.events`` rows, typed as a Snowplow loader would type them."""
    raw = pl.read_csv(SNOWPLOW / "snowplow_web_events.csv", infer_schema_length=0)
    return raw.with_columns(
        *(
            pl.col(n).str.to_datetime("%Y-%m-%d %H:%M:%S%.f")
            for n in raw.columns
            if n.endswith("_tstamp")
        ),
        *(pl.col(n).cast(pl.Float64) for n in _NUMERIC if n in raw.columns),
    )


def load_snowplow(url: str) -> None:
    """Create ``atomic.events`` at ``url`` (DuckDB or PostgreSQL) holding the raw events."""
    frame = read_events()
    md = sa.MetaData()
    table = sa.Table(
        "events",
        md,
        *(
            sa.Column(
                name,
                sa.DateTime()
                if dtype == pl.Datetime
                else sa.Float()
                if dtype == pl.Float64
                else sa.String(),
            )
            for name, dtype in frame.schema.items()
        ),
        schema="atomic",
    )
    engine = create_engine(url, read_only=False)
    try:
        with engine.begin() as conn:
            conn.execute(sa.schema.CreateSchema("atomic", if_not_exists=True))
            md.create_all(conn)
            conn.execute(table.insert(), frame.to_dicts())
    finally:
        engine.dispose()
