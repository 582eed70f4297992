"""The Attribution page's figures as warehouse aggregates: credits for the six models, paths,
time to convert, each ONE statement over the rule's statement.

:mod:`journey_core.analytics.attribution` stays the definition and the oracle
(:func:`~journey_core.analytics.attribution.analyze` over
:func:`~journey_core.analytics.attribution.cohort_rows`); here the same rules are SQL:

- the rows: :func:`~journey_core.warehouse.statements.journey_statement` of
  :func:`~journey_core.analytics.attribution.lookback_query`, kept for the people the
  cohort's own rule admits (inside a cohort session: the people of its held cohort), from
  ``start - lookback`` to ``end``; under DuckDB's memory limit built in steps
  (:func:`~journey_core.warehouse.figures.rows_steps`) and their touches a bucket of people
  at a time (:func:`~journey_core.warehouse.figures.bucket_steps`);
- touches: :func:`journey_core.warehouse.figures.touches_of` over them (the same visits and
  channels as every page; every row with its own acquisition a touch), one per visit or per
  touch (``path_unit``); conversions: the configured event types in ``[start, end]`` (with a
  touch filter, in its scope as on the campaign page);
- :func:`credit_statement` (every model's credit per group, one pass),
  :func:`path_statement` (the top paths, repeats collapsed: the ordered string aggregate
  :class:`~journey_core.warehouse.constructs.ordered_join`), :func:`time_statements`
  (the histogram's counts and the rows that the median and p90 interpolate between), the
  totals, and bounded pages of the person-level tables;
- :func:`attribution_report` runs them into an
  :class:`~journey_core.analytics.attribution.AttributionReport` equal to ``analyze``'s
  (person-level tables: their first ``preview_rows`` rows).

Every bound is computed in Python and bound; time differences are
:class:`~journey_core.warehouse.constructs.micros_between`. Conversion ids are event ids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from journey_core import columns as c
from journey_core.analytics import attribution as attr
from journey_core.analytics.attribution import (
    AttributionReport,
    AttributionSettings,
    AttributionTotals,
    Model,
    PathUnit,
)
from journey_core.analytics.campaign import Filters
from journey_core.analytics.channels import NOT_SET, ChannelConfig
from journey_core.errors import InputError
from journey_core.progress import stage
from journey_core.rules.query import JourneyQuery
from journey_core.timeutil import TS
from journey_core.warehouse.cohort import Steps, active_store
from journey_core.warehouse.constructs import (
    bytewise,
    micros_between,
    ordered_join,
    time_bound,
)
from journey_core.warehouse.figures import (
    bucket_budget,
    bucket_steps,
    filtered_people,
    held,
    rows_steps,
    scoped_rows,
    touch_source,
    touches_of,
)
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping
from journey_core.warehouse.read import read_rows
from journey_core.warehouse.statements import journey_statement

__all__ = [
    "EVENT_TYPE_LIMIT",
    "PREVIEW_ROWS",
    "STAGE_LOOKBACK",
    "STAGE_SCOPE",
    "AttributionTables",
    "attribution_report",
    "attribution_statements",
    "attribution_tables",
    "cohort_people_statement",
    "credit_statement",
    "event_types_statement",
    "path_statement",
    "time_statements",
]

PREVIEW_ROWS: Final = 1000
"""Rows of each person-level table that leave the warehouse."""
EVENT_TYPE_LIMIT: Final = 500
"""At most this many event types are offered as conversions."""
_DAY_US: Final = 86_400_000_000
STAGE_LOOKBACK: Final = "the touches in the lookback (from {start:%d %b %Y})"
"""What the steps of the report's rows are told under (``journey_core.progress.stage``):
under DuckDB's memory limit its people's rows over the lookback are built in steps, after
the campaign cohort's own."""
STAGE_SCOPE: Final = "the conversions in the touch filter's scope"
"""What the steps of a touch filter's scope are told under (after the lookback's)."""
_ROWS_SHARE: Final = 0.6
"""The share of the bar the lookback's rows take, their touches a bucket at a time the rest
(as :func:`~journey_core.warehouse.figures.touch_steps` measured at 100M events: the rows
and their grouping 150 s, the parts 100 s)."""
_HELD_AS: Final = "attribution"
"""What a held table of the report is, in its input set (beside the campaign cohorts')."""
_QUANTILES: Final = ((attr.MEDIAN_DAYS, 1, 2), (attr.P90_DAYS, 9, 10))  # p = num / den


def _text(value: str) -> sa.ColumnElement[str]:
    return sa.literal(value, sa.String())


def _float(value: float) -> sa.ColumnElement[float]:
    # Cast: Spark reads a literal like 0.5 (PyHive inlines parameters) as a DECIMAL.
    return sa.cast(sa.literal(float(value), sa.Double()), sa.Double())


def _int(value: int) -> sa.ColumnElement[int]:
    return sa.literal(int(value), sa.BigInteger())


def _ratio(numerator: Any, denominator: Any) -> sa.ColumnElement[float]:
    """``numerator / denominator`` in floating point on every dialect.

    SQLAlchemy casts an untyped (or integer) divisor to a bare ``DECIMAL``: scale 0 on Spark,
    Trino and Snowflake, so a divisor of 2.27 became 2 and Spark's time-decay credits summed
    above 1. A DOUBLE divisor is cast to DOUBLE instead (tests/unit/test_dialects.py checks
    every division the product sends).
    """
    # Typed DOUBLE, not cast: SQLAlchemy casts it where the dialect needs it.
    divisor: sa.ColumnElement[float] = sa.type_coerce(denominator, sa.Double())
    return sa.type_coerce(numerator / divisor, sa.Double())


# --------------------------------------------------------------------------- rows
def _rule_rows(query: JourneyQuery, mapping: SchemaMapping) -> sa.Subquery:
    return journey_statement(query, mapping).order_by(None).subquery("attribution_result")


def cohort_people_statement(tables: AttributionTables) -> sa.Select[Any]:
    """ONE row: the people of the (filtered) cohort."""
    return sa.select(sa.func.count(sa.distinct(tables.people.c[c.EMAIL])))


def event_types_statement(
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    *,
    limit: int = EVENT_TYPE_LIMIT,
) -> sa.Select[Any]:
    """The distinct event types of ``query``'s rows, in byte order, at most ``limit``: inside
    a cohort session read from its held cohort (``config``: its channels), else the rule's."""
    rows: sa.Subquery | sa.CTE
    if active_store() is not None:
        rows = touch_source(query, mapping, config)
    else:
        rows = _rule_rows(query, mapping)
    kind = rows.c[c.EVENT_TYPE]
    return (
        sa.select(kind)
        .where(kind.is_not(None))
        .group_by(kind)
        .order_by(bytewise(kind).asc())
        .limit(limit)
    )


@dataclass(frozen=True, slots=True)
class AttributionTables:
    """The CTEs every attribution statement reads.

    ``touches``: email, known_at, session_id (the visit's number), event_id, touch_at,
    channel, source, medium, campaign. ``conversions``: email, conversion_id,
    converted_at, revenue, known_at. ``paired``: each conversion with its touches in the
    lookback (or one ``(no touch)`` row), with ``touch_index`` and ``touches`` as in
    ``attribution._touches_before``. ``people``: the emails of the (filtered) cohort.
    """

    people: sa.Subquery | sa.CTE
    touches: sa.CTE
    conversions: sa.CTE
    paired: sa.CTE
    settings: AttributionSettings


def attribution_tables(
    query: JourneyQuery,
    settings: AttributionSettings,
    mapping: SchemaMapping = CANONICAL,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    filters: Filters | None = None,
) -> AttributionTables:
    """The touches, conversions and pairs of ``query``'s cohort, conversions in
    ``[start, end]`` (default: the query's start and as-of); with ``filters``, only the
    people the campaign page's filters keep (``campaign.filter_people`` over the cohort) and,
    with a touch filter, only the conversions in its scope (``attribution.scoped``:
    :func:`~journey_core.warehouse.figures.scoped_rows` over the people's rows)."""
    begin = start if start is not None else query.start
    if begin is None:
        msg = "attribution needs a campaign cohort: a query with an event date."
        raise InputError("event_date", msg)
    until = end if end is not None else query.as_of
    wider = attr.lookback_query(query, settings.lookback)
    wide = journey_statement(wider, mapping)
    wide_rows = wide.order_by(None).cte("attribution_wide")
    w = wide_rows.c
    assert query.start is not None  # lookback_query checked the event date
    lower = time_bound("attribution_lower", begin - settings.lookback, lower=True)
    upper = time_bound("attribution_end", until)

    def hold(part: str, build: Callable[[], sa.CTE | Steps]) -> sa.CTE:
        # Inside a cohort session each part is a TEMP table made once (every statement of
        # the report read the lookback rule again); elsewhere build() itself.
        parts = (_HELD_AS, part, settings, begin, until, filters)
        return held(query, mapping, settings.channels, build, *parts)

    emails: sa.Subquery | sa.CTE
    held_people: sa.CTE | None = None
    if active_store() is None:
        emails, people = _admitted_people(query, settings, w, filters)
    else:
        # attribution.cohort_rows: the people of the query's own rule, its held cohort.
        def cohort() -> sa.CTE:
            found = filtered_people(
                touch_source(query, mapping, settings.channels), filters or Filters()
            )
            return sa.select(found.c[c.EMAIL]).distinct().cte("attribution_people")

        emails = held_people = hold("people", cohort)
        people = sa.select(emails.c[c.EMAIL])

    def window(rows: sa.ColumnCollection[str, Any]) -> list[sa.ColumnElement[bool]]:
        at = rows[c.OCCURRED_AT]
        return [at >= lower, at <= upper]

    def windowed(rows: sa.CTE) -> sa.CTE:
        r = rows.c
        return sa.select(*r).where(*window(r)).cte("attribution_rows")

    budget = bucket_budget()  # None outside a cohort session: no held people then either
    unscoped: sa.Select[Any] | None = None
    if budget is None or held_people is None:
        person_rows = sa.select(*w).where(w[c.EMAIL].in_(people)).cte("attribution_person_rows")
        rows = hold("rows", lambda: windowed(person_rows))
        touches = hold("touches", lambda: _touches(rows, settings))
        if filters is not None and filters.scoped:
            unscoped = sa.select(_unscoped(person_rows, settings, filters))
    else:  # under DuckDB's memory limit: the lookback's rows in steps, a bucket at a time
        with stage(STAGE_LOOKBACK.format(start=begin - settings.lookback)):
            person_rows = hold(
                "person_rows",
                lambda: rows_steps(
                    wider, mapping, bucket_rows=budget, people=held_people, until=_ROWS_SHARE
                ),
            )
            touches = hold(
                "touches",
                lambda: bucket_steps(
                    person_rows, lambda r: _touches(windowed(r), settings), start=_ROWS_SHARE
                ),
            )
        if filters is not None and filters.scoped:
            scope = filters  # narrowed for the closure
            with stage(STAGE_SCOPE):
                ids = hold(
                    "unscoped",
                    lambda: bucket_steps(person_rows, lambda r: _unscoped(r, settings, scope)),
                )
            unscoped = sa.select(ids.c[c.EVENT_ID])
        rows = windowed(person_rows)
    conversions = hold("conversions", lambda: _conversions(rows, settings, begin, unscoped))
    return AttributionTables(
        people=emails,
        touches=touches,
        conversions=conversions,
        paired=hold("paired", lambda: _paired(touches, conversions, settings)),
        settings=settings,
    )


def _admitted_people(
    query: JourneyQuery,
    settings: AttributionSettings,
    w: sa.ColumnCollection[str, Any],
    filters: Filters | None,
) -> tuple[sa.Subquery, sa.Select[Any]]:
    """The cohort's people from the lookback rule's rows ``w`` (outside a cohort session: no
    held cohort to read them from): those its own rule admits (``rules.admitted``), kept by
    ``filters``; as a subquery, and the select of their emails."""
    assert query.start is not None
    at, known = w[c.OCCURRED_AT], w[c.KNOWN_AT]
    admitted = sa.or_(
        at >= time_bound("cohort_start", query.start, lower=True),
        sa.and_(
            known >= time_bound("cohort_known_start", query.start, lower=True),
            at >= time_bound("cohort_lookback_start", query.lookback_start, lower=True),
        ),
    )
    people: sa.Select[Any] = sa.select(w[c.EMAIL]).where(admitted)
    if filters is not None and filters.active:
        cohort_rows = sa.select(*w).where(admitted).cte("attribution_cohort_rows")
        visits = touches_of(cohort_rows, settings.channels, tag="attribution_filter")
        kept = filtered_people(visits, filters)
        people = sa.select(kept.c[c.EMAIL])
    return people.subquery("attribution_people"), people


def _unscoped(rows: sa.CTE, settings: AttributionSettings, filters: Filters) -> sa.CTE:
    """``attribution.scoped``: the event ids of the people's ``rows`` (every row of theirs
    over the lookback rule) outside the campaign page's scope of ``filters``' touch filter."""
    scope = scoped_rows(touches_of(rows, settings.channels, tag="attribution_scope"), filters).c
    return (
        sa.select(scope[c.EVENT_ID])
        .where(scope[c.IN_SCOPE] == 0, scope[c.EVENT_ID].is_not(None))
        .cte("attribution_unscoped")
    )


def _touches(rows: sa.CTE, settings: AttributionSettings) -> sa.CTE:
    source = rows
    if settings.touch_event_types is not None:
        r = rows.c
        wanted = r[c.EVENT_TYPE].in_(list(settings.touch_event_types))
        source = sa.select(*r).where(wanted).cte("attribution_touch_rows")
    every = touches_of(source, settings.channels, gap=settings.session_gap, repeats=True).c
    keep = c.IS_SESSION_START if settings.path_unit is PathUnit.SESSION else c.IS_TOUCH
    return (
        sa.select(
            every[c.EMAIL],
            every[c.KNOWN_AT],
            every[c.SESSION].label(c.SESSION_ID),
            every[c.EVENT_ID],
            every[c.OCCURRED_AT].label(c.TOUCH_AT),
            every[c.CHANNEL],
            every[c.SESSION_SOURCE].label(c.SOURCE),
            every[c.SESSION_MEDIUM].label(c.MEDIUM),
            every[c.SESSION_CAMPAIGN].label(c.CAMPAIGN),
        )
        .where(every[keep] == 1)
        .cte("attribution_touches")
    )


def _conversions(
    rows: sa.CTE,
    settings: AttributionSettings,
    start: dt.datetime,
    unscoped: sa.Select[Any] | None = None,
) -> sa.CTE:
    """The conversions of ``rows``, but not the event ids ``unscoped`` selects."""
    r = rows.c
    conds: list[sa.ColumnElement[bool]] = [
        r[c.OCCURRED_AT] >= time_bound("conversion_start", start, lower=True)
    ]
    if unscoped is not None:
        conds.append(r[c.EVENT_ID].not_in(unscoped))
    if settings.conversion_event_types is not None:
        conds.append(r[c.EVENT_TYPE].in_(list(settings.conversion_event_types)))
    if settings.require_revenue:
        conds.append(sa.func.coalesce(r[c.REVENUE], _float(0.0)) > _float(0.0))
    return (
        sa.select(
            r[c.EMAIL],
            r[c.EVENT_ID].label(c.CONVERSION_ID),
            r[c.OCCURRED_AT].label(c.CONVERTED_AT),
            sa.func.coalesce(r[c.REVENUE], _float(0.0)).label(c.REVENUE),
            r[c.KNOWN_AT],
        )
        .where(*conds)
        .cte("attribution_conversions")
    )


def _within(earlier: Any, later: Any, limit: dt.timedelta) -> sa.ColumnElement[bool]:
    """``earlier <= later`` and at most ``limit`` apart."""
    limit_us = int(limit / dt.timedelta(microseconds=1))
    return sa.and_(earlier <= later, micros_between(earlier, later) <= _int(limit_us))


def _paired(touches: sa.CTE, conversions: sa.CTE, settings: AttributionSettings) -> sa.CTE:
    t, v = touches.c, conversions.c
    on = sa.and_(
        t[c.EMAIL] == v[c.EMAIL], _within(t[c.TOUCH_AT], v[c.CONVERTED_AT], settings.lookback)
    )
    joined = (
        sa.select(
            v[c.EMAIL],
            v[c.CONVERSION_ID],
            v[c.CONVERTED_AT],
            v[c.REVENUE],
            sa.func.coalesce(t[c.TOUCH_AT], v[c.CONVERTED_AT]).label(c.TOUCH_AT),
            t[c.EVENT_ID],
            sa.case((t[c.EMAIL].is_(None), _text(attr.NO_TOUCH)), else_=t[c.CHANNEL]).label(
                c.CHANNEL
            ),
            sa.case((t[c.EMAIL].is_(None), _text(NOT_SET)), else_=t[c.CAMPAIGN]).label(c.CAMPAIGN),
        )
        .select_from(conversions.outerjoin(touches, on))
        .cte("attribution_joined")
    )
    j = joined.c
    per: dict[str, Any] = {"partition_by": j[c.CONVERSION_ID]}
    order = [j[c.TOUCH_AT].asc(), bytewise(j[c.EVENT_ID]).asc().nulls_last()]
    return sa.select(
        *j,
        (sa.func.row_number().over(**per, order_by=order) - 1).label(attr.TOUCH_INDEX),
        sa.func.count().over(**per).label(attr.TOUCHES),
    ).cte("attribution_paired")


# --------------------------------------------------------------------------- credits
def _credit(model: Model, p: Any, settings: AttributionSettings) -> Any:
    """``attribution._credit_expr`` in SQL over the pairs' columns ``p``."""
    i, n = p[attr.TOUCH_INDEX], p[attr.TOUCHES]
    one, zero = _float(1.0), _float(0.0)
    if model is Model.FIRST_TOUCH:
        return sa.case((i == 0, one), else_=zero)
    if model is Model.LAST_TOUCH:
        return sa.case((i == n - 1, one), else_=zero)
    if model is Model.LAST_NON_DIRECT:
        return sa.case((i == p["_last_non_direct"], one), else_=zero)
    if model is Model.LINEAR:
        return _ratio(one, n)
    if model is Model.TIME_DECAY:
        return _ratio(p["_weight"], p["_weights"])
    first, last = settings.first_weight, settings.last_weight
    return sa.case(
        (n == 1, one),
        (
            n == 2,
            sa.case((i == 0, _float(first / (first + last))), else_=_float(last / (first + last))),
        ),
        (i == 0, _float(first)),
        (i == n - 1, _float(last)),
        else_=_ratio(_float(1.0 - first - last), n - 2),
    )


def credit_statement(tables: AttributionTables, by: Sequence[str]) -> sa.Select[Any]:
    """Per ``by`` group: each model's summed credit (``<model>``) and revenue credit
    (``<model>_revenue``), one pass over the pairs."""
    settings = tables.settings
    p = tables.paired.c
    direct = [settings.channels.direct, attr.NO_TOUCH]
    non_direct = sa.case((p[c.CHANNEL].not_in(direct), p[attr.TOUCH_INDEX]), else_=sa.null())
    half_life_us = settings.half_life / dt.timedelta(microseconds=1)
    age = micros_between(p[c.TOUCH_AT], p[c.CONVERTED_AT])
    weight: sa.ColumnElement[float] = sa.func.power(
        _float(2.0), _ratio(-age, _float(half_life_us)), type_=sa.Double()
    )
    # The weights and their sum per conversion in one projection.
    scored = sa.select(
        *p,
        sa.func.coalesce(
            sa.func.max(non_direct).over(partition_by=p[c.CONVERSION_ID]), p[attr.TOUCHES] - 1
        ).label("_last_non_direct"),
        weight.label("_weight"),
        sa.func.sum(weight).over(partition_by=p[c.CONVERSION_ID]).label("_weights"),
    ).subquery("attribution_scored")
    s = scored.c
    keys = [s[name] for name in by]
    sums: list[Any] = []
    for model in Model:
        credit = _credit(model, s, settings)
        sums.append(sa.func.sum(credit).label(model.value))
        sums.append(sa.func.sum(credit * s[c.REVENUE]).label(f"{model.value}_revenue"))
    return sa.select(*keys, *sums).group_by(*keys)


# --------------------------------------------------------------------------- paths
def _path_rows(rows: sa.Select[Any], keys: Sequence[str], *, collapse: bool) -> sa.Subquery:
    """Per group ``keys``: the touches count, the path and the transformed path."""
    sub = rows.subquery("attribution_steps")
    s = sub.c
    group = [s[k] for k in keys]
    order = [s[c.TOUCH_AT].asc(), bytewise(s[c.EVENT_ID]).asc().nulls_last()]
    previous = sa.func.lag(s[c.CHANNEL]).over(partition_by=group, order_by=order)
    step = sa.func.row_number().over(partition_by=group, order_by=order)
    stepped = sa.select(*group, s[c.CHANNEL], step.label("_step"), previous.label("_previous"))
    stepped = ordered_join.sqlite_ordered(stepped, *keys, "_step")
    st = stepped.subquery("attribution_stepped").c
    sep = _text(attr.PATH_SEPARATOR)
    kept = sa.case(
        (sa.or_(st["_previous"].is_(None), st["_previous"] != st[c.CHANNEL]), st[c.CHANNEL]),
        else_=sa.null(),
    )
    kept_step = sa.case(
        (sa.or_(st["_previous"].is_(None), st["_previous"] != st[c.CHANNEL]), st["_step"]),
        else_=sa.null(),
    )
    path = ordered_join(st[c.CHANNEL], st["_step"], sep)
    transformed = ordered_join(kept, kept_step, sep) if collapse else path
    return (
        sa.select(
            *(st[k] for k in keys),
            sa.func.count().label(attr.TOUCHES),
            path.label(c.PATH),
            transformed.label(c.TRANSFORMED_PATH),
        )
        .group_by(*(st[k] for k in keys))
        .subquery("attribution_paths")
    )


def _conversion_paths(tables: AttributionTables) -> sa.Subquery:
    p = tables.paired.c
    keys = (c.CONVERSION_ID, c.EMAIL, c.CONVERTED_AT, c.REVENUE)
    rows = sa.select(*(p[k] for k in keys), p[c.TOUCH_AT], p[c.EVENT_ID], p[c.CHANNEL])
    return _path_rows(rows, keys, collapse=tables.settings.collapse_repeats)


def _non_conversion_paths(tables: AttributionTables) -> sa.Subquery:
    t, v = tables.touches.c, tables.conversions.c
    last = sa.func.max(t[c.TOUCH_AT]).over(partition_by=t[c.EMAIL])
    others = (
        sa.select(
            t[c.EMAIL], t[c.TOUCH_AT], t[c.EVENT_ID], t[c.CHANNEL], last.label(c.LAST_TOUCH_AT)
        )
        .where(t[c.EMAIL].not_in(sa.select(v[c.EMAIL])))
        .subquery("attribution_non_converters")
    )
    o = others.c
    rows = sa.select(*o).where(_within(o[c.TOUCH_AT], o[c.LAST_TOUCH_AT], tables.settings.lookback))
    return _path_rows(rows, (c.EMAIL, c.LAST_TOUCH_AT), collapse=tables.settings.collapse_repeats)


def path_statement(tables: AttributionTables, *, limit: int = PREVIEW_ROWS) -> sa.Select[Any]:
    """``attribution.path_summary`` without the rate: conversions, non-conversions and
    revenue per transformed path, the ``limit`` most frequent (the summary's order)."""
    conv, non = _conversion_paths(tables).c, _non_conversion_paths(tables).c
    both = sa.union_all(
        sa.select(
            conv[c.TRANSFORMED_PATH],
            _int(1).label(c.CONVERSIONS),
            _int(0).label(c.NON_CONVERSIONS),
            conv[c.REVENUE],
        ),
        sa.select(
            non[c.TRANSFORMED_PATH],
            _int(0).label(c.CONVERSIONS),
            _int(1).label(c.NON_CONVERSIONS),
            _float(0.0).label(c.REVENUE),
        ),
    ).subquery("attribution_all_paths")
    b = both.c
    conversions = sa.func.sum(b[c.CONVERSIONS])
    non_conversions = sa.func.sum(b[c.NON_CONVERSIONS])
    return (
        sa.select(
            b[c.TRANSFORMED_PATH],
            conversions.label(c.CONVERSIONS),
            non_conversions.label(c.NON_CONVERSIONS),
            sa.func.sum(b[c.REVENUE]).label(c.REVENUE),
        )
        .group_by(b[c.TRANSFORMED_PATH])
        .order_by(conversions.desc(), non_conversions.desc(), bytewise(b[c.TRANSFORMED_PATH]).asc())
        .limit(limit)
    )


# --------------------------------------------------------------------------- time to convert
def _time_to_convert(tables: AttributionTables) -> sa.Subquery:
    """``attribution.time_to_convert`` per converting person, durations in microseconds."""
    t, v = tables.touches.c, tables.conversions.c
    first = (
        sa.select(
            v[c.EMAIL],
            sa.func.min(v[c.CONVERTED_AT]).label(attr.FIRST_CONVERSION_AT),
            sa.func.min(v[c.KNOWN_AT]).label(c.KNOWN_AT),
        )
        .group_by(v[c.EMAIL])
        .cte("attribution_first_conversions")
    )
    f = first.c
    on = sa.and_(
        t[c.EMAIL] == f[c.EMAIL],
        _within(t[c.TOUCH_AT], f[attr.FIRST_CONVERSION_AT], tables.settings.lookback),
    )
    rank = sa.func.row_number().over(
        partition_by=t[c.EMAIL],
        order_by=[t[c.TOUCH_AT].asc(), bytewise(t[c.EVENT_ID]).asc().nulls_last()],
    )
    ranked = (
        sa.select(t[c.EMAIL], t[c.TOUCH_AT], t[c.CHANNEL], rank.label("_rank"))
        .select_from(tables.touches.join(first, on))
        .subquery("attribution_first_touch_ranks")
    )
    r = ranked.c
    touch = (
        sa.select(r[c.EMAIL], r[c.TOUCH_AT], r[c.CHANNEL])
        .where(r["_rank"] == 1)
        .subquery("attribution_first_touches")
    )
    ft = touch.c
    first_touch_at = sa.func.coalesce(ft[c.TOUCH_AT], f[attr.FIRST_CONVERSION_AT])
    from_known = micros_between(f[c.KNOWN_AT], f[attr.FIRST_CONVERSION_AT])
    return (
        sa.select(
            f[c.EMAIL],
            first_touch_at.label(attr.FIRST_TOUCH_AT),
            f[c.KNOWN_AT],
            f[attr.FIRST_CONVERSION_AT],
            sa.func.coalesce(ft[c.CHANNEL], _text(attr.NO_TOUCH)).label(attr.FIRST_TOUCH_CHANNEL),
            micros_between(first_touch_at, f[attr.FIRST_CONVERSION_AT]).label("_first_us"),
            sa.case((from_known >= 0, from_known), else_=sa.null()).label("_known_us"),
        )
        .select_from(first.outerjoin(touch, ft[c.EMAIL] == f[c.EMAIL]))
        .subquery("attribution_time_to_convert")
    )


def _long_days(ttc: sa.Subquery) -> sa.Subquery:
    """Per measure and person: the first-touch channel and the days (``attribution._long``)."""
    x = ttc.c
    day = _float(float(_DAY_US))
    parts = [
        sa.select(
            _text(label).label(attr.MEASURE),
            x[attr.FIRST_TOUCH_CHANNEL].label(c.CHANNEL),
            _ratio(x[column], day).label("days"),
        ).where(x[column].is_not(None))
        for label, column in ((attr.FROM_FIRST_TOUCH, "_first_us"), (attr.FROM_KNOWN, "_known_us"))
    ]
    return sa.union_all(*parts).subquery("attribution_days")


def time_statements(
    tables: AttributionTables, *, bins: Sequence[float] = attr.DEFAULT_BINS
) -> dict[str, sa.Select[Any]]:
    """``histogram``: people per measure and bin index; ``quantiles``: per measure and group
    (the cohort, flag 0, or a first-touch channel, flag 1), the people and the rows the median
    and p90 interpolate between (rank, days)."""
    days = _long_days(_time_to_convert(tables)).c
    edges = sorted(set(float(b) for b in bins))
    index: Any = _int(0)
    for edge in edges[1:]:
        index = index + sa.case((days["days"] >= _float(edge), _int(1)), else_=_int(0))
    binned = sa.select(days[attr.MEASURE], index.label("_bin")).subquery("attribution_bins")
    bn = binned.c
    histogram = sa.select(
        bn[attr.MEASURE], bn["_bin"], sa.func.count().label(attr.PEOPLE)
    ).group_by(bn[attr.MEASURE], bn["_bin"])
    grouped = sa.union_all(
        sa.select(
            days[attr.MEASURE],
            _int(0).label("_is_channel"),
            _text(attr.ALL).label(attr.GROUP),
            days["days"],
        ),
        sa.select(
            days[attr.MEASURE],
            _int(1).label("_is_channel"),
            days[c.CHANNEL].label(attr.GROUP),
            days["days"],
        ),
    ).subquery("attribution_grouped_days")
    g = grouped.c
    part = [g[attr.MEASURE], g["_is_channel"], g[attr.GROUP]]
    ranked = sa.select(
        *part,
        g["days"],
        (sa.func.row_number().over(partition_by=part, order_by=g["days"].asc()) - 1).label("_rank"),
        sa.func.count().over(partition_by=part).label(attr.PEOPLE),
    ).subquery("attribution_ranked_days")
    r = ranked.c
    # The rows at floor and ceil of p * (n - 1): |den * rank - num * (n - 1)| < den.
    near = [
        sa.and_(
            den * r["_rank"] - num * (r[attr.PEOPLE] - 1) > -den,
            den * r["_rank"] - num * (r[attr.PEOPLE] - 1) < den,
        )
        for _, num, den in _QUANTILES
    ]
    quantiles = sa.select(
        r[attr.MEASURE], r["_is_channel"], r[attr.GROUP], r[attr.PEOPLE], r["_rank"], r["days"]
    ).where(sa.or_(*near))
    return {"histogram": histogram, "quantiles": quantiles}


# --------------------------------------------------------------------------- pages
def _page_statements(tables: AttributionTables, limit: int) -> dict[str, sa.Select[Any]]:
    t, v = tables.touches.c, tables.conversions.c
    conv = _conversion_paths(tables).c
    non = _non_conversion_paths(tables).c
    ttc = _time_to_convert(tables).c

    def text(col: Any) -> Any:
        return bytewise(col).asc().nulls_last()

    return {
        "touches": sa.select(*(t[name] for name in attr.TOUCH_COLUMNS))
        .order_by(text(t[c.EMAIL]), t[c.TOUCH_AT].asc(), text(t[c.EVENT_ID]))
        .limit(limit),
        "conversions": sa.select(*(v[name] for name in attr.CONVERSION_COLUMNS))
        .order_by(v[c.CONVERTED_AT].asc(), text(v[c.EMAIL]), text(v[c.CONVERSION_ID]))
        .limit(limit),
        "conversion_paths": sa.select(
            *(conv[name] for name in (c.EMAIL, c.CONVERSION_ID, c.CONVERTED_AT, c.REVENUE)),
            *(conv[name] for name in (attr.TOUCHES, c.PATH, c.TRANSFORMED_PATH)),
        )
        .order_by(conv[c.CONVERTED_AT].asc(), text(conv[c.EMAIL]), text(conv[c.CONVERSION_ID]))
        .limit(limit),
        "non_conversion_paths": sa.select(*non).order_by(text(non[c.EMAIL])).limit(limit),
        "time_to_convert": sa.select(
            *(ttc[name] for name in (c.EMAIL, attr.FIRST_TOUCH_AT, c.KNOWN_AT)),
            *(ttc[name] for name in (attr.FIRST_CONVERSION_AT, attr.FIRST_TOUCH_CHANNEL)),
            ttc["_first_us"],
            ttc["_known_us"],
        )
        .order_by(ttc[attr.FIRST_CONVERSION_AT].asc(), text(ttc[c.EMAIL]))
        .limit(limit),
    }


def _totals_statement(tables: AttributionTables) -> sa.Select[Any]:
    v = tables.conversions.c
    return sa.select(
        sa.func.count(sa.distinct(v[c.EMAIL])),
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(v[c.REVENUE]), _float(0.0)),
    )


def _channel_counts_statement(tables: AttributionTables) -> sa.Select[Any]:
    t = tables.touches.c
    keys = [t[c.CHANNEL], t[c.CAMPAIGN], t[c.SOURCE], t[c.MEDIUM]]
    return sa.select(*keys, sa.func.count().label(attr.TOUCHES)).group_by(*keys)


# --------------------------------------------------------------------------- running
def _frame(rows: list[tuple[Any, ...]], schema: dict[str, Any]) -> pl.DataFrame:
    from journey_core.warehouse.read import conform

    raw = pl.DataFrame(rows, schema=list(schema), orient="row", infer_schema_length=None)
    return conform(raw, schema)


_STRING, _INT, _FLOAT = pl.String(), pl.Int64(), pl.Float64()
_TOUCH_SCHEMA: Final = {
    c.EMAIL: _STRING,
    c.KNOWN_AT: TS,
    c.SESSION_ID: _STRING,  # the visit's number, as sessions.sessionize numbers them
    c.EVENT_ID: _STRING,
    c.TOUCH_AT: TS,
    c.CHANNEL: _STRING,
    c.SOURCE: _STRING,
    c.MEDIUM: _STRING,
    c.CAMPAIGN: _STRING,
}
_CONVERSION_SCHEMA: Final = {
    c.EMAIL: _STRING,
    c.CONVERSION_ID: _STRING,
    c.CONVERTED_AT: TS,
    c.REVENUE: _FLOAT,
    c.KNOWN_AT: TS,
}
_PATH_SCHEMA: Final = {attr.TOUCHES: pl.UInt32(), c.PATH: _STRING, c.TRANSFORMED_PATH: _STRING}


def _credits_frame(credits: pl.DataFrame, counts: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """``attribution.attribute`` of the credits: the sums from SQL (:func:`credit_statement`
    per campaign and channel, added up per ``by``), the grid and order of the oracle (every
    group of the touches, from ``channel_counts``, for every model)."""
    keys = list(by)
    summed = pl.concat(
        [
            credits.group_by(keys).agg(
                pl.lit(m.value).alias(c.MODEL),
                pl.col(m.value).sum().alias(c.CREDIT),
                pl.col(f"{m.value}_revenue").sum().alias(attr.REVENUE_CREDIT),
            )
            for m in Model
        ]
    )
    seen = counts.select(keys).unique()
    return attr.attribute(summed.lazy(), by=keys, touch_rows=seen.lazy())


def _credit_sums(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    parts = [f"{m.value}{part}" for m in Model for part in ("", "_revenue")]
    schema = {**dict.fromkeys(_BY_CAMPAIGN, _STRING), **dict.fromkeys(parts, _FLOAT)}
    return pl.DataFrame(rows, schema=schema, orient="row", infer_schema_length=None)


def _quantile(points: dict[int, float], people: int, num: int, den: int) -> float:
    """The linear quantile ``num / den`` of ``people`` values (as Polars interpolates) from
    the values at ranks floor and ceil of ``num / den * (people - 1)``."""
    lo, rest = divmod(num * (people - 1), den)
    if rest == 0:
        return points[lo]
    return points[lo] + rest / den * (points[lo + 1] - points[lo])


def _summary_frame(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    found: dict[tuple[str, int, str], tuple[int, dict[int, float]]] = {}
    for measure, is_channel, group, people, rank, days in rows:
        key = (str(measure), int(is_channel), str(group))
        found.setdefault(key, (int(people), {}))[1][int(rank)] = float(days)
    out = [
        (
            measure,
            group,
            people,
            *(_quantile(points, people, num, den) for _, num, den in _QUANTILES),
            bool(is_channel),
        )
        for (measure, is_channel, group), (people, points) in found.items()
    ]
    measures = [attr.FROM_FIRST_TOUCH, attr.FROM_KNOWN]
    schema = {
        attr.MEASURE: _STRING,
        attr.GROUP: _STRING,
        attr.PEOPLE: pl.Int64(),
        attr.MEDIAN_DAYS: _FLOAT,
        attr.P90_DAYS: _FLOAT,
        "_is_channel": pl.Boolean(),
    }
    return (
        pl.DataFrame(out, schema=schema, orient="row")
        .sort(
            pl.col(attr.MEASURE).replace_strict(measures, [0, 1]),
            "_is_channel",
            -pl.col(attr.PEOPLE),
            attr.GROUP,
        )
        .drop("_is_channel")
    )


def _histogram_frame(rows: list[tuple[Any, ...]], bins: Sequence[float]) -> pl.DataFrame:
    edges = sorted(set(float(b) for b in bins))
    counts = {(str(m), int(i)): int(n) for m, i, n in rows}
    grid = attr.time_to_convert_histogram(
        pl.DataFrame(
            schema={
                attr.FIRST_TOUCH_CHANNEL: _STRING,
                attr.DAYS_FROM_FIRST_TOUCH: _FLOAT,
                attr.DAYS_FROM_KNOWN: _FLOAT,
            }
        ),
        bins=bins,
    )
    index = {edge: i for i, edge in enumerate(edges)}
    people = [
        counts.get((m, index[start]), 0)
        for m, start in grid.select(attr.MEASURE, attr.BIN_START).iter_rows()
    ]
    return grid.with_columns(pl.Series(attr.PEOPLE, people, dtype=pl.Int64))


def _ttc_frame(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    schema = {
        c.EMAIL: _STRING,
        attr.FIRST_TOUCH_AT: TS,
        c.KNOWN_AT: TS,
        attr.FIRST_CONVERSION_AT: TS,
        attr.FIRST_TOUCH_CHANNEL: _STRING,
        "_first_us": _INT,
        "_known_us": _INT,
    }
    return _frame(rows, schema).select(
        *list(schema)[:5],
        (pl.col("_first_us") / _DAY_US).alias(attr.DAYS_FROM_FIRST_TOUCH),
        (pl.col("_known_us") / _DAY_US).alias(attr.DAYS_FROM_KNOWN),
    )


_BY_CHANNEL: Final = (c.CHANNEL,)
_BY_CAMPAIGN: Final = (c.CAMPAIGN, c.CHANNEL)


def attribution_statements(
    query: JourneyQuery,
    settings: AttributionSettings,
    mapping: SchemaMapping = CANONICAL,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    preview_rows: int = PREVIEW_ROWS,
    bins: Sequence[float] = attr.DEFAULT_BINS,
    filters: Filters | None = None,
) -> dict[str, sa.Select[Any]]:
    """Every statement :func:`attribution_report` sends, by name."""
    tables = attribution_tables(query, settings, mapping, start=start, end=end, filters=filters)
    timing = time_statements(tables, bins=bins)
    pages = _page_statements(tables, preview_rows)
    return {
        "people": cohort_people_statement(tables),
        "totals": _totals_statement(tables),
        "credits": credit_statement(tables, _BY_CAMPAIGN),
        "paths": path_statement(tables, limit=preview_rows),
        "channel_counts": _channel_counts_statement(tables),
        "histogram": timing["histogram"],
        "quantiles": timing["quantiles"],
        **{f"page_{name}": stmt for name, stmt in pages.items()},
    }


def attribution_report(
    engine: Engine,
    query: JourneyQuery,
    settings: AttributionSettings,
    mapping: SchemaMapping = CANONICAL,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    preview_rows: int = PREVIEW_ROWS,
    bins: Sequence[float] = attr.DEFAULT_BINS,
    filters: Filters | None = None,
) -> tuple[AttributionReport, int]:
    """The attribution report of ``query``'s cohort computed in the warehouse, and the
    cohort's people: equal to ``analyze(cohort_rows(...))``'s, person-level tables (and the
    path summary) cut to their first ``preview_rows`` rows."""
    stmts = attribution_statements(
        query,
        settings,
        mapping,
        start=start,
        end=end,
        preview_rows=preview_rows,
        bins=bins,
        filters=filters,
    )
    got = {name: read_rows(engine, mapping, stmt) for name, stmt in stmts.items()}
    converters, conversions, revenue = got["totals"][0]
    totals = AttributionTotals(int(converters), int(conversions), float(revenue or 0.0))
    paths = pl.DataFrame(
        got["paths"],
        schema={
            c.TRANSFORMED_PATH: _STRING,
            c.CONVERSIONS: _INT,
            c.NON_CONVERSIONS: _INT,
            c.REVENUE: _FLOAT,
        },
        orient="row",
    )
    total = pl.col(c.CONVERSIONS) + pl.col(c.NON_CONVERSIONS)
    path_summary = paths.with_columns(
        pl.col(c.REVENUE).round(9), (pl.col(c.CONVERSIONS) / total).alias(attr.CONVERSION_RATE)
    )
    count_schema = {name: _STRING for name in (c.CHANNEL, c.CAMPAIGN, c.SOURCE, c.MEDIUM)}
    counts = pl.DataFrame(
        got["channel_counts"], schema={**count_schema, attr.TOUCHES: _INT}, orient="row"
    ).sort(
        [c.CHANNEL, attr.TOUCHES, c.CAMPAIGN, c.SOURCE, c.MEDIUM],
        descending=[False, True, False, False, False],
    )
    credits = _credit_sums(got["credits"])
    conv_key = {c.EMAIL: _STRING, c.CONVERSION_ID: _STRING, c.CONVERTED_AT: TS, c.REVENUE: _FLOAT}
    report = AttributionReport(
        touches=_frame(got["page_touches"], _TOUCH_SCHEMA),
        conversions=_frame(got["page_conversions"], _CONVERSION_SCHEMA),
        by_channel=_credits_frame(credits, counts, _BY_CHANNEL),
        by_campaign=_credits_frame(credits, counts, _BY_CAMPAIGN),
        conversion_paths=_frame(got["page_conversion_paths"], {**conv_key, **_PATH_SCHEMA}),
        non_conversion_paths=_frame(
            got["page_non_conversion_paths"],
            {c.EMAIL: _STRING, c.LAST_TOUCH_AT: TS, **_PATH_SCHEMA},
        ),
        path_summary=path_summary,
        channel_counts=counts,
        time_to_convert=_ttc_frame(got["page_time_to_convert"]),
        time_to_convert_summary=_summary_frame(got["quantiles"]),
        time_to_convert_histogram=_histogram_frame(got["histogram"], bins),
        totals=totals,
    )
    return report, int(got["people"][0][0] or 0)
