"""The harness of the warehouse-vs-oracle tests (``tests/integration/test_sql_*.py``).

Each of those tests writes a small world (events and identities) to a warehouse, runs the
warehouse route (:mod:`journey_core.warehouse`) and the Polars oracle
(:mod:`journey_core.analytics`) over :func:`journey_core.rules.journeys`' rows of the same
query, and compares the two with :func:`assert_frame`. Here, once: the warehouses (a DuckDB
and an SQLite file, :func:`engine_for`; PostgreSQL, :func:`pg_url`; a DuckDB file per random
world, :func:`random_world`), the oracle's rows (:func:`oracle_rows`) and the random worlds'
strategies (times on the visit bound +/- 1 microsecond).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.analytics.channels import ChannelConfig
from journey_core.rules import journeys
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, write_tables
from tests.conftest import WarehouseFactory
from tests.support.frames import events_frame, identities_frame
from tests.support.postgres import PostgresServer

__all__ = [
    "RANDOM_AS_OF",
    "TIMES",
    "EngineFor",
    "assert_frame",
    "engine_for",
    "oracle_rows",
    "pg_url",
    "random_events",
    "random_ids",
    "random_world",
    "world_settings",
    "written",
]

#: Makes an engine over a warehouse file holding the given events and identities.
EngineFor = Callable[[pl.DataFrame, pl.DataFrame], sa.Engine]


def oracle_rows(
    events: pl.DataFrame,
    ids: pl.DataFrame,
    query: JourneyQuery,
    config: ChannelConfig | None = None,
    filters: an.Filters | None = None,
) -> pl.DataFrame:
    """The oracle's rows of ``query``: the rule's rows with visits and channels
    (:func:`~journey_core.analytics.campaign.with_sessions`), of the people ``filters`` keep."""
    rows = an.with_sessions(journeys(events, ids, query=query), channels=config)
    return rows if filters is None else an.filter_people(rows, filters)


def assert_frame(got: pl.DataFrame, expected: pl.DataFrame, label: str) -> None:
    """``got`` equals ``expected``, floats to 1e-12 (a warehouse sums in another order);
    on failure both frames are printed under ``label``."""
    try:
        # check_exact=False relaxes the float columns (revenue, shares, credits, days) only.
        assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)
    except AssertionError as exc:
        raise AssertionError(f"{label}: {exc}\ngot:\n{got}\nexpected:\n{expected}") from None


@pytest.fixture
def engine_for(warehouse: WarehouseFactory) -> Iterator[EngineFor]:
    """Engines over DuckDB and SQLite files (the ``warehouse`` fixture's), disposed after."""
    engines: list[sa.Engine] = []

    def make(events: pl.DataFrame, ids: pl.DataFrame) -> sa.Engine:
        engine = create_engine(warehouse(events, ids))
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A database on a PostgreSQL server of the test module's own."""
    with PostgresServer() as pg:
        pg.execute_admin("CREATE DATABASE oracle")
        yield pg.url(dbname="oracle")


@contextmanager
def written(url: str, events: pl.DataFrame, ids: pl.DataFrame) -> Iterator[sa.Engine]:
    """An engine over ``url`` once ``events`` and ``ids`` are written there; disposed after."""
    write_tables(url, events=events, identities=ids)
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def world_settings(examples: int) -> settings:
    """Hypothesis settings of a random-world test: ``examples`` worlds, each written to a file
    (slow, no deadline; :func:`random_world` takes the session's ``tmp_path_factory``)."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@contextmanager
def random_world(
    tmp_path_factory: pytest.TempPathFactory,
    events: list[dict[str, Any]],
    identities: list[tuple[str, str, dt.datetime]],
) -> Iterator[tuple[sa.Engine, pl.DataFrame, pl.DataFrame]]:
    """A DuckDB file of one drawn world (:data:`random_events`, :data:`random_ids`): its
    engine, events and identities."""
    ev = events_frame(events)
    ids = identities_frame([(a, e, t.isoformat(" ")) for a, e, t in identities])
    url = f"duckdb:///{tmp_path_factory.mktemp('world') / 'w.duckdb'}"
    with written(url, ev, ids) as engine:
        yield engine, ev, ids


# --------------------------------------------------------------------------- random worlds
_BASE = dt.datetime(2022, 8, 30, 23, 0)
_US = dt.timedelta(microseconds=1)
_GAP = dt.timedelta(minutes=30)
# Gaps on the visit bound +/- 1 microsecond, around midnight in several zones.
_MINUTE_OFFSETS = [dt.timedelta(minutes=m) for m in (0, 1, 29, 31, 61, 62, 120, 300, 600)]
#: The times events and identity links of a random world happen at.
TIMES = sorted(
    {_BASE + o + k for o in _MINUTE_OFFSETS for k in (-_US, dt.timedelta(0), _US)}
    | {_BASE + _GAP, _BASE + _GAP + _US, _BASE + 2 * _GAP + _US}
)
#: The as-of of the random worlds' queries.
RANDOM_AS_OF = dt.datetime(2022, 8, 31, 12, tzinfo=dt.UTC)

random_events = st.lists(
    st.fixed_dictionaries(
        {
            c.EVENT_ID: st.sampled_from([f"e{i}" for i in range(16)]),
            c.OCCURRED_AT: st.sampled_from(TIMES),
            c.ANONYMOUS_ID: st.sampled_from(["a1", "a2", "a3", None]),
            c.EMAIL: st.sampled_from([None, None, "ann@x.io", "bob@x.io", " Cy@X.io"]),
            c.EVENT_TYPE: st.sampled_from(["page_view", "purchase", "signup", None]),
            c.UTM_SOURCE: st.sampled_from(
                [None, None, "google", "Google ", "facebook", "www.bing.com", "email", " ", "ig"]
            ),
            c.UTM_MEDIUM: st.sampled_from([None, None, "cpc", "CPC", "email", "social", "paid_x"]),
            c.UTM_CAMPAIGN: st.sampled_from([None, None, "brand", "Cross-Network", "summer shop"]),
            c.REFERRER: st.sampled_from(
                [
                    *(None, None, "https://www.google.com/search", "https://shop.example/p"),
                    *("https://m.facebook.com/", "android-app://com.google.android.gm/"),
                    *("https://news.ycombinator.com/", "//u@b.co.uk/x", "t.co/abc"),
                    *(
                        "https://sub.mail.yahoo.co.jp/",
                        "HTTPS://WWW.Shop.Example",
                        "https://a b.c/",
                    ),
                    *(" https://www.youtube.com/watch ", "https://.lonely.dot/", "http://x.y"),
                ]
            ),
            c.PAGE_URL: st.sampled_from(
                [None, "https://shop.example/", "https://www.shop.example/"]
            ),
            c.REVENUE: st.sampled_from([None, 0.0, 10.5, 3.25, 0.1]),
        }
    ),
    max_size=14,
    # Distinct ids: rules.journeys keeps an arbitrary one of duplicate ids that tie on every
    # result key (journey_statement a fixed one), and duplicates are test_native's subject.
    unique_by=lambda row: row[c.EVENT_ID],
)
random_ids = st.lists(
    st.tuples(
        st.sampled_from(["a1", "a2", "a3"]),
        st.sampled_from(["ann@x.io", "bob@x.io", "dee@x.io"]),
        st.sampled_from(TIMES),
    ),
    max_size=4,
)
