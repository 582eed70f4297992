"""A real funnel: ordered steps within a conversion window, pure Polars (the oracle).

:mod:`journey_core.warehouse.funnel` computes the same funnel as one SQL statement; this
module is its definition, tested on hand-made journeys.

Definitions (one :class:`FunnelSpec`):

- **Step 1** is a person's earliest event (by ``occurred_at``, then ``event_id``) of the
  first step's event type at or after ``since`` (when given). It anchors the window.
- **Step k** (k > 1) is the person's earliest event of step k's type strictly after the
  event of step k-1 (later ``occurred_at``, or the same time and a larger ``event_id``) and at
  most ``window`` after step 1 (exactly ``window`` after still counts). A person who does an
  event many times counts once per step.
- **Who**: :data:`NEWLY_KNOWN` people (``known_at >= since``), :data:`PREVIOUSLY_KNOWN`
  people (the others) or :data:`ALL_PEOPLE`.
- **Breakdown** (optional, :data:`BREAKDOWNS`, the campaign page's dimensions): the channel,
  source, medium, source / medium, campaign, landing page or device of the person's first
  touch in the rows (:func:`journey_core.analytics.sessions.with_touches` defines touches),
  or whether they are newly or previously known (needs ``since``).
- Per group and step: ``people``, ``from_start`` (share of step 1), ``from_previous``
  (share of the step before; 1.0 at step 1), ``drop_off`` (people of the step before who
  did not reach this one) and ``median_seconds`` (median time from the step before, null at
  step 1). Rates are 0.0, never null, when the denominator is 0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import polars as pl

from journey_core import columns as c
from journey_core.analytics.campaign import (
    ALL_PEOPLE,
    DIMENSIONS,
    NEWLY_KNOWN,
    PREVIOUSLY_KNOWN,
    with_dimension,
    with_sessions,
)
from journey_core.errors import InputError
from journey_core.timeutil import utc_lit

__all__ = [
    "ALL_PEOPLE",
    "BREAKDOWNS",
    "DEFAULT_WINDOW",
    "DROPPED",
    "FROM_PREVIOUS",
    "FROM_START",
    "FUNNEL_COLUMNS",
    "MEDIAN_SECONDS",
    "NEWLY_KNOWN",
    "NEWLY_KNOWN_STEPS",
    "OUTCOMES",
    "PEOPLE_LIMIT",
    "PREVIOUSLY_KNOWN",
    "PREVIOUSLY_KNOWN_STEPS",
    "REACHED",
    "REACHED_AT",
    "WHO",
    "FunnelSpec",
    "assemble",
    "check_step",
    "default_steps",
    "funnel",
    "people_at",
    "step_times",
]

#: Newly known people: a visit, the sign-up that made them known, a purchase.
NEWLY_KNOWN_STEPS: Final[tuple[str, ...]] = ("page_view", "signup", "purchase")
#: Previously known people signed up before: a visit, a cart, a purchase.
PREVIOUSLY_KNOWN_STEPS: Final[tuple[str, ...]] = ("page_view", "add_to_cart", "purchase")
DEFAULT_WINDOW: Final = dt.timedelta(days=30)
WHO: Final[tuple[str, ...]] = (NEWLY_KNOWN, PREVIOUSLY_KNOWN, ALL_PEOPLE)
#: What a funnel splits by: every breakdown of the campaign page (``campaign.DIMENSIONS``).
BREAKDOWNS: Final[tuple[str, ...]] = DIMENSIONS
REACHED: Final = "reached"
DROPPED: Final = "dropped"
OUTCOMES: Final[tuple[str, ...]] = (REACHED, DROPPED)
PEOPLE_LIMIT: Final = 100

FROM_START: Final = "from_start"
FROM_PREVIOUS: Final = "from_previous"
MEDIAN_SECONDS: Final = "median_seconds"
REACHED_AT: Final = "reached_at"
#: The columns of :func:`funnel`, in order.
FUNNEL_COLUMNS: Final[tuple[str, ...]] = (
    c.GROUP,
    c.STEP,
    c.EVENT_TYPE,
    c.PEOPLE,
    FROM_START,
    FROM_PREVIOUS,
    c.DROP_OFF,
    MEDIAN_SECONDS,
)


def default_steps(who: str) -> tuple[str, ...]:
    """The default steps for ``who``: no Sign-up step for people known before the start.

    >>> default_steps("Previously known")
    ('page_view', 'add_to_cart', 'purchase')
    """
    return PREVIOUSLY_KNOWN_STEPS if who == PREVIOUSLY_KNOWN else NEWLY_KNOWN_STEPS


@dataclass(frozen=True, slots=True)
class FunnelSpec:
    """What a funnel measures (validated on creation; hashable, a cache key).

    >>> FunnelSpec(steps=("page_view",))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    journey_core.errors.InputError: steps: pick at least two funnel steps, ...
    """

    steps: tuple[str, ...] = NEWLY_KNOWN_STEPS
    window: dt.timedelta = DEFAULT_WINDOW
    since: dt.datetime | None = None
    who: str = ALL_PEOPLE
    breakdown: str | None = None

    def __post_init__(self) -> None:
        if len(self.steps) < 2:
            msg = "pick at least two funnel steps, e.g. page_view then purchase."
            raise InputError("steps", msg)
        if self.window <= dt.timedelta(0):
            raise InputError("window", "the conversion window must be longer than 0 days.")
        if self.who not in WHO:
            raise InputError("who", f"{self.who!r} is not one of {', '.join(WHO)}.")
        if self.who != ALL_PEOPLE and self.since is None:
            msg = f"{self.who} people need a start date (since) to tell them apart."
            raise InputError("who", msg)
        if self.breakdown is not None and self.breakdown not in BREAKDOWNS:
            msg = f"{self.breakdown!r} is not a funnel breakdown; use one of {BREAKDOWNS}."
            raise InputError("breakdown", msg)
        if self.breakdown == c.KNOWN_STATUS and self.since is None:
            msg = "newly vs previously known needs a start date (since) to tell them apart."
            raise InputError("breakdown", msg)

    @property
    def window_us(self) -> int:
        """The window in whole microseconds."""
        return self.window // dt.timedelta(microseconds=1)


def _at(step: int) -> str:
    return f"at_{step}"


def step_times(frame: pl.DataFrame, spec: FunnelSpec) -> pl.DataFrame:
    """One row per person who reached step 1: ``email``, ``group`` and ``at_1`` .. ``at_n``
    (when they reached each step; null after the last step they reached), sorted by email."""
    rows = frame if c.IS_TOUCH in frame.columns else with_sessions(frame)
    group = pl.lit(ALL_PEOPLE)
    if spec.breakdown is not None:
        rows = with_dimension(rows, spec.breakdown, since=spec.since)
        group = pl.col(spec.breakdown)
    people = (
        rows.sort(c.EMAIL, c.OCCURRED_AT, c.EVENT_ID, nulls_last=True)
        .filter(pl.col(c.IS_TOUCH))
        .group_by(c.EMAIL, maintain_order=True)
        .agg(group.first().alias(c.GROUP), pl.col(c.KNOWN_AT).first())
    )
    if spec.who != ALL_PEOPLE:
        assert spec.since is not None
        newly = pl.col(c.KNOWN_AT) >= utc_lit(spec.since)
        people = people.filter(newly if spec.who == NEWLY_KNOWN else ~newly)
    events = rows.select(c.EMAIL, c.EVENT_TYPE, c.OCCURRED_AT, c.EVENT_ID).join(
        people.select(c.EMAIL), on=c.EMAIL, how="semi"
    )
    order = [c.EMAIL, c.OCCURRED_AT, c.EVENT_ID]
    first = events.filter(pl.col(c.EVENT_TYPE) == spec.steps[0])
    if spec.since is not None:
        first = first.filter(pl.col(c.OCCURRED_AT) >= utc_lit(spec.since))
    reached = (
        first.sort(order, nulls_last=True)
        .group_by(c.EMAIL, maintain_order=True)
        .first()
        .select(
            c.EMAIL,
            pl.col(c.OCCURRED_AT).alias("_start"),
            pl.col(c.OCCURRED_AT).alias("_prev_at"),
            pl.col(c.EVENT_ID).alias("_prev_id"),
        )
    )
    out = reached.select(c.EMAIL, pl.col("_start").alias(_at(1)))
    window = pl.duration(microseconds=spec.window_us)
    at = pl.col(c.OCCURRED_AT)
    prev_at = pl.col("_prev_at")
    after = (at > prev_at) | ((at == prev_at) & (pl.col(c.EVENT_ID) > pl.col("_prev_id")))
    for k, event_type in enumerate(spec.steps[1:], start=2):
        reached = (
            events.filter(pl.col(c.EVENT_TYPE) == event_type)
            .join(reached, on=c.EMAIL)
            .filter(after, (at - pl.col("_start")) <= window)
            .sort(order, nulls_last=True)
            .group_by(c.EMAIL, maintain_order=True)
            .first()
            .select(
                c.EMAIL,
                "_start",
                pl.col(c.OCCURRED_AT).alias("_prev_at"),
                pl.col(c.EVENT_ID).alias("_prev_id"),
            )
        )
        out = out.join(
            reached.select(c.EMAIL, pl.col("_prev_at").alias(_at(k))), on=c.EMAIL, how="left"
        )
    return (
        out.join(people.select(c.EMAIL, c.GROUP), on=c.EMAIL)
        .select(c.EMAIL, c.GROUP, *(_at(k) for k in range(1, len(spec.steps) + 1)))
        .sort(c.EMAIL)
    )


def funnel(frame: pl.DataFrame, spec: FunnelSpec) -> pl.DataFrame:
    """The funnel of ``frame`` (:data:`FUNNEL_COLUMNS`), one row per group and step.

    Groups are ordered by their step-1 people (most first), then by name; without a
    breakdown there is one group, :data:`ALL_PEOPLE`, even when nobody reached step 1.

    >>> t = [dt.datetime(2022, 7, d, tzinfo=dt.UTC) for d in (1, 2, 3)]
    >>> rows = pl.DataFrame({"email": ["a", "a", "b"], "event_type": ["view", "buy", "view"],
    ...     "occurred_at": t, "event_id": ["1", "2", "3"], "known_at": t})
    >>> funnel(rows, FunnelSpec(steps=("view", "buy"))).select("people", "drop_off").rows()
    [(2, 0), (1, 1)]
    """
    times = step_times(frame, spec)
    n = len(spec.steps)
    per_step = []
    for k in range(1, n + 1):
        gap = (
            (pl.col(_at(k)) - pl.col(_at(k - 1))).dt.total_microseconds()
            if k > 1
            else pl.lit(None, pl.Int64)
        )
        per_step.append(
            times.filter(pl.col(_at(k)).is_not_null())
            .group_by(c.GROUP)
            .agg(
                pl.len().cast(pl.Int64).alias(c.PEOPLE),
                (gap.median() / 1_000_000).cast(pl.Float64).alias(MEDIAN_SECONDS),
            )
            .with_columns(pl.lit(k, pl.Int64).alias(c.STEP))
        )
    counts = pl.concat(per_step, how="vertical_relaxed")
    return assemble(counts, spec)


def assemble(counts: pl.DataFrame, spec: FunnelSpec) -> pl.DataFrame:
    """The funnel frame from ``group``, ``step``, ``people`` and ``median_seconds`` rows
    (missing steps are 0 people): rates, drop-off and the order of :func:`funnel`.

    Both routes end here, so the warehouse returns only the counts and medians.
    """
    starts = counts.filter(pl.col(c.STEP) == 1).sort([c.PEOPLE, c.GROUP], descending=[True, False])
    groups = starts.get_column(c.GROUP).to_list()
    if spec.breakdown is None:
        groups = [ALL_PEOPLE]
    n = len(spec.steps)
    grid = pl.DataFrame(
        {
            c.GROUP: [g for g in groups for _ in range(n)],
            c.STEP: [k for _ in groups for k in range(1, n + 1)],
            c.EVENT_TYPE: [s for _ in groups for s in spec.steps],
        },
        schema={c.GROUP: pl.String, c.STEP: pl.Int64, c.EVENT_TYPE: pl.String},
    )
    joined = grid.join(
        counts.select(
            pl.col(c.GROUP).cast(pl.String),
            pl.col(c.STEP).cast(pl.Int64),
            pl.col(c.PEOPLE).cast(pl.Int64),
            pl.col(MEDIAN_SECONDS).cast(pl.Float64),
        ),
        on=[c.GROUP, c.STEP],
        how="left",
        maintain_order="left",
    ).with_columns(pl.col(c.PEOPLE).fill_null(0))
    people = pl.col(c.PEOPLE)
    prev = people.shift(1).over(c.GROUP, order_by=c.STEP)
    first = people.first().over(c.GROUP, order_by=c.STEP)
    return joined.select(
        c.GROUP,
        c.STEP,
        c.EVENT_TYPE,
        people,
        pl.when(first > 0).then(people / first).otherwise(0.0).alias(FROM_START),
        pl.when(pl.col(c.STEP) == 1)
        .then(pl.when(people > 0).then(1.0).otherwise(0.0))
        .when(prev > 0)
        .then(people / prev)
        .otherwise(0.0)
        .alias(FROM_PREVIOUS),
        (prev.fill_null(people) - people).alias(c.DROP_OFF),
        pl.col(MEDIAN_SECONDS),
    )


def people_at(
    frame: pl.DataFrame,
    spec: FunnelSpec,
    *,
    step: int,
    outcome: str = REACHED,
    group: str | None = None,
    limit: int = PEOPLE_LIMIT,
) -> pl.DataFrame:
    """Up to ``limit`` people who reached step ``step`` (``outcome`` :data:`REACHED`) or
    reached the step before but not this one (:data:`DROPPED`), optionally of one
    ``group``: ``email`` and ``reached_at`` (when they reached ``step``, or for those who
    dropped off the step before), sorted by email."""
    check_step(spec, step, outcome)
    times = step_times(frame, spec)
    if group is not None:
        times = times.filter(pl.col(c.GROUP) == group)
    if outcome == REACHED:
        picked = times.filter(pl.col(_at(step)).is_not_null()).select(
            c.EMAIL, pl.col(_at(step)).alias(REACHED_AT)
        )
    else:
        picked = times.filter(
            pl.col(_at(step - 1)).is_not_null(), pl.col(_at(step)).is_null()
        ).select(c.EMAIL, pl.col(_at(step - 1)).alias(REACHED_AT))
    return picked.sort(c.EMAIL).head(limit)


def check_step(spec: FunnelSpec, step: int, outcome: str) -> None:
    """Raise :class:`InputError` unless ``step`` has ``outcome`` people in ``spec``."""
    if outcome not in OUTCOMES:
        raise InputError("outcome", f"{outcome!r} is not one of {', '.join(OUTCOMES)}.")
    low = 2 if outcome == DROPPED else 1
    if not low <= step <= len(spec.steps):
        last = len(spec.steps)
        msg = f"step {step} is not a funnel step with {outcome} people (steps {low}..{last})."
        raise InputError("step", msg)
