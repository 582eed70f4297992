"""Campaign analytics on journey rows: conversions, attribution models, paths, time to convert.

Pure Polars over the rows of :func:`journey_core.rules.journeys` /
:func:`journey_core.warehouse.fetch_journeys` (one row per event with ``email``,
``occurred_at``, ``event_type``, UTM tags, ``referrer``, ``page_url``, ``revenue`` and
``known_at``). Nothing reads a clock: the analysis window is passed in.

- **Touches** (:func:`touches`) and **conversions** (:func:`conversions`): as defined once
  in :mod:`journey_core.analytics.sessions` (visits by ``session_id``, else 30 minutes of
  inactivity; channels from :mod:`.channels`). Per *session*, the touch is the visit's first
  event and its channel; per *touch*, every visit start and every event that brings its own
  UTM tags or external referrer is a touch. Conversions are events of the configured types
  (default ``purchase``), optionally only those with revenue > 0, inside the window; with a
  touch filter, only those :func:`scoped` keeps (the campaign page's scope).
- **Attribution** (:func:`credits`, :func:`attribute`): each conversion's credit (summing to
  1) is shared among the touches of the same person in the lookback window before it
  (default 30 days, the conversion's own session included) by six models.
- **Paths** (:func:`conversion_paths`, :func:`non_conversion_paths`, :func:`path_summary`):
  the channel sequence before each conversion, and before the last touch of people who did
  not convert, with repeated channels optionally collapsed.
- **Time to convert** (:func:`time_to_convert` and its summary and histogram): from the
  first touch in the lookback before the first conversion.
- **The rows to analyse** (:func:`lookback_query`, :func:`cohort_rows`): the people of a
  campaign cohort with every event of theirs in the lookback before the start date, so
  that people known before the start keep the touches that led them there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import polars as pl

from journey_core import columns as c
from journey_core.analytics.campaign import Filters, with_scope, with_sessions
from journey_core.analytics.channels import NOT_SET, ChannelConfig
from journey_core.analytics.sessions import (
    CONVERSION_EVENTS,
    SESSION_GAP,
    is_conversion,
    with_touches,
)
from journey_core.columns import (
    BIN,
    BIN_END,
    BIN_START,
    CONVERSION_RATE,
    DAYS_FROM_FIRST_TOUCH,
    DAYS_FROM_KNOWN,
    FIRST_CONVERSION_AT,
    FIRST_TOUCH_AT,
    FIRST_TOUCH_CHANNEL,
    GROUP,
    MEASURE,
    MEDIAN_DAYS,
    P90_DAYS,
    PEOPLE,
    REVENUE_CREDIT,
    SOURCE_NODE,
    TARGET_NODE,
    TOUCH_INDEX,
    TOUCHES,
    VALUE,
)
from journey_core.errors import InputError
from journey_core.rules.query import JourneyQuery
from journey_core.timeutil import TS, utc_lit

# Output column names are defined in journey_core.columns and re-exported here.
__all__ = [
    "ALL",
    "BIN",
    "BIN_END",
    "BIN_START",
    "CONVERSION_COLUMNS",
    "CONVERSION_EVENTS",
    "CONVERSION_RATE",
    "CONVERTED",
    "CREDIT_COLUMNS",
    "DAYS_FROM_FIRST_TOUCH",
    "DAYS_FROM_KNOWN",
    "DEFAULT_BINS",
    "FIRST_CONVERSION_AT",
    "FIRST_TOUCH_AT",
    "FIRST_TOUCH_CHANNEL",
    "FROM_FIRST_TOUCH",
    "FROM_KNOWN",
    "GROUP",
    "MEASURE",
    "MEDIAN_DAYS",
    "NOT_CONVERTED",
    "NO_TOUCH",
    "P90_DAYS",
    "PATH_SEPARATOR",
    "PEOPLE",
    "REVENUE_CREDIT",
    "SESSION_GAP",
    "SOURCE_NODE",
    "TARGET_NODE",
    "TOUCHES",
    "TOUCH_COLUMNS",
    "TOUCH_INDEX",
    "VALUE",
    "AttributionReport",
    "AttributionSettings",
    "AttributionTotals",
    "Model",
    "PathUnit",
    "analyze",
    "attribute",
    "channel_counts",
    "cohort_rows",
    "conversion_paths",
    "conversions",
    "credits",
    "lookback_query",
    "non_conversion_paths",
    "path_summary",
    "sankey_links",
    "scoped",
    "time_to_convert",
    "time_to_convert_histogram",
    "time_to_convert_summary",
    "totals",
    "touches",
]

PATH_SEPARATOR: Final = " > "
NO_TOUCH: Final = "(no touch)"
CONVERTED: Final = "Conversion"
NOT_CONVERTED: Final = "No conversion"
ALL: Final = "All"
FROM_FIRST_TOUCH: Final = "from first touch"
FROM_KNOWN: Final = "from becoming known"

_DAY_US: Final = 86_400_000_000


class Model(StrEnum):
    """The attribution models."""

    FIRST_TOUCH = "first_touch"
    LAST_TOUCH = "last_touch"
    LAST_NON_DIRECT = "last_non_direct"
    LINEAR = "linear"
    TIME_DECAY = "time_decay"
    POSITION_BASED = "position_based"

    @property
    def label(self) -> str:
        """The model's name for people.

        >>> Model.LAST_NON_DIRECT.label
        'Last non-direct touch'
        """
        return _LABELS[self]


_LABELS: Final = {
    Model.FIRST_TOUCH: "First touch",
    Model.LAST_TOUCH: "Last touch",
    Model.LAST_NON_DIRECT: "Last non-direct touch",
    Model.LINEAR: "Linear",
    Model.TIME_DECAY: "Time decay",
    Model.POSITION_BASED: "Position-based",
}


class PathUnit(StrEnum):
    """What one step of a path is."""

    SESSION = "session"
    TOUCH = "touch"


@dataclass(frozen=True, slots=True)
class AttributionSettings:
    """How conversions, touches and credit are defined. Invalid values raise ``InputError``.

    - ``conversion_event_types``: event types that convert (``None``: any event type).
    - ``require_revenue``: only events with revenue > 0 convert.
    - ``lookback``: touches this long before a conversion (up to it) count.
    - ``path_unit``: one step per session or per touch; ``session_gap``: inactivity that
      starts a new session (used when the rows carry no ``session_id``).
    - ``collapse_repeats``: paths show consecutive repeats of a channel once.
    - ``half_life``: time decay halves a touch's weight for each ``half_life`` before the
      conversion. ``first_weight``/``last_weight``: position-based shares of the first and
      last touch (the rest is spread over the middle touches).
    - ``touch_event_types``: event types that can be touches (``None``: every event).
    """

    conversion_event_types: tuple[str, ...] | None = CONVERSION_EVENTS
    require_revenue: bool = False
    lookback: dt.timedelta = dt.timedelta(days=30)
    path_unit: PathUnit = PathUnit.SESSION
    session_gap: dt.timedelta = SESSION_GAP
    collapse_repeats: bool = True
    half_life: dt.timedelta = dt.timedelta(days=7)
    first_weight: float = 0.4
    last_weight: float = 0.4
    touch_event_types: tuple[str, ...] | None = None
    channels: ChannelConfig = field(default_factory=ChannelConfig.default)

    def __post_init__(self) -> None:
        if self.conversion_event_types is not None:
            types = tuple(t.strip() for t in self.conversion_event_types if t.strip())
            if not types:
                msg = "name at least one event type, e.g. purchase."
                raise InputError("conversion_event_types", msg)
            object.__setattr__(self, "conversion_event_types", types)
        for name in ("lookback", "session_gap", "half_life"):
            if getattr(self, name) <= dt.timedelta(0):
                msg = "must be a positive duration, e.g. 30 days."
                raise InputError(name, msg)
        object.__setattr__(self, "path_unit", PathUnit(self.path_unit))
        first, last = self.first_weight, self.last_weight
        if not (0 <= first <= 1 and 0 <= last <= 1 and 0 < first + last <= 1):
            msg = (
                f"first {first:g} and last {last:g} must each be between 0 and 1 and "
                "together above 0 and at most 1, e.g. 0.4 and 0.4."
            )
            raise InputError("position_weights", msg)

    @classmethod
    def build(
        cls,
        *,
        conversion_event_types: str | Sequence[str] | None = "purchase",
        require_revenue: bool = False,
        lookback_days: float = 30,
        path_unit: str = "session",
        session_gap_minutes: float = 30,
        collapse_repeats: bool = True,
        half_life_days: float = 7,
        channels: ChannelConfig | None = None,
    ) -> AttributionSettings:
        """Settings from raw UI values; event types may be one comma-separated string.

        >>> s = AttributionSettings.build(conversion_event_types="purchase, signup")
        >>> s.conversion_event_types
        ('purchase', 'signup')
        """
        if isinstance(conversion_event_types, str):
            conversion_event_types = conversion_event_types.split(",")
        types = None if conversion_event_types is None else tuple(conversion_event_types)
        try:
            unit = PathUnit(path_unit)
        except ValueError:
            msg = f"{path_unit!r} is not a path unit; use session or touch."
            raise InputError("path_unit", msg) from None
        for name, value in (
            ("lookback_days", lookback_days),
            ("session_gap_minutes", session_gap_minutes),
            ("half_life_days", half_life_days),
        ):
            if not math.isfinite(value) or value <= 0:
                msg = f"{value!r} is not a positive number; use e.g. 30."
                raise InputError(name, msg)
        return cls(
            conversion_event_types=types,
            require_revenue=require_revenue,
            lookback=dt.timedelta(days=lookback_days),
            path_unit=unit,
            session_gap=dt.timedelta(minutes=session_gap_minutes),
            collapse_repeats=collapse_repeats,
            half_life=dt.timedelta(days=half_life_days),
            channels=channels or ChannelConfig.default(),
        )


# --------------------------------------------------------------------------------------------
# Touches and conversions


def _in_window(column: str, start: dt.datetime | None, end: dt.datetime | None) -> pl.Expr:
    at = pl.col(column)
    cond = pl.lit(value=True)
    if start is not None:
        cond = cond & (at >= utc_lit(start))
    if end is not None:
        cond = cond & (at <= utc_lit(end))
    return cond


def _conform(journeys: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    frame = journeys.lazy()
    schema = frame.collect_schema()
    for name in (c.EMAIL, c.OCCURRED_AT):
        if name not in schema:
            msg = f"the journey rows have no {name!r} column; pass rows from fetch_journeys."
            raise InputError("journeys", msg)
    extra: list[pl.Expr] = []
    for name in (c.EVENT_ID, c.EVENT_TYPE, c.SESSION_ID):
        if name not in schema:
            extra.append(pl.lit(None, pl.String).alias(name))
    if c.REVENUE not in schema:
        extra.append(pl.lit(None, pl.Float64).alias(c.REVENUE))
    if c.KNOWN_AT not in schema:
        extra.append(pl.lit(None, TS).alias(c.KNOWN_AT))
    at = pl.col(c.OCCURRED_AT)
    dtype = schema[c.OCCURRED_AT]
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        at = at.dt.replace_time_zone("UTC")
    elif isinstance(dtype, pl.Datetime):
        at = at.dt.convert_time_zone("UTC")
    return frame.with_columns(extra).with_columns(
        at.dt.cast_time_unit("us").alias(c.OCCURRED_AT),
        pl.col(c.EVENT_ID).cast(pl.String),
        pl.col(c.SESSION_ID).cast(pl.String),
        pl.col(c.REVENUE).cast(pl.Float64),
    )


TOUCH_COLUMNS: Final = (
    c.EMAIL,
    c.KNOWN_AT,
    c.SESSION_ID,
    c.EVENT_ID,
    c.TOUCH_AT,
    c.CHANNEL,
    c.SOURCE,
    c.MEDIUM,
    c.CAMPAIGN,
)


def touches(
    journeys: pl.LazyFrame | pl.DataFrame,
    *,
    settings: AttributionSettings,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> pl.LazyFrame:
    """One row per touch (per session or per touch, see ``settings.path_unit``).

    Only events of ``settings.touch_event_types`` are touch candidates; with ``start``,
    touches from ``start - lookback`` on count, with ``end`` up to ``end``. Columns:
    email, known_at, session_id, event_id, touch_at, channel, source, medium, campaign.
    """
    frame = _conform(journeys)
    if settings.touch_event_types is not None:
        frame = frame.filter(pl.col(c.EVENT_TYPE).is_in(list(settings.touch_event_types)))
    lower = None if start is None else start - settings.lookback
    frame = frame.filter(_in_window(c.OCCURRED_AT, lower, end))
    rows = with_touches(frame, gap=settings.session_gap, channels=settings.channels, repeats=True)
    keep = c.IS_SESSION_START if settings.path_unit is PathUnit.SESSION else c.IS_TOUCH
    return (
        rows.filter(pl.col(keep))
        .rename({c.OCCURRED_AT: c.TOUCH_AT})
        .select(TOUCH_COLUMNS)
        .sort(c.EMAIL, c.TOUCH_AT, c.EVENT_ID, nulls_last=True)
        # Materialised: Polars 2.1's streaming engine panics on some plans that reuse the
        # visit scans (gather by row index) in several joined branches, as credits() does.
        .collect()
        .lazy()
    )


CONVERSION_COLUMNS: Final = (c.EMAIL, c.CONVERSION_ID, c.CONVERTED_AT, c.REVENUE, c.KNOWN_AT)


def conversions(
    journeys: pl.LazyFrame | pl.DataFrame,
    *,
    settings: AttributionSettings,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> pl.LazyFrame:
    """One row per conversion in ``[start, end]``: email, conversion_id, converted_at, revenue.

    When ``journeys`` has ``in_scope`` (:func:`scoped`), only its in-scope rows convert.
    ``conversion_id`` is the event id (or ``email@time`` when the rows have none); missing
    revenue counts as 0.
    """
    frame = _conform(journeys)
    cond = _in_window(c.OCCURRED_AT, start, end) & is_conversion(
        settings.conversion_event_types, require_revenue=settings.require_revenue
    )
    if c.IN_SCOPE in frame.collect_schema():
        cond = cond & pl.col(c.IN_SCOPE)
    # concat_str, not pl.format: Polars 2.1's format panicked ("binview ... i < self.len()")
    # on some multi-chunk rows of the rules (tests/unit/test_attribution.py).
    fallback_id = pl.concat_str(
        [pl.col(c.EMAIL), pl.lit("@"), pl.col(c.OCCURRED_AT).dt.to_string("%Y-%m-%dT%H:%M:%S%.6f")]
    )
    return (
        frame.filter(cond)
        .select(
            c.EMAIL,
            pl.coalesce(pl.col(c.EVENT_ID), fallback_id).alias(c.CONVERSION_ID),
            pl.col(c.OCCURRED_AT).alias(c.CONVERTED_AT),
            pl.col(c.REVENUE).fill_null(0.0),
            c.KNOWN_AT,
        )
        .unique(c.CONVERSION_ID, keep="first", maintain_order=True)
        .sort(c.CONVERTED_AT, c.EMAIL, c.CONVERSION_ID)
    )


# --------------------------------------------------------------------------------------------
# Attribution


def _touches_before(
    touch_rows: pl.LazyFrame, conversion_rows: pl.LazyFrame, *, settings: AttributionSettings
) -> pl.LazyFrame:
    """Each conversion with the touches of its person in the lookback window (inclusive).

    Conversions without any touch get one ``(no touch)`` row, so no conversion is lost.
    Adds ``touch_index`` (0-based, by time) and ``touches`` (the count).
    """
    lookback_us = int(settings.lookback / dt.timedelta(microseconds=1))
    conv = conversion_rows.select(c.EMAIL, c.CONVERSION_ID, c.CONVERTED_AT, c.REVENUE)
    joined = conv.join(
        touch_rows.select(c.EMAIL, c.TOUCH_AT, c.EVENT_ID, c.CHANNEL, c.CAMPAIGN), on=c.EMAIL
    ).filter(
        pl.col(c.TOUCH_AT) <= pl.col(c.CONVERTED_AT),
        (pl.col(c.CONVERTED_AT) - pl.col(c.TOUCH_AT)).dt.total_microseconds() <= lookback_us,
    )
    missing = (
        conv.join(joined.select(c.CONVERSION_ID).unique(), on=c.CONVERSION_ID, how="anti")
        .with_columns(
            pl.col(c.CONVERTED_AT).alias(c.TOUCH_AT),
            pl.lit(None, pl.String).alias(c.EVENT_ID),
            pl.lit(NO_TOUCH).alias(c.CHANNEL),
            pl.lit(NOT_SET).alias(c.CAMPAIGN),
        )
        .select(joined.collect_schema().names())
    )
    return (
        pl.concat([joined, missing])
        .sort(c.CONVERTED_AT, c.CONVERSION_ID, c.TOUCH_AT, c.EVENT_ID, nulls_last=True)
        .with_columns(
            pl.int_range(pl.len()).over(c.CONVERSION_ID).alias(TOUCH_INDEX),
            pl.len().over(c.CONVERSION_ID).alias(TOUCHES),
        )
    )


def _credit_expr(model: Model, settings: AttributionSettings, direct: str) -> pl.Expr:
    i, n = pl.col(TOUCH_INDEX), pl.col(TOUCHES)
    one, zero = pl.lit(1.0), pl.lit(0.0)
    if model is Model.FIRST_TOUCH:
        return pl.when(i == 0).then(one).otherwise(zero)
    if model is Model.LAST_TOUCH:
        return pl.when(i == n - 1).then(one).otherwise(zero)
    if model is Model.LAST_NON_DIRECT:
        non_direct = ~pl.col(c.CHANNEL).is_in([direct, NO_TOUCH])
        last_nd = pl.when(non_direct).then(i).max().over(c.CONVERSION_ID)
        target = pl.coalesce(last_nd, n - 1)
        return pl.when(i == target).then(one).otherwise(zero)
    if model is Model.LINEAR:
        return one / n
    if model is Model.TIME_DECAY:
        age = (pl.col(c.CONVERTED_AT) - pl.col(c.TOUCH_AT)).dt.total_microseconds()
        half_life_us = settings.half_life / dt.timedelta(microseconds=1)
        weight = (pl.lit(2.0) ** (-age.cast(pl.Float64) / half_life_us)).alias("_w")
        return weight / weight.sum().over(c.CONVERSION_ID)
    # Position-based: first/last shares, the rest spread evenly over the middle touches;
    # with two touches the first and last shares are scaled to sum to 1.
    first, last = settings.first_weight, settings.last_weight
    middle = (1.0 - first - last) / (n - 2).cast(pl.Float64)
    return (
        pl.when(n == 1)
        .then(one)
        .when(n == 2)
        .then(pl.when(i == 0).then(first / (first + last)).otherwise(last / (first + last)))
        .when(i == 0)
        .then(pl.lit(first))
        .when(i == n - 1)
        .then(pl.lit(last))
        .otherwise(middle)
    )


CREDIT_COLUMNS: Final = (
    c.MODEL,
    c.CONVERSION_ID,
    c.EMAIL,
    c.CONVERTED_AT,
    c.REVENUE,
    TOUCH_INDEX,
    TOUCHES,
    c.TOUCH_AT,
    c.CHANNEL,
    c.CAMPAIGN,
    c.CREDIT,
    REVENUE_CREDIT,
)


def credits(
    touch_rows: pl.LazyFrame,
    conversion_rows: pl.LazyFrame,
    *,
    settings: AttributionSettings,
    models: Sequence[Model] = tuple(Model),
) -> pl.LazyFrame:
    """One row per model, conversion and touch with the touch's share of the conversion.

    For every model the credits of one conversion sum to 1 and ``revenue_credit`` is
    ``credit * revenue``.
    """
    base = _touches_before(touch_rows, conversion_rows, settings=settings)
    direct = settings.channels.direct
    parts = [
        base.with_columns(
            pl.lit(str(Model(m))).alias(c.MODEL),
            _credit_expr(Model(m), settings, direct).cast(pl.Float64).alias(c.CREDIT),
        )
        for m in models
    ]
    if not parts:
        msg = "pick at least one attribution model."
        raise InputError("models", msg)
    return (
        pl.concat(parts)
        .with_columns((pl.col(c.CREDIT) * pl.col(c.REVENUE)).alias(REVENUE_CREDIT))
        .select(CREDIT_COLUMNS)
    )


def attribute(
    credit_rows: pl.LazyFrame,
    *,
    by: Sequence[str] = (c.CHANNEL,),
    touch_rows: pl.LazyFrame | None = None,
    models: Sequence[Model] = tuple(Model),
) -> pl.DataFrame:
    """Attributed conversions and revenue per model and ``by`` group (channel, campaign, ...).

    With ``touch_rows``, every group seen among the touches appears for every model, with 0
    where it earned no credit. Sorted by model (in ``models`` order), then conversions
    descending, then the group.
    """
    keys = list(by)
    summed = credit_rows.group_by(c.MODEL, *keys).agg(
        pl.col(c.CREDIT).sum().alias(c.CONVERSIONS), pl.col(REVENUE_CREDIT).sum().alias(c.REVENUE)
    )
    model_names = [str(Model(m)) for m in models]
    groups = credit_rows.select(keys)
    if touch_rows is not None:
        groups = pl.concat([groups, touch_rows.select(keys)])
    grid = pl.LazyFrame({c.MODEL: model_names}).join(groups.unique(), how="cross")
    order = pl.col(c.MODEL).replace_strict(model_names, list(range(len(model_names))))
    return (
        grid.join(summed, on=[c.MODEL, *keys], how="left", nulls_equal=True)
        # Rounded so that parallel summation order never shows in a table, sort or CSV.
        .with_columns(pl.col(c.CONVERSIONS, c.REVENUE).fill_null(0.0).round(9))
        .sort(order, -pl.col(c.CONVERSIONS), *keys, nulls_last=True)
        .select(c.MODEL, *keys, c.CONVERSIONS, c.REVENUE)
        .collect()
    )


# --------------------------------------------------------------------------------------------
# Paths


def _path_expr(*, collapse: bool) -> pl.Expr:
    """The ordered channels of a group joined by " > ", consecutive repeats dropped if asked."""
    channel = pl.col(c.CHANNEL)
    if collapse:
        channel = channel.filter(channel.ne_missing(channel.shift(1)))
    return channel.str.join(PATH_SEPARATOR)


def _paths(rows: pl.LazyFrame, keys: list[str], *, collapse: bool) -> pl.LazyFrame:
    ordered = rows.sort(*keys, c.TOUCH_AT, c.EVENT_ID, nulls_last=True)
    return ordered.group_by(keys, maintain_order=True).agg(
        pl.len().alias(TOUCHES),
        _path_expr(collapse=False).alias(c.PATH),
        _path_expr(collapse=collapse).alias(c.TRANSFORMED_PATH),
    )


def conversion_paths(
    touch_rows: pl.LazyFrame, conversion_rows: pl.LazyFrame, *, settings: AttributionSettings
) -> pl.DataFrame:
    """The channel path before each conversion (touches in the lookback window, in order).

    Columns: email, conversion_id, converted_at, revenue, touches, path and
    transformed_path (repeats collapsed when ``settings.collapse_repeats``).
    """
    rows = _touches_before(touch_rows, conversion_rows, settings=settings)
    keys = [c.CONVERTED_AT, c.CONVERSION_ID, c.EMAIL, c.REVENUE]
    paths = _paths(rows, keys, collapse=settings.collapse_repeats)
    return (
        paths.select(
            c.EMAIL, c.CONVERSION_ID, c.CONVERTED_AT, c.REVENUE, TOUCHES, c.PATH, c.TRANSFORMED_PATH
        )
        .sort(c.CONVERTED_AT, c.EMAIL, c.CONVERSION_ID)
        .collect()
    )


def non_conversion_paths(
    touch_rows: pl.LazyFrame, conversion_rows: pl.LazyFrame, *, settings: AttributionSettings
) -> pl.DataFrame:
    """The channel path of each person without a conversion: touches in the lookback window
    before (and including) their last touch. Columns: email, last_touch_at, touches, path,
    transformed_path.
    """
    lookback_us = int(settings.lookback / dt.timedelta(microseconds=1))
    converters = conversion_rows.select(c.EMAIL).unique()
    rows = (
        touch_rows.join(converters, on=c.EMAIL, how="anti")
        .with_columns(pl.col(c.TOUCH_AT).max().over(c.EMAIL).alias(c.LAST_TOUCH_AT))
        .filter(
            (pl.col(c.LAST_TOUCH_AT) - pl.col(c.TOUCH_AT)).dt.total_microseconds() <= lookback_us
        )
    )
    paths = _paths(rows, [c.EMAIL, c.LAST_TOUCH_AT], collapse=settings.collapse_repeats)
    return paths.sort(c.EMAIL).collect()


def path_summary(
    conversion_path_rows: pl.DataFrame, non_conversion_path_rows: pl.DataFrame
) -> pl.DataFrame:
    """Conversions, non-conversions, revenue and conversion rate per transformed path.

    Sorted by conversions, then non-conversions (both descending), then path.
    """
    conv = conversion_path_rows.group_by(c.TRANSFORMED_PATH).agg(
        pl.len().cast(pl.Int64).alias(c.CONVERSIONS), pl.col(c.REVENUE).sum()
    )
    non = non_conversion_path_rows.group_by(c.TRANSFORMED_PATH).agg(
        pl.len().cast(pl.Int64).alias(c.NON_CONVERSIONS)
    )
    total = pl.col(c.CONVERSIONS) + pl.col(c.NON_CONVERSIONS)
    return (
        conv.join(non, on=c.TRANSFORMED_PATH, how="full", coalesce=True)
        .with_columns(
            pl.col(c.CONVERSIONS, c.NON_CONVERSIONS).fill_null(0),
            pl.col(c.REVENUE).fill_null(0.0).round(9),
        )
        .with_columns((pl.col(c.CONVERSIONS) / total).alias(CONVERSION_RATE))
        .sort(
            [c.CONVERSIONS, c.NON_CONVERSIONS, c.TRANSFORMED_PATH],
            descending=[True, True, False],
        )
        .select(c.TRANSFORMED_PATH, c.CONVERSIONS, c.NON_CONVERSIONS, c.REVENUE, CONVERSION_RATE)
    )


def channel_counts(touch_rows: pl.LazyFrame) -> pl.DataFrame:
    """Touches (sessions, per session) per channel, campaign, source and medium."""
    return (
        touch_rows.group_by(c.CHANNEL, c.CAMPAIGN, c.SOURCE, c.MEDIUM)
        .agg(pl.len().cast(pl.Int64).alias(TOUCHES))
        .sort(
            [c.CHANNEL, TOUCHES, c.CAMPAIGN, c.SOURCE, c.MEDIUM],
            descending=[False, True, False, False, False],
        )
        .collect()
    )


def sankey_links(
    summary: pl.DataFrame, *, max_steps: int = 4, top_paths: int | None = None
) -> pl.DataFrame:
    """Links of a path Sankey: step k's channel -> step k+1's, last step -> outcome.

    Nodes are labelled ``"<step>. <channel>"``; paths longer than ``max_steps`` keep their
    last ``max_steps`` steps (the ones nearest the outcome), the first shown as
    ``"1. … <channel>"``. Values count paths (conversions plus non-conversions), and the
    outcome links carry ``Conversion`` and ``No conversion`` counts. With ``top_paths``,
    only that many paths are drawn: the most frequent (conversions, then all paths).
    """
    if max_steps < 1:
        msg = "must be at least 1."
        raise InputError("max_steps", msg)
    if top_paths is not None:
        summary = summary.sort(
            [c.CONVERSIONS, pl.col(c.CONVERSIONS) + pl.col(c.NON_CONVERSIONS), c.TRANSFORMED_PATH],
            descending=[True, True, False],
        ).head(top_paths)
    rows: dict[tuple[str, str], int] = {}
    for path, conv, non in summary.select(
        c.TRANSFORMED_PATH, c.CONVERSIONS, c.NON_CONVERSIONS
    ).iter_rows():
        steps = str(path).split(PATH_SEPARATOR)
        truncated = len(steps) > max_steps
        steps = steps[-max_steps:]
        labels = [f"{k + 1}. {ch}" for k, ch in enumerate(steps)]
        if truncated:
            labels[0] = f"1. … {steps[0]}"
        for a, b in itertools.pairwise(labels):
            rows[(a, b)] = rows.get((a, b), 0) + int(conv) + int(non)
        for outcome, count in ((CONVERTED, int(conv)), (NOT_CONVERTED, int(non))):
            if count:
                rows[(labels[-1], outcome)] = rows.get((labels[-1], outcome), 0) + count
    return pl.DataFrame(
        [(a, b, v) for (a, b), v in rows.items()],
        schema={SOURCE_NODE: pl.String, TARGET_NODE: pl.String, VALUE: pl.Int64},
        orient="row",
    ).sort(SOURCE_NODE, TARGET_NODE)


# --------------------------------------------------------------------------------------------
# Time to convert


def time_to_convert(
    touch_rows: pl.LazyFrame,
    conversion_rows: pl.LazyFrame,
    *,
    lookback: dt.timedelta | None = None,
) -> pl.DataFrame:
    """Per converting person: days from first touch and from becoming known to the first
    conversion.

    The first touch is the person's earliest touch at or before that conversion and, with
    ``lookback`` (:func:`analyze` passes the settings'), at most ``lookback`` before it: the
    first touch in the lookback, as the attribution models see it. ``days_from_known`` is
    null when the person converted before becoming known (or ``known_at`` is unknown).
    ``first_touch_channel`` groups the per-channel figures.
    """
    first_conv = conversion_rows.group_by(c.EMAIL).agg(
        pl.col(c.CONVERTED_AT).min().alias(FIRST_CONVERSION_AT), pl.col(c.KNOWN_AT).min()
    )
    in_lookback = pl.lit(value=True)
    if lookback is not None:
        lookback_us = int(lookback / dt.timedelta(microseconds=1))
        age = (pl.col(FIRST_CONVERSION_AT) - pl.col(c.TOUCH_AT)).dt.total_microseconds()
        in_lookback = age <= lookback_us
    first_touch = (
        touch_rows.join(first_conv.select(c.EMAIL, FIRST_CONVERSION_AT), on=c.EMAIL)
        .filter(pl.col(c.TOUCH_AT) <= pl.col(FIRST_CONVERSION_AT), in_lookback)
        .sort(c.TOUCH_AT, c.EVENT_ID, nulls_last=True)
        .group_by(c.EMAIL)
        .agg(
            pl.col(c.TOUCH_AT).first().alias(FIRST_TOUCH_AT),
            pl.col(c.CHANNEL).first().alias(FIRST_TOUCH_CHANNEL),
        )
    )
    days = pl.col(FIRST_CONVERSION_AT) - pl.col(FIRST_TOUCH_AT)
    known = pl.col(FIRST_CONVERSION_AT) - pl.col(c.KNOWN_AT)
    return (
        first_conv.join(first_touch, on=c.EMAIL, how="left")
        .with_columns(
            pl.coalesce(pl.col(FIRST_TOUCH_AT), pl.col(FIRST_CONVERSION_AT)).alias(FIRST_TOUCH_AT),
            pl.col(FIRST_TOUCH_CHANNEL).fill_null(NO_TOUCH),
        )
        .with_columns(
            (days.dt.total_microseconds() / _DAY_US).alias(DAYS_FROM_FIRST_TOUCH),
            pl.when(known >= pl.duration(microseconds=0))
            .then(known.dt.total_microseconds() / _DAY_US)
            .alias(DAYS_FROM_KNOWN),
        )
        .select(
            c.EMAIL,
            FIRST_TOUCH_AT,
            c.KNOWN_AT,
            FIRST_CONVERSION_AT,
            FIRST_TOUCH_CHANNEL,
            DAYS_FROM_FIRST_TOUCH,
            DAYS_FROM_KNOWN,
        )
        .sort(FIRST_CONVERSION_AT, c.EMAIL)
        .collect()
    )


def _long(ttc: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(
        [
            ttc.select(
                pl.lit(label).alias(MEASURE),
                pl.col(FIRST_TOUCH_CHANNEL).alias(c.CHANNEL),
                pl.col(column).alias("days"),
            )
            for label, column in (
                (FROM_FIRST_TOUCH, DAYS_FROM_FIRST_TOUCH),
                (FROM_KNOWN, DAYS_FROM_KNOWN),
            )
        ]
    ).drop_nulls("days")


def time_to_convert_summary(ttc: pl.DataFrame) -> pl.DataFrame:
    """People, median and p90 days (linear interpolation) per measure, for the whole cohort
    (group ``All``) and per first-touch channel."""
    long = _long(ttc)
    aggs = [
        pl.len().cast(pl.Int64).alias(PEOPLE),
        pl.col("days").median().alias(MEDIAN_DAYS),
        pl.col("days").quantile(0.9, interpolation="linear").alias(P90_DAYS),
    ]
    cohort = long.group_by(MEASURE).agg(aggs).with_columns(pl.lit(ALL).alias(GROUP))
    per_channel = long.group_by(MEASURE, c.CHANNEL).agg(aggs).rename({c.CHANNEL: GROUP})
    measures = [FROM_FIRST_TOUCH, FROM_KNOWN]
    return (
        pl.concat([cohort.select(per_channel.columns), per_channel])
        .with_columns((pl.col(GROUP) != ALL).alias("_is_channel"))
        .sort(
            pl.col(MEASURE).replace_strict(measures, [0, 1]),
            "_is_channel",
            -pl.col(PEOPLE),
            GROUP,
        )
        .select(MEASURE, GROUP, PEOPLE, MEDIAN_DAYS, P90_DAYS)
    )


DEFAULT_BINS: Final = (0.0, 1.0, 2.0, 3.0, 7.0, 14.0, 30.0, 60.0, 90.0)


def _bin_label(lo: float, hi: float | None) -> str:
    if hi is None:
        return f"{lo:g}+ days"
    if lo == 0 and hi == 1:
        return "< 1 day"
    return f"{lo:g}–{hi:g} days"


def time_to_convert_histogram(
    ttc: pl.DataFrame, *, bins: Sequence[float] = DEFAULT_BINS
) -> pl.DataFrame:
    """People per measure and day bin ``[start, end)``; the last bin is open-ended.

    Every bin appears (with 0 people) so charts keep a steady axis.
    """
    edges = sorted(set(float(b) for b in bins))
    if len(edges) < 1 or edges[0] != 0.0:
        msg = "must start at 0, e.g. (0, 1, 7, 30)."
        raise InputError("bins", msg)
    long = _long(ttc)
    uppers: list[float | None] = [*edges[1:], None]
    labels = [_bin_label(lo, hi) for lo, hi in zip(edges, uppers, strict=True)]
    grid = pl.DataFrame(
        {
            MEASURE: [m for m in (FROM_FIRST_TOUCH, FROM_KNOWN) for _ in edges],
            BIN: labels * 2,
            BIN_START: edges * 2,
            BIN_END: uppers * 2,
        },
        schema={MEASURE: pl.String, BIN: pl.String, BIN_START: pl.Float64, BIN_END: pl.Float64},
    )
    index = pl.lit(0, pl.Int64)
    for edge in edges[1:]:
        index = index + (pl.col("days") >= edge).cast(pl.Int64)
    counted = (
        long.with_columns(index.alias("_bin"))
        .group_by(MEASURE, "_bin")
        .agg(pl.len().cast(pl.Int64).alias(PEOPLE))
        .with_columns(
            pl.col("_bin").replace_strict(list(range(len(edges))), edges).alias(BIN_START)
        )
        .drop("_bin")
    )
    return (
        grid.join(counted, on=[MEASURE, BIN_START], how="left")
        .with_columns(pl.col(PEOPLE).fill_null(0))
        .select(MEASURE, BIN, BIN_START, BIN_END, PEOPLE)
    )


# --------------------------------------------------------------------------------------------
# Everything at once


@dataclass(frozen=True, slots=True)
class AttributionTotals:
    """The conversions of one analysis in numbers: converting people, conversions, revenue."""

    converters: int
    conversions: int
    revenue: float


def totals(conversion_rows: pl.DataFrame) -> AttributionTotals:
    """The :class:`AttributionTotals` of :func:`conversions`' rows."""
    return AttributionTotals(
        converters=conversion_rows.get_column(c.EMAIL).n_unique(),
        conversions=conversion_rows.height,
        revenue=float(conversion_rows.get_column(c.REVENUE).sum()),
    )


@dataclass(frozen=True, slots=True)
class AttributionReport:
    """All the tables of one analysis (each a DataFrame, ready for display and CSV), and
    its :class:`AttributionTotals`.

    The warehouse route (:func:`journey_core.warehouse.attribution.attribution_report`)
    returns the person-level tables (``touches``, ``conversions``, both path tables and
    ``time_to_convert``) as their first rows only, a bounded page; the totals count all.
    """

    touches: pl.DataFrame
    conversions: pl.DataFrame
    by_channel: pl.DataFrame
    by_campaign: pl.DataFrame
    conversion_paths: pl.DataFrame
    non_conversion_paths: pl.DataFrame
    path_summary: pl.DataFrame
    channel_counts: pl.DataFrame
    time_to_convert: pl.DataFrame
    time_to_convert_summary: pl.DataFrame
    time_to_convert_histogram: pl.DataFrame
    totals: AttributionTotals


def lookback_query(query: JourneyQuery, lookback: dt.timedelta) -> JourneyQuery:
    """``query``'s rule from a day more than ``lookback`` before its start date: its rows
    hold every event of the cohort's people that a lookback from the start can reach.

    >>> q = JourneyQuery(as_of=dt.datetime(2022, 8, 31), event_date=dt.date(2022, 7, 1))
    >>> lookback_query(q, dt.timedelta(days=30)).event_date
    datetime.date(2022, 5, 31)
    """
    if query.event_date is None:
        msg = "attribution needs a campaign cohort: a query with an event date."
        raise InputError("event_date", msg)
    days = math.ceil(lookback / dt.timedelta(days=1)) + 1  # +1: a DST day may be 23 hours
    return dataclasses.replace(query, event_date=query.event_date - dt.timedelta(days=days))


def cohort_rows(
    rows_of: Callable[[JourneyQuery], pl.DataFrame],
    query: JourneyQuery,
    lookback: dt.timedelta,
) -> tuple[pl.DataFrame, int]:
    """The rows :func:`analyze` takes for the cohort of ``query``, and its number of people.

    ``rows_of`` returns a query's journey rows (``rules.journeys`` or ``fetch_journeys``).
    The rows are those of :func:`lookback_query` for the people of ``query`` (the cohort):
    their touches before the start date count when they fall in the lookback.
    """
    people = rows_of(query).get_column(c.EMAIL).unique()
    wide = rows_of(lookback_query(query, lookback))
    return wide.filter(pl.col(c.EMAIL).is_in(people.implode())), people.len()


def scoped(
    journeys: pl.DataFrame, filters: Filters, *, settings: AttributionSettings
) -> pl.DataFrame:
    """``journeys`` with ``in_scope`` as the campaign page scopes conversions to a touch
    filter (:func:`.campaign.with_scope` over the visits of ``settings.channels``); then
    :func:`conversions` counts a conversion only after the person's matching touch, within
    :data:`.campaign.CONVERSION_LOOKBACK`. Without such a filter, ``journeys`` unchanged.

    >>> t = [dt.datetime(2022, 8, d, 10, tzinfo=dt.UTC) for d in (4, 15, 16)]
    >>> rows = pl.DataFrame({"email": ["d"] * 3, "event_id": ["1", "2", "3"],
    ...     "occurred_at": t, "event_type": ["purchase", "page_view", "purchase"],
    ...     "utm_campaign": [None, "sale", None]})
    >>> scoped(rows, Filters(campaigns=("sale",)), settings=AttributionSettings())[
    ...     "in_scope"].to_list()
    [False, True, True]
    """
    if not filters.scoped:
        return journeys
    visits = with_sessions(journeys, channels=settings.channels)
    return with_scope(visits, filters).select(*journeys.columns, c.IN_SCOPE)


def analyze(
    journeys: pl.LazyFrame | pl.DataFrame,
    *,
    settings: AttributionSettings,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> AttributionReport:
    """Every table for the journey rows, conversions in ``[start, end]``."""
    touch_rows = touches(journeys, settings=settings, start=start, end=end).collect().lazy()
    conv_rows = conversions(journeys, settings=settings, start=start, end=end).collect().lazy()
    credit_rows = credits(touch_rows, conv_rows, settings=settings).collect().lazy()
    conv_paths = conversion_paths(touch_rows, conv_rows, settings=settings)
    non_paths = non_conversion_paths(touch_rows, conv_rows, settings=settings)
    ttc = time_to_convert(touch_rows, conv_rows, lookback=settings.lookback)
    return AttributionReport(
        touches=touch_rows.collect(),
        conversions=conv_rows.collect(),
        by_channel=attribute(credit_rows, by=(c.CHANNEL,), touch_rows=touch_rows),
        by_campaign=attribute(credit_rows, by=(c.CAMPAIGN, c.CHANNEL), touch_rows=touch_rows),
        conversion_paths=conv_paths,
        non_conversion_paths=non_paths,
        path_summary=path_summary(conv_paths, non_paths),
        channel_counts=channel_counts(touch_rows),
        time_to_convert=ttc,
        time_to_convert_summary=time_to_convert_summary(ttc),
        time_to_convert_histogram=time_to_convert_histogram(ttc),
        totals=totals(conv_rows.collect()),
    )
