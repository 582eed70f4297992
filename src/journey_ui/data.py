"""Cached loaders: every figure comes from ``journey_core``; this module only caches it.

Cache keys are plain values (:class:`QueryKey`, :class:`~journey_core.analytics.Filters`);
the engine is passed as ``_engine`` so Streamlit does not hash it, and the database URL
stands in for it in the key. The key also names the schema mapping (``JOURNEY_MAPPING``) and
the channel file (``JOURNEY_CHANNELS_FILE``), so rows are read and grouped exactly as
``journey export`` does, on every page (Attribution included).

Each page's figures take one of two routes (:func:`choose_route`, ``JOURNEY_FIGURES_ROUTE``),
named in the key (:attr:`QueryKey.route`); the pages do not know which ran, both give the
same views. On the warehouse route, the Campaign influence and Recent activity figures
(:func:`~journey_core.warehouse.figures.campaign_figures`,
:func:`~journey_core.warehouse.figures.recent_figures`), one page of the people table, the
newest events and the filter options (:mod:`journey_core.warehouse.pages`) are computed in the
warehouse; the cohort's rows never come across. On the Polars route the cohort's rows are
read once (:func:`rows`, cached) and the same views are computed with the Polars analytics
(:mod:`journey_core.analytics`). On both, CSV downloads stream the rows into a temporary
file on click (:func:`csv_file`).

The heavy results are kept in :data:`CACHE`, a :class:`~journey_ui.cache.ByteCache` bounded by
bytes (``JOURNEY_DASHBOARD_CACHE_MB``, applied by :func:`use_budget`); the small ones
(warehouse summary, data quality) in ``st.cache_data``. CSV downloads are made on click and not
kept.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Concatenate, ParamSpec, TypeVar

import polars as pl
import streamlit as st

from journey_core import columns as c
from journey_core.analytics import attribution as attr
from journey_core.analytics import campaign as an
from journey_core.analytics import funnel as fn
from journey_core.analytics.channels import ChannelConfig
from journey_core.analytics.funnel import FunnelSpec
from journey_core.config import DEFAULT_POLARS_ROUTE_MAX_MB, Settings
from journey_core.io.export import to_csv_bytes, write_chunks
from journey_core.io.privacy import mask_frame
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import (
    Engine,
    JourneyResult,
    SchemaMapping,
    WarehouseSummary,
    fetch_journeys,
    local_file,
    reading,
    summarize,
    verify_schema,
)
from journey_core.warehouse import attribution as wa
from journey_core.warehouse import figures as wf
from journey_core.warehouse import pages as wp
from journey_core.warehouse.cohort import cohort_session
from journey_core.warehouse.fetch import empty_message
from journey_core.warehouse.figures import campaign_figures, period_queries, recent_figures
from journey_core.warehouse.funnel import funnel_figures, funnel_people
from journey_core.warehouse.mapping import load_mapping
from journey_core.warehouse.quality import data_quality
from journey_core.warehouse.search import search_people
from journey_ui import runlog
from journey_ui.cache import ByteCache
from journey_ui.shell import PageContext

TTL = dt.timedelta(minutes=30)
PREVIEW_ROWS = wp.PAGE_ROWS
MB = 2**20
#: The heavy loaders' results, shared by every session, bounded by bytes (:func:`use_budget`).
CACHE = ByteCache(max_bytes=Settings().dashboard_cache_mb * MB, ttl_seconds=TTL.total_seconds())

#: The two figure routes (``JOURNEY_FIGURES_ROUTE`` also takes ``auto``: :func:`choose_route`).
WAREHOUSE = "warehouse"
POLARS = "polars"
#: SQLAlchemy dialects of the embedded files, where the Polars route was measured faster.
EMBEDDED_DIALECTS = frozenset({"duckdb", "sqlite"})

P = ParamSpec("P")
R = TypeVar("R")


def use_budget(settings: Settings) -> None:
    """Bound :data:`CACHE` by ``JOURNEY_DASHBOARD_CACHE_MB`` (``app.py``, every run)."""
    budget = settings.dashboard_cache_mb * MB
    if budget != CACHE.max_bytes:
        CACHE.resize(budget)


def choose_route(
    dialect_name: str,
    setting: str = "auto",
    *,
    file_mb: float | None = None,
    polars_max_mb: float = DEFAULT_POLARS_ROUTE_MAX_MB,
) -> str:
    """The figure route for a warehouse of ``dialect_name`` and ``JOURNEY_FIGURES_ROUTE``.

    ``auto`` takes :data:`POLARS` for an embedded file (DuckDB, SQLite) of at most
    ``polars_max_mb`` megabytes (``file_mb``; ``None``: unknown, an in-memory database):
    there reading the cohort's rows and computing the figures in Polars is fastest, but the
    dashboard's memory grows with the rows (bench/RESULTS.md, "Scale": 808 MB at 1M events,
    a 57 MB file, 2.9 GB at 10M). A larger file, and every server or distributed warehouse
    (PostgreSQL, Spark, Trino, Snowflake, BigQuery, Databricks, any other), takes
    :data:`WAREHOUSE`:
    the rows stay where they are and only the figures cross.

    >>> choose_route("duckdb"), choose_route("postgresql"), choose_route("sqlite", "warehouse")
    ('polars', 'warehouse', 'warehouse')
    >>> choose_route("duckdb", file_mb=57.0), choose_route("duckdb", file_mb=5.0)
    ('warehouse', 'polars')
    """
    if setting in (WAREHOUSE, POLARS):
        return setting
    if dialect_name not in EMBEDDED_DIALECTS:
        return WAREHOUSE
    return POLARS if file_mb is None or file_mb <= polars_max_mb else WAREHOUSE


def file_megabytes(url: str) -> float | None:
    """The size of an embedded warehouse file in megabytes; ``None`` for servers, memory or
    a missing file."""
    path = local_file(url)
    try:
        return None if path is None else path.stat().st_size / 1e6
    except OSError:
        return None


def _cached(
    loader: Callable[Concatenate[Engine, str, P], R],
) -> Callable[Concatenate[Engine, str, P], R]:
    """Keep ``loader``'s results in :data:`CACHE`, keyed by its name, the URL and the rest."""

    @functools.wraps(loader)
    def cached(_engine: Engine, url: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
        key = (loader.__name__, url, args, tuple(sorted(kwargs.items())))
        return CACHE.get_or_make(key, lambda: loader(_engine, url, *args, **kwargs))

    return cached


@dataclass(frozen=True)
class QueryKey:
    """A :class:`JourneyQuery` as plain values (hashable, picklable cache key)."""

    as_of: dt.datetime
    email: str | None
    event_date: dt.date | None
    lookback_days: float
    recent_hours: float
    timezone: str
    mapping: str = "canonical"
    channels: str = ""
    mask_pii: bool = False
    route: str = WAREHOUSE

    @classmethod
    def of(
        cls,
        query: JourneyQuery,
        *,
        mapping: str = "canonical",
        channels: str = "",
        mask_pii: bool = False,
        route: str = WAREHOUSE,
    ) -> QueryKey:
        """The key of ``query`` on the warehouse shape ``mapping``, grouped by ``channels``.

        ``mask_pii`` (``JOURNEY_MASK_PII``) masks the emails of CSV downloads; ``route``
        (:data:`WAREHOUSE` or :data:`POLARS`) is where the figures are computed.
        """
        return cls(
            as_of=query.as_of,
            email=query.email,
            event_date=query.event_date,
            lookback_days=query.lookback / dt.timedelta(days=1),
            recent_hours=query.recent_window / dt.timedelta(hours=1),
            timezone=query.timezone,
            mapping=mapping,
            channels=channels,
            mask_pii=mask_pii,
            route=route,
        )

    def query(self) -> JourneyQuery:
        """The query back."""
        return JourneyQuery(
            as_of=self.as_of,
            email=self.email,
            event_date=self.event_date,
            lookback=dt.timedelta(days=self.lookback_days),
            recent_window=dt.timedelta(hours=self.recent_hours),
            timezone=self.timezone,
        )

    def earlier(self, delta: dt.timedelta) -> QueryKey:
        """The same query, ``delta`` earlier."""
        return replace(self, as_of=self.as_of - delta)

    def of_query(self, query: JourneyQuery) -> QueryKey:
        """The key of ``query`` with this key's mapping, channels, masking and route."""
        return QueryKey.of(
            query,
            mapping=self.mapping,
            channels=self.channels,
            mask_pii=self.mask_pii,
            route=self.route,
        )

    @property
    def polars(self) -> bool:
        """Whether the figures take the Polars route (else the warehouse's)."""
        return self.route == POLARS


@dataclass(frozen=True)
class Loaded:
    """Journey rows with sessions and channels (:func:`analytics.with_sessions`)."""

    rows: pl.DataFrame
    message: str | None

    @property
    def people(self) -> int:
        """Distinct individuals."""
        return self.rows.get_column("email").n_unique() if self.rows.height else 0


def channel_config(key: QueryKey) -> ChannelConfig:
    """The channel rules of ``key``: its channel file, else the built-in defaults."""
    return ChannelConfig.from_file(key.channels)


def fetch(engine: Engine, key: QueryKey) -> JourneyResult:
    """The journey rows of ``key``, as ``fetch_journeys`` returns them (not cached)."""
    return fetch_journeys(
        engine, key.query(), mapping=verify_schema(engine, load_mapping(key.mapping))
    )


def load_rows(engine: Engine, key: QueryKey) -> Loaded:
    """Fetch the journeys of ``key`` and add sessions and channels (not cached)."""
    channels = channel_config(key)
    result = fetch(engine, key)
    return Loaded(an.with_sessions(result.frame, channels=channels), result.message)


def build_csv(
    rows: pl.DataFrame,
    filters: an.Filters = an.Filters(),  # noqa: B008
    *,
    mask_pii: bool = False,
) -> bytes:
    """The CSV a page downloads: the (filtered) journeys, exactly as `journey export` writes.

    ``mask_pii`` masks the emails, as ``journey export --mask-pii`` does.
    """
    frame = an.journey_rows(an.filter_people(rows, filters))
    return to_csv_bytes(mask_frame(frame) if mask_pii else frame)


# --------------------------------------------------------------------------- cached


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def summary(_engine: Engine, url: str, mapping: str = "canonical") -> WarehouseSummary:
    """Row counts and time span of the warehouse (refreshed every minute)."""
    return summarize(_engine, mapping=verify_schema(_engine, load_mapping(mapping)))


@_cached
def rows(_engine: Engine, url: str, key: QueryKey) -> Loaded:
    """The journeys of one query, with sessions and channels."""
    return load_rows(_engine, key)


def route(engine: Engine, key: QueryKey) -> tuple[JourneyQuery, SchemaMapping, ChannelConfig]:
    """The query, the checked schema mapping and the channel rules of ``key``."""
    return key.query(), verify_schema(engine, load_mapping(key.mapping)), channel_config(key)


@dataclass(frozen=True)
class RecentView:
    """The recent activity page: figures, one page of people and the newest events, all
    computed in the warehouse (the attributes the sections read, as ``an.RecentReport``)."""

    kpis: an.Kpis
    previous: an.Kpis | None
    hourly: pl.DataFrame
    campaigns: pl.DataFrame
    sources: pl.DataFrame
    people: wp.PeoplePage
    preview: pl.DataFrame

    @property
    def total_rows(self) -> int:
        """Events in the window."""
        return self.kpis.events


#: The values a split trend keeps by name (the rest are summed into ``(other)``).
SPLIT_TOP = 5


@dataclass(frozen=True)
class CampaignView:
    """The campaign influence page (without the funnel, :func:`funnel`): figures, one page
    of people and the newest events, computed on the key's route.

    ``previous``: the key figures of the previous period ``previous_period`` (start, end:
    the campaign start), as many days just before; ``excluded``: the people a figure leaves
    out of the cohort; ``by``: the breakdown picked, with its table (``breakdown``) and the
    daily trend split by it (``split``); ``partial_day``: the trend's last day when the
    period stops before it ends (the as-of day, counted up to ``period_end``).
    """

    kpis: an.Kpis
    trend: pl.DataFrame
    channels: pl.DataFrame
    campaigns: pl.DataFrame
    touchpoints: pl.DataFrame
    people: wp.PeoplePage
    preview: pl.DataFrame
    previous: an.Kpis | None = None
    previous_period: tuple[dt.datetime, dt.datetime] | None = None
    period_end: dt.datetime | None = None
    excluded: tuple[an.Exclusion, ...] = ()
    by: str | None = None
    breakdown: pl.DataFrame | None = None
    split: pl.DataFrame | None = None
    partial_day: dt.date | None = None

    @property
    def total_rows(self) -> int:
        """Events of the people kept."""
        return self.kpis.events

    @property
    def cohort(self) -> int:
        """The people of the campaign cohort: everyone in the table, the CSV and the funnel's
        population (the key figure "Known people active")."""
        return self.people.total


def _message(engine: Engine, key: QueryKey, people: int, filters: an.Filters) -> str | None:
    """Why the result is empty (``None`` when it is not, or only the filters emptied it)."""
    if people or filters.active:
        return None
    query, mapping, _ = route(engine, key)
    return empty_message(engine, query, mapping=mapping)


@_cached
def people(
    _engine: Engine, url: str, key: QueryKey, filters: an.Filters, page: int = 0
) -> wp.PeoplePage:
    """Page ``page`` (from 0) of the people table of one query and filters."""
    if key.polars:
        table = people_table(_engine, url, key, filters)
        offset = page * wp.PAGE_ROWS
        return wp.PeoplePage(table.slice(offset, wp.PAGE_ROWS), table.height, offset, wp.PAGE_ROWS)
    query, mapping, config = route(_engine, key)
    with cohort_session(_engine) as engine:
        return wp.people_page(
            engine,
            query,
            mapping,
            config,
            since=query.start,
            filters=filters,
            limit=wp.PAGE_ROWS,
            offset=page * wp.PAGE_ROWS,
        )


@_cached
def people_table(_engine: Engine, url: str, key: QueryKey, filters: an.Filters) -> pl.DataFrame:
    """The whole people table of one query and filters, from its rows (the Polars route):
    conversions scoped to a touch filter, as the key figures count them."""
    cohort = an.filter_people(rows(_engine, url, key).rows, filters)
    return an.people_table(an.with_scope(cohort, filters), since=key.query().start)


@_cached
def preview(_engine: Engine, url: str, key: QueryKey, filters: an.Filters) -> pl.DataFrame:
    """The :data:`PREVIEW_ROWS` newest events of one query and filters."""
    if key.polars:
        cohort = an.filter_people(rows(_engine, url, key).rows, filters)
        return an.newest(cohort, PREVIEW_ROWS).select(list(wp.PREVIEW_SCHEMA))
    query, mapping, config = route(_engine, key)
    with cohort_session(_engine) as engine:
        return wp.events_preview(
            engine, query, mapping, config, filters=filters, limit=PREVIEW_ROWS
        )


@_cached
def recent(_engine: Engine, url: str, key: QueryKey) -> tuple[RecentView, str | None]:
    """The recent activity page (and why it is empty), with the window before it."""
    query, mapping, config = route(_engine, key)
    earlier = key.earlier(dt.timedelta(hours=key.recent_hours))
    figures: wf.RecentFigures | an.RecentReport
    if key.polars:
        figures = an.recent_report(
            rows(_engine, url, key).rows,
            previous=rows(_engine, url, earlier).rows,
            start=query.window_start,
            end=query.as_of,
            tz=key.timezone,
            preview_rows=0,  # the preview is :func:`preview`'s
        )
    else:
        before = earlier.query()
        with cohort_session(_engine) as engine:
            figures = recent_figures(
                engine, query, mapping, config, previous=before, tz=key.timezone
            )
    everyone = an.Filters()
    first = people(_engine, url, key, everyone)
    view = RecentView(
        kpis=figures.kpis,
        previous=figures.previous,
        hourly=figures.hourly,
        campaigns=figures.campaigns,
        sources=figures.sources,
        people=first,
        preview=preview(_engine, url, key, everyone),
    )
    return view, _message(_engine, key, first.total, everyone)


@_cached
def campaign_options(_engine: Engine, url: str, key: QueryKey) -> dict[str, list[str]]:
    """The values each campaign filter can take (at most ``OPTION_LIMIT`` each, most people
    first), from the unfiltered result."""
    if key.polars:
        found = an.filter_options(rows(_engine, url, key).rows)
        return {column: values[: wp.OPTION_LIMIT] for column, values in found.items()}
    query, mapping, config = route(_engine, key)
    with cohort_session(_engine) as engine:
        return wp.filter_options(engine, query, mapping, config)


@_cached
def campaign_figures_of(
    _engine: Engine,
    url: str,
    key: QueryKey,
    filters: an.Filters,
) -> wf.CampaignFigures | an.CampaignReport:
    """The campaign figures of one key (its query: the period) and filters, on the key's
    route (the previous period's are :func:`campaign_previous`'s)."""
    query, mapping, config = route(_engine, key)
    assert query.start is not None
    if not key.polars:
        with cohort_session(_engine) as engine:
            return campaign_figures(engine, query, mapping=mapping, config=config, filters=filters)
    return an.campaign_report(
        rows(_engine, url, key).rows,
        start=query.start,
        end=query.as_of,
        filters=filters,
        tz=key.timezone,
        preview_rows=0,  # the preview is :func:`preview`'s
    )


@_cached
def campaign_previous(
    _engine: Engine,
    url: str,
    key: QueryKey,
    filters: an.Filters,
) -> an.Kpis:
    """The key figures of the period before the campaign's (as many days, the same filters)
    on the key's route: a cohort of its own, asked for apart from :func:`campaign` so that
    the page can draw the period's figures first (at 100M events this one takes minutes)."""
    query, mapping, config = route(_engine, key)
    assert query.start is not None
    if not key.polars:
        with cohort_session(_engine) as engine:
            return wf.previous_kpis(engine, query, mapping=mapping, config=config, filters=filters)
    _, earlier = period_queries(query)
    return an.previous_kpis(
        rows(_engine, url, key.of_query(earlier)).rows,
        start=query.start,
        end=query.as_of,
        filters=filters,
        tz=key.timezone,
    )


@_cached
def campaign_breakdown(
    _engine: Engine,
    url: str,
    key: QueryKey,
    filters: an.Filters,
    by: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One breakdown of the campaign cohort: its table and the daily trend split by it
    (the :data:`SPLIT_TOP` values with most people, the rest as ``(other)``)."""
    query, mapping, config = route(_engine, key)
    assert query.start is not None
    if not key.polars:
        with cohort_session(_engine) as engine:
            got = wf.breakdown_figures(
                engine, query, mapping, config, by=by, filters=filters, top=SPLIT_TOP
            )
        return got.table, got.trend
    now = rows(_engine, url, key).rows
    cohort = an.with_scope(an.filter_people(now, filters), filters)
    table = an.breakdown(cohort, by=by, since=query.start)
    split = an.trend_by(
        cohort,
        by=by,
        start=query.start,
        end=query.as_of,
        tz=key.timezone,
        top=SPLIT_TOP,
        since=query.start,
    )
    return table, split


@_cached
def campaign(
    _engine: Engine,
    url: str,
    key: QueryKey,
    filters: an.Filters,
    by: str | None = None,
) -> tuple[CampaignView, str | None]:
    """The campaign influence page for one start date and filters (and its message), with,
    with ``by``, one breakdown: all in this one (cached) call, each part also cached on its
    own (:func:`campaign_figures_of`, :func:`campaign_breakdown`), so picking a breakdown
    computes only the breakdown and no widget adds a round trip. The view's ``previous`` is
    None: the previous period's key figures are :func:`campaign_previous`'s, asked for after
    the page is drawn.

    The key's query is the period (the pages' :func:`~journey_ui.setting.campaign_query`:
    up to the end day); ``by``: one of :data:`~journey_core.analytics.campaign.DIMENSIONS`.
    """
    query = key.query()
    assert query.start is not None
    _, earlier = period_queries(query)
    assert earlier.start is not None
    figures = campaign_figures_of(_engine, url, key, filters)
    table, split = (None, None)
    if by is not None:
        table, split = campaign_breakdown(_engine, url, key, filters, by)
    first = people(_engine, url, key, filters)
    view = CampaignView(
        kpis=figures.kpis,
        trend=figures.trend,
        channels=figures.channels,
        campaigns=figures.campaigns,
        touchpoints=figures.touchpoints,
        people=first,
        preview=preview(_engine, url, key, filters),
        previous_period=(earlier.start, query.start),
        period_end=query.as_of,
        # The people figure's only: the funnel states its own (its steps are the user's).
        excluded=tuple(e for e in figures.excluded if e.figure == c.PEOPLE),
        by=by,
        breakdown=table,
        split=split,
        partial_day=an.partial_day(query.as_of, key.timezone),
    )
    return view, _message(_engine, key, first.total, filters)


class _ReadOnce(io.FileIO):
    """A file that closes itself once read to its end: Streamlit reads a download's file
    into its media store and does not close it."""

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size) or b""
        if size is None or size < 0 or not data:
            self.close()
        return data


def csv_file(_engine: Engine, url: str, key: QueryKey, filters: an.Filters) -> io.RawIOBase:
    """The CSV of a page's (filtered) journeys, equal to `journey export` unfiltered.

    Made on click (a download's ``data=``): the rows are read from the warehouse in batches
    and written to a temporary file as they come (masked with ``mask_pii``); the file,
    already unlinked, is handed over and closes once read. Streamlit (1.67) reads a handed
    file into its in-memory media store: the served CSV is held once, as bytes, for
    ``downloads.LIFETIME_SECONDS``; the rows are held a batch at a time.
    """
    query, mapping, config = route(_engine, key)
    chunks = wp.stream_rows(_engine, query, mapping, config, filters=filters)
    if key.mask_pii:
        chunks = (mask_frame(chunk) for chunk in chunks)
    fd, path = tempfile.mkstemp(prefix="journey-", suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as out:
            write_chunks(chunks, out, fmt="csv")
        return _ReadOnce(path, "rb")
    finally:
        os.unlink(path)  # the open file stays readable; nothing is left on disk


@st.cache_data(ttl=300, max_entries=4, show_spinner=False)
def quality(_engine: Engine, url: str, mapping: str, as_of: dt.datetime) -> pl.DataFrame:
    """Messy rows per kind (:func:`.quality.data_quality`), refreshed every 5 min."""
    return data_quality(_engine, as_of=as_of, mapping=verify_schema(_engine, load_mapping(mapping)))


@dataclass(frozen=True)
class CustomerView:
    """One individual: rows, profile card and the empty-result message."""

    rows: pl.DataFrame
    profile: an.Profile | None
    message: str | None


@_cached
def customer(_engine: Engine, url: str, key: QueryKey) -> CustomerView:
    """The customer lookup of one email."""
    loaded = rows(_engine, url, key)
    return CustomerView(loaded.rows, an.profile(loaded.rows), loaded.message)


@st.cache_data(ttl=60, max_entries=256, show_spinner=False)
def people_search(
    _engine: Engine, url: str, mapping: str, as_of: dt.datetime, text: str, limit: int
) -> pl.DataFrame:
    """Known people matching ``text`` (:func:`~journey_core.warehouse.search.search_people`).

    Served by the warehouse, bounded by ``limit``; empty text lists the most recently active.
    """
    found = search_people(
        _engine,
        text,
        as_of=as_of,
        mapping=verify_schema(_engine, load_mapping(mapping)),
        limit=limit,
    )
    return found


# --------------------------------------------------------------------------- attribution


@dataclass(frozen=True)
class AttributionInputs:
    """The Attribution page's model inputs as plain, hashable values (part of the cache key)."""

    conversion_types: tuple[str, ...]
    lookback_days: int
    half_life_days: float
    path_unit: str
    collapse: bool

    def settings(self, channels: ChannelConfig) -> attr.AttributionSettings:
        """The attribution settings of these inputs, grouping touches by ``channels``."""
        return attr.AttributionSettings.build(
            conversion_event_types=self.conversion_types or None,
            lookback_days=self.lookback_days,
            path_unit=self.path_unit,
            collapse_repeats=self.collapse,
            half_life_days=self.half_life_days,
            channels=channels,
        )


@dataclass(frozen=True)
class AttributionView:
    """The attribution report of a cohort, why it is empty, and how many people it has
    (the report's person-level tables are a bounded page; its totals count everyone)."""

    report: attr.AttributionReport
    message: str | None
    people: int


@_cached
def event_types(_engine: Engine, url: str, key: QueryKey) -> list[str]:
    """The event types in the journeys of one query (the conversion picker's options),
    in byte order, at most :data:`~journey_core.warehouse.attribution.EVENT_TYPE_LIMIT`."""
    if key.polars:
        kinds = rows(_engine, url, key).rows.get_column(c.EVENT_TYPE).drop_nulls().unique()
        return kinds.sort().head(wa.EVENT_TYPE_LIMIT).to_list()
    mapping = verify_schema(_engine, load_mapping(key.mapping))
    with cohort_session(_engine) as engine:
        # built in the session (which holds the cohort first), read from its held rows
        stmt = wa.event_types_statement(key.query(), mapping, channel_config(key))
        with reading(engine, mapping) as conn:
            found = conn.execute(stmt).all()
    return [str(row[0]) for row in found]


@_cached
def attribution(
    _engine: Engine,
    url: str,
    key: QueryKey,
    inputs: AttributionInputs,
    filters: an.Filters = an.Filters(),  # noqa: B008 (frozen, hashable)
    end: dt.datetime | None = None,
) -> AttributionView:
    """The attribution report of a campaign cohort (``key`` has an event date) and ``inputs``,
    on the key's route (person-level tables: their first :data:`PREVIEW_ROWS` rows).

    ``filters``: only the people the campaign page's filters keep; ``end``: conversions up to
    the end of the campaign setting's end day (default: the as-of time).
    """
    query = key.query()
    assert query.start is not None
    mapping = verify_schema(_engine, load_mapping(key.mapping))
    settings = inputs.settings(channel_config(key))
    if key.polars:
        report, people = _attribution_polars(_engine, url, key, settings, filters, end)
        message = None if people else empty_message(_engine, query, mapping=mapping)
        return AttributionView(report, message, people)
    with cohort_session(_engine) as engine:  # its parts held once: figures.held
        report, people = wa.attribution_report(
            engine,
            query,
            settings,
            mapping,
            start=query.start,
            end=end if end is not None else query.as_of,
            preview_rows=PREVIEW_ROWS,
            filters=filters,
        )
    message = None if people else empty_message(_engine, query, mapping=mapping)
    return AttributionView(report, message, people)


@_cached
def journeys(_engine: Engine, url: str, key: QueryKey) -> pl.DataFrame:
    """The journey rows of one query as the warehouse returns them (the Polars route)."""
    return fetch(_engine, key).frame


#: The person-level tables of an attribution report the page shows a first page of.
PAGED_TABLES = (
    "touches",
    "conversions",
    "conversion_paths",
    "non_conversion_paths",
    "path_summary",
    "time_to_convert",
)


def _attribution_polars(
    engine: Engine,
    url: str,
    key: QueryKey,
    settings: attr.AttributionSettings,
    filters: an.Filters,
    end: dt.datetime | None,
) -> tuple[attr.AttributionReport, int]:
    """The attribution report and the cohort's people from the cohort's rows, as
    :func:`~journey_core.warehouse.attribution.attribution_report` returns them (with a
    touch filter, conversions scoped as on the campaign page: ``attribution.scoped``)."""
    query = key.query()
    frame, people = attr.cohort_rows(
        lambda q: journeys(engine, url, key.of_query(q)), query, settings.lookback
    )
    if filters.active:
        kept = an.filter_people(rows(engine, url, key).rows, filters).get_column(c.EMAIL)
        kept = kept.unique()
        frame = frame.filter(pl.col(c.EMAIL).is_in(kept.implode()))
        people = kept.len()
    frame = attr.scoped(frame, filters, settings=settings)
    until = end if end is not None else query.as_of
    # One chunk: Polars 2.1's streaming engine failed an assertion ("i < self.len()") in
    # attr.conversions over a filtered frame of several chunks (scope13, 2026-12-05).
    report = attr.analyze(frame.rechunk(), settings=settings, start=query.start, end=until)
    cut = {name: getattr(report, name).head(PREVIEW_ROWS) for name in PAGED_TABLES}
    return replace(report, **cut), people


def key_of(ctx: PageContext, query: JourneyQuery) -> tuple[Engine, str, QueryKey]:
    """The first three arguments of every cached loader (and the rule for the run's log line)."""
    runlog.note(rule=query.rule.value, email=query.email)
    key = QueryKey.of(
        query,
        mapping=ctx.settings.mapping,
        channels=ctx.channels_file,
        mask_pii=ctx.settings.mask_pii,
        route=choose_route(
            ctx.engine.dialect.name,
            ctx.settings.figures_route,
            file_mb=file_megabytes(ctx.url),
            polars_max_mb=ctx.settings.polars_route_max_mb,
        ),
    )
    return ctx.engine, ctx.url, key


@_cached
def funnel(
    _engine: Engine,
    url: str,
    key: QueryKey,
    filters: an.Filters,
    spec: FunnelSpec,
    people: tuple[int, str, str | None] | None = None,
) -> pl.DataFrame:
    """The funnel of a campaign cohort (``key`` has an event date), on the key's route
    (:mod:`journey_core.warehouse.funnel` or :mod:`journey_core.analytics.funnel`); with
    ``people`` = (step, outcome, group), the people who reached or dropped off there (at most
    :data:`.funnel.PEOPLE_LIMIT`, by email)."""
    if key.polars:
        cohort = an.filter_people(rows(_engine, url, key).rows, filters)
        if people is None:
            return fn.funnel(cohort, spec)
        step, outcome, group = people
        return fn.people_at(cohort, spec, step=step, outcome=outcome, group=group)
    mapping = verify_schema(_engine, load_mapping(key.mapping))
    query, config = key.query(), channel_config(key)
    step, outcome, group = people if people is not None else (0, "", None)
    with cohort_session(_engine) as engine:
        if people is None:
            return funnel_figures(engine, query, mapping, config, spec=spec, filters=filters)
        return funnel_people(
            engine,
            query,
            mapping,
            config,
            spec=spec,
            filters=filters,
            step=step,
            outcome=outcome,
            group=group,
        )
