"""The figures and pages computed over a held cohort table (``warehouse.cohort``) equal the
Polars oracle and the statements that re-run the rule, on a real DuckDB file; the store runs
the rule once per input set, bounds its tables and lets its connection go."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from journey_core.analytics import campaign as an
from journey_core.analytics.attribution import AttributionSettings
from journey_core.errors import WarehouseError
from journey_core.progress import reporting
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, figures
from journey_core.warehouse import pages as wp
from journey_core.warehouse.attribution import (
    STAGE_LOOKBACK,
    STAGE_SCOPE,
    event_types_statement,
)
from journey_core.warehouse.cohort import CohortStore, cohort_session, store_of
from journey_core.warehouse.figures import (
    STAGE_PREVIOUS,
    STEP_CHANNELS,
    STEP_EVENTS,
    STEP_GROUPS,
    STEP_PART,
    STEP_TOUCHES,
    campaign_figures,
    period_queries,
    touch_rows,
    touch_source,
    touch_steps,
)
from journey_core.warehouse.filepool import FilePool, release
from journey_core.warehouse.write import write_tables
from tests.integration.test_sql_attribution import check_attribution
from tests.integration.test_sql_figures import CAMPAIGN, FILTERS, check_campaign, check_recent
from tests.support.postgres import PostgresServer
from tests.support.scenario import END, scenario
from tests.unit.test_rules import AS_OF, CAMPAIGN_EVENTS, CAMPAIGN_IDS


@pytest.fixture
def duckdb_file(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    events, ids = scenario(individuals=40)
    write_tables(f"duckdb:///{path}", events=events, identities=ids)
    return path


def _engine(path: Path) -> sa.Engine:
    return create_engine(f"duckdb:///{path}", duckdb_memory="256MB")


def test_worked_example_over_held_rows(tmp_path: Path) -> None:
    path = tmp_path / "worked.duckdb"
    write_tables(f"duckdb:///{path}", events=CAMPAIGN_EVENTS, identities=CAMPAIGN_IDS)
    engine = _engine(path)
    query = JourneyQuery(as_of=AS_OF, event_date=CAMPAIGN)
    end = dt.datetime(2022, 7, 20, tzinfo=dt.UTC)
    try:
        with cohort_session(engine) as held:
            assert held is not engine
            check_campaign(held, CAMPAIGN_EVENTS, CAMPAIGN_IDS, query, by=an.DIMENSIONS)
            check_campaign(held, CAMPAIGN_EVENTS, CAMPAIGN_IDS, query, end=end, by=("channel",))
        store = store_of(engine)
        assert store is not None
        # The period's and the previous period's rows, for each of the two ends: four runs.
        assert store.built == 4
        with cohort_session(engine) as held:
            check_campaign(held, CAMPAIGN_EVENTS, CAMPAIGN_IDS, query, by=an.DIMENSIONS)
        assert store.built == 4, "the held rows are read again, not computed again"
    finally:
        engine.dispose()


@pytest.mark.parametrize("filters", FILTERS)
def test_filters_over_held_rows(duckdb_file: Path, filters: an.Filters) -> None:
    events, ids = scenario(individuals=40)
    engine = _engine(duckdb_file)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    try:
        with cohort_session(engine) as held:
            check_campaign(held, events, ids, query, filters=filters, by=an.DIMENSIONS)
        store = store_of(engine)
        assert store is not None
        built = store.built
        with cohort_session(engine) as held:
            check_campaign(held, events, ids, query, filters=filters)
            wp.people_page(held, query, since=query.start, filters=filters)
        assert store.built == built, "the filtered cohort is held too"
    finally:
        engine.dispose()


def _rule_reads(engine: sa.Engine) -> list[str]:
    """Records the statements ``engine`` sends that read the identity table (run the rule)."""
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if re.search(r"\bidentities\b", statement):
            sent.append(statement.lstrip().split(None, 3)[0].upper())

    sa.event.listen(engine, "before_cursor_execute", record)
    return sent


@pytest.mark.parametrize(
    ("settings", "filters"),
    [
        pytest.param(AttributionSettings(), an.Filters(), id="default"),
        pytest.param(
            AttributionSettings.build(path_unit="touch", lookback_days=3.5),
            an.Filters(channels=("Paid Search", "Email")),
            id="per-touch-scoped",
        ),
    ],
)
def test_attribution_over_held_parts(
    duckdb_file: Path, settings: AttributionSettings, filters: an.Filters
) -> None:
    # Each of the report's ten statements ran the lookback rule again (the Attribution page
    # on the 10M PostgreSQL demo took 7.5 minutes): its people, rows, touches, conversions and
    # pairs are held once, and the statements read them.
    events, ids = scenario(individuals=40)
    engine = _engine(duckdb_file)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    end = END - dt.timedelta(days=10)
    try:
        with cohort_session(engine) as held:
            reads = _rule_reads(held)
            check_attribution(held, events, ids, query, settings, filters=filters, end=end)
        store = store_of(engine)
        assert store is not None
        parts = 6 if filters.scoped else 5  # and a touch filter's scope
        assert store.built == 1 + parts, "the campaign cohort, then the report's parts"
        # the campaign cohort's admitted rows and the lookback's (under the memory limit:
        # in steps) run it; no statement of the report does, nor a touch filter's scope
        # (over the people's held rows)
        assert reads == ["CREATE"] * 2
        with cohort_session(engine) as held:
            check_attribution(held, events, ids, query, settings, filters=filters, end=end)
            check_attribution(held, events, ids, query, settings, filters=filters)
        assert store.built == 1 + 2 * parts, "the same inputs read again; another end made anew"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("settings", "filters"),
    [
        pytest.param(AttributionSettings(), an.Filters(), id="default"),
        pytest.param(
            dataclasses.replace(
                AttributionSettings.build(path_unit="touch", lookback_days=3.5),
                touch_event_types=("page_view",),
            ),
            an.Filters(event_types=("purchase",)),
            id="per-touch-filtered",
        ),
        pytest.param(
            AttributionSettings.build(lookback_days=3.5),
            an.Filters(channels=("Paid Search", "Email")),
            id="touch-filter-scope",
        ),
    ],
)
def test_attribution_a_bucket_at_a_time(
    duckdb_file: Path,
    settings: AttributionSettings,
    filters: an.Filters,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # At 100M events on a DuckDB file the report's rows (the lookback rule as one statement)
    # ran out of memory under 256 MB, 1 GB and 2 GB: under a memory limit they are built in
    # steps and their touches a bucket of people at a time. Seven rows a bucket: many.
    monkeypatch.setattr(figures, "BUCKET_ROW_BYTES", 256_000_000 // 7)
    events, ids = scenario(individuals=40)
    engine = _engine(duckdb_file)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    heard: list[tuple[str, float]] = []
    try:
        with cohort_session(engine) as held, reporting(lambda *step: heard.append(step)):
            check_attribution(held, events, ids, query, settings, filters=filters)
            with held.connect() as conn:
                tables = conn.execute(
                    sa.text("SELECT table_name FROM duckdb_tables() WHERE temporary")
                ).scalars()
                leftover = [t for t in tables if t.endswith(("_admitted", "_rows", "_inputs"))]
                assert leftover == [], "the steps' own tables dropped"
    finally:
        engine.dispose()
    assert query.start is not None
    stage = STAGE_LOOKBACK.format(start=query.start - settings.lookback)
    lookback = [(step, done) for step, done in heard if step.startswith(f"{stage}: ")]
    steps = [step.removeprefix(f"{stage}: ") for step, _ in lookback]
    grouped = steps.count(STEP_GROUPS)  # once the rows are found, then each bucket kept
    assert steps[: grouped + 1] == [STEP_EVENTS, *[STEP_GROUPS] * grouped]
    parts = int(steps[grouped + 1].rsplit(" ", 1)[1])
    assert parts > 3, "many buckets"
    assert grouped > parts, "the touches read up to the last bucket with rows"
    assert steps[grouped + 1 :] == [
        *(STEP_PART.format(part=part, parts=parts) for part in range(1, parts + 1)),
        STEP_PART.format(part=parts, parts=parts),
    ]
    fractions = [done for _, done in lookback]
    assert fractions == sorted(fractions), "one bar over the rows and their touches"
    assert (fractions[0], fractions[-1]) == (0.0, 1.0)
    assert heard[0] == (STEP_EVENTS, 0.0), "the campaign cohort first, as it is"
    scope = [step for step, _ in heard if step.startswith(f"{STAGE_SCOPE}: ")]
    assert len(scope) == (parts + 1 if filters.scoped else 0), "the scope a bucket at a time"


@pytest.mark.parametrize(
    "dialect", ["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_event_types_read_the_held_cohort(dialect: str, request: pytest.FixtureRequest) -> None:
    # The conversion picker's options ran the whole rule again in one statement (at 100M
    # events on a DuckDB file it ran out of memory before the Attribution page drew).
    if dialect == "duckdb":
        engine = _engine(request.getfixturevalue("duckdb_file"))
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        engine = create_engine(server.url("reader", dbname="journey"))
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    try:
        with engine.connect() as conn:
            want = conn.execute(event_types_statement(query)).scalars().all()
        assert "purchase" in want
        with cohort_session(engine) as held:
            wp.filter_options(held, query)  # the page's cohort, held first
            reads = _rule_reads(held)
            stmt = event_types_statement(query)
            with held.connect() as conn:
                got = conn.execute(stmt).scalars().all()
        assert got == want
        assert reads == [], "read from the held cohort"
        store = store_of(engine)
        assert store is not None
        assert store.built == 1
    finally:
        engine.dispose()


def test_recent_over_held_rows(duckdb_file: Path) -> None:
    events, ids = scenario(individuals=40)
    engine = _engine(duckdb_file)
    try:
        with cohort_session(engine) as held:
            check_recent(held, events, ids, JourneyQuery(as_of=END))
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "filters",
    [pytest.param(an.Filters(), id="everyone"), *FILTERS[:2]],
)
def test_pages_over_held_rows(duckdb_file: Path, filters: an.Filters) -> None:
    engine = _engine(duckdb_file)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    try:
        want_people = wp.people_page(engine, query, since=query.start, filters=filters, limit=7)
        want_preview = wp.events_preview(engine, query, filters=filters, limit=9)
        want_options = wp.filter_options(engine, query)
        with cohort_session(engine) as held:
            people = wp.people_page(held, query, since=query.start, filters=filters, limit=7)
            preview = wp.events_preview(held, query, filters=filters, limit=9)
            options = wp.filter_options(held, query)
        assert people.total == want_people.total
        assert people.frame.equals(want_people.frame)
        assert preview.equals(want_preview)
        assert options == want_options
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("bucket_rows", "query"),
    [
        pytest.param(10**9, JourneyQuery(as_of=END, event_date=CAMPAIGN), id="one-bucket"),
        pytest.param(7, JourneyQuery(as_of=END, event_date=CAMPAIGN), id="many-buckets"),
        pytest.param(3, JourneyQuery(as_of=END), id="last-24-hours"),
    ],
)
def test_touch_steps_hold_the_rows_of_touch_rows(
    duckdb_file: Path, bucket_rows: int, query: JourneyQuery
) -> None:
    """The cohort built in steps (admitted rows, de-duplication, then the visits a bucket of
    people at a time) holds exactly the rows of the one statement."""
    engine = _engine(duckdb_file)
    steps = touch_steps(query, bucket_rows=bucket_rows)
    heard: list[tuple[str, float]] = []
    try:
        with engine.connect() as conn:
            want = conn.execute(sa.select(*touch_rows(query).c)).all()
        with cohort_session(engine) as held, reporting(lambda *step: heard.append(step)):
            steps.fill(held, "journey_cohort_test")
            with held.connect() as conn:
                got = conn.execute(sa.text("SELECT * FROM journey_cohort_test")).all()
                tables = conn.execute(
                    sa.text("SELECT table_name FROM duckdb_tables() WHERE temporary")
                ).scalars()
                assert sorted(tables) == ["journey_cohort_test"], "the steps' tables are dropped"
                order = sa.text("SELECT current_setting('preserve_insertion_order')")
                assert conn.execute(order).scalar_one() is True, "the connection's setting back"
        assert [col.key for col in steps.columns] == list(touch_rows(query).c.keys())
    finally:
        engine.dispose()
    assert len(want) > 3 * bucket_rows or bucket_rows > len(want)
    assert sorted(got, key=repr) == sorted(want, key=repr)
    fractions = [fraction for _, fraction in heard]
    assert fractions == sorted(fractions), "the bar only moves forward"
    assert heard[0] == (STEP_EVENTS, 0.0)
    assert fractions[-1] == 1.0
    if bucket_rows > len(want):
        assert [step for step, _ in heard] == [STEP_EVENTS, STEP_TOUCHES, STEP_TOUCHES]
    else:
        n = len(heard) - 4  # the events, their grouping, the channels, each part, the end
        assert n > 1
        parts = [STEP_PART.format(part=part, parts=n) for part in range(1, n + 1)]
        assert [step for step, _ in heard] == [
            STEP_EVENTS,
            STEP_GROUPS,
            STEP_CHANNELS,
            *parts,
            parts[-1],
        ]


def test_a_session_reports_the_steps_of_its_cohort(duckdb_file: Path) -> None:
    """A page's figures inside :func:`reporting` hear the steps of the cohort they build (a
    memory-limited file: :func:`touch_source` takes the steps), and nothing once it is held."""
    engine = _engine(duckdb_file)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    heard: list[tuple[str, float]] = []
    try:
        with cohort_session(engine) as held, reporting(lambda *step: heard.append(step)):
            first = wp.filter_options(held, query)
            built = len(heard)
            again = wp.filter_options(held, query)
    finally:
        engine.dispose()
    assert again == first
    assert built == len(heard) >= 2, "the held cohort is not built again"
    assert heard[0] == (STEP_EVENTS, 0.0)
    assert heard[-1][1] == 1.0


def test_the_previous_period_s_steps_say_so(duckdb_file: Path) -> None:
    """The campaign figures build two cohorts, one after the other: the second's steps (the
    bar starting again) are told under the previous period's name, the first's as they are."""
    engine = _engine(duckdb_file)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    _, earlier = period_queries(query)
    assert earlier is not None
    assert earlier.start is not None
    heard: list[tuple[str, float]] = []
    try:
        with cohort_session(engine) as held, reporting(lambda *step: heard.append(step)):
            figures = campaign_figures(held, query, previous=True)
    finally:
        engine.dispose()
    assert figures.previous is not None
    name = STAGE_PREVIOUS.format(start=earlier.start)
    assert name == f"the previous period (from {earlier.start:%d %b %Y})"
    steps = [step for step, _ in heard]
    split = steps.index(f"{name}: {STEP_EVENTS}")
    assert steps[0] == STEP_EVENTS
    assert not any(step.startswith(name) for step in steps[:split])
    assert all(step.startswith(f"{name}: ") for step in steps[split:])
    assert [step.removeprefix(f"{name}: ") for step in steps[split:]] == steps[:split]


def test_touch_source_is_the_statement_outside_a_session(duckdb_file: Path) -> None:
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    assert touch_source(query).name == touch_rows(query).name
    engine = create_engine(f"sqlite:///{duckdb_file.with_suffix('.sqlite')}", read_only=False)
    try:
        assert store_of(engine) is None
        with cohort_session(engine) as same:
            assert same is engine
            assert touch_source(query).name == touch_rows(query).name
    finally:
        engine.dispose()


def test_store_bounds_its_tables_and_lets_the_file_go(duckdb_file: Path) -> None:
    engine = _engine(duckdb_file)
    pool = engine.pool
    assert isinstance(pool, FilePool)
    store = CohortStore(engine, max_tables=2)
    try:
        days = [CAMPAIGN + dt.timedelta(days=n) for n in range(3)]
        with store.session():
            for day in days:
                touch_source(JourneyQuery(as_of=END, event_date=day))
        assert store.built == 3
        assert store.held() == 2
        with store.session():
            touch_source(JourneyQuery(as_of=END, event_date=days[-1]))  # still held
            touch_source(JourneyQuery(as_of=END, event_date=days[0]))  # dropped: again
        assert store.built == 4
        assert store.is_open()
        assert pool.open() == 1
        store.close()
        assert not store.is_open()
        assert store.held() == 0
        assert pool.open() == 0, "the held connection is closed, not pooled"
    finally:
        store.close()
        engine.dispose()


def test_a_replaced_file_is_read_again(duckdb_file: Path, tmp_path: Path) -> None:
    engine = _engine(duckdb_file)
    store = CohortStore(engine)
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    try:
        with store.session() as held:
            before = wp.people_page(held, query, since=query.start).total
        other = tmp_path / "other.duckdb"
        events, ids = scenario(individuals=10)
        write_tables(f"duckdb:///{other}", events=events, identities=ids)
        store.close()  # as the idle timer would, so the file can be replaced
        engine.dispose()
        shutil.move(other, duckdb_file)
        with store.session() as held:
            after = wp.people_page(held, query, since=query.start).total
        assert store.built == 2
        assert after < before
    finally:
        store.close()
        engine.dispose()


def test_idle_store_closes_itself(duckdb_file: Path) -> None:
    engine = _engine(duckdb_file)
    store = CohortStore(engine, idle_seconds=0.05)
    try:
        with store.session():
            touch_source(JourneyQuery(as_of=END, event_date=CAMPAIGN))
        assert store.is_open()
        for _ in range(100):  # at most 5 s
            if not store.is_open():
                break
            time.sleep(0.05)
        assert not store.is_open()
    finally:
        store.close()
        engine.dispose()


def test_release_lets_the_held_connection_go(duckdb_file: Path) -> None:
    engine = _engine(duckdb_file)
    store = store_of(engine)
    assert store is not None
    try:
        with cohort_session(engine):
            touch_source(JourneyQuery(as_of=END, event_date=CAMPAIGN))
        assert store.is_open()
        assert release(duckdb_file) >= 1
        assert not store.is_open()
        # A writer in this process can now open the file.
        write_tables(f"duckdb:///{duckdb_file}", events=CAMPAIGN_EVENTS, identities=CAMPAIGN_IDS)
    finally:
        store.close()
        engine.dispose()


def test_a_database_error_lets_the_held_connection_go(duckdb_file: Path) -> None:
    engine = _engine(duckdb_file)
    store = CohortStore(engine)
    try:
        with store.session():
            touch_source(JourneyQuery(as_of=END, event_date=CAMPAIGN))
        missing: sa.Select[tuple[int]] = sa.select(sa.literal_column("1")).select_from(
            sa.table("no_such_table")
        )
        with pytest.raises(sa.exc.DBAPIError), store.session() as held, held.connect() as conn:
            conn.execute(missing)
        assert not store.is_open()
        assert store.held() == 0
    finally:
        store.close()
        engine.dispose()


@pytest.mark.parametrize(
    ("sql", "names"),
    [
        pytest.param(
            "SELECT error('Out of Memory Error: could not allocate block of size 256.0 KiB')",
            ["ran out of memory", "JOURNEY_DUCKDB_MEMORY_MB", "Out of Memory Error"],
            id="out-of-memory",
        ),
        pytest.param(
            "SELECT * FROM no_such_table",
            ["Cannot read the warehouse", "no_such_table"],
            id="other-error",
        ),
    ],
)
def test_a_database_error_in_a_cohort_session_is_one_warehouse_error(
    duckdb_file: Path, sql: str, names: list[str]
) -> None:
    # The dashboard's page guard shows a WarehouseError as "Warehouse: ..."; a raw DBAPIError
    # only as "Something went wrong" (at 100M events DuckDB ran out of memory under 256 MB).
    engine = _engine(duckdb_file)
    try:
        with (
            pytest.raises(WarehouseError) as caught,
            cohort_session(engine) as held,
            held.connect() as conn,
        ):
            conn.execute(sa.text(sql))
        for name in names:
            assert name in str(caught.value)
        assert store_of(engine) is not None
        assert not store_of(engine).is_open()  # type: ignore[union-attr]
    finally:
        release(duckdb_file)
        engine.dispose()


# --------------------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module's own, with the scenario's tables in ``journey``
    and a role ``reader`` that may read them (and create TEMP tables unless revoked)."""
    with PostgresServer() as pg:
        pg.execute_admin("CREATE DATABASE journey")
        events, ids = scenario(individuals=40)
        write_tables(pg.admin_url("journey"), events=events, identities=ids)
        pg.execute_admin("CREATE ROLE reader LOGIN")
        pg.execute_admin("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader", dbname="journey")
        yield pg


def _held_tables(engine: sa.Engine) -> list[tuple[str, float]]:
    """The TEMP tables a connection of ``engine`` sees (its own session's): name, row count
    the planner knows (``reltuples``, -1 before any ``ANALYZE``)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT relname, reltuples FROM pg_class"
                " WHERE relpersistence = 't' AND relkind = 'r' AND pg_table_is_visible(oid)"
            )
        )
        return [(str(name), float(count)) for name, count in rows]


@pytest.mark.postgres
def test_postgres_pages_read_one_held_cohort(postgres: PostgresServer) -> None:
    # Without a store every widget of a page ran the whole rule in its own statement (the
    # 10M-event demo's Campaign influence page took over 12 minutes on PostgreSQL).
    events, ids = scenario(individuals=40)
    engine = create_engine(postgres.url("reader", dbname="journey"))
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    try:
        want_people = wp.people_page(engine, query, since=query.start, limit=7)
        want_options = wp.filter_options(engine, query)
        store = store_of(engine)
        assert store is not None
        heard: list[tuple[str, float]] = []
        with cohort_session(engine) as held, reporting(lambda *step: heard.append(step)):
            assert held is not engine
            check_campaign(held, events, ids, query, by=("channel",))
            people = wp.people_page(held, query, since=query.start, limit=7)
            options = wp.filter_options(held, query)
            tables = _held_tables(held)
        assert store.built == 2, "the period's rows and the previous period's, once each"
        assert people.total == want_people.total
        assert people.frame.equals(want_people.frame)
        assert options == want_options
        assert len(tables) == 2, f"the steps' own tables are dropped: {tables}"
        assert all(count > 0 for _, count in tables), f"ANALYZEd once made: {tables}"
        # Built in two steps (figures.ONE_BUCKET), each told to the page's bar, for each period.
        _, earlier = period_queries(query)
        assert earlier is not None
        assert earlier.start is not None
        name = STAGE_PREVIOUS.format(start=earlier.start)
        two = [STEP_EVENTS, STEP_TOUCHES, STEP_TOUCHES]
        assert [step for step, _ in heard] == [*two, *(f"{name}: {step}" for step in two)]
        assert [fraction for _, fraction in heard[:3]] == [0.0, pytest.approx(0.35), 1.0]
        with cohort_session(engine) as held:
            check_campaign(held, events, ids, query, filters=an.Filters(channels=("Email",)))
        # the unfiltered rows read again; the filtered cohort of each period held too
        assert store.built == 4
        assert _held_tables(engine) == [], "another pooled connection sees no TEMP table"
        store.close()
        assert store.held() == 0
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_attribution_reads_its_held_parts(postgres: PostgresServer) -> None:
    # The Attribution page on the 10M PostgreSQL demo: 452-458 s while each statement ran
    # the lookback rule again.
    events, ids = scenario(individuals=40)
    engine = create_engine(postgres.url("reader", dbname="journey"))
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN, timezone="Asia/Tokyo")
    per_touch = AttributionSettings.build(path_unit="touch")
    try:
        with cohort_session(engine) as held:
            reads = _rule_reads(held)
            check_attribution(held, events, ids, query)
            check_attribution(held, events, ids, query, per_touch)
            tables = _held_tables(held)
        store = store_of(engine)
        assert store is not None
        assert store.built == 11, "the campaign cohort, then five parts for each settings"
        # the campaign cohort (the people's) and each settings' rows over the lookback
        assert reads == ["CREATE"] * 3
        assert len(tables) == 11
        assert all(count > 0 for _, count in tables), f"ANALYZEd once made: {tables}"
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_role_that_may_not_hold_computes_each_statement(
    postgres: PostgresServer,
) -> None:
    events, ids = scenario(individuals=40)
    postgres.execute_admin("REVOKE TEMPORARY ON DATABASE journey FROM PUBLIC")
    engine = create_engine(postgres.url("reader", dbname="journey"))
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    try:
        store = store_of(engine)
        assert store is not None
        for _ in range(2):  # found out once; the second session does not ask again
            with cohort_session(engine) as held:
                assert held is engine
                check_campaign(held, events, ids, query)
        assert store.built == 0
        assert not store.is_open(), "the probing connection went back to the pool"
    finally:
        engine.dispose()
        postgres.execute_admin("GRANT TEMPORARY ON DATABASE journey TO PUBLIC")


@pytest.mark.postgres
def test_postgres_cohort_is_made_again_once_old(postgres: PostgresServer) -> None:
    # A server's tables grow while a user works: a held cohort is used for at most
    # max_age_seconds (the dashboard's cache's 30 minutes), then computed again.
    engine = create_engine(postgres.url("reader", dbname="journey"))
    now = [0.0]
    store = CohortStore(engine, max_age_seconds=60, clock=lambda: now[0])
    query = JourneyQuery(as_of=END, event_date=CAMPAIGN)
    try:
        with store.session() as held:
            before = wp.people_page(held, query, since=query.start).total
        postgres.execute_admin(
            "INSERT INTO events (event_id, anonymous_id, email, event_type, occurred_at)"
            " VALUES ('late-1', 'anon-late', 'late@example.com', 'page_view', %s)",
            (dt.datetime.combine(CAMPAIGN, dt.time(1)),),
            dbname="journey",
        )
        now[0] = 59.0
        with store.session() as held:
            assert wp.people_page(held, query, since=query.start).total == before
        assert store.built == 1
        now[0] = 61.0
        with store.session() as held:
            assert wp.people_page(held, query, since=query.start).total == before + 1
        assert store.built == 2
        assert store.held() == 1, "the old table was dropped"
    finally:
        postgres.execute_admin("DELETE FROM events WHERE event_id = 'late-1'", dbname="journey")
        store.close()
        engine.dispose()
