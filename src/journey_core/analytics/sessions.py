"""Visits, touches and conversions: the one definition every analytics page uses.

Pure Polars over journey rows (one row per event with ``email``, ``occurred_at``,
``event_id``, UTM tags, ``referrer``, ``page_url``); nothing reads a clock.
:mod:`~journey_core.analytics.campaign` (the dashboard) and
:mod:`~journey_core.analytics.attribution` both build on these functions.

- **Visit** (session, :func:`sessionize`): an individual's events grouped by the
  ``session_id`` the rows carry (e.g. Snowplow's ``domain_sessionid``); rows without one are
  split by inactivity: a new visit starts at a person's first event and after every gap
  longer than :data:`SESSION_GAP` (30 minutes; exactly 30 minutes stays in the visit).
  Visits are numbered 1, 2, ... per person in time order.
- **Acquisition** of an event (:func:`with_touches`): channel, source, medium and campaign
  from :func:`.channels.classify`. An event *carries its own acquisition* when it has UTM
  tags or an external referrer. An event with an internal referrer (the page's own host or
  a configured internal host) and no tags continues a visit that began before the rows:
  its channel is the config's *unassigned* channel, source and medium ``(not set)``.
- **Touch**: every visit's first event is a touch, and so is every later event of the visit
  that carries its own acquisition. The visit's channel/source/medium/campaign are those of
  its first event; every event is credited to the latest touch at or before it (its "touch
  in force"), so internal page views inherit the channel of the visit they belong to.
  With ``repeats=False`` (the dashboard), an event that repeats the acquisition in force
  (a landing page carrying the ad's tags again) is not a new touch; attribution's
  per-touch paths keep such repeats (``repeats=True``), as its tests pin down.
- **Conversion** (:func:`is_conversion`): an event whose type is one of the conversion
  event types (default :data:`CONVERSION_EVENTS`, ``purchase``), optionally only with
  revenue > 0.

Where the dashboard and attribution used to differ, these choices keep both sets of tests
green: sessions follow ``session_id`` when present (attribution; the dashboard's rows carry
none, so nothing changes there); a visit that starts with an internal page view is
*unassigned*, not Direct (dashboard; the Snowplow fixture has no such visit); the visit's
channel is its first event's (attribution's per-session touch, the dashboard's visit summary).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

import polars as pl

from journey_core import columns as c
from journey_core.analytics import channels as ch
from journey_core.analytics.channels import ChannelConfig

__all__ = [
    "ACQUISITION_COLUMNS",
    "CONVERSION_EVENTS",
    "SESSION_GAP",
    "is_conversion",
    "sessionize",
    "with_touches",
]

SESSION_GAP: Final = dt.timedelta(minutes=30)
CONVERSION_EVENTS: Final[tuple[str, ...]] = ("purchase",)
#: The acquisition of each event's touch in force, added by :func:`with_touches`.
ACQUISITION_COLUMNS: Final[tuple[str, ...]] = (c.CHANNEL, c.SOURCE, c.MEDIUM, c.CAMPAIGN)

_INPUTS: Final = (c.UTM_SOURCE, c.UTM_MEDIUM, c.UTM_CAMPAIGN, c.REFERRER, c.PAGE_URL)
_ORDER: Final = (c.EMAIL, c.OCCURRED_AT, c.EVENT_ID)


def _row() -> pl.Expr:
    return pl.int_range(pl.len(), dtype=pl.Int64)


def sessionize(frame: pl.LazyFrame, *, gap: dt.timedelta = SESSION_GAP) -> pl.LazyFrame:
    """The rows sorted by email, time and event id, with their visit.

    Adds ``session`` (1, 2, ... per email), ``session_id`` (the row's own id, else the
    visit number as text), ``session_start`` and ``is_session_start`` (the visit's first row).

    >>> t = dt.datetime(2022, 7, 1, 12, tzinfo=dt.UTC)
    >>> ev = pl.LazyFrame({"email": ["a", "a", "a"], "event_id": ["1", "2", "3"],
    ...     "occurred_at": [t, t + dt.timedelta(minutes=30), t + dt.timedelta(minutes=61)]})
    >>> sessionize(ev).select("session", "session_id", "is_session_start").collect().rows()
    [(1, '1', True), (1, '1', False), (2, '2', True)]
    """
    has_ids = c.SESSION_ID in frame.collect_schema()
    at = pl.col(c.OCCURRED_AT)
    gap_us = int(gap / dt.timedelta(microseconds=1))
    # Rows are sorted by person and time, so frame-wide scans with resets at person
    # boundaries do what `over(email)` would, much faster on large results.
    new_person = pl.col(c.EMAIL).ne_missing(pl.col(c.EMAIL).shift(1))
    elapsed = at.diff().dt.total_microseconds()
    by_gap = new_person | elapsed.is_null() | (elapsed > gap_us)
    ordered = frame.sort(_ORDER, nulls_last=True, maintain_order=True).with_columns(
        by_gap.alias("_new"),
        _row().alias("_row"),
    )
    person_first = pl.when(new_person).then(pl.col("_row")).forward_fill()
    count = pl.col("_new").cast(pl.Int64).cum_sum()
    number = count - count.gather(person_first) + 1
    if not has_ids:
        first = pl.when(pl.col("_new")).then(pl.col("_row")).forward_fill()
        out = ordered.with_columns(
            number.alias(c.SESSION),
            number.cast(pl.String).alias(c.SESSION_ID),
            at.gather(first).alias(c.SESSION_START),
            pl.col("_new").alias(c.IS_SESSION_START),
        )
    else:
        # The rows' own ids win; rows without one fall back to the inactivity visits.
        key = pl.coalesce(pl.col(c.SESSION_ID).cast(pl.String), number.cast(pl.String))
        first = pl.col("_row").min().over(c.EMAIL, c.SESSION_ID)
        out = (
            ordered.with_columns(key.alias(c.SESSION_ID))
            .with_columns(first.alias("_first"))
            .with_columns(
                pl.col("_first").rank("dense").over(c.EMAIL).cast(pl.Int64).alias(c.SESSION),
                at.gather(pl.col("_first")).alias(c.SESSION_START),
                (pl.col("_row") == pl.col("_first")).alias(c.IS_SESSION_START),
            )
            .drop("_first")
        )
    return out.drop("_new", "_row")


def _acquisition(keys: pl.LazyFrame, cfg: ChannelConfig) -> pl.LazyFrame:
    """Each distinct input combination's acquisition and whether it carries its own."""
    tagged = pl.any_horizontal(
        ch.text_expr(name).is_not_null() for name in (c.UTM_SOURCE, c.UTM_MEDIUM, c.UTM_CAMPAIGN)
    )
    external = ch.external_referrer_expr(cfg).is_not_null()
    internal = ~tagged & ~external & ch.host_expr(c.REFERRER).is_not_null()
    unassigned = pl.col("_internal")
    return (
        ch.classify(keys, cfg)
        .with_columns((tagged | external).alias("_own"), internal.alias("_internal"))
        .select(
            *(pl.col(name).alias(f"_k_{name}") for name in _INPUTS),
            "_own",
            pl.when(unassigned).then(pl.lit(cfg.unassigned)).otherwise(c.CHANNEL).alias(c.CHANNEL),
            pl.when(unassigned).then(pl.lit(ch.NOT_SET)).otherwise(c.SOURCE).alias(c.SOURCE),
            pl.when(unassigned).then(pl.lit(ch.NOT_SET)).otherwise(c.MEDIUM).alias(c.MEDIUM),
            pl.col(c.CAMPAIGN),
        )
    )


def with_touches(
    frame: pl.LazyFrame,
    *,
    gap: dt.timedelta = SESSION_GAP,
    channels: ChannelConfig | None = None,
    repeats: bool = False,
) -> pl.LazyFrame:
    """:func:`sessionize`, then each row's touch (see the module docstring).

    Adds ``is_touch`` and the channel, source, medium and campaign of the row's touch in
    force (:data:`ACQUISITION_COLUMNS`). With ``repeats``, every event carrying its own
    acquisition is a touch, even one that repeats the acquisition in force.

    >>> t = [dt.datetime(2022, 7, 1, 10, m, tzinfo=dt.UTC) for m in (0, 1, 5)]
    >>> rows = pl.LazyFrame({"email": ["a"] * 3, "occurred_at": t, "event_id": ["1", "2", "3"],
    ...     "utm_source": ["google", "google", None], "utm_medium": ["cpc", "cpc", None],
    ...     "referrer": [None, None, "https://s.io/"], "page_url": ["https://s.io/"] * 3})
    >>> with_touches(rows).select("is_touch", "channel").collect().rows()
    [(True, 'Paid Search'), (False, 'Paid Search'), (False, 'Paid Search')]
    >>> with_touches(rows, repeats=True).collect()["is_touch"].to_list()
    [True, True, False]
    """
    cfg = channels or ChannelConfig.default()
    schema = frame.collect_schema()
    missing = [name for name in _INPUTS if name not in schema]
    frame = frame.with_columns(pl.lit(None, pl.String).alias(name) for name in missing)
    keyed = sessionize(frame, gap=gap).with_columns(
        pl.col(name).cast(pl.String).alias(f"_k_{name}") for name in _INPUTS
    )
    keys = [f"_k_{name}" for name in _INPUTS]
    # Each distinct combination of tags, referrer and page is classified once.
    lookup = _acquisition(
        keyed.select(pl.col(k).alias(k.removeprefix("_k_")) for k in keys).unique(), cfg
    )
    rows = keyed.join(
        lookup, on=keys, how="left", nulls_equal=True, maintain_order="left"
    ).with_columns(_row().alias("_row"))
    # The latest row at or before each row that sets its visit's acquisition; always within
    # the visit, since every visit starts with one.
    acquiring = pl.col("_own") | pl.col(c.IS_SESSION_START)
    latest = pl.when(acquiring).then(pl.col("_row")).forward_fill()
    if c.SESSION_ID in schema:  # a person's visits may interleave
        latest = latest.over(c.EMAIL, c.SESSION_ID)
    rows = rows.with_columns(latest.alias("_last"))
    is_touch = pl.col(c.IS_SESSION_START) | pl.col("_own")
    if not repeats:
        before = pl.col("_last").shift(1).fill_null(0)
        if c.SESSION_ID in schema:
            before = pl.col("_last").shift(1).over(c.EMAIL, c.SESSION_ID).fill_null(0)
        changed = pl.any_horizontal(
            pl.col(k).ne_missing(pl.col(k).gather(before)) for k in ACQUISITION_COLUMNS
        )
        is_touch = pl.col(c.IS_SESSION_START) | (pl.col("_own") & changed)
    return rows.with_columns(
        is_touch.alias(c.IS_TOUCH),
        *(pl.col(k).gather(pl.col("_last")) for k in ACQUISITION_COLUMNS),
    ).drop(*keys, "_own", "_last", "_row", *missing)


def is_conversion(
    event_types: Sequence[str] | None = CONVERSION_EVENTS, *, require_revenue: bool = False
) -> pl.Expr:
    """Whether a row is a conversion: one of ``event_types`` (``None``: any type), and with
    ``require_revenue`` only with revenue > 0.

    >>> frame = pl.DataFrame({"event_type": ["purchase", "view", "purchase"],
    ...     "revenue": [None, 5.0, 12.0]})
    >>> frame.select(is_conversion()).to_series().to_list()
    [True, False, True]
    >>> frame.select(is_conversion(None, require_revenue=True)).to_series().to_list()
    [False, True, True]
    """
    cond = pl.lit(value=True)
    if event_types is not None:
        cond = pl.col(c.EVENT_TYPE).is_in(list(event_types))
    if require_revenue:
        cond = cond & (pl.col(c.REVENUE).fill_null(0) > 0)
    return cond
