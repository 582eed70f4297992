"""The funnel in the warehouse: ONE SQLAlchemy Core statement over the rule's touch rows.

:mod:`journey_core.analytics.funnel` is the definition and the oracle; this module builds the
same funnel over :func:`~journey_core.warehouse.figures.touch_rows` (with
:func:`~journey_core.warehouse.figures.filtered_people`, so the cohort and the filters are
those of every other figure):

- :func:`funnel_statement`: per group and step, the people who reached it and the median
  microseconds from the step before (a portable median: the mean of the middle one or two
  values by an ordered ``row_number``); :func:`funnel_figures` runs it and returns the
  oracle's frame (:func:`journey_core.analytics.funnel.assemble` adds rates and drop-off).
- :func:`people_statement`: the people who reached or dropped off at one step, bounded and
  ordered by email; :func:`funnel_people` runs it.

Portable like the other figures: the start (``since``), the window, the step names and the
limit are bound parameters; the window is compared as whole microseconds
(:class:`~journey_core.warehouse.constructs.epoch_micros`), never as an SQL interval; every
``row_number()`` is fully ordered (time, then event id, compared by bytes).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from journey_core import columns as c
from journey_core.analytics.campaign import Filters
from journey_core.analytics.channels import ChannelConfig
from journey_core.analytics.funnel import (
    ALL_PEOPLE,
    MEDIAN_SECONDS,
    NEWLY_KNOWN,
    PEOPLE_LIMIT,
    REACHED,
    REACHED_AT,
    FunnelSpec,
    assemble,
    check_step,
)
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse.constructs import bytewise, epoch_micros, time_bound
from journey_core.warehouse.figures import cohort_touches, row_order, with_dimension
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping
from journey_core.warehouse.read import read_rows

__all__ = [
    "GAP_US",
    "funnel_figures",
    "funnel_people",
    "funnel_statement",
    "people_statement",
    "step_ctes",
]

#: Microseconds from the step before (null at step 1), a column of :func:`step_ctes`.
GAP_US: Final = "gap_us"


def _first(stmt: sa.Select[Any], cols: sa.ColumnCollection[str, Any], name: str) -> sa.CTE:
    """Each person's first row of ``stmt`` (by :func:`_order`)."""
    rank = sa.func.row_number().over(partition_by=cols[c.EMAIL], order_by=row_order(cols))
    ranked = stmt.add_columns(rank.label("_rank")).subquery(f"{name}_ranked")
    keep = [col for col in ranked.c if col.key != "_rank"]
    return sa.select(*keep).where(ranked.c["_rank"] == 1).cte(name)


def _people(touches: sa.CTE, spec: FunnelSpec) -> sa.CTE:
    """Each person's group (the breakdown of their first touch), of those ``spec.who`` keeps."""
    t: sa.ColumnCollection[str, Any] = touches.c
    group: Any = sa.literal(ALL_PEOPLE)
    if spec.breakdown is not None:
        t = with_dimension(touches, spec.breakdown, spec.since)
        group = t[spec.breakdown]
    touched = sa.select(t[c.EMAIL], t[c.OCCURRED_AT], t[c.EVENT_ID], group.label(c.GROUP))
    touched = touched.add_columns(t[c.KNOWN_AT]).where(t[c.IS_TOUCH] == 1)
    first = _first(touched, t, "funnel_first_touch")
    f = first.c
    stmt = sa.select(f[c.EMAIL], f[c.GROUP])
    if spec.who != ALL_PEOPLE:
        assert spec.since is not None
        newly = f[c.KNOWN_AT] >= time_bound("funnel_known_since", spec.since, lower=True)
        stmt = stmt.where(newly if spec.who == NEWLY_KNOWN else sa.not_(newly))
    return stmt.cte("funnel_people")


def step_ctes(touches: sa.CTE, spec: FunnelSpec) -> tuple[sa.CTE, list[sa.CTE]]:
    """The people CTE (``email``, ``group``) and one CTE per step: ``email``, ``_start``
    (step 1's time), the step's ``occurred_at`` and ``event_id``, and :data:`GAP_US`."""
    t = touches.c
    people = _people(touches, spec)
    base = [t[c.EMAIL], t[c.OCCURRED_AT], t[c.EVENT_ID]]
    firsts = sa.select(
        *base, t[c.OCCURRED_AT].label("_start"), sa.cast(sa.null(), sa.BigInteger()).label(GAP_US)
    ).where(
        t[c.EVENT_TYPE] == sa.bindparam("funnel_step_1", spec.steps[0]),
        t[c.EMAIL].in_(sa.select(people.c[c.EMAIL])),
    )
    if spec.since is not None:
        firsts = firsts.where(
            t[c.OCCURRED_AT] >= time_bound("funnel_since", spec.since, lower=True)
        )
    steps = [_first(firsts, t, "funnel_step_1")]
    window = sa.bindparam("funnel_window_us", spec.window_us, type_=sa.BigInteger())
    for k, event_type in enumerate(spec.steps[1:], start=2):
        p = steps[-1].c
        at, event_id = t[c.OCCURRED_AT], t[c.EVENT_ID]
        after = sa.or_(
            at > p[c.OCCURRED_AT],
            sa.and_(at == p[c.OCCURRED_AT], bytewise(event_id) > bytewise(p[c.EVENT_ID])),
        )
        gap = epoch_micros(at) - epoch_micros(p[c.OCCURRED_AT])
        candidates = (
            sa.select(*base, p["_start"], gap.label(GAP_US))
            .select_from(touches.join(steps[-1], t[c.EMAIL] == p[c.EMAIL]))
            .where(
                t[c.EVENT_TYPE] == sa.bindparam(f"funnel_step_{k}", event_type),
                after,
                epoch_micros(at) - epoch_micros(p["_start"]) <= window,
            )
        )
        steps.append(_first(candidates, t, f"funnel_step_{k}"))
    return people, steps


def funnel_statement(touches: sa.CTE, spec: FunnelSpec) -> sa.Select[Any]:
    """Per group and step: ``people`` and the median microseconds from the step before
    (``median_us``, null at step 1); steps nobody reached have no row."""
    people, steps = step_ctes(touches, spec)
    reached = sa.union_all(
        *(
            sa.select(
                sa.literal(k).label(c.STEP), s.c[c.EMAIL], s.c[GAP_US].label(GAP_US)
            ).select_from(s)
            for k, s in enumerate(steps, start=1)
        )
    ).subquery("funnel_reached")
    r = reached.c
    grouped = (
        sa.select(people.c[c.GROUP], r[c.STEP], r[c.EMAIL], r[GAP_US])
        .select_from(reached.join(people, r[c.EMAIL] == people.c[c.EMAIL]))
        .subquery("funnel_grouped")
    )
    g = grouped.c
    keys = [g[c.GROUP], g[c.STEP]]
    counts = (
        sa.select(*keys, sa.func.count().label(c.PEOPLE)).group_by(*keys).subquery("funnel_counts")
    )
    ranked = (
        sa.select(
            *keys,
            g[GAP_US],
            sa.func.row_number()
            .over(partition_by=keys, order_by=[g[GAP_US].asc(), bytewise(g[c.EMAIL]).asc()])
            .label("_rank"),
            sa.func.count().over(partition_by=keys).label("_n"),
        )
        .where(g[GAP_US].is_not(None))
        .subquery("funnel_gaps")
    )
    rk = ranked.c
    # The middle value (odd n) or the two middle values (even n): n <= 2 * rank <= n + 2.
    middle = sa.and_(2 * rk["_rank"] >= rk["_n"], 2 * rk["_rank"] <= rk["_n"] + 2)
    medians = (
        sa.select(
            rk[c.GROUP],
            rk[c.STEP],
            sa.cast(sa.func.avg(rk[GAP_US]), sa.Double()).label("median_us"),
        )
        .where(middle)
        .group_by(rk[c.GROUP], rk[c.STEP])
        .subquery("funnel_medians")
    )
    ct, md = counts.c, medians.c
    on = sa.and_(ct[c.GROUP] == md[c.GROUP], ct[c.STEP] == md[c.STEP])
    return (
        sa.select(ct[c.GROUP], ct[c.STEP], ct[c.PEOPLE], md["median_us"])
        .select_from(counts.outerjoin(medians, on))
        .order_by(bytewise(ct[c.GROUP]).asc(), ct[c.STEP].asc())
    )


def people_statement(
    touches: sa.CTE,
    spec: FunnelSpec,
    *,
    step: int,
    outcome: str = REACHED,
    group: str | None = None,
    limit: int = PEOPLE_LIMIT,
) -> sa.Select[Any]:
    """``analytics.funnel.people_at`` as SQL: ``email`` and ``reached_at``, by email, bounded."""
    check_step(spec, step, outcome)
    people, steps = step_ctes(touches, spec)
    pc = people.c
    if outcome == REACHED:
        s = steps[step - 1].c
        source: Any = steps[step - 1].join(people, s[c.EMAIL] == pc[c.EMAIL])
        where: list[Any] = []
    else:
        s, nxt = steps[step - 2].c, steps[step - 1]
        source = (
            steps[step - 2]
            .join(people, s[c.EMAIL] == pc[c.EMAIL])
            .outerjoin(nxt, s[c.EMAIL] == nxt.c[c.EMAIL])
        )
        where = [nxt.c[c.EMAIL].is_(None)]
    if group is not None:
        where.append(pc[c.GROUP] == sa.bindparam("funnel_group", group))
    return (
        sa.select(s[c.EMAIL], s[c.OCCURRED_AT].label(REACHED_AT))
        .select_from(source)
        .where(*where)
        .order_by(bytewise(s[c.EMAIL]).asc())
        .limit(limit)
    )


# --------------------------------------------------------------------------- running
def funnel_figures(
    engine: Engine,
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    *,
    spec: FunnelSpec,
    filters: Filters | None = None,
) -> pl.DataFrame:
    """The funnel of ``query``'s rows (kept by ``filters``), computed by the warehouse:
    equal to ``analytics.funnel.funnel`` on the same rows."""
    rows = read_rows(
        engine, mapping, funnel_statement(cohort_touches(query, mapping, config, filters), spec)
    )
    counts = pl.DataFrame(
        [(g, int(k), int(n), None if m is None else float(m) / 1_000_000) for g, k, n, m in rows],
        schema={
            c.GROUP: pl.String,
            c.STEP: pl.Int64,
            c.PEOPLE: pl.Int64,
            MEDIAN_SECONDS: pl.Float64,
        },
        orient="row",
    )
    return assemble(counts, spec)


def funnel_people(
    engine: Engine,
    query: JourneyQuery,
    mapping: SchemaMapping = CANONICAL,
    config: ChannelConfig | None = None,
    *,
    spec: FunnelSpec,
    step: int,
    outcome: str = REACHED,
    group: str | None = None,
    filters: Filters | None = None,
    limit: int = PEOPLE_LIMIT,
) -> pl.DataFrame:
    """Up to ``limit`` people who reached (or dropped off at) ``step``, by email: equal to
    ``analytics.funnel.people_at`` on the same rows."""
    touches = cohort_touches(query, mapping, config, filters)
    stmt = people_statement(touches, spec, step=step, outcome=outcome, group=group, limit=limit)
    rows = read_rows(engine, mapping, stmt)
    frame = pl.DataFrame(
        [(email, _utc(at)) for email, at in rows],
        schema={c.EMAIL: pl.String, REACHED_AT: pl.Datetime("us", "UTC")},
        orient="row",
    )
    return frame


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
