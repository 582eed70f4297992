"""The warehouse SELECTs are SQLAlchemy Core, so they compile for other warehouses' dialects.

PostgreSQL, DuckDB, SQLite and Spark run for real elsewhere in the suite; Trino, Snowflake,
BigQuery and Hive/Spark (the dialect Databricks is reached through) are checked here by
compiling every statement the product sends (every builder of
:mod:`journey_core.warehouse.statements`, the one-statement rules for every rule included),
through every preset, and the page figures of
:mod:`journey_core.warehouse.figures` and :mod:`journey_core.warehouse.attribution`.
Their dialect packages are dev extras (they install from PyPI); without one, its cases skip.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators

from journey_core import columns as c
from journey_core.analytics.attribution import AttributionSettings, PathUnit
from journey_core.analytics.campaign import DIMENSIONS, Filters
from journey_core.analytics.channels import ChannelConfig, ChannelRule
from journey_core.analytics.funnel import NEWLY_KNOWN, FunnelSpec
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import attribution as wa
from journey_core.warehouse import figures, funnel, pages, search, statements
from journey_core.warehouse.constructs import (
    _checked_blank,
    _checked_email,
    gap_exceeded,
    micros_between,
    non_blank,
    running_max,
    running_max_before,
    valid_email,
)
from journey_core.warehouse.mapping import SchemaMapping, load_mapping
from journey_core.warehouse.statements import (
    columns_query,
    event_span_query,
    events_query,
    identity_count_query,
    journey_count_query,
    journey_statement,
    link_groups_query,
    links_query,
    lookup_events_query,
    lookup_links_query,
    probe_queries,
    quality_count_queries,
)

# Any statement: its column types are the builder's business, not these tests'.
Statement = sa.Select[*tuple[Any, ...]]
AS_OF = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
EMAIL = "o'brien;--@example.com"


def _dialect(module: str, attr: str) -> Callable[[], Dialect]:
    def make() -> Dialect:
        mod = pytest.importorskip(module)
        return getattr(mod, attr)()

    return make


DIALECTS = {
    "postgresql": _dialect("sqlalchemy.dialects.postgresql.psycopg", "dialect"),
    "duckdb": _dialect("duckdb_engine", "Dialect"),
    "sqlite": _dialect("sqlalchemy.dialects.sqlite", "dialect"),
    "trino": _dialect("trino.sqlalchemy.dialect", "TrinoDialect"),
    "snowflake": _dialect("snowflake.sqlalchemy", "dialect"),
    "bigquery": _dialect("sqlalchemy_bigquery", "BigQueryDialect"),
    "hive": _dialect("pyhive.sqlalchemy_hive", "HiveDialect"),
}


def _links(mapping: SchemaMapping) -> dict[str, Statement | None]:
    ids = ["anon-1", "anon-2"]
    return {
        "links": links_query(mapping, as_of=AS_OF),
        "links-email": links_query(mapping, as_of=AS_OF, email=EMAIL),
        "links-anon": links_query(mapping, as_of=AS_OF, anonymous_ids=ids),
    }


def _link_groups(mapping: SchemaMapping) -> dict[str, Statement | None]:
    return {"link-groups": link_groups_query(mapping, as_of=AS_OF)}


def _lookup_links(mapping: SchemaMapping) -> dict[str, Statement | None]:
    ids = ["anon-1", "anon-2"]
    return {
        "lookup-links-email": lookup_links_query(mapping, email=EMAIL),
        "lookup-links-anon": lookup_links_query(mapping, anonymous_ids=ids),
        "lookup-identities-anon": lookup_links_query(mapping, anonymous_ids=ids, events=False),
    }


def _lookup_events(mapping: SchemaMapping) -> dict[str, Statement | None]:
    return {
        "lookup-events-email": lookup_events_query(mapping, email=EMAIL),
        "lookup-events-email-anon": lookup_events_query(
            mapping, email=EMAIL, anonymous_ids=["anon-1", "anon-2"]
        ),
    }


def _events(mapping: SchemaMapping) -> dict[str, Statement | None]:
    campaign = dt.date(2022, 7, 1)
    ids = ["anon-1", "anon-2"]
    return {
        "events-recent": events_query(mapping, query=JourneyQuery(as_of=AS_OF)),
        "events-campaign": events_query(
            mapping, query=JourneyQuery(as_of=AS_OF, event_date=campaign)
        ),
        "events-campaign-narrow": events_query(
            mapping, query=JourneyQuery(as_of=AS_OF, event_date=campaign), narrow_lookback=True
        ),
        "events-email": events_query(
            mapping, query=JourneyQuery(as_of=AS_OF, email=EMAIL), anonymous_ids=ids
        ),
        "events-both": events_query(
            mapping,
            query=JourneyQuery(as_of=AS_OF, email=EMAIL, event_date=campaign),
            anonymous_ids=ids,
        ),
    }


def _journeys(mapping: SchemaMapping) -> dict[str, Statement | None]:
    campaign = dt.date(2022, 7, 1)
    rules = {
        "recent": JourneyQuery(as_of=AS_OF),
        "email": JourneyQuery(as_of=AS_OF, email=EMAIL),
        "event_date": JourneyQuery(as_of=AS_OF, event_date=campaign),
        "email_and_event_date": JourneyQuery(as_of=AS_OF, email=EMAIL, event_date=campaign),
    }
    assert {q.rule.value for q in rules.values()} == set(rules), "one query per rule"
    return {
        **{f"journeys-{rule}": journey_statement(q, mapping) for rule, q in rules.items()},
        **{f"journey-count-{rule}": journey_count_query(q, mapping) for rule, q in rules.items()},
    }


def _columns(mapping: SchemaMapping) -> dict[str, Statement | None]:
    tables = [*mapping.events, *mapping.identities]
    return {f"columns-{i}": columns_query(table) for i, table in enumerate(tables)}


def _probes(mapping: SchemaMapping) -> dict[str, Statement | None]:
    return {f"probe-{i}": stmt for i, stmt in enumerate(probe_queries(mapping))}


def _summary(mapping: SchemaMapping) -> dict[str, Statement | None]:
    return {
        "summary-events": event_span_query(mapping),
        "summary-identities": identity_count_query(mapping),
    }


def _quality_counts(mapping: SchemaMapping) -> dict[str, Statement | None]:
    out: dict[str, Statement | None] = {}
    for text_timestamps in (False, True):
        counts = quality_count_queries(mapping, as_of=AS_OF, text_timestamps=text_timestamps)
        out.update({f"quality-{kind}-{text_timestamps}": stmt for kind, stmt in counts.items()})
    return out


# Every statement builder of journey_core.warehouse.statements, with the cases it compiles.
BUILDERS: dict[str, Callable[[SchemaMapping], dict[str, Statement | None]]] = {
    "links_query": _links,
    "link_groups_query": _link_groups,
    "lookup_links_query": _lookup_links,
    "lookup_events_query": _lookup_events,
    "events_query": _events,
    "journey_statement": _journeys,
    "journey_count_query": _journeys,
    "columns_query": _columns,
    "probe_queries": _probes,
    "event_span_query": _summary,
    "identity_count_query": _summary,
    "quality_count_queries": _quality_counts,
}


def _statements(preset: str) -> dict[str, Statement]:
    mapping = load_mapping(preset)
    found: dict[str, Statement] = {}
    for build in BUILDERS.values():
        found.update({k: v for k, v in build(mapping).items() if v is not None})
    return found


def test_every_statement_builder_is_compiled() -> None:
    """A statement builder added to the module cannot escape the dialect checks."""
    builders = {
        name for name in statements.__all__ if name.endswith(("_query", "_queries", "_statement"))
    }
    assert builders == set(BUILDERS)


@pytest.mark.parametrize("preset", ["canonical", "segment", "snowplow"])
@pytest.mark.parametrize("dialect_name", list(DIALECTS))
def test_selects_compile(dialect_name: str, preset: str) -> None:
    dialect = DIALECTS[dialect_name]()
    for name, stmt in _statements(preset).items():
        compiled = stmt.compile(dialect=dialect)
        text = str(compiled)
        assert text.lstrip().upper().startswith(("SELECT", "WITH")), name
        # User input travels as bound parameters, never inside the SQL text.
        assert "brien" not in text, name
        if "email" in name and not name.startswith("quality-"):  # a lookup by the email
            assert EMAIL in compiled.params.values(), name
        for word in ("INSERT", "UPDATE", "DELETE", "DROP", "CREATE"):
            assert word not in text.upper().split(), (name, word)


@pytest.mark.parametrize("dialect_name", ["trino", "snowflake", "bigquery", "hive"])
def test_vendor_dialect_packages_install(dialect_name: str) -> None:
    """The dev extras bring the vendor dialects; a skip here means they did not."""
    module = {
        "trino": "trino.sqlalchemy",
        "snowflake": "snowflake.sqlalchemy",
        "bigquery": "sqlalchemy_bigquery",
        "hive": "pyhive.sqlalchemy_hive",
    }[dialect_name]
    assert importlib.import_module(module) is not None


def test_snowplow_schema_is_qualified_per_dialect() -> None:
    stmt = _statements("snowplow")["events-recent"]
    bigquery = str(stmt.compile(dialect=DIALECTS["bigquery"]()))
    trino = str(stmt.compile(dialect=DIALECTS["trino"]()))
    assert "`atomic`.`events`" in bigquery
    assert "atomic.events" in trino


def test_segment_reads_pages_and_tracks_as_one_union() -> None:
    source = load_mapping("segment").events_source()
    text = str(sa.select(source).compile(dialect=DIALECTS["postgresql"]()))
    assert text.count("UNION ALL") == 1
    assert "FROM pages" in text
    assert "FROM tracks" in text


# --------------------------------------------------------------------------- page figures
FIGURE_DIALECTS = {**DIALECTS, "hive": _dialect("pyhive.sqlalchemy_hive", "HiveDialect")}
# What each dialect spells for the @compiles constructs the figures use (regex search, visit
# gap, regex group; journey_core.warehouse.constructs).
FIGURE_SPELLINGS = {
    "duckdb": ("regexp_matches(", "epoch_us(", "nullif(regexp_extract(", "AS MATERIALIZED"),
    "postgresql": (" ~ ", "EXTRACT(EPOCH FROM (", "substring(", "AS MATERIALIZED"),
    "sqlite": ("REGEXP", "strftime(", "journey_regexp_group(", "journey_lower("),
    "hive": ("RLIKE", "unix_micros(", "nullif(regexp_extract("),
    "trino": ("REGEXP_LIKE(", "date_add('millisecond'", "regexp_extract("),
    "snowflake": ("REGEXP_INSTR(", "DATEDIFF(microsecond", "REGEXP_SUBSTR("),
    "bigquery": ("REGEXP_CONTAINS(", "TIMESTAMP_DIFF(", "REGEXP_EXTRACT("),
}


def _figure_statements(mapping: SchemaMapping) -> dict[str, Statement]:
    # A channel name and rule values from a user's file travel as bound parameters.
    rule = ChannelRule("o'brien;--", source=("o'brien",), campaign_regex="^o'brien")
    base = ChannelConfig.default()
    config = ChannelConfig(
        rules=(rule, *base.rules),
        internal_hosts=("o'brien.example",),
        source_categories=base.source_categories,
    )
    query = JourneyQuery(as_of=AS_OF, email=EMAIL, event_date=dt.date(2022, 7, 1))
    touches = figures.touch_rows(query, mapping, config)
    start = dt.datetime(2022, 7, 1, tzinfo=dt.UTC)
    return {
        "kpis": figures.kpis_statement(touches, since=start),
        "kpis-recent": figures.kpis_statement(touches),
        "trend": figures.trend_statement(touches, start=start, end=AS_OF, tz="Asia/Tokyo"),
        "hourly": figures.hourly_statement(touches, start=start, end=AS_OF, tz="Asia/Kolkata"),
        "channels": figures.breakdown_statement(touches),
        "campaigns": figures.breakdown_statement(
            touches, by="session_campaign", limit=10, exclude="(not set)"
        ),
        "touchpoints": figures.touchpoints_statement(touches, newly_known_since=start),
        "combined": figures.combined(
            [
                (figures.kpis_statement(touches, since=start), "iiiifiiif"),
                (figures.breakdown_statement(touches, limit=3), "siiiif"),
            ]
        ),
        **_cohort_statements(query, mapping, config, start),
    }


def _cohort_statements(
    query: JourneyQuery, mapping: SchemaMapping, config: ChannelConfig, start: dt.datetime
) -> dict[str, Statement]:
    # Filter values (a campaign name from the data) travel as bound parameters too.
    filters = Filters(campaigns=("o'brien",), channels=("Paid Search",))
    scoped = figures.scoped_rows(
        figures.filtered_people(figures.touch_rows(query, mapping, config), filters), filters
    )
    out: dict[str, Statement] = {
        "kpis-scoped": figures.kpis_statement(scoped, since=start),
        "trend-scoped": figures.trend_statement(scoped, start=start, end=AS_OF, tz="Asia/Tokyo"),
    }
    for by in DIMENSIONS:
        out[f"breakdown-{by}"] = figures.breakdown_statement(scoped, by=by, since=start, limit=6)
        out[f"split-{by}"] = figures.trend_by_statement(
            scoped, by=by, kept=("o'brien", "google / cpc"), start=start, end=AS_OF, since=start
        )
    return out


@pytest.mark.parametrize("preset", ["canonical", "snowplow"])
@pytest.mark.parametrize("dialect_name", list(FIGURE_DIALECTS))
def test_figure_statements_compile(dialect_name: str, preset: str) -> None:
    dialect = FIGURE_DIALECTS[dialect_name]()
    for name, stmt in _figure_statements(load_mapping(preset)).items():
        compiled = stmt.compile(dialect=dialect)
        text = str(compiled)
        assert text.lstrip().upper().startswith("WITH"), name
        assert "brien" not in text, name
        assert "2022" not in text, name
        assert EMAIL in compiled.params.values(), name
        for spelling in FIGURE_SPELLINGS[dialect_name]:
            assert spelling in text, (name, spelling)
        if dialect_name not in {"duckdb", "postgresql", "sqlite"}:
            assert "MATERIALIZED" not in text, name
        for word in ("INSERT", "UPDATE", "DELETE", "DROP", "CREATE"):
            assert word not in text.upper().split(), (name, word)


@pytest.mark.parametrize("dialect_name", list(FIGURE_DIALECTS))
def test_gap_exceeded_is_micros_between_but_on_trino(dialect_name: str) -> None:
    dialect = FIGURE_DIALECTS[dialect_name]()
    t = sa.table("t", sa.column("a", sa.DateTime()), sa.column("b", sa.DateTime()))
    gap = sa.literal(1_800_000_000, sa.BigInteger())
    got = str(sa.select(gap_exceeded(t.c.a, t.c.b, gap)).compile(dialect=dialect))
    if dialect_name == "trino":  # date_diff counts whole milliseconds there
        assert "date_add('millisecond'" in got
        return
    between = str(sa.select(micros_between(t.c.a, t.c.b) > gap).compile(dialect=dialect))
    expression = between.split("SELECT ", 1)[1].rsplit(" AS ", 1)[0]
    assert f"({expression})" in got


def test_figure_day_bounds_are_parameters() -> None:
    touches = figures.touch_rows(JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1)))
    start = dt.datetime(2022, 7, 1, tzinfo=dt.UTC)
    compiled = figures.trend_statement(touches, start=start, end=AS_OF, tz="Asia/Tokyo").compile()
    bounds = [v for k, v in compiled.params.items() if k.startswith("event_day_")]
    # 2022-07-01 09:00 Tokyo .. 2022-08-31 09:00 Tokyo: 62 local days, 61 inner boundaries.
    assert len(bounds) == 61
    assert dt.datetime(2022, 7, 1, 15) in bounds  # local midnight of July 2nd, in UTC


# --------------------------------------------------------------------------- attribution
# What each dialect spells for the ordered path aggregate and the time differences.
ATTRIBUTION_SPELLINGS = {
    "duckdb": ("string_agg(", "epoch_us(", "power("),
    "postgresql": ("string_agg(", "EXTRACT(EPOCH FROM", "power("),
    "sqlite": ("group_concat(", "strftime(", "ORDER BY conversion_id, email"),
    "hive": ("array_sort(collect_list(named_struct(", "unix_micros(", "concat_ws("),
    "trino": ("array_join(array_agg(", "date_diff('millisecond'"),
    "snowflake": ("LISTAGG(", "DATEDIFF(microsecond"),
    "bigquery": ("string_agg(", "TIMESTAMP_DIFF("),
}


def _attribution_statements(mapping: SchemaMapping) -> dict[str, Statement]:
    # Event types, channel names and rule values from a user travel as bound parameters.
    rule = ChannelRule("o'brien;--", source=("o'brien",))
    base = ChannelConfig.default()
    config = ChannelConfig(rules=(rule, *base.rules), source_categories=base.source_categories)
    query = JourneyQuery(as_of=AS_OF, email=EMAIL, event_date=dt.date(2022, 7, 1))
    found: dict[str, Statement] = {"event_types": wa.event_types_statement(query, mapping)}
    settings = AttributionSettings(
        conversion_event_types=("o'brien",),
        require_revenue=True,
        touch_event_types=("o'brien;--",),
        path_unit=PathUnit.TOUCH,
        channels=config,
    )
    found.update(wa.attribution_statements(query, settings, mapping))
    # A touch filter scopes the conversions (figures.scoped_rows): its values are bound too.
    filters = Filters(campaigns=("o'brien",), channels=("Paid Search",))
    scoped = wa.attribution_statements(query, settings, mapping, filters=filters)
    found["scoped_totals"] = scoped["totals"]
    return found


def test_every_attribution_statement_is_compiled() -> None:
    names = set(_attribution_statements(load_mapping("canonical")))
    assert {"event_types", "people", "credits", "paths", "quantiles", "page_touches"} <= names
    assert len(names) == 14


# Each compile is a few hundred milliseconds: the preset matrix runs on Spark's dialect only.
@pytest.mark.parametrize(
    ("dialect_name", "preset"),
    [*((name, "canonical") for name in DIALECTS), ("hive", "snowplow")],
)
def test_attribution_statements_compile(dialect_name: str, preset: str) -> None:
    dialect = DIALECTS[dialect_name]()
    texts = []
    for name, stmt in _attribution_statements(load_mapping(preset)).items():
        compiled = stmt.compile(dialect=dialect)
        text = str(compiled)
        texts.append(text)
        assert text.lstrip().upper().startswith("WITH"), name
        assert "brien" not in text, name
        assert "2022" not in text, name
        assert EMAIL in compiled.params.values(), name
        if dialect_name not in {"duckdb", "postgresql", "sqlite"}:
            assert "MATERIALIZED" not in text, name
        for word in ("INSERT", "UPDATE", "DELETE", "DROP", "CREATE"):
            assert word not in text.upper().split(), (name, word)
    everything = "\n".join(texts)
    for spelling in ATTRIBUTION_SPELLINGS[dialect_name]:
        assert spelling in everything, spelling


# --------------------------------------------------------------------------- funnel
# What each dialect spells for constructs.epoch_micros (the funnel's window and step gaps).
EPOCH_SPELLINGS = {
    "duckdb": "epoch_us(",
    "postgresql": "EXTRACT(EPOCH FROM",
    "sqlite": "strftime(",
    "hive": "UNIX_MICROS(",
    "trino": "to_unixtime(",
    "snowflake": "DATE_PART(epoch_microsecond",
    "bigquery": "UNIX_MICROS(",
}


@pytest.mark.parametrize("preset", ["canonical", "snowplow"])
@pytest.mark.parametrize("dialect_name", list(FIGURE_DIALECTS))
def test_funnel_statements_compile(dialect_name: str, preset: str) -> None:
    query = JourneyQuery(as_of=AS_OF, email=EMAIL, event_date=dt.date(2022, 7, 1))
    touches = figures.touch_rows(query, load_mapping(preset))
    spec = FunnelSpec(
        steps=("o'brien", "purchase"),
        window=dt.timedelta(days=7),
        since=dt.datetime(2022, 7, 1, tzinfo=dt.UTC),
        who=NEWLY_KNOWN,
        breakdown="channel",
    )
    statements = {
        "funnel": funnel.funnel_statement(touches, spec),
        "reached": funnel.people_statement(touches, spec, step=2, group="o'brien", limit=50),
        "dropped": funnel.people_statement(touches, spec, step=2, outcome="dropped", limit=50),
    }
    dialect = FIGURE_DIALECTS[dialect_name]()
    for name, stmt in statements.items():
        compiled = stmt.compile(dialect=dialect)
        text = str(compiled)
        assert text.lstrip().upper().startswith("WITH"), name
        assert "brien" not in text, name  # step names and groups are bound
        assert "2022" not in text, name  # so are the start and the as-of time
        assert str(7 * 86_400_000_000) not in text, name  # and the window
        assert 7 * 86_400_000_000 in compiled.params.values(), name
        assert EPOCH_SPELLINGS[dialect_name] in text, name
        # Every row_number() is ordered: each window spells ORDER BY.
        windows = re.findall(r"row_number\(\) OVER \(((?:[^()]|\([^()]*\))*)\)", text, re.I)
        assert windows, name
        assert all("ORDER BY" in w for w in windows), (name, windows)


# --------------------------------------------------------------------------- people search
SEARCH_TEXTS = [
    pytest.param("O'Brien;--%_", id="wildcards-and-quotes"),
    pytest.param("", id="empty-lists-people"),
]


@pytest.mark.parametrize(
    "since",
    [pytest.param(None, id="all-time"), pytest.param(AS_OF - dt.timedelta(days=1), id="window")],
)
@pytest.mark.parametrize("text", SEARCH_TEXTS)
@pytest.mark.parametrize("preset", ["canonical", "segment", "snowplow"])
@pytest.mark.parametrize("dialect_name", list(DIALECTS))
def test_search_statement_compiles(
    dialect_name: str, preset: str, text: str, since: dt.datetime | None
) -> None:
    dialect = DIALECTS[dialect_name]()
    mapping = load_mapping(preset)
    stmt = search.search_statement(text, as_of=AS_OF, mapping=mapping, limit=7, since=since)
    latest = str(search.latest_statement(as_of=AS_OF, mapping=mapping).compile(dialect=dialect))
    assert "2022" not in latest  # the as-of time is bound
    assert "MAX(" in latest.upper()
    compiled = stmt.compile(dialect=dialect)
    assert ("since" in compiled.params) is (since is not None)
    sql = str(compiled)
    assert sql.lstrip().upper().startswith("WITH")
    # The typed text is bound, lower-cased, with LIKE's wildcards escaped; never in the SQL.
    assert "brien" not in sql.lower()
    assert "2022" not in sql
    typed = [v for v in compiled.params.values() if isinstance(v, str) and "brien" in v]
    # BigQuery has no ESCAPE clause: its dialect re-escapes with a backslash.
    escaped = "o'brien;--\\%\\_" if dialect_name == "bigquery" else "o'brien;--/%/_"
    assert typed == ([escaped] * 2 if text else [])
    if text and dialect_name != "bigquery":
        assert "ESCAPE" in sql.upper()
    # Bounded: the limit is there, however the dialect spells it.
    assert "LIMIT" in sql.upper() or "TOP" in sql.upper() or "FETCH" in sql.upper()
    for word in ("INSERT", "UPDATE", "DELETE", "DROP", "CREATE"):
        assert word not in sql.upper().split(), word


@pytest.mark.parametrize(
    ("asked", "bound"),
    [pytest.param(0, 1, id="at-least-one"), pytest.param(10_000, search.MAX_LIMIT, id="capped")],
)
def test_search_limit_is_bounded(asked: int, bound: int) -> None:
    stmt = search.search_statement("ann", as_of=AS_OF, limit=asked)
    assert stmt.compile().params["limit"] == bound


# --------------------------------------------------------------------------- divisions
def _every_statement() -> dict[str, Statement]:
    """Every statement the product sends (canonical mapping), by name."""
    mapping = load_mapping("canonical")
    query = JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1))
    touches = figures.touch_rows(query, mapping)
    spec = FunnelSpec(steps=("page_view", "purchase"), window=dt.timedelta(days=7))
    found: dict[str, Statement] = {
        **_statements("canonical"),
        **{f"figure-{k}": v for k, v in _figure_statements(mapping).items()},
        **{f"attribution-{k}": v for k, v in _attribution_statements(mapping).items()},
        "funnel": funnel.funnel_statement(touches, spec),
        "funnel-people": funnel.people_statement(touches, spec, step=2, limit=5),
        "people": pages.people_statement(touches),
        "people-count": pages.people_count_statement(touches),
        "preview": pages.preview_statement(touches),
        "options": pages.options_statement(touches),
        "search": search.search_statement("ann", as_of=AS_OF, mapping=mapping),
        "search-window": search.search_statement(
            "", as_of=AS_OF, mapping=mapping, since=AS_OF - dt.timedelta(days=1)
        ),
        "search-latest": search.latest_statement(as_of=AS_OF, mapping=mapping),
    }
    for s in (AttributionSettings(), AttributionSettings.build(path_unit="touch")):
        found.update(
            {
                f"attribution-default-{k}": v
                for k, v in wa.attribution_statements(query, s, mapping).items()
            }
        )
    return found


def _divisions(stmt: Statement) -> list[sa.BinaryExpression[Any]]:
    """The true divisions anywhere in ``stmt`` (each shared CTE walked once)."""
    seen: set[int] = set()
    todo: list[Any] = [stmt]
    found: list[sa.BinaryExpression[Any]] = []
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, sa.BinaryExpression) and node.operator is operators.truediv:
            found.append(node)
        todo.extend(node.get_children())
    return found


def test_every_sql_division_divides_by_a_double() -> None:
    """SQLAlchemy casts an untyped or integer divisor to a bare DECIMAL (scale 0 on Spark,
    Trino and Snowflake: 2.27 became 2, and Spark's time-decay credits summed above 1).
    Every divisor the product sends is a floating-point type, so it is cast to DOUBLE."""
    checked = 0
    for name, stmt in _every_statement().items():
        for division in _divisions(stmt):
            checked += 1
            divisor = division.right.type
            assert isinstance(divisor, sa.Float), (name, str(division), divisor)
    assert checked >= 6  # the credits' and the time to convert's divisions at least


@pytest.mark.parametrize("dialect_name", ["hive", "trino", "postgresql"])
def test_credit_divisions_compile_without_decimal(dialect_name: str) -> None:
    settings = AttributionSettings()
    query = JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1))
    stmt = wa.attribution_statements(query, settings)["credits"]
    text = str(stmt.compile(dialect=DIALECTS[dialect_name]()))
    assert " / " in text
    assert not re.search(r"AS (DECIMAL|NUMERIC)\b", text), text


def test_combined_ranks_outside_the_grouped_parts() -> None:
    """Spark resolves no aggregate in a window's ORDER BY: :func:`figures.combined` ranks
    each part's rows over its sort keys as columns, outside the part's GROUP BY."""
    touches = figures.touch_rows(JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1)))
    parts = [
        (figures.kpis_statement(touches), "iiiifiiif"),
        (figures.breakdown_statement(touches, limit=3), "siiiif"),
        (figures.touchpoints_statement(touches, limit=4), "ssssiii"),
    ]
    text = str(figures.combined(parts).compile(dialect=DIALECTS["hive"]()))
    windows = re.findall(r"row_number\(\) OVER \(ORDER BY ([^)]*)\)", text)
    assert len(windows) == 2  # the ordered parts; the KPIs' one row is not ranked
    for keys in windows:
        assert "(" not in keys, keys  # plain columns: no count(...), no sum(...)
        assert "_k0" in keys, keys
    assert text.count(" LIMIT ") == 2  # each part keeps its own limit


@pytest.mark.parametrize("dialect_name", list(FIGURE_DIALECTS))
def test_conforming_constructs_compile_for_every_dialect(dialect_name: str) -> None:
    """valid_email and non_blank (PostgreSQL, DuckDB) try a fast path first, then the exact
    spelling every other dialect uses (equal on a real server: tests/integration/test_postgres;
    on DuckDB: tests/unit/test_native_sql)."""
    dialect = FIGURE_DIALECTS[dialect_name]()
    t = sa.table("t", sa.column("v", sa.String()))

    def sql(expression: sa.ColumnElement[Any]) -> str:
        return str(sa.select(expression.label("x")).compile(dialect=dialect))

    email, exact_email = sql(valid_email(t.c.v)), sql(_checked_email(t.c.v))
    blank, exact_blank = sql(non_blank(t.c.v)), sql(_checked_blank(t.c.v))
    assert isinstance(non_blank(t.c.v).type, sa.String)
    # (fast, exact, marks of the fast path, CASEs it adds)
    checks: list[tuple[str, str, tuple[str, ...], int]] = [(blank, exact_blank, ("ascii(t.v)",), 1)]
    if dialect_name == "postgresql":
        checks.append((email, exact_email, ("octet_length(t.v)", "strpos(t.v, "), 2))
    elif dialect_name == "duckdb":
        checks.append((email, exact_email, ("regexp_full_match(t.v, ",), 1))
    else:
        assert email == exact_email
    if dialect_name not in {"postgresql", "duckdb"}:
        assert blank == exact_blank
        return
    for fast, exact, marks, added in checks:
        body = exact.split("SELECT ", 1)[1].rsplit(" AS ", 1)[0]
        assert fast.count("CASE WHEN") == exact.count("CASE WHEN") + added
        assert all(mark in fast for mark in marks), fast
        assert re.sub(r"_\d+\)", ")", body) in re.sub(r"_\d+\)", ")", fast)


@pytest.mark.parametrize("url", ["duckdb:///:memory:", "sqlite://"])
def test_running_max_runs_up_to_the_row_and_the_one_before(url: str) -> None:
    rows = [  # (p, s, v): the acquisition code of acquiring rows, null on the others
        ("a", 1, 4294967297),
        ("a", 2, None),
        ("a", 3, 12884901890),
        ("a", 4, None),
        ("b", 1, None),
    ]
    t = sa.Table(
        "t",
        sa.MetaData(),
        sa.Column("p", sa.String()),
        sa.Column("s", sa.BigInteger()),
        sa.Column("v", sa.BigInteger()),
    )
    stmt = sa.select(
        t.c.p,
        t.c.s,
        running_max(t.c.v, t.c.p, t.c.s).label("now"),
        running_max_before(t.c.v, t.c.p, t.c.s).label("before"),
    ).order_by(t.c.p, t.c.s)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        t.create(conn)
        conn.execute(t.insert(), [dict(zip("psv", row, strict=True)) for row in rows])
        got = [tuple(row) for row in conn.execute(stmt)]
    engine.dispose()
    assert got == [
        ("a", 1, 4294967297, None),
        ("a", 2, 4294967297, 4294967297),
        ("a", 3, 12884901890, 4294967297),
        ("a", 4, 12884901890, 12884901890),
        ("b", 1, None, None),
    ]


def test_touches_partition_people_as_bytes() -> None:
    """The visits' windows partition by email as bytes (PostgreSQL sorts "C" text faster)
    and carry the acquisition in force as one integer (a running max, no IGNORE NULLS);
    attribution's repeated touches need no acquisition before the row."""
    touches = figures.touch_rows(JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1)))
    for name, dialect in FIGURE_DIALECTS.items():
        text = str(sa.select(*touches.c).compile(dialect=dialect()))
        assert "IGNORE NULLS" not in text, name
        assert text.count("AND 1 PRECEDING") == 1, name
        assert re.search(r"max\(CASE WHEN .* OVER \(PARTITION BY", text), name
    journeys = journey_statement(JourneyQuery(as_of=AS_OF)).order_by(None).cte("rows")
    repeats = figures.touches_of(journeys, repeats=True)
    text = str(sa.select(*repeats.c).compile(dialect=DIALECTS["duckdb"]()))
    assert "AND 1 PRECEDING" not in text
    postgres = str(sa.select(*touches.c).compile(dialect=DIALECTS["postgresql"]()))
    assert 'PARTITION BY (journey_acquisition.email COLLATE "C")' in postgres


@pytest.mark.parametrize(
    ("query", "from_rows"),
    [
        pytest.param(JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1)), False, id="cohort"),
        pytest.param(JourneyQuery(as_of=AS_OF), False, id="last-24h"),
        pytest.param(JourneyQuery(as_of=AS_OF, email="a@x.io"), True, id="one-person"),
    ],
)
def test_channel_inputs_of_a_cohort_come_from_its_window(
    query: JourneyQuery, *, from_rows: bool
) -> None:
    """A cohort's channel keys are read from its window's events, so its rows are read once
    (held by DuckDB and PostgreSQL, computed twice by Spark, if read twice); one person's
    from the rows themselves (the window's events would be everyone's)."""
    text = str(sa.select(*figures.touch_rows(query).c).compile(dialect=DIALECTS["duckdb"]()))
    keys = text.split("journey_channel_keys AS", 1)[1].split("journey_channel_hosts AS", 1)[0]
    assert ("FROM journey_result" in keys) is from_rows, keys
    assert text.count("FROM journey_result") == 1 + from_rows


def test_figure_touches_keep_only_the_columns_they_read() -> None:
    query = JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1))
    narrow = figures.touch_rows(query, columns=figures.FIGURE_COLUMNS)
    assert [col.key for col in narrow.c] == [
        *(name for name in c.RESULT_COLUMNS if name in figures.FIGURE_COLUMNS),
        *figures.TOUCH_COLUMNS[len(c.RESULT_COLUMNS) :],
    ]
    assert [col.key for col in figures.touch_rows(query).c] == list(figures.TOUCH_COLUMNS)
