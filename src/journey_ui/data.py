"""Cached loaders: every figure comes from ``journey_core``; this module only caches it.

Cache keys are plain values (:class:`QueryKey`, :class:`~journey_core.analytics.Filters`);
the engine is passed as ``_engine`` so Streamlit does not hash it, and the database URL
stands in for it in the key. The key also names the schema mapping (``JOURNEY_MAPPING``) and
the channel file (``JOURNEY_CHANNELS_FILE``), so rows are read and grouped exactly as
``journey export`` does, on every page (Attribution included).

The heavy results (journey rows and the reports built from them) are kept in :data:`CACHE`, a
:class:`~journey_ui.cache.ByteCache` bounded by bytes (``JOURNEY_DASHBOARD_CACHE_MB``, applied
by :func:`use_budget`); the small ones (warehouse summary, data quality) in ``st.cache_data``.
CSV downloads are made on click from the cached rows, and not kept.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Concatenate, ParamSpec, TypeVar

import polars as pl
import streamlit as st

from journey_core.analytics import attribution as attr
from journey_core.analytics import campaign as an
from journey_core.analytics.channels import ChannelConfig
from journey_core.analytics.funnel import FunnelSpec
from journey_core.config import Settings
from journey_core.io.export import to_csv_bytes
from journey_core.io.privacy import mask_frame
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import (
    Engine,
    JourneyResult,
    WarehouseSummary,
    fetch_journeys,
    reading,
    summarize,
    verify_schema,
)
from journey_core.warehouse import attribution as wa
from journey_core.warehouse.fetch import empty_message
from journey_core.warehouse.funnel import funnel_figures, funnel_people
from journey_core.warehouse.mapping import load_mapping
from journey_core.warehouse.quality import data_quality
from journey_ui import runlog
from journey_ui.cache import ByteCache
from journey_ui.shell import PageContext

TTL = dt.timedelta(minutes=30)
PREVIEW_ROWS = 1000
MB = 2**20
#: The heavy loaders' results, shared by every session, bounded by bytes (:func:`use_budget`).
CACHE = ByteCache(max_bytes=Settings().dashboard_cache_mb * MB, ttl_seconds=TTL.total_seconds())

P = ParamSpec("P")
R = TypeVar("R")


def use_budget(settings: Settings) -> None:
    """Bound :data:`CACHE` by ``JOURNEY_DASHBOARD_CACHE_MB`` (``app.py``, every run)."""
    budget = settings.dashboard_cache_mb * MB
    if budget != CACHE.max_bytes:
        CACHE.resize(budget)


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

    @classmethod
    def of(
        cls,
        query: JourneyQuery,
        *,
        mapping: str = "canonical",
        channels: str = "",
        mask_pii: bool = False,
    ) -> QueryKey:
        """The key of ``query`` on the warehouse shape ``mapping``, grouped by ``channels``.

        ``mask_pii`` (``JOURNEY_MASK_PII``) masks the emails of CSV downloads.
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
    return ChannelConfig.from_toml(key.channels) if key.channels else ChannelConfig.default()


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


@_cached
def recent(_engine: Engine, url: str, key: QueryKey) -> tuple[an.RecentReport, str | None]:
    """The recent activity page (and why it is empty), with the window before it."""
    current = rows(_engine, url, key)
    window = dt.timedelta(hours=key.recent_hours)
    previous = rows(_engine, url, key.earlier(window))
    query = key.query()
    report = an.recent_report(
        current.rows,
        previous=previous.rows,
        start=query.window_start,
        end=query.as_of,
        tz=key.timezone,
        preview_rows=PREVIEW_ROWS,
    )
    return report, current.message


@_cached
def campaign_options(_engine: Engine, url: str, key: QueryKey) -> dict[str, list[str]]:
    """The values each campaign filter can take (from the unfiltered result)."""
    return an.filter_options(rows(_engine, url, key).rows)


@_cached
def campaign(
    _engine: Engine,
    url: str,
    key: QueryKey,
    filters: an.Filters,
    end: dt.datetime | None = None,
) -> tuple[an.CampaignReport, str | None]:
    """The campaign influence page for one start date and filters (and its message).

    ``end``: the end of the campaign setting's end day (default: the as-of time).
    """
    query = key.query()
    assert query.start is not None
    loaded = rows(_engine, url, key)
    report = an.campaign_report(
        loaded.rows,
        start=query.start,
        end=end if end is not None else query.as_of,
        filters=filters,
        tz=key.timezone,
        preview_rows=PREVIEW_ROWS,
    )
    return report, loaded.message


def csv(_engine: Engine, url: str, key: QueryKey, filters: an.Filters) -> bytes:
    """CSV bytes of a page's (filtered) journeys; equal to `journey export` unfiltered.

    Made on click (a download's ``data=``) from the cached rows; the bytes are not kept.
    """
    return build_csv(rows(_engine, url, key).rows, filters, mask_pii=key.mask_pii)


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
    from the warehouse, at most :data:`~journey_core.warehouse.attribution.EVENT_TYPE_LIMIT`."""
    mapping = verify_schema(_engine, load_mapping(key.mapping))
    with reading(_engine, mapping) as conn:
        rows = conn.execute(wa.event_types_statement(key.query(), mapping)).all()
    return [str(row[0]) for row in rows]


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
    computed by the warehouse (person-level tables: their first :data:`PREVIEW_ROWS` rows).

    ``filters``: only the people the campaign page's filters keep; ``end``: conversions up to
    the end of the campaign setting's end day (default: the as-of time).
    """
    query = key.query()
    assert query.start is not None
    mapping = verify_schema(_engine, load_mapping(key.mapping))
    settings = inputs.settings(channel_config(key))
    report, people = wa.attribution_report(
        _engine,
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


def key_of(ctx: PageContext, query: JourneyQuery) -> tuple[Engine, str, QueryKey]:
    """The first three arguments of every cached loader (and the rule for the run's log line)."""
    runlog.note(rule=query.rule.value, email=query.email)
    key = QueryKey.of(
        query,
        mapping=ctx.settings.mapping,
        channels=ctx.channels_file,
        mask_pii=ctx.settings.mask_pii,
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
    """The funnel of a campaign cohort (``key`` has an event date), computed by the warehouse
    (:mod:`journey_core.warehouse.funnel`); with ``people`` = (step, outcome, group), the
    people who reached or dropped off there (at most :data:`.funnel.PEOPLE_LIMIT`, by email)."""
    mapping = verify_schema(_engine, load_mapping(key.mapping))
    query, config = key.query(), channel_config(key)
    if people is None:
        return funnel_figures(_engine, query, mapping, config, spec=spec, filters=filters)
    step, outcome, group = people
    return funnel_people(
        _engine,
        query,
        mapping,
        config,
        spec=spec,
        filters=filters,
        step=step,
        outcome=outcome,
        group=group,
    )
