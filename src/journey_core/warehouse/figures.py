"""Page figures as warehouse aggregates: visits, touches, channels and the dashboard's figures
in SQL, each figure ONE SQLAlchemy Core statement over :func:`journey_statement`.

The Polars modules stay the definition and the oracle: :mod:`journey_core.analytics.sessions`
(visits, touches, conversions), :mod:`journey_core.analytics.channels` (the channel grouping)
and :mod:`journey_core.analytics.campaign` (the figures). Here the same rules are built as SQL:

- :func:`touch_rows`: the journey rows with their visit (30 minutes of inactivity; the
  result rows carry no ``session_id``), whether each is a touch, and the channel, source,
  medium and campaign of its touch in force, all generated from a
  :class:`~journey_core.analytics.channels.ChannelConfig` (its rules become one ``CASE``,
  its source categories ``IN`` lists of bound values).
- Aggregates over it returning only figures: :func:`kpis_statement`,
  :func:`trend_statement`, :func:`breakdown_statement`, :func:`touchpoints_statement`;
  :func:`campaign_figures` and :func:`recent_figures` run them and return what
  :mod:`~journey_core.analytics.campaign` returns for the same rows.

Portable like :mod:`journey_core.warehouse.native`: every value (times, names, patterns,
day boundaries computed in Python for the time zone) is a bound parameter, every window is
fully ordered, and what engines spell differently is a small ``@compiles`` construct of
:mod:`journey_core.warehouse.constructs` (regex search and extraction, the visit gap, Unicode
lower case), shared with the statements.

Engine limits: a rule's regular expression is read by each engine's regex flavour (RE2,
Java, Python, PostgreSQL's ARE), which agree on the built-in rules; SQLite needs an engine
from :func:`journey_core.warehouse.create_engine` (it registers the Unicode ``lower`` and
the regex extraction this module uses).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.schema import DropTable
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.analytics import channels as ch
from journey_core.analytics.campaign import Exclusion, Filters, Kpis
from journey_core.analytics.channels import ChannelConfig, ChannelRule
from journey_core.analytics.sessions import CONVERSION_EVENTS, SESSION_GAP
from journey_core.errors import InputError
from journey_core.progress import report, stage
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse.cohort import Steps, active_store, scratch
from journey_core.warehouse.constructs import (
    analyze_table,
    bucket_of,
    gap_exceeded,
    inlined,
    materialized,
    regex_group,
    regex_search,
    running_max,
    running_max_before,
    temp_table_as,
    time_bound,
    unicode_lower,
)
from journey_core.warehouse.engine import memory_bounded, memory_limit_bytes
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping
from journey_core.warehouse.native import UNICODE_SPACE, bytewise, journey_statement, trim_space
from journey_core.warehouse.read import read_rows
from journey_core.warehouse.sqltypes import Timestamp
from journey_core.warehouse.statements import admitted_rows, journey_rows, window_values

__all__ = [
    "BUCKET_ROW_BYTES",
    "CHANNEL_INPUTS",
    "DAY_INDEX",
    "FIGURE_COLUMNS",
    "HOST_PATTERN",
    "HOUR_INDEX",
    "ONE_BUCKET",
    "STAGE_PREVIOUS",
    "STEP_CHANNELS",
    "STEP_EVENTS",
    "STEP_GROUPS",
    "STEP_PART",
    "STEP_TOUCHES",
    "TOUCH_COLUMNS",
    "BreakdownFigures",
    "CampaignFigures",
    "RecentFigures",
    "breakdown_figures",
    "breakdown_statement",
    "bucket_budget",
    "bucket_steps",
    "campaign_figures",
    "campaign_touches",
    "channel_columns",
    "cohort_touches",
    "combined",
    "counted_conversion",
    "counted_revenue",
    "day_bounds",
    "filtered_people",
    "held",
    "hour_bounds",
    "hourly_statement",
    "kpis_statement",
    "period_queries",
    "previous_kpis",
    "recent_figures",
    "row_order",
    "rows_steps",
    "scoped_rows",
    "split",
    "touch_rows",
    "touch_source",
    "touch_steps",
    "touches_of",
    "touchpoints_statement",
    "trend_by_statement",
    "trend_statement",
    "with_dimension",
]

_SPACE_CLASS: Final = "".join(UNICODE_SPACE)
#: ``channels._URL_HOST`` for text that is already trimmed, with ``\s`` spelled out as the
#: literal Unicode whitespace (every regex flavour reads those the same).
HOST_PATTERN: Final = (
    r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//(?:[^@/?#]*@)?([^/:?#" + _SPACE_CLASS + "]+)"
)
_SECOND_LEVEL: Final = r"([a-z0-9-]+)\.(?:(?:co|com|org|net|ac|gov|edu|ne|or)\.)?[a-z]{2,}$"
_AFTER_FIRST_LABEL: Final = r"^[^.]+(\..*)$"  # group: "." and the rest (never empty)


# --------------------------------------------------------------------------- regex
def _search(value: sa.ColumnElement[Any], pattern: str) -> sa.ColumnElement[bool]:
    return regex_search(value, sa.literal("(?i)" + pattern), sa.literal(pattern))


def _group(value: sa.ColumnElement[Any], pattern: str) -> sa.ColumnElement[str]:
    return regex_group(value, sa.literal(pattern))


# --------------------------------------------------------------------------- channels
def _lit(value: str) -> sa.ColumnElement[str]:
    return sa.literal(value, sa.String())


def _text(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """``channels.text_expr``: trimmed of Unicode whitespace, blank as null."""
    trimmed = trim_space(column)
    return sa.case((sa.func.length(trimmed) > 0, trimmed), else_=sa.null())


def _strip_www(host: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    return sa.case(
        (sa.func.substr(host, 1, 4) == _lit("www."), sa.func.substr(host, 5)), else_=host
    )


def _host(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """``channels.host_expr``: the lower-case host without ``www.``, null if none."""
    return _strip_www(unicode_lower(_group(_text(column), HOST_PATTERN)))


def _lookup(value: sa.ColumnElement[str], categories: dict[str, list[str]]) -> Any:
    """The source category of ``value`` (``channels._lookup``): one IN list per category."""
    if not categories:
        return sa.null()
    whens = [(value.in_(keys), _lit(cat)) for cat, keys in categories.items()]
    return sa.case(*whens, else_=sa.null())


def _without_first_label(host: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """``host`` without ``^[^.]+\\.``, unchanged when that does not match."""
    rest = _group(host, _AFTER_FIRST_LABEL)
    return sa.case((rest.is_(None), host), else_=sa.func.substr(rest, 2))


def _referrer_category(
    host: sa.ColumnElement[str], parent: sa.ColumnElement[str], cats: dict[str, list[str]]
) -> Any:
    """``channels._referrer_category``: the host, a parent domain, or its second-level label.

    ``parent`` is :func:`_without_first_label` of ``host`` (a column, computed once).
    """
    grandparent = _without_first_label(parent)
    return sa.func.coalesce(
        _lookup(host, cats),
        sa.case((parent.like(_lit("%.%")), _lookup(parent, cats)), else_=sa.null()),
        sa.case((grandparent.like(_lit("%.%")), _lookup(grandparent, cats)), else_=sa.null()),
        _lookup(_group(host, _SECOND_LEVEL), cats),
    )


def _rule_condition(rule: ChannelRule, cols: sa.ColumnCollection[str, Any]) -> Any:
    """``channels._rule_condition``: every condition of the rule (null counts as false)."""
    lowered = {"source": cols["_ls"], "medium": cols["_lm"], "campaign": cols["_lc"]}
    conds: list[sa.ColumnElement[bool]] = []
    for key, col in lowered.items():
        values: tuple[str, ...] = getattr(rule, key)
        if values:
            conds.append(col.in_([v.lower() for v in values]))
    if rule.source_category:
        conds.append(cols["_cat"].in_(list(rule.source_category)))
    for key, col in lowered.items():
        pattern: str | None = getattr(rule, f"{key}_regex")
        if pattern is not None:
            conds.append(_search(col, pattern))
    return sa.and_(*conds)


#: The event columns a row's channel is classified from.
CHANNEL_INPUTS: Final = (c.UTM_SOURCE, c.UTM_MEDIUM, c.UTM_CAMPAIGN, c.REFERRER, c.PAGE_URL)
_ACQUISITION: Final = (c.CHANNEL, c.SOURCE, c.MEDIUM, c.CAMPAIGN)
_ACQ: Final = "_acq"  # the number of a row's acquisition (channel_columns)
_SESSION_DIMENSIONS: Final = (c.SESSION_SOURCE, c.SESSION_MEDIUM, c.SESSION_CAMPAIGN)
_DIMENSIONS: Final = (c.CHANNEL, *_SESSION_DIMENSIONS)
DAY_INDEX: Final = "_day_index"
HOUR_INDEX: Final = "_hour_index"


def channel_columns(
    rows: sa.CTE,
    config: ChannelConfig,
    *,
    tag: str = "journey",
    inputs: sa.Select[Any] | None = None,
) -> tuple[sa.CTE, sa.CTE]:
    """``rows`` with each row's own acquisition, as :func:`.sessions._acquisition` gives it,
    and the acquisitions it refers to.

    The rows gain ``_own`` (1 when the row carries its own acquisition: UTM tags or an
    external referrer, else 0) and ``_acq``, an integer naming the row's channel, source,
    medium and campaign in the acquisitions (columns ``_acq`` and those four; an internal
    referrer without tags: the *unassigned* channel, ``(not set)`` source and medium). Equal
    acquisitions have equal numbers, so the visits' windows carry and compare one integer,
    not four texts.
    As :func:`.channels.classify` does, each distinct combination of inputs is classified
    once and joined back (on equalities only, so that engines can hash the join).
    ``inputs``: distinct combinations (columns :data:`CHANNEL_INPUTS`) that include every one
    of ``rows`` (:func:`~.statements.window_values`); without it they are read from ``rows``,
    which engines then hold (or, Spark, compute twice).
    """
    if inputs is None:
        inputs = sa.select(*(rows.c[name] for name in CHANNEL_INPUTS)).distinct()
    keys = _stage(inputs, f"{tag}_channel_keys")
    classified = _classified(keys, config, tag=tag).c
    number = sa.func.dense_rank().over(
        order_by=[bytewise(classified[name]).asc().nulls_last() for name in _ACQUISITION]
    )
    coded = _stage(sa.select(*classified, number.label(_ACQ)), f"{tag}_channel_numbers")
    found = coded.c
    acquisitions = (
        sa.select(found[_ACQ], *(found[name] for name in _ACQUISITION))
        .distinct()
        .cte(f"{tag}_acquisitions")
    )
    empty = _lit("")

    def same(a: sa.ColumnElement[Any], b: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        missing = [sa.case((x.is_(None), sa.literal(1)), else_=sa.literal(0)) for x in (a, b)]
        return sa.and_(
            sa.func.coalesce(a, empty) == sa.func.coalesce(b, empty), missing[0] == missing[1]
        )

    on = sa.and_(*(same(rows.c[name], found[name]) for name in CHANNEL_INPUTS))
    acquired = (
        sa.select(*rows.c, found["_own"], found[_ACQ])
        .select_from(rows.join(coded, on))
        .cte(f"{tag}_acquisition")
    )
    return acquired, acquisitions


# Without it, engines that inline a CTE referenced once (PostgreSQL, SQLite, DuckDB) evaluate
# each stage's expressions again at every reference of a later stage.
def _stage(stmt: sa.Select[Any], name: str) -> sa.CTE:
    return materialized(stmt.cte(name))


def _classified(rows: sa.CTE, config: ChannelConfig, *, tag: str) -> sa.CTE:
    """The classification stages over the distinct inputs ``rows``."""
    base = rows.c
    one, zero = sa.literal(1), sa.literal(0)
    hosts = _stage(
        sa.select(
            *base,
            _text(base[c.UTM_SOURCE]).label("_t_source"),
            _text(base[c.UTM_MEDIUM]).label("_t_medium"),
            _text(base[c.UTM_CAMPAIGN]).label("_t_campaign"),
            _host(base[c.REFERRER]).label("_ref_host"),
            _host(base[c.PAGE_URL]).label("_page_host"),
        ),
        f"{tag}_channel_hosts",
    )
    h = hosts.c
    has_utm = sa.or_(*(h[name].is_not(None) for name in ("_t_source", "_t_medium", "_t_campaign")))
    ref_host, page_host = h["_ref_host"], h["_page_host"]
    internal_hosts = [host.lower().removeprefix("www.") for host in config.internal_hosts]
    external = [
        ref_host.is_not(None),
        sa.not_(sa.and_(page_host.is_not(None), ref_host == page_host)),
    ]
    if internal_hosts:
        external.append(ref_host.not_in(internal_hosts))
    inputs = _stage(
        sa.select(
            *(h[col.key] for col in rows.c),
            h["_t_source"],
            h["_t_medium"],
            h["_t_campaign"],
            sa.case((has_utm, one), else_=zero).label("_utm"),
            sa.case((sa.and_(*external), ref_host), else_=sa.null()).label("_ext"),
            sa.case((ref_host.is_not(None), one), else_=zero).label("_has_ref"),
        ),
        f"{tag}_channel_inputs",
    )
    parent = _without_first_label(inputs.c["_ext"]).label("_parent")
    stage1 = _stage(sa.select(*inputs.c, parent), f"{tag}_channel_domains")
    s1 = stage1.c
    cats: dict[str, list[str]] = {}
    for key, cat in config.source_categories.items():
        cats.setdefault(cat, []).append(key)
    with_utm, ext = s1["_utm"] == 1, s1["_ext"]
    utm_source = unicode_lower(s1["_t_source"])
    category = sa.case(
        (
            with_utm,
            sa.func.coalesce(_lookup(utm_source, cats), _lookup(_strip_www(utm_source), cats)),
        ),
        (ext.is_not(None), _referrer_category(ext, s1["_parent"], cats)),
        else_=sa.null(),
    )
    stage2 = _stage(sa.select(*s1, category.label("_cat")), f"{tag}_channel_category")
    s2 = stage2.c
    not_set = _lit(ch.NOT_SET)
    referral_medium = sa.case(
        (s2["_cat"] == _lit("search"), _lit("organic")), else_=_lit("referral")
    )
    source = sa.case(
        (s2["_utm"] == 1, sa.func.coalesce(s2["_t_source"], not_set)),
        (s2["_ext"].is_not(None), s2["_ext"]),
        else_=_lit(ch.DIRECT_SOURCE),
    )
    medium = sa.case(
        (s2["_utm"] == 1, sa.func.coalesce(s2["_t_medium"], not_set)),
        (s2["_ext"].is_not(None), referral_medium),
        else_=_lit(ch.NONE_MEDIUM),
    )
    own = sa.or_(s2["_utm"] == 1, s2["_ext"].is_not(None))
    internal = sa.and_(s2["_utm"] == 0, s2["_ext"].is_(None), s2["_has_ref"] == 1)
    stage3 = _stage(
        sa.select(
            *(s2[col.key] for col in rows.c),
            sa.case((own, one), else_=zero).label("_own"),
            sa.case((internal, one), else_=zero).label("_internal"),
            source.label(c.SOURCE),
            medium.label(c.MEDIUM),
            sa.func.coalesce(s2["_t_campaign"], not_set).label(c.CAMPAIGN),
            s2["_cat"],
        ),
        f"{tag}_channel_fields",
    )
    s3 = stage3.c
    lowered = _stage(
        sa.select(
            *s3,
            unicode_lower(s3[c.SOURCE]).label("_ls"),
            unicode_lower(s3[c.MEDIUM]).label("_lm"),
            unicode_lower(s3[c.CAMPAIGN]).label("_lc"),
        ),
        f"{tag}_channel_lowered",
    )
    s4 = lowered.c
    unassigned = _lit(config.unassigned)
    if config.rules:
        whens = [(_rule_condition(rule, s4), _lit(rule.channel)) for rule in config.rules]
        channel: Any = sa.case(*whens, else_=unassigned)
    else:
        channel = unassigned
    is_internal = s4["_internal"] == 1
    return sa.select(
        *(s4[col.key] for col in rows.c),
        s4["_own"],
        sa.case((is_internal, unassigned), else_=channel).label(c.CHANNEL),
        sa.case((is_internal, not_set), else_=s4[c.SOURCE]).label(c.SOURCE),
        sa.case((is_internal, not_set), else_=s4[c.MEDIUM]).label(c.MEDIUM),
        s4[c.CAMPAIGN],
    ).cte(f"{tag}_channels")


# --------------------------------------------------------------------------- touches
_ORDERED: Final = (c.EMAIL, c.OCCURRED_AT, c.EVENT_ID)  # a person's rows in time order


def row_order(cols: sa.ColumnCollection[str, Any]) -> list[sa.UnaryExpression[Any]]:
    """A person's rows in time order (``sessions._ORDER``; unique after de-duplication)."""
    return [
        cols[c.OCCURRED_AT].asc().nulls_last(),
        bytewise(cols[c.EVENT_ID]).asc().nulls_last(),
    ]


#: The columns of :func:`touch_rows`.
TOUCH_COLUMNS: Final[tuple[str, ...]] = (
    *c.RESULT_COLUMNS,
    c.SESSION,
    c.IS_SESSION_START,
    c.IS_TOUCH,
    c.CHANNEL,
    c.SESSION_SOURCE,
    c.SESSION_MEDIUM,
    c.SESSION_CAMPAIGN,
)


#: The result columns the campaign and recent figures read from :func:`touch_rows` (the
#: others, URLs and UTM tags among them, only feed the channel grouping).
FIGURE_COLUMNS: Final[tuple[str, ...]] = (
    c.EMAIL,
    c.KNOWN_AT,
    c.OCCURRED_AT,
    c.EVENT_ID,
    c.EVENT_TYPE,
    c.REVENUE,
)


def touch_rows(
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    *,
    gap: dt.timedelta = SESSION_GAP,
    columns: Sequence[str] = c.RESULT_COLUMNS,
) -> sa.CTE:
    """The journey rows of ``query`` with visits and touches, as ``campaign.with_sessions``.

    Columns :data:`TOUCH_COLUMNS`: ``session`` (1, 2, ... per person), ``is_session_start``
    and ``is_touch`` (1 or 0), and the channel, source, medium and campaign of each row's
    touch in force (``session_source`` etc.). A CTE, for the aggregates to group.
    ``columns``: the result columns kept (see :func:`touches_of`).
    """
    journeys = journey_statement(query, mapping).order_by(None).cte("journey_result")
    # The channel inputs of a cohort's rows come from its window's events (a superset), so
    # the rows are read once; one person's (the email rules) from those rows themselves.
    inputs = None if query.email is not None else window_values(query, mapping, CHANNEL_INPUTS)
    return touches_of(journeys, config, gap=gap, columns=columns, inputs=inputs)


def touches_of(
    journeys: sa.CTE,
    config: ChannelConfig | None = None,
    *,
    gap: dt.timedelta = SESSION_GAP,
    repeats: bool = False,
    tag: str = "journey",
    columns: Sequence[str] = c.RESULT_COLUMNS,
    inputs: sa.Select[Any] | None = None,
) -> sa.CTE:
    """:func:`touch_rows` over any journey rows ``journeys`` (a CTE with the result columns).

    With ``repeats`` (``sessions.with_touches(repeats=True)``, as attribution counts them),
    every row carrying its own acquisition is a touch, even one repeating the one in force.
    ``tag`` starts the names of its CTEs (two over different rows can share a statement).
    ``columns`` are the result columns kept once the channels are found (email, occurred_at
    and event_id always): the visits' sorts and windows carry only those (PostgreSQL sorts
    and spills whole rows; page URLs and referrers are most of a row's width). ``inputs``: as
    :func:`channel_columns` takes them.
    """
    kept = [name for name in c.RESULT_COLUMNS if name in {*columns, *_ORDERED}]
    cfg = config or ChannelConfig.default()
    rows, acquisitions = channel_columns(journeys, cfg, tag=tag, inputs=inputs)
    acquired = rows.c
    one, zero = sa.literal(1), sa.literal(0)
    # Pass 1, the one sort by time: the previous row's time and each row's place (_seq).
    # Partitions by email in bytes (bytewise): any order of the people serves, and
    # PostgreSQL sorts "C" text several times faster than text under a linguistic collation.
    person = bytewise(acquired[c.EMAIL])
    ordered: dict[str, Any] = {"partition_by": person, "order_by": row_order(acquired)}
    sequenced = sa.select(
        *(acquired[name] for name in kept),
        acquired["_own"],
        acquired[_ACQ],
        sa.func.lag(acquired[c.OCCURRED_AT]).over(**ordered).label("_previous"),
        sa.func.row_number().over(**ordered).label("_seq"),
    ).cte(f"{tag}_previous")
    sq = sequenced.c
    gap_us = sa.literal(int(gap / dt.timedelta(microseconds=1)), sa.BigInteger())
    new = sa.or_(
        sq["_previous"].is_(None), gap_exceeded(sq["_previous"], sq[c.OCCURRED_AT], gap_us)
    )
    starts = sa.case((new, one), else_=zero)
    acquiring = sa.or_(sq["_own"] == 1, new)
    # Pass 2, ordered by the integer _seq: the running count of visits, and the acquisition
    # in force: that of the last acquiring row (each row carrying its own acquisition, and
    # each visit's first row), carried forward; before the row too, to tell whether an
    # acquiring row changes it (unless every own acquisition is a touch: ``repeats``). The
    # last acquiring row's is the running max of _seq * _SPAN + _acq over acquiring rows:
    # integers in one sort, in every engine (no IGNORE NULLS needed).
    person = bytewise(sq[c.EMAIL])
    span = sa.literal(_SPAN, sa.BigInteger())
    coded = sa.case((acquiring, sq["_seq"] * span + sq[_ACQ]), else_=sa.null())

    def in_force(last: type[running_max]) -> sa.ColumnElement[int]:
        return last(coded, person, sq["_seq"]) % span

    numbered = sa.select(
        *(sq[name] for name in kept),
        sq["_own"],
        starts.label(c.IS_SESSION_START),
        sa.func.sum(starts)
        .over(partition_by=person, order_by=sq["_seq"], rows=(None, 0))
        .label(c.SESSION),
        in_force(running_max).label("_in"),
        *([] if repeats else [in_force(running_max_before).label("_was")]),
    ).subquery(f"{tag}_visits")
    nb = numbered.c
    own = nb["_own"] == 1
    if repeats:
        is_touch = sa.or_(nb[c.IS_SESSION_START] == 1, own)
    else:
        is_touch = sa.or_(nb[c.IS_SESSION_START] == 1, sa.and_(own, nb["_in"] != nb["_was"]))
    found = acquisitions.c
    renamed = dict(zip(_ACQUISITION, (c.CHANNEL, *_SESSION_DIMENSIONS), strict=True))
    return (
        sa.select(
            *(nb[name] for name in kept),
            nb[c.SESSION],
            nb[c.IS_SESSION_START],
            sa.case((is_touch, one), else_=zero).label(c.IS_TOUCH),
            *(found[name].label(renamed[name]) for name in _ACQUISITION),
        )
        .select_from(numbered.join(acquisitions, found[_ACQ] == nb["_in"]))
        .cte(f"{tag}_touches")
    )


_SPAN: Final = 1 << 32
"""Above every acquisition number (:func:`channel_columns`): ``_seq * _SPAN + _acq`` orders by
``_seq`` and keeps ``_acq`` (a person's rows number far below 2**31)."""


# --------------------------------------------------------------------------- aggregates
def touch_source(
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    *,
    columns: Sequence[str] = c.RESULT_COLUMNS,
) -> sa.CTE:
    """The rows of :func:`touch_rows` as the figures read them: inside a
    :func:`~journey_core.warehouse.cohort.cohort_session`, a CTE over the TEMP table the
    session holds them in (run once per input set, every column; a cohort's under a memory
    limit by :func:`touch_steps`); elsewhere :func:`touch_rows` itself, with the result
    ``columns``."""
    store = active_store()
    if store is None:
        return touch_rows(query, mapping, config, columns=columns)
    cfg = config or ChannelConfig.default()
    budget = bucket_budget()
    if budget is None and store.source.dialect.name == "postgresql":
        budget = ONE_BUCKET  # two steps: the bar shows them, and the planner knows the rows

    def build() -> sa.CTE | Steps:
        if budget is None or query.email is not None:
            return touch_rows(query, mapping, cfg)
        return touch_steps(query, mapping, cfg, bucket_rows=budget)

    table = store.rows(query, mapping, cfg, build)
    return _held(table)


def bucket_budget() -> int | None:
    """Rows a bucket of a cohort built in steps may hold (:func:`touch_steps`,
    :func:`rows_steps`): inside a :func:`~journey_core.warehouse.cohort.cohort_session` on an
    engine with a memory limit (DuckDB's), that limit over :data:`BUCKET_ROW_BYTES`; else
    ``None`` (one statement builds a held table).

    >>> bucket_budget() is None  # outside a cohort session
    True
    """
    store = active_store()
    limit = None if store is None else memory_limit_bytes(store.source)
    return None if limit is None else max(1, limit // BUCKET_ROW_BYTES)


BUCKET_ROW_BYTES: Final = 100
"""Bytes of DuckDB's memory limit a row of one bucket of :func:`touch_steps` is given (256 MB:
2.56M rows a bucket). Measured on the demo (bench/RESULTS.md, "The cohort in steps"): at 10M
events (2.3M rows, one bucket) under 256 MB the campaign figures and the previous period's
took 36 s (46 s as one statement); at 100M (22.9M rows, nine buckets) 422 s, where the one
statement ran out of memory; with 1,024 bytes a row (92 buckets) 791 s."""

ONE_BUCKET: Final = sys.maxsize
"""The ``bucket_rows`` of a cohort built in steps on PostgreSQL (:func:`touch_source`): the
admitted rows into a table, then the rest as one statement over them (no bucket of people;
PostgreSQL's sorts and hashes spill under its own ``work_mem``). Measured at 10M events (bench
demo, ``campaign_figures`` with the previous period): 52.3 s against 52.6 s as one statement,
with a bar of the two steps on the page instead of a spinner alone."""

_BUCKET = "_bucket"

STEP_EVENTS: Final = "finding the cohort's events"
STEP_TOUCHES: Final = "building the cohort's visits and touches"
STEP_GROUPS: Final = "grouping the cohort's events by person"
STEP_CHANNELS: Final = "classifying the cohort's channels"
STEP_PART: Final = "visits and touches, part {part} of {parts}"
"""What :func:`touch_steps` reports of each step (``journey_core.progress``)."""
STAGE_PREVIOUS: Final = "the previous period (from {start:%d %b %Y})"
"""What the steps of the previous period's cohort are told under (:func:`campaign_figures`;
``journey_core.progress.stage``), so a bar that starts again says why."""

_SHARE_EVENTS, _SHARE_GROUPS, _SHARE_PARTS = 0.35, 0.24, 0.39
"""The share of the bar each step of :func:`touch_steps` takes, as measured at 100M events
(bench/RESULTS.md): the admitted rows 90 s, their grouping 62 s, the channels 2 s, the nine
parts 100 s; the channels take what is left (0.02)."""

_ANY_ORDER = sa.text("SET preserve_insertion_order = false")
_INSERTION_ORDER = sa.text("RESET preserve_insertion_order")
"""DuckDB may write the admitted rows in any order (their statement at 100M events: 62 s
instead of 90 s, the same peak; bench/RESULTS.md): every later step orders what it reads."""


def touch_steps(
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    *,
    bucket_rows: int,
) -> Steps:
    """:func:`touch_rows` of ``query`` (a cohort: no email) as steps that each hold a part of
    the cohort, for DuckDB under a memory limit, where the one statement's joins and windows
    run out of memory at scale (100M events under 256 MB: bench/RESULTS.md), and for
    PostgreSQL in one bucket (:data:`ONE_BUCKET`), so that its page shows the steps.

    1. the admitted rows (:func:`~journey_core.warehouse.statements.admitted_rows`) into a
       TEMP table;
    2. their de-duplication (:func:`~journey_core.warehouse.statements.journey_rows`) into
       another, each row with its person's bucket (:class:`bucket_of` the email; as many
       buckets as it takes for at most ``bucket_rows`` rows each, on average), sorted by
       bucket so that a bucket's rows are read alone;
    3. the window's distinct channel inputs (classified once per bucket: a few rows);
    4. :func:`touches_of` one bucket at a time into the cohort's table: visits and touches
       are a person's own, and a person's rows share a bucket.

    With one bucket, steps 2 to 4 are one statement over the admitted rows.

    Each step is told to :func:`journey_core.progress.report` (the ``STEP_*`` texts) with
    the share of the work done (each step weighted as measured at 100M events), so that a
    page can show a bar while the cohort is built.

    The rows are those of :func:`touch_rows` (``tests/integration/test_cohort_store.py``).
    """
    if query.email is not None:
        msg = "touch_steps is for a cohort's rows; one person's are one statement"
        raise ValueError(msg)
    cfg = config or ChannelConfig.default()
    admitted = admitted_rows(query, mapping)
    inputs = window_values(query, mapping, CHANNEL_INPUTS)

    def touches(rows: sa.TableClause, bucket: int, held_inputs: sa.TableClause) -> sa.CTE:
        part = sa.select(*(rows.c[name] for name in c.RESULT_COLUMNS))
        part = part.where(rows.c[_BUCKET] == bucket)
        return touches_of(part.cte("journey_result"), cfg, inputs=sa.select(*held_inputs.c))

    result = journey_rows(admitted).subquery("journey_rows_of_admitted")
    shape = _table("journey_rows_shape", [*result.c, sa.literal(0).label(_BUCKET)])
    touch_columns = touches(shape, 0, _table("inputs", list(inputs.selected_columns))).c
    columns = _columns(touch_columns)

    def fill(engine: Engine, name: str) -> None:
        steps = [f"{name}_admitted", f"{name}_rows", f"{name}_inputs"]
        run = _Run(engine)
        try:
            report(STEP_EVENTS, 0.0)
            adm, count = run.admitted(steps[0], admitted)
            buckets = max(1, -(-count // bucket_rows))
            deduplicated = journey_rows(sa.select(*adm.c).cte("journey_admitted")).subquery(
                "journey_deduplicated"
            )
            if buckets == 1:  # the rest as one statement over the admitted rows
                report(STEP_TOUCHES, _SHARE_EVENTS)
                rest = touches_of(
                    sa.select(*deduplicated.c).cte("journey_result"), cfg, inputs=inputs
                )
                run(temp_table_as(name, sa.select(*rest.c)))
                report(STEP_TOUCHES, 1.0)
                return
            report(STEP_GROUPS, _SHARE_EVENTS)
            bucket = bucket_of(deduplicated.c[c.EMAIL], buckets).label(_BUCKET)
            ordered = sa.select(*deduplicated.c, bucket).order_by(bucket.asc())
            run(temp_table_as(steps[1], ordered))
            run.drop(steps[0])
            rows = _table(steps[1], [*deduplicated.c, bucket])
            report(STEP_CHANNELS, _SHARE_EVENTS + _SHARE_GROUPS)
            run(temp_table_as(steps[2], inputs))
            held_inputs = _table(steps[2], list(inputs.selected_columns))
            run.parts(
                name,
                columns,
                buckets,
                lambda index: touches(rows, index, held_inputs),
                start=1 - _SHARE_PARTS,
            )
        except BaseException:
            run.discard(name)
            raise
        finally:
            run.discard(*steps)

    return Steps(fill=fill, columns=columns)


def rows_steps(
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    *,
    bucket_rows: int,
    people: sa.CTE,
    until: float = 1.0,
) -> Steps:
    """The rule's rows of ``query`` (a cohort) of the emails of ``people`` (a CTE with an
    ``email`` column), each with its person's bucket (``_bucket``, as :func:`touch_steps`
    gives them: at most ``bucket_rows`` of the admitted rows a bucket, on average), a bucket
    after another: steps 1 and 2 of :func:`touch_steps`, the people kept after the
    de-duplication (a rule's filter comes first). :func:`bucket_steps` then builds what is
    needed of them a bucket at a time. Its steps are reported from none of the bar to
    ``until`` of it (the rest is the buckets').
    """
    if query.email is not None:
        msg = "rows_steps is for a cohort's rows; one person's are one statement"
        raise ValueError(msg)
    admitted = admitted_rows(query, mapping)
    shape = journey_rows(admitted).subquery("journey_rows_of_admitted")
    columns = (*_columns(shape.c), sa.column(_BUCKET, sa.BigInteger()))
    grouped = until * _SHARE_EVENTS / (_SHARE_EVENTS + _SHARE_GROUPS)

    def fill(engine: Engine, name: str) -> None:
        steps = [f"{name}_admitted", f"{name}_rows"]
        run = _Run(engine)
        try:
            report(STEP_EVENTS, 0.0)
            adm, count = run.admitted(steps[0], admitted)
            buckets = max(1, -(-count // bucket_rows))
            report(STEP_GROUPS, grouped)
            rows = journey_rows(sa.select(*adm.c).cte("journey_admitted"))
            p = people.c
            if buckets == 1:  # the rest as one statement over the admitted rows
                one = rows.subquery("journey_deduplicated").c
                whole = sa.select(*one, sa.literal(0, sa.BigInteger()).label(_BUCKET))
                run(temp_table_as(name, whole.where(one[c.EMAIL].in_(sa.select(p[c.EMAIL])))))
                report(STEP_GROUPS, until)
                return
            run.unordered(temp_table_as(steps[1], rows))
            run.drop(steps[0])
            deduplicated = _table(steps[1], list(rows.selected_columns))
            d = deduplicated.c

            # A bucket at a time, its people's side too: at 100M events under 256 MB the
            # people's join and the sort by bucket as one statement ran out of memory.
            def kept(index: int) -> sa.CTE:
                mine = sa.select(p[c.EMAIL]).where(bucket_of(p[c.EMAIL], buckets) == index)
                bucket = sa.literal(index, sa.BigInteger()).label(_BUCKET)
                return (
                    sa.select(*d, bucket)
                    .where(bucket_of(d[c.EMAIL], buckets) == index, d[c.EMAIL].in_(mine))
                    .cte("journey_kept")
                )

            run.parts(name, columns, buckets, kept, start=grouped, end=until, step=STEP_GROUPS)
        except BaseException:
            run.discard(name)
            raise
        finally:
            run.discard(*steps)

    return Steps(fill=fill, columns=columns)


def bucket_steps(rows: sa.CTE, part: Callable[[sa.CTE], sa.CTE], *, start: float = 0.0) -> Steps:
    """``part`` of the rows of each bucket of ``rows`` (a held table of :func:`rows_steps`:
    the result columns and ``_bucket``) into one table, a bucket at a time; ``part`` must
    keep a person's rows together (visits and touches: a person's own). Each bucket is
    reported (:data:`STEP_PART`) from ``start`` of the bar to its end."""
    r = rows.c

    def of(bucket: int) -> sa.CTE:
        one = sa.select(*(r[name] for name in c.RESULT_COLUMNS)).where(r[_BUCKET] == bucket)
        return part(one.cte("journey_result"))

    columns = _columns(of(0).c)

    def fill(engine: Engine, name: str) -> None:
        last = sa.func.coalesce(sa.func.max(r[_BUCKET]), sa.literal(0, sa.BigInteger()))
        with engine.connect() as conn:
            buckets = int(conn.execute(sa.select(last)).scalar_one()) + 1
        run = _Run(engine)
        try:
            run.parts(name, columns, buckets, of, start=start)
        except BaseException:
            run.discard(name)
            raise

    return Steps(fill=fill, columns=columns)


def _table(name: str, source: Sequence[sa.ColumnElement[Any]]) -> sa.TableClause:
    """The held table ``name`` with the columns (names and types) of ``source``."""
    return sa.table(name, *(sa.column(str(col.key), col.type) for col in source))


def _columns(source: sa.ColumnCollection[str, Any]) -> tuple[sa.ColumnClause[Any], ...]:
    return tuple(sa.column(str(col.key), col.type) for col in source)


@dataclass(frozen=True)
class _Run:
    """The statements of a :class:`~journey_core.warehouse.cohort.Steps`' fill on the held
    ``engine``, each call in a transaction of its own."""

    engine: Engine

    def __call__(self, *statements: sa.Executable) -> None:
        scratch(self.engine, *statements)

    @property
    def _postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def drop(self, *tables: str) -> None:
        self(*(DropTable(sa.Table(table, sa.MetaData()), if_exists=True) for table in tables))

    def discard(self, *tables: str) -> None:
        """:meth:`drop`, cleaning up: the error that stopped the steps is the one to tell."""
        with contextlib.suppress(sa.exc.DBAPIError):
            self.drop(*tables)

    def unordered(self, statement: sa.Executable) -> None:
        """``statement`` (a table made), its rows written in any order (DuckDB's setting;
        PostgreSQL keeps no order anyway): a later step orders what it reads."""
        if self._postgres:
            self(statement)
            return
        self(_ANY_ORDER)
        try:
            self(statement)
        finally:
            with contextlib.suppress(sa.exc.DBAPIError):  # the step's error is the one
                self(_INSERTION_ORDER)

    def admitted(self, name: str, admitted: sa.CTE) -> tuple[sa.TableClause, int]:
        """The admitted rows into the table ``name``, in any order (``ANALYZE``d on
        PostgreSQL: the next step's plan needs their count); it and its rows."""
        self.unordered(temp_table_as(name, sa.select(*admitted.c)))
        if self._postgres:
            self(analyze_table(name))
        table = _table(name, list(admitted.c))
        with self.engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        return table, int(count)

    def parts(
        self,
        name: str,
        columns: Sequence[sa.ColumnClause[Any]],
        buckets: int,
        part: Callable[[int], sa.CTE],
        *,
        start: float = 0.0,
        end: float = 1.0,
        step: str = STEP_PART,
    ) -> None:
        """``part(0)`` into the table ``name``, then each other bucket's added, each step
        reported (``step``, formatted with ``part`` and ``parts``) from ``start`` of the bar
        to ``end``."""
        target = sa.table(name, *(sa.column(col.key) for col in columns))
        for index in range(buckets):
            done = start + (end - start) * index / buckets
            report(step.format(part=index + 1, parts=buckets), done)
            rows = sa.select(*part(index).c)
            if index == 0:
                self(temp_table_as(name, rows))
            else:
                self(sa.insert(target).from_select([col.key for col in columns], rows))
        report(step.format(part=buckets, parts=buckets), end)


_HELD = "_held"


def _held(table: sa.TableClause) -> sa.CTE:
    """A CTE over a held cohort table, read where it is referenced (:func:`inlined`)."""
    return inlined(sa.select(*table.c).cte(f"{table.name}{_HELD}"))


def _once(cte: sa.CTE) -> sa.CTE:
    """``cte`` hinted materialized, unless it only reads a held table (a copy of it)."""
    return cte if cte.name.endswith(_HELD) else materialized(cte)


def filtered_people(touches: sa.CTE, filters: Filters) -> sa.CTE:
    """``campaign.filter_people``: every row of the people with a row matching ``filters``."""
    if not filters.active:
        return touches
    t = touches.c
    wanted = {
        c.SESSION_CAMPAIGN: filters.campaigns,
        c.SESSION_SOURCE: filters.sources,
        c.SESSION_MEDIUM: filters.media,
        c.CHANNEL: filters.channels,
        c.EVENT_TYPE: filters.event_types,
    }
    matching = [t[name].in_(list(values)) for name, values in wanted.items() if values]
    people = sa.select(t[c.EMAIL]).where(*matching)
    return sa.select(*t).where(t[c.EMAIL].in_(people)).cte("journey_filtered")


def cohort_touches(
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    filters: Filters | None = None,
) -> sa.CTE:
    """:func:`touch_rows` of ``query`` for the people ``filters`` keep (:func:`filtered_people`)."""
    return filtered_people(touch_source(query, mapping, config), filters or Filters())


def scoped_rows(
    touches: sa.CTE, filters: Filters, *, lookback: dt.timedelta = an.CONVERSION_LOOKBACK
) -> sa.CTE:
    """``campaign.with_scope``: the rows with ``in_scope`` (1 or 0), whether the person had a
    touch matching the campaign/source/medium/channel ``filters`` at or before the row, at
    most ``lookback`` earlier; ``touches`` itself without such a filter."""
    if not filters.scoped:
        return touches
    t = touches.c
    matching = [
        t[name].in_(list(values)) for name, values in filters.touch_pairs().items() if values
    ]
    touch_at = sa.case((sa.and_(t[c.IS_TOUCH] == 1, *matching), t[c.OCCURRED_AT]), else_=sa.null())
    latest = sa.func.max(touch_at).over(
        partition_by=bytewise(t[c.EMAIL]), order_by=row_order(t), rows=(None, 0)
    )
    with_latest = sa.select(*t, latest.label("_latest_touch")).cte("journey_latest_touch")
    w = with_latest.c
    lookback_us = sa.literal(int(lookback / dt.timedelta(microseconds=1)), sa.BigInteger())
    within = sa.and_(
        w["_latest_touch"].is_not(None),
        sa.not_(gap_exceeded(w["_latest_touch"], w[c.OCCURRED_AT], lookback_us)),
    )
    return sa.select(
        *(w[col.key] for col in t),
        sa.case((within, sa.literal(1)), else_=sa.literal(0)).label(c.IN_SCOPE),
    ).cte("journey_scoped")


def _time(name: str, value: dt.datetime) -> sa.BindParameter[dt.datetime]:
    return sa.bindparam(name, value.astimezone(dt.UTC).replace(tzinfo=None), type_=Timestamp())


def _conversion(
    rows: sa.ColumnCollection[str, Any], events: Sequence[str]
) -> sa.ColumnElement[int]:
    """1 for a conversion (``sessions.is_conversion``), else 0."""
    hit = rows[c.EVENT_TYPE].in_(list(events)) if events else sa.false()
    return sa.case((hit, sa.literal(1)), else_=sa.literal(0))


def _revenue(rows: sa.ColumnCollection[str, Any]) -> sa.ColumnElement[float]:
    return sa.func.coalesce(rows[c.REVENUE], sa.literal(0.0))


def _counted(
    rows: sa.ColumnCollection[str, Any], since: dt.datetime | None, *, scoped: bool = True
) -> sa.ColumnElement[bool] | None:
    """Which rows' conversions the figures count (``campaign._counted``): those at or after
    ``since``, and in scope when the rows have ``in_scope`` (unless not ``scoped``); ``None``
    for every row."""
    parts: list[sa.ColumnElement[bool]] = []
    if since is not None:
        parts.append(rows[c.OCCURRED_AT] >= time_bound("counted_since", since, lower=True))
    if scoped and c.IN_SCOPE in rows:
        parts.append(rows[c.IN_SCOPE] == 1)
    return sa.and_(*parts) if parts else None


def counted_conversion(
    rows: sa.ColumnCollection[str, Any],
    events: Sequence[str],
    since: dt.datetime | None = None,
    *,
    scoped: bool = True,
) -> sa.ColumnElement[int]:
    """The conversions the figures count, 1 or 0 per row: only rows at or after ``since``,
    and only rows ``in_scope`` when the rows have it (``campaign._conversions``)."""
    counted = _counted(rows, since, scoped=scoped)
    if counted is None:
        return _conversion(rows, events)
    return sa.case((counted, _conversion(rows, events)), else_=sa.literal(0))


def counted_revenue(
    rows: sa.ColumnCollection[str, Any], since: dt.datetime | None = None, *, scoped: bool = True
) -> sa.ColumnElement[float]:
    """The revenue the figures count, as :func:`counted_conversion` counts conversions."""
    counted = _counted(rows, since, scoped=scoped)
    if counted is None:
        return _revenue(rows)
    return sa.case((counted, _revenue(rows)), else_=sa.literal(0.0))


def _people(value: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """How many distinct ``value`` (emails), compared as bytes (see :func:`touches_of`)."""
    return sa.func.count(sa.distinct(bytewise(value)))


def kpis_statement(
    touches: sa.CTE,
    *,
    since: dt.datetime | None = None,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
) -> sa.Select[Any]:
    """ONE row: people, events, sessions, conversions, revenue, newly known, cohort,
    conversions and revenue any time (``campaign.kpis``).

    ``newly_known`` and ``cohort`` are null without ``since``; conversions and revenue count
    from ``since`` (``campaign.kpis``); the any-time figures are null unless the rows carry
    ``in_scope`` (:func:`scoped_rows`), which then scopes the others.
    """
    t = touches.c
    if since is None:
        people: Any = _people(t[c.EMAIL])
        newly: Any = sa.null()
        cohort: Any = sa.null()
    else:
        active = sa.case((t[c.OCCURRED_AT] >= _time("since", since), t[c.EMAIL]))
        known = sa.case((t[c.KNOWN_AT] >= _time("known_since", since), t[c.EMAIL]))
        people, newly = _people(active), _people(known)
        cohort = _people(t[c.EMAIL])
    any_conversions: Any = sa.null()
    any_revenue: Any = sa.null()
    if c.IN_SCOPE in t:
        every = counted_conversion(t, conversion_events, since, scoped=False)
        any_conversions = sa.func.coalesce(sa.func.sum(every), 0)
        any_revenue = sa.func.coalesce(sa.func.sum(counted_revenue(t, since, scoped=False)), 0.0)
    return sa.select(
        people.label(c.PEOPLE),
        sa.func.count().label(c.EVENTS),
        sa.func.coalesce(sa.func.sum(t[c.IS_SESSION_START]), 0).label(c.SESSIONS),
        sa.func.coalesce(sa.func.sum(counted_conversion(t, conversion_events, since)), 0).label(
            c.CONVERSIONS
        ),
        sa.func.coalesce(sa.func.sum(counted_revenue(t, since)), 0.0).label(c.REVENUE),
        newly.label(c.NEWLY_KNOWN_PEOPLE),
        cohort.label("cohort"),
        any_conversions.label("conversions_any_time"),
        any_revenue.label("revenue_any_time"),
    ).select_from(touches)


def day_bounds(start: dt.datetime, end: dt.datetime, tz: str) -> list[tuple[dt.date, dt.datetime]]:
    """Each local day from ``start``'s to ``end``'s with the UTC instant it begins.

    >>> [(d.isoformat(), t.isoformat()) for d, t in day_bounds(
    ...     dt.datetime(2022, 7, 1, 12, tzinfo=dt.UTC),
    ...     dt.datetime(2022, 7, 2, 3, tzinfo=dt.UTC), "Asia/Tokyo")]
    [('2022-07-01', '2022-06-30T15:00:00+00:00'), ('2022-07-02', '2022-07-01T15:00:00+00:00')]
    """
    zone = ZoneInfo(tz)
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    days = [first + dt.timedelta(days=i) for i in range((max(first, last) - first).days + 1)]
    return [(d, dt.datetime.combine(d, dt.time(), zone).astimezone(dt.UTC)) for d in days]


def _day_index(
    at: sa.ColumnElement[Any], bounds: list[tuple[dt.date, dt.datetime]], tag: str
) -> Any:
    """The index of the local day ``at`` falls on (bounds computed in Python, bound here)."""
    whens = [
        (at < _time(f"{tag}_day_{i}", bounds[i][1]), sa.literal(i - 1))
        for i in range(1, len(bounds))
    ]
    last = sa.literal(len(bounds) - 1)
    return sa.case(*whens, else_=last) if whens else last


def trend_statement(
    touches: sa.CTE,
    *,
    start: dt.datetime,
    end: dt.datetime,
    tz: str = "UTC",
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
) -> sa.Select[Any]:
    """Per local day index (see :func:`day_bounds`): events, people, conversions, newly known.

    Rows only for days with activity or newly known people (``campaign.daily_trend`` adds
    the empty days).
    """
    t = touches.c
    bounds = day_bounds(start, end, tz)
    at = t[c.OCCURRED_AT]
    dated = (
        sa.select(
            _day_index(at, bounds, "event").label(DAY_INDEX),
            t[c.EMAIL],
            counted_conversion(t, conversion_events).label(c.CONVERSIONS),
        )
        .where(at >= _time("trend_start", start), at <= _time("trend_end", end))
        .subquery("journey_event_days")
    )
    ed = dated.c
    activity = sa.select(
        ed[DAY_INDEX],
        sa.func.count().label(c.EVENTS),
        _people(ed[c.EMAIL]).label(c.PEOPLE),
        sa.func.sum(ed[c.CONVERSIONS]).label(c.CONVERSIONS),
        sa.literal(0).label(c.NEWLY_KNOWN_PEOPLE),
    ).group_by(ed[DAY_INDEX])
    people = (
        sa.select(t[c.EMAIL], sa.func.min(t[c.KNOWN_AT]).label(c.KNOWN_AT))
        .group_by(t[c.EMAIL])
        .subquery("journey_known")
    )
    pk = people.c[c.KNOWN_AT]
    known_days = (
        sa.select(_day_index(pk, bounds, "known").label(DAY_INDEX))
        .where(pk >= _time("known_start", start), pk <= _time("known_end", end))
        .subquery("journey_known_days")
    )
    kd = known_days.c
    known = sa.select(
        kd[DAY_INDEX],
        sa.literal(0).label(c.EVENTS),
        sa.literal(0).label(c.PEOPLE),
        sa.literal(0).label(c.CONVERSIONS),
        sa.func.count().label(c.NEWLY_KNOWN_PEOPLE),
    ).group_by(kd[DAY_INDEX])
    both = sa.union_all(activity, known).subquery("journey_days")
    b = both.c
    figures = (c.EVENTS, c.PEOPLE, c.CONVERSIONS, c.NEWLY_KNOWN_PEOPLE)
    return (
        sa.select(b[DAY_INDEX], *(sa.func.sum(b[name]).label(name) for name in figures))
        .group_by(b[DAY_INDEX])
        .order_by(b[DAY_INDEX])
    )


def hour_bounds(
    start: dt.datetime, end: dt.datetime, tz: str
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Each local hour from ``start`` to ``end``: its naive local label and the UTC instant
    it begins (``start`` itself for the first). Offsets are whole quarter hours.

    >>> [(h.isoformat(), u.isoformat()) for h, u in hour_bounds(
    ...     dt.datetime(2022, 7, 1, 12, 10, tzinfo=dt.UTC),
    ...     dt.datetime(2022, 7, 1, 13, 40, tzinfo=dt.UTC), "Asia/Kolkata")]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('2022-07-01T17:00:00', '2022-07-01T12:10:00+00:00'),
     ('2022-07-01T18:00:00', '2022-07-01T12:30:00+00:00'),
     ('2022-07-01T19:00:00', '2022-07-01T13:30:00+00:00')]
    """
    zone = ZoneInfo(tz)
    first = start.astimezone(zone).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    out = [(first, start.astimezone(dt.UTC))]
    quarter = dt.timedelta(minutes=15)
    at = start.astimezone(dt.UTC).replace(second=0, microsecond=0)
    at = at - dt.timedelta(minutes=at.minute % 15) + quarter
    while at <= end:
        local = at.astimezone(zone)
        if local.minute == 0:
            out.append((local.replace(tzinfo=None), at))
        at += quarter
    return out


def hourly_statement(
    touches: sa.CTE, *, start: dt.datetime, end: dt.datetime, tz: str = "UTC"
) -> sa.Select[Any]:
    """``campaign.hourly_by_channel``: events per local hour (an index into the distinct
    labels of :func:`hour_bounds`) and channel, between ``start`` and ``end``."""
    t = touches.c
    bounds = hour_bounds(start, end, tz)
    labels = list(dict.fromkeys(label for label, _ in bounds))
    index = {label: i for i, label in enumerate(labels)}
    at = t[c.OCCURRED_AT]
    whens = [
        (at < _time(f"hour_{i}", bounds[i][1]), sa.literal(index[bounds[i - 1][0]]))
        for i in range(1, len(bounds))
    ]
    last = sa.literal(index[bounds[-1][0]])
    hour = sa.case(*whens, else_=last) if whens else last
    dated = (
        sa.select(hour.label(HOUR_INDEX), t[c.CHANNEL])
        .where(at >= _time("hourly_start", start), at <= _time("hourly_end", end))
        .subquery("journey_hours")
    )
    d = dated.c
    return (
        sa.select(d[HOUR_INDEX], d[c.CHANNEL], sa.func.count().label(c.EVENTS))
        .group_by(d[HOUR_INDEX], d[c.CHANNEL])
        .order_by(d[HOUR_INDEX], bytewise(d[c.CHANNEL]).asc())
    )


def _dimension(
    t: sa.ColumnCollection[str, Any], by: str, since: dt.datetime | None
) -> sa.ColumnElement[Any]:
    """``campaign.with_dimension``'s column ``by`` over touch rows (null as ``(not set)``)."""
    not_set = _lit(ch.NOT_SET)
    if by == c.SOURCE_MEDIUM:
        pair = t[c.SESSION_SOURCE].concat(_lit(an.SOURCE_MEDIUM_SEPARATOR))
        return sa.func.coalesce(pair.concat(t[c.SESSION_MEDIUM]), not_set)
    if by == c.LANDING_PAGE:
        page = t[c.PAGE_URL]
        first = sa.func.first_value(page).over(
            partition_by=[bytewise(t[c.EMAIL]), t[c.SESSION]],
            order_by=[
                sa.case((page.is_(None), sa.literal(1)), else_=sa.literal(0)).asc(),
                *row_order(t),
            ],
            rows=(None, None),
        )
        return sa.func.coalesce(first, not_set)
    if by == c.ANONYMOUS_ID:
        return sa.func.coalesce(t[c.ANONYMOUS_ID], not_set)
    if since is None:
        raise InputError("by", "newly vs previously known needs the campaign start (since=).")
    newly = t[c.KNOWN_AT] >= _time("status_since", since)
    return sa.case((newly, _lit(an.NEWLY_KNOWN)), else_=_lit(an.PREVIOUSLY_KNOWN))


def with_dimension(
    touches: sa.CTE, by: str, since: dt.datetime | None
) -> sa.ColumnCollection[str, Any]:
    """The columns of ``touches`` plus ``by`` (a subquery when ``by`` is computed)."""
    if by not in an.DIMENSIONS:
        msg = f"{by!r} is not a breakdown; use one of {', '.join(an.DIMENSIONS)}."
        raise InputError("by", msg)
    if by in _DIMENSIONS:
        return touches.c
    t = touches.c
    kept = [col for col in t if col.key != by]  # anonymous_id is replaced, null as (not set)
    return sa.select(*kept, _dimension(t, by, since).label(by)).subquery("journey_dimension").c


def breakdown_statement(
    touches: sa.CTE,
    *,
    by: str = c.CHANNEL,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
    limit: int | None = None,
    exclude: str | None = None,
    since: dt.datetime | None = None,
) -> sa.Select[Any]:
    """``campaign.breakdown``: people, sessions, events, conversions, revenue per ``by``
    (any of ``campaign.DIMENSIONS``; ``known_status`` needs ``since``).

    ``exclude`` leaves one value out (the recent page's campaigns without ``(not set)``).
    Conversions and revenue count from ``since`` and are scoped when the rows carry
    ``in_scope``.
    """
    t = with_dimension(touches, by, since)
    person = bytewise(t[c.EMAIL])  # grouped as bytes (see touches_of)
    per_visit = sa.select(
        t[by],
        person.label(c.EMAIL),
        t[c.SESSION],
        sa.func.count().label(c.EVENTS),
        sa.func.sum(counted_conversion(t, conversion_events, since)).label(c.CONVERSIONS),
        sa.func.sum(counted_revenue(t, since)).label(c.REVENUE),
    ).group_by(t[by], person, t[c.SESSION])
    if exclude is not None:
        per_visit = per_visit.where(t[by] != _lit(exclude))
    visits = per_visit.subquery("journey_visit_figures")
    v = visits.c
    people = _people(v[c.EMAIL])
    sessions = sa.func.count()
    stmt = (
        sa.select(
            v[by],
            people.label(c.PEOPLE),
            sessions.label(c.SESSIONS),
            sa.func.sum(v[c.EVENTS]).label(c.EVENTS),
            sa.func.sum(v[c.CONVERSIONS]).label(c.CONVERSIONS),
            sa.func.sum(v[c.REVENUE]).label(c.REVENUE),
        )
        .group_by(v[by])
        .order_by(people.desc(), sessions.desc(), bytewise(v[by]).asc())
    )
    return stmt.limit(limit) if limit is not None else stmt


def trend_by_statement(
    touches: sa.CTE,
    *,
    by: str,
    kept: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
    tz: str = "UTC",
    since: dt.datetime | None = None,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
) -> sa.Select[Any]:
    """``campaign.trend_by``: per local day index and value of ``by`` (the ``kept`` values,
    bound, or ``(other)``), events, people and conversions; only days with activity."""
    t = with_dimension(touches, by, since)
    bounds = day_bounds(start, end, tz)
    at = t[c.OCCURRED_AT]
    other = _lit(an.OTHER)
    value: Any = sa.case((t[by].in_(list(kept)), t[by]), else_=other) if kept else other
    dated = (
        sa.select(
            _day_index(at, bounds, "split").label(DAY_INDEX),
            value.label(by),
            t[c.EMAIL],
            counted_conversion(t, conversion_events).label(c.CONVERSIONS),
        )
        .where(at >= _time("split_start", start), at <= _time("split_end", end))
        .subquery("journey_split_days")
    )
    d = dated.c
    return (
        sa.select(
            d[DAY_INDEX],
            d[by],
            sa.func.count().label(c.EVENTS),
            _people(d[c.EMAIL]).label(c.PEOPLE),
            sa.func.sum(d[c.CONVERSIONS]).label(c.CONVERSIONS),
        )
        .group_by(d[DAY_INDEX], d[by])
        .order_by(d[DAY_INDEX], bytewise(d[by]).asc())
    )


def touchpoints_statement(
    touches: sa.CTE, *, newly_known_since: dt.datetime | None = None, limit: int | None = 10
) -> sa.Select[Any]:
    """``campaign.touchpoints_before_known`` without the share: touches and people per
    channel/source/medium/campaign, and the ``population`` the share divides by."""
    t = touches.c
    considered = (
        []
        if newly_known_since is None
        else [t[c.KNOWN_AT] >= _time("newly_known_since", newly_known_since)]
    )
    population = sa.select(_people(t[c.EMAIL])).where(*considered).scalar_subquery()
    keys = [t[name] for name in _DIMENSIONS]
    people = _people(t[c.EMAIL])
    touches_n = sa.func.count()
    stmt = (
        sa.select(
            *keys,
            touches_n.label(c.TOUCHES),
            people.label(c.PEOPLE),
            population.label("population"),
        )
        .where(*considered, t[c.OCCURRED_AT] < t[c.KNOWN_AT], t[c.IS_TOUCH] == 1)
        .group_by(*keys)
        .order_by(people.desc(), touches_n.desc(), *(bytewise(k).asc() for k in keys))
    )
    return stmt.limit(limit) if limit is not None else stmt


# --------------------------------------------------------------------------- running
@dataclass(frozen=True, slots=True)
class CampaignFigures:
    """The campaign page's figures, as :class:`~journey_core.analytics.campaign.CampaignReport`
    has them (same types and frames): ``previous`` over the previous period when asked for,
    ``excluded`` what a figure leaves out of the cohort."""

    kpis: Kpis
    trend: pl.DataFrame
    channels: pl.DataFrame
    campaigns: pl.DataFrame
    touchpoints: pl.DataFrame
    previous: Kpis | None = None
    excluded: tuple[Exclusion, ...] = field(default_factory=tuple)

    @property
    def cohort_size(self) -> int:
        """The people of the campaign cohort."""
        return self.kpis.cohort or 0

    @property
    def changes(self) -> dict[str, float | None]:
        """Each key figure's relative change against the previous period."""
        return an.kpi_changes(self.kpis, self.previous)


@dataclass(frozen=True, slots=True)
class BreakdownFigures:
    """One breakdown of the campaign cohort: the KPI table (``campaign.breakdown``) and the
    daily trend split by the same dimension (``campaign.trend_by``)."""

    table: pl.DataFrame
    trend: pl.DataFrame


@dataclass(frozen=True, slots=True)
class RecentFigures:
    """The recent page's figures, as :class:`~journey_core.analytics.campaign.RecentReport`
    has them."""

    kpis: Kpis
    previous: Kpis | None
    hourly: pl.DataFrame
    campaigns: pl.DataFrame
    sources: pl.DataFrame


_BREAKDOWN_SCHEMA: Final = {
    c.PEOPLE: pl.Int64,
    c.SESSIONS: pl.Int64,
    c.EVENTS: pl.Int64,
    c.CONVERSIONS: pl.Int64,
    c.REVENUE: pl.Float64,
}
_TREND_FIGURES: Final = (c.EVENTS, c.PEOPLE, c.CONVERSIONS, c.NEWLY_KNOWN_PEOPLE)
_SPLIT_FIGURES: Final = (c.EVENTS, c.PEOPLE, c.CONVERSIONS)


#: The kind of each column of a statement given to :func:`combined`: an integer, a
#: floating-point number or text (a combined statement has a column of each kind per slot).
_KPIS: Final = "iiiifiiif"
_TREND: Final = "iiiii"
_BREAKDOWN: Final = "siiiif"
_TOUCHPOINTS: Final = "ssssiii"
_HOURLY: Final = "isi"


def _sort_key(clause: Any) -> tuple[Any, list[Callable[[Any], Any]]]:
    """An ORDER BY clause as its expression and its modifiers (``desc``, ``nulls_last``...),
    innermost first."""
    modifiers: list[Callable[[Any], Any]] = []
    while isinstance(clause, UnaryExpression) and clause.modifier is not None:
        modifiers.append(_MODIFIERS[clause.modifier])
        clause = clause.element
    return clause, modifiers[::-1]


_MODIFIERS: Final[dict[Any, Callable[[Any], Any]]] = {
    operators.asc_op: sa.asc,
    operators.desc_op: sa.desc,
    operators.nulls_first_op: sa.nulls_first,
    operators.nulls_last_op: sa.nulls_last,
}


def _ranked(stmt: sa.Select[Any], index: int) -> sa.Subquery:
    """``stmt`` (its order and limit kept) with ``_row``: the row's rank in that order.

    The rank is a ``row_number()`` over the statement's sort keys, taken outside it (each
    key a column ``_k<n>`` of the statement): Spark resolves no aggregate of a grouped
    statement inside a window's ORDER BY.
    """
    order = list(stmt._order_by_clauses)
    if not order:  # rows in no particular order: Spark refuses row_number() without one
        return stmt.add_columns(sa.literal(0).label("_row")).subquery(f"journey_part_{index}")
    keys = [_sort_key(clause) for clause in order]
    inner = stmt.add_columns(*(key.label(f"_k{n}") for n, (key, _) in enumerate(keys)))
    sub = inner.subquery(f"journey_sorted_{index}")
    outer_order = []
    for n, (_, modifiers) in enumerate(keys):
        clause: Any = sub.c[f"_k{n}"]
        for modifier in modifiers:
            clause = modifier(clause)
        outer_order.append(clause)
    width = len(stmt.selected_columns)
    rank = sa.func.row_number().over(order_by=outer_order).label("_row")
    return sa.select(*list(sub.c)[:width], rank).subquery(f"journey_part_{index}")


def combined(parts: Sequence[tuple[sa.Select[Any], str]]) -> sa.Select[Any]:
    """ONE statement returning the rows of every ``(statement, kinds)`` in ``parts``.

    Each row is ``(part, row, *slots)``: the part's index, the row's rank in the part's own
    order, and the part's columns in slots by kind (``kinds``: ``i``, ``f`` or ``s`` per
    column), the other slots null. The parts share their CTEs (hinted materialized where
    the engine takes the hint), so the rule and its touches are written once instead of
    once per figure; :func:`split` reads the rows back. The statements' bound parameters
    must have distinct names.
    """
    width = {kind: max(kinds.count(kind) for _, kinds in parts) for kind in "ifs"}
    selects = []
    for index, (stmt, kinds) in enumerate(parts):
        sub = _ranked(stmt, index)
        cols = list(sub.c)
        slots: dict[str, list[Any]] = {kind: [] for kind in "ifs"}
        for col, kind in zip(cols, kinds, strict=False):
            slots[kind].append(col)
        padded = [
            (slots[kind] + [sa.null()] * width[kind])[i].label(f"_{kind}{i}")
            for kind in "ifs"
            for i in range(width[kind])
        ]
        selects.append(sa.select(sa.literal(index).label("_part"), cols[-1], *padded))
    both = sa.union_all(*selects).subquery("journey_parts")
    return sa.select(*both.c).order_by(both.c["_part"], both.c["_row"])


def split(
    rows: Sequence[tuple[Any, ...]], parts: Sequence[tuple[sa.Select[Any], str]]
) -> list[list[tuple[Any, ...]]]:
    """The rows of each part of a :func:`combined` statement, in the part's own order."""
    width = {kind: max(kinds.count(kind) for _, kinds in parts) for kind in "ifs"}
    offset = {"i": 2, "f": 2 + width["i"], "s": 2 + width["i"] + width["f"]}
    out: list[list[tuple[Any, ...]]] = [[] for _ in parts]
    for row in sorted(rows, key=lambda r: (int(r[0]), int(r[1]))):
        kinds = parts[int(row[0])][1]
        seen = dict.fromkeys("ifs", 0)
        values = []
        for kind in kinds:
            values.append(row[offset[kind] + seen[kind]])
            seen[kind] += 1
        out[int(row[0])].append(tuple(values))
    return out


def _parts(
    engine: Engine, mapping: SchemaMapping, parts: Sequence[tuple[sa.Select[Any], str]]
) -> list[list[tuple[Any, ...]]]:
    """The rows of each part, from ONE :func:`combined` statement.

    DuckDB, PostgreSQL and SQLite evaluate the MATERIALIZED touch rows once; Spark inlines
    the shared CTE into each part but reuses the shuffles the parts have in common, and one
    statement is one round trip. DuckDB under a memory limit runs each part as its own
    statement instead: it holds a shared CTE in memory (at 10M events the combined statement
    did not fit 256 MB; each part alone streams and spills).
    """
    if memory_bounded(engine):
        return [read_rows(engine, mapping, stmt) for stmt, _ in parts]
    return split(read_rows(engine, mapping, combined(parts)), parts)


def _kpis(row: tuple[Any, ...]) -> Kpis:
    people, events, sessions, conversions, revenue, newly, cohort, any_conv, any_rev = row
    return Kpis(
        people=int(people),
        events=int(events),
        sessions=int(sessions),
        conversions=int(conversions),
        revenue=float(revenue),
        newly_known=None if newly is None else int(newly),
        cohort=None if cohort is None else int(cohort),
        conversions_any_time=None if any_conv is None else int(any_conv),
        revenue_any_time=None if any_rev is None else float(any_rev),
    )


def _breakdown_frame(rows: list[tuple[Any, ...]], by: str) -> pl.DataFrame:
    schema = {by: pl.String, **_BREAKDOWN_SCHEMA}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _trend_frame(
    rows: list[tuple[Any, ...]], start: dt.datetime, end: dt.datetime, tz: str
) -> pl.DataFrame:
    days = [d for d, _ in day_bounds(start, end, tz)]
    counts = {int(r[0]): r[1:] for r in rows}
    out = [(day, *(int(v or 0) for v in counts.get(i, (0, 0, 0, 0)))) for i, day in enumerate(days)]
    schema = {c.DAY: pl.Date, **dict.fromkeys(_TREND_FIGURES, pl.Int64)}
    return pl.DataFrame(out, schema=schema, orient="row")


def _hourly_frame(
    rows: list[tuple[Any, ...]], start: dt.datetime, end: dt.datetime, tz: str
) -> pl.DataFrame:
    labels = list(dict.fromkeys(label for label, _ in hour_bounds(start, end, tz)))
    out = [(labels[int(i)], channel, int(n)) for i, channel, n in rows]
    schema: dict[str, pl.DataType] = {
        c.HOUR: pl.Datetime("us"),
        c.CHANNEL: pl.String(),
        c.EVENTS: pl.Int64(),
    }
    return pl.DataFrame(out, schema=schema, orient="row")


def _touchpoints_frame(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    schema = {**dict.fromkeys(_DIMENSIONS, pl.String), c.TOUCHES: pl.Int64, c.PEOPLE: pl.Int64}
    frame = pl.DataFrame([r[:-1] for r in rows], schema=schema, orient="row")
    population = int(rows[0][-1]) if rows else 0
    share = pl.col(c.PEOPLE) / population if population else pl.lit(0.0)
    return frame.with_columns(share.alias(c.SHARE))


def period_queries(
    query: JourneyQuery, *, end: dt.datetime | None = None
) -> tuple[JourneyQuery, JourneyQuery]:
    """The queries of the period ``[query.start, end)`` and of the previous period.

    The period's is ``query`` as of just before ``end`` (``query`` itself when ``end`` is
    None or not before its as-of); the previous period's is the ``event_date`` rule from
    ``campaign.previous_period``'s start, as of just before ``query.start``.
    """
    start = query.start
    if start is None:
        msg = "a period needs a campaign start: a query with event_date."
        raise InputError("start", msg)
    tick = dt.timedelta(microseconds=1)
    period = query
    if end is not None and end <= query.as_of:
        if end <= start:
            msg = f"the end {end.isoformat()} is not after the start {start.isoformat()}."
            raise InputError("end", msg)
        period = dataclasses.replace(query, as_of=end - tick)
    begin, _ = an.previous_period(start, period.as_of, query.timezone)
    local = begin.astimezone(ZoneInfo(query.timezone)).date()
    return period, dataclasses.replace(query, as_of=start - tick, event_date=local)


def campaign_touches(
    query: JourneyQuery,
    mapping: SchemaMapping,
    config: ChannelConfig | None,
    filters: Filters,
    lookback: dt.timedelta = an.CONVERSION_LOOKBACK,
    *,
    columns: Sequence[str] = c.RESULT_COLUMNS,
) -> sa.CTE:
    """The cohort's touch rows: filtered people, scoped when a touch filter is set (inside a
    :func:`~journey_core.warehouse.cohort.cohort_session`, held as a table of their own: the
    filter and the scope's window run once, not once per figure). ``columns``: the result
    columns kept outside a cohort session (see :func:`touches_of`)."""

    def build() -> sa.CTE:
        rows = touch_source(query, mapping, config, columns=columns)
        touches = filtered_people(_once(rows) if filters.active else rows, filters)
        return _once(scoped_rows(touches, filters, lookback=lookback))

    if not filters.active:
        return build()
    return held(query, mapping, config or ChannelConfig.default(), build, filters, lookback)


def held(
    query: JourneyQuery,
    mapping: SchemaMapping,
    config: ChannelConfig,
    build: Callable[[], sa.CTE | Steps],
    *more: object,
) -> sa.CTE:
    """The rows of ``build()`` as statements read them: inside a
    :func:`~journey_core.warehouse.cohort.cohort_session`, a CTE over the TEMP table the
    session holds them in (made once per input set: ``query``, ``mapping``, ``config`` and
    ``more``, plain values; ``build()`` may return the :class:`Steps` that fill it);
    elsewhere ``build()`` itself, which must then be a CTE."""
    store = active_store()
    if store is None:
        built = build()
        if isinstance(built, Steps):
            msg = "Steps build a held table: only inside a cohort session"
            raise TypeError(msg)
        return built
    return _held(store.rows(query, mapping, config, build, *more))


def campaign_figures(
    engine: Engine,
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    tz: str | None = None,
    filters: Filters | None = None,
    top: int = 10,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
    previous: bool = False,
    lookback: dt.timedelta = an.CONVERSION_LOOKBACK,
) -> CampaignFigures:
    """The campaign page's figures in the warehouse, equal to ``campaign.campaign_report``'s
    for the same rows and ``filters`` (``start``: the campaign start, default
    ``query.start``; ``end``: default ``query.as_of``; ``tz``: default ``query.timezone``).

    With an ``end`` before the as-of, the rows are the period's (:func:`period_queries`);
    with ``previous``, the key figures of the previous period too; conversions are scoped
    to a touch filter within ``lookback``.
    """
    begin = start if start is not None else query.start
    if begin is None:
        msg = "campaign_figures needs a campaign start: a query with event_date, or start=."
        raise InputError("start", msg)
    period = period_queries(query, end=end)[0] if query.start is not None else query
    until = end if end is not None and query.start is None else period.as_of
    zone = tz if tz is not None else query.timezone
    chosen = filters or Filters()
    touches = campaign_touches(period, mapping, config, chosen, lookback, columns=FIGURE_COLUMNS)
    conv = conversion_events
    parts = [
        (kpis_statement(touches, since=begin, conversion_events=conv), _KPIS),
        (
            trend_statement(touches, start=begin, end=until, tz=zone, conversion_events=conv),
            _TREND,
        ),
        (
            breakdown_statement(touches, by=c.CHANNEL, since=begin, conversion_events=conv),
            _BREAKDOWN,
        ),
        (
            breakdown_statement(
                touches, by=c.SESSION_CAMPAIGN, since=begin, limit=top, conversion_events=conv
            ),
            _BREAKDOWN,
        ),
        (touchpoints_statement(touches, newly_known_since=begin, limit=top), _TOUCHPOINTS),
    ]
    names = ("kpis", "trend", "channels", "campaigns", "touchpoints")
    got = dict(zip(names, _parts(engine, mapping, parts), strict=True))
    before = None
    if previous and query.start is not None:
        before = previous_kpis(
            engine,
            query,
            mapping,
            config,
            end=end,
            filters=chosen,
            conversion_events=conv,
            lookback=lookback,
        )
    figures = _kpis(got["kpis"][0])
    return CampaignFigures(
        kpis=figures,
        trend=_trend_frame(got["trend"], begin, until, zone),
        channels=_breakdown_frame(got["channels"], c.CHANNEL),
        campaigns=_breakdown_frame(got["campaigns"], c.SESSION_CAMPAIGN),
        touchpoints=_touchpoints_frame(got["touchpoints"]),
        previous=before,
        excluded=an.exclusions(figures, start=begin),
    )


def previous_kpis(
    engine: Engine,
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    *,
    end: dt.datetime | None = None,
    filters: Filters | None = None,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
    lookback: dt.timedelta = an.CONVERSION_LOOKBACK,
) -> Kpis:
    """The key figures of the period before ``query``'s campaign period (as many local days
    just before its start, :func:`period_queries`), with the same ``filters``: what
    :func:`campaign_figures` compares with (its ``previous``). A cohort of its own, built
    under :data:`STAGE_PREVIOUS`; a page may draw the period's figures first and ask for
    these after them (at 100M events they take minutes)."""
    _, earlier = period_queries(query, end=end)
    assert earlier.start is not None
    with stage(STAGE_PREVIOUS.format(start=earlier.start)):
        prior = campaign_touches(
            earlier, mapping, config, filters or Filters(), lookback, columns=FIGURE_COLUMNS
        )
        stmt = kpis_statement(prior, since=earlier.start, conversion_events=conversion_events)
        return _kpis(read_rows(engine, mapping, stmt)[0])


def breakdown_figures(
    engine: Engine,
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    *,
    by: str,
    end: dt.datetime | None = None,
    tz: str | None = None,
    filters: Filters | None = None,
    top: int = 5,
    limit: int | None = None,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
    lookback: dt.timedelta = an.CONVERSION_LOOKBACK,
) -> BreakdownFigures:
    """One breakdown of the campaign cohort in the warehouse, equal to ``campaign.breakdown``
    (the first ``limit`` rows) and ``campaign.trend_by`` (``top`` values and ``(other)``)."""
    start = query.start
    if start is None:
        msg = "breakdown_figures needs a campaign start: a query with event_date."
        raise InputError("start", msg)
    period, _ = period_queries(query, end=end)
    until = period.as_of
    zone = tz if tz is not None else query.timezone
    touches = campaign_touches(period, mapping, config, filters or Filters(), lookback)
    conv = conversion_events
    ranked = read_rows(
        engine,
        mapping,
        breakdown_statement(touches, by=by, since=start, limit=top + 1, conversion_events=conv),
    )
    kept = [str(r[0]) for r in ranked[:top]]
    values = [*kept, *([an.OTHER] if len(ranked) > top else [])]
    table = breakdown_statement(touches, by=by, since=start, limit=limit, conversion_events=conv)
    split = trend_by_statement(
        touches,
        by=by,
        kept=kept,
        start=start,
        end=until,
        tz=zone,
        since=start,
        conversion_events=conv,
    )
    counts = {(int(r[0]), str(r[1])): r[2:] for r in read_rows(engine, mapping, split)}
    days = [d for d, _ in day_bounds(start, until, zone)]
    out = [
        (day, value, *(int(n or 0) for n in counts.get((i, value), (0, 0, 0))))
        for i, day in enumerate(days)
        for value in values
    ]
    schema = {c.DAY: pl.Date, by: pl.String, **dict.fromkeys(_SPLIT_FIGURES, pl.Int64)}
    return BreakdownFigures(
        table=_breakdown_frame(read_rows(engine, mapping, table), by),
        trend=pl.DataFrame(out, schema=schema, orient="row"),
    )


def recent_figures(
    engine: Engine,
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    *,
    previous: JourneyQuery | None = None,
    tz: str | None = None,
    top: int = 10,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
) -> RecentFigures:
    """The recent page's KPIs (and those of the ``previous`` query's rows), campaigns and
    sources in the warehouse, equal to ``campaign.recent_report``'s for the window of
    ``query`` (``tz``: default ``query.timezone``)."""
    touches = _once(touch_source(query, mapping, config))
    conv = conversion_events
    before = None
    if previous is not None:
        earlier = touch_source(previous, mapping, config)
        before = _kpis(
            read_rows(engine, mapping, kpis_statement(earlier, conversion_events=conv))[0]
        )
    zone = tz if tz is not None else query.timezone
    start, end = query.window_start, query.as_of
    campaigns = breakdown_statement(
        touches, by=c.SESSION_CAMPAIGN, limit=top, exclude=ch.NOT_SET, conversion_events=conv
    )
    parts = [
        (kpis_statement(touches, conversion_events=conv), _KPIS),
        (hourly_statement(touches, start=start, end=end, tz=zone), _HOURLY),
        (campaigns, _BREAKDOWN),
        (
            breakdown_statement(touches, by=c.SOURCE_MEDIUM, limit=top, conversion_events=conv),
            _BREAKDOWN,
        ),
    ]
    kpis, hourly, by_campaign, by_source = _parts(engine, mapping, parts)
    return RecentFigures(
        kpis=_kpis(kpis[0]),
        previous=before,
        hourly=_hourly_frame(hourly, start, end, zone),
        campaigns=_breakdown_frame(by_campaign, c.SESSION_CAMPAIGN),
        sources=_breakdown_frame(by_source, c.SOURCE_MEDIUM),
    )
