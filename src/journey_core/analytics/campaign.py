"""What the dashboard shows, computed from journey rows: pure Polars, no clock, no database.

Every function takes the rows of a :class:`~journey_core.warehouse.JourneyResult` (one row per
event, see :data:`journey_core.columns.RESULT_COLUMNS`) and keyword-only options; times such
as ``since`` or ``start`` are explicit. Nothing here reads ``now()``.

Definitions the pages rely on:

- **Visit** (session), **touch** and **conversion**: as defined once in
  :mod:`journey_core.analytics.sessions` (visits by ``session_id`` or 30 minutes of
  inactivity; a touch is a visit's first event or a later one bringing new acquisition
  information; each event counts for the channel, source, medium and campaign of its
  latest touch; conversions are events of ``conversion_events``, default ``purchase``).
- **Newly known** (given ``since``): ``known_at >= since``; everyone else in the rows is
  **previously known**.
- **The campaign cohort**: the people the ``event_date`` rule returns for the page's inputs
  (start, as-of), after the filters (:func:`filter_people`). Every campaign figure counts these
  people (:attr:`Kpis.cohort`, :attr:`CampaignReport.cohort_size`); a figure that leaves some
  of them out says how many and why (:attr:`CampaignReport.excluded`).
- **Counted conversions**: with ``since`` (the campaign start), conversions and revenue count
  from it. A newly known person's earlier journey is in the rows (their events, visits and the
  CSV) but a purchase in it was not made in the period, so no figure counts it as the period's:
  the key figures, the tables, the trend and Attribution count the same conversions.
- **Scoped conversions**: with a campaign, source, medium or channel filter, a conversion (and
  an event's revenue) counts only when the person had a matching touch at or before it, at
  most ``lookback`` earlier (default :data:`CONVERSION_LOOKBACK`, the attribution lookback);
  :attr:`Kpis.conversions_any_time` and :attr:`Kpis.revenue_any_time` keep every conversion.
- **Period**: the figures cover ``[start, end)``: the rows of the ``event_date`` rule with the
  as-of just before ``end`` (``end`` defaults to the as-of, then everything up to it counts).
  The **previous period** is the same number of local days just before ``start``
  (:func:`previous_period`), computed with the same definitions from its own rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from journey_core import columns as c
from journey_core.analytics import channels as ch
from journey_core.analytics.channels import ChannelConfig
from journey_core.analytics.sessions import (
    ACQUISITION_COLUMNS,
    CONVERSION_EVENTS,
    SESSION_GAP,
    is_conversion,
    with_touches,
)
from journey_core.columns import (
    CHANNELS_USED,
    CONVERSIONS,
    DAY,
    EVENTS,
    FIRST_EVENT,
    GROUP,
    HOUR,
    IS_NEWLY_KNOWN,
    LAST_EVENT,
    NEWLY_KNOWN_PEOPLE,
    PEOPLE,
    SESSIONS,
    SHARE,
    STEP,
    TOUCHES,
    VALUE,
)
from journey_core.errors import InputError
from journey_core.timeutil import TS, parse_timezone, utc_lit

# Output column names are defined in journey_core.columns and re-exported here.
__all__ = [
    "ALL_PEOPLE",
    "BREAKDOWN_DIMENSIONS",
    "CHANNELS_USED",
    "CONVERSIONS",
    "CONVERSION_EVENTS",
    "CONVERSION_LOOKBACK",
    "DAY",
    "DIMENSIONS",
    "DIRECT_MEDIUM",
    "DIRECT_SOURCE",
    "EVENTS",
    "FILTER_DIMENSIONS",
    "FIRST_EVENT",
    "GROUP",
    "HOUR",
    "IS_NEWLY_KNOWN",
    "LAST_EVENT",
    "NEWLY_KNOWN",
    "NEWLY_KNOWN_PEOPLE",
    "NOT_SET",
    "NO_CAMPAIGN",
    "OTHER",
    "PEOPLE",
    "PREVIOUSLY_KNOWN",
    "SESSIONS",
    "SESSION_COLUMNS",
    "SESSION_GAP",
    "SHARE",
    "SOURCE_MEDIUM_SEPARATOR",
    "STEP",
    "TOUCHES",
    "VALUE",
    "CampaignReport",
    "Exclusion",
    "Filters",
    "Kpis",
    "Profile",
    "RecentReport",
    "breakdown",
    "campaign_report",
    "daily_trend",
    "exclusions",
    "filter_options",
    "filter_people",
    "hourly_by_channel",
    "journey_rows",
    "kpi_changes",
    "kpis",
    "newest",
    "partial_day",
    "people_table",
    "previous_kpis",
    "previous_period",
    "profile",
    "recent_report",
    "relative_change",
    "session_summary",
    "touchpoints_before_known",
    "trend_by",
    "with_dimension",
    "with_scope",
    "with_sessions",
]

NEWLY_KNOWN: Final = "Newly known"
PREVIOUSLY_KNOWN: Final = "Previously known"
ALL_PEOPLE: Final = "All people"

NOT_SET: Final = ch.NOT_SET
NO_CAMPAIGN: Final = ch.NOT_SET
DIRECT_SOURCE: Final = ch.DIRECT_SOURCE
DIRECT_MEDIUM: Final = ch.NONE_MEDIUM

SESSION_COLUMNS: Final[tuple[str, ...]] = (
    c.SESSION,
    c.SESSION_START,
    c.IS_TOUCH,
    c.CHANNEL,
    c.SESSION_SOURCE,
    c.SESSION_MEDIUM,
    c.SESSION_CAMPAIGN,
)
BREAKDOWN_DIMENSIONS: Final[tuple[str, ...]] = (
    c.CHANNEL,
    c.SESSION_SOURCE,
    c.SESSION_MEDIUM,
    c.SESSION_CAMPAIGN,
)
#: Everything :func:`breakdown` and :func:`trend_by` can split by: the visit's channel,
#: source, medium, campaign, source / medium as one pair ("google / cpc", as GA4 shows it),
#: the visit's landing page (its first page URL), the device (anonymous id) and whether the
#: person is newly or previously known (needs ``since``).
DIMENSIONS: Final[tuple[str, ...]] = (
    *BREAKDOWN_DIMENSIONS,
    c.SOURCE_MEDIUM,
    c.LANDING_PAGE,
    c.ANONYMOUS_ID,
    c.KNOWN_STATUS,
)
SOURCE_MEDIUM_SEPARATOR: Final = " / "
#: The value the smaller groups of a split trend are summed into.
OTHER: Final = "(other)"
#: How long after a matching touch a conversion still counts for a filter: the attribution
#: lookback (``AttributionSettings.lookback``'s default).
CONVERSION_LOOKBACK: Final = dt.timedelta(days=30)


# --------------------------------------------------------------------------- sessions


def with_sessions(
    frame: pl.DataFrame,
    *,
    gap: dt.timedelta = SESSION_GAP,
    channels: ChannelConfig | None = None,
) -> pl.DataFrame:
    """Add visits (sessions), touches and each event's visit channel/source/medium/campaign.

    :func:`.sessions.with_touches` (the one definition of visits and touches) with
    ``channels`` (default: the built-in GA4-style rules); a touch repeating the acquisition
    in force is not a new touch. Adds :data:`SESSION_COLUMNS` (``session_source`` etc. are
    the source, medium and campaign of each event's touch); rows keep their order (sorted
    by email, time, event id).

    >>> ts = [dt.datetime(2022, 7, 1, 10, m, tzinfo=dt.UTC) for m in (0, 5, 50)]
    >>> rows = pl.DataFrame({"email": ["a@x.io"] * 3, "occurred_at": ts,
    ...     "event_id": ["1", "2", "3"], "utm_source": ["google", None, None],
    ...     "utm_medium": ["cpc", None, None], "utm_campaign": ["brand", None, None],
    ...     "referrer": [None, "https://s.io/", None], "page_url": ["https://s.io/"] * 3})
    >>> with_sessions(rows).select("session", "channel", "is_touch").rows()
    [(1, 'Paid Search', True), (1, 'Paid Search', False), (2, 'Direct', True)]
    """
    if frame.is_empty():
        return frame.with_columns(
            pl.lit(None, pl.Int64).alias(c.SESSION),
            pl.lit(None, TS).alias(c.SESSION_START),
            pl.lit(None, pl.Boolean).alias(c.IS_TOUCH),
            *(pl.lit(None, pl.String).alias(name) for name in BREAKDOWN_DIMENSIONS),
        ).select(*frame.columns, *SESSION_COLUMNS)
    rows = with_touches(frame.lazy(), gap=gap, channels=channels).rename(
        dict(zip(ACQUISITION_COLUMNS, BREAKDOWN_DIMENSIONS, strict=True))
    )
    return rows.select(*frame.columns, *SESSION_COLUMNS).collect()


def _ensure_sessions(frame: pl.DataFrame) -> pl.DataFrame:
    return frame if c.CHANNEL in frame.columns else with_sessions(frame)


def session_summary(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per (email, session): start, end, events, channel, source, medium, campaign."""
    rows = _ensure_sessions(frame)
    return (
        rows.group_by(c.EMAIL, c.SESSION, maintain_order=True)
        .agg(
            pl.col(c.OCCURRED_AT).min().alias(c.SESSION_START),
            pl.col(c.OCCURRED_AT).max().alias(c.SESSION_END),
            pl.len().alias(EVENTS),
            pl.col(c.CHANNEL).first(),
            pl.col(c.SESSION_SOURCE).first(),
            pl.col(c.SESSION_MEDIUM).first(),
            pl.col(c.SESSION_CAMPAIGN).first(),
            pl.col(c.PAGE_URL).drop_nulls().first().alias(c.LANDING_PAGE),
        )
        .sort(c.EMAIL, c.SESSION)
    )


# --------------------------------------------------------------------------- KPIs


@dataclass(frozen=True, slots=True)
class Kpis:
    """Headline figures of a set of journey rows.

    ``cohort`` (with ``since``): every person in the rows, the campaign cohort; ``people``:
    those of them with an event at or after ``since``. ``conversions_any_time`` and
    ``revenue_any_time`` are set only when ``conversions``/``revenue`` are scoped to a filter
    (see the module docstring); they then count every conversion of the cohort.
    """

    people: int
    events: int
    sessions: int
    conversions: int
    revenue: float
    newly_known: int | None = None
    cohort: int | None = None
    conversions_any_time: int | None = None
    revenue_any_time: float | None = None


def _scope() -> pl.Expr:
    return pl.col(c.IN_SCOPE).fill_null(value=False)


def kpis(
    frame: pl.DataFrame,
    *,
    since: dt.datetime | None = None,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
) -> Kpis:
    """People, events, sessions, conversions and revenue of ``frame``.

    With ``since``, ``cohort`` counts everyone in ``frame``, ``people`` those with an event at
    or after it, ``newly_known`` those whose ``known_at`` is at or after it, and conversions
    and revenue those at or after it (the module's *counted conversions*); events and
    sessions cover every row. When ``frame`` has an ``in_scope`` column (:func:`with_scope`),
    conversions and revenue count only its rows, and the ``*_any_time`` figures every
    conversion since ``since``.

    >>> rows = pl.DataFrame({"email": ["a", "a", "b"], "event_type": ["purchase"] * 2 + ["x"],
    ...     "occurred_at": [dt.datetime(2022, 7, d, tzinfo=dt.UTC) for d in (1, 2, 3)],
    ...     "known_at": [dt.datetime(2022, 6, 1, tzinfo=dt.UTC)] * 3, "event_id": ["1", "2", "3"],
    ...     "revenue": [5.0, 10.0, None]}).with_columns(pl.lit(None, pl.String).alias(n)
    ...     for n in ("utm_source", "utm_medium", "utm_campaign", "referrer", "page_url"))
    >>> k = kpis(rows, since=dt.datetime(2022, 7, 2, tzinfo=dt.UTC))
    >>> (k.cohort, k.people, k.events, k.sessions, k.conversions, k.revenue, k.newly_known)
    (2, 2, 3, 3, 1, 10.0, 0)
    """
    scoped = c.IN_SCOPE in frame.columns
    if frame.is_empty():
        zero = 0 if since is not None else None
        return Kpis(
            0,
            0,
            0,
            0,
            0.0,
            zero,
            cohort=zero,
            conversions_any_time=0 if scoped else None,
            revenue_any_time=0.0 if scoped else None,
        )
    active = frame if since is None else frame.filter(pl.col(c.OCCURRED_AT) >= utc_lit(since))
    sessions = (
        frame.select(pl.struct(c.EMAIL, c.SESSION).n_unique()).item()
        if c.SESSION in frame.columns
        else _ensure_sessions(frame).select(pl.struct(c.EMAIL, c.SESSION).n_unique()).item()
    )
    newly = None
    if since is not None:
        newly = frame.filter(pl.col(c.KNOWN_AT) >= utc_lit(since)).get_column(c.EMAIL).n_unique()
    figures = frame.select(
        _conversions(frame, conversion_events, since).sum().alias(CONVERSIONS),
        _revenue(frame, since).sum().alias(c.REVENUE),
        _conversions(frame, conversion_events, since, scoped=False).sum().alias("_conversions"),
        _revenue(frame, since, scoped=False).sum().alias("_revenue"),
    )
    conversions = int(figures.item(0, "_conversions"))
    revenue = float(figures.item(0, "_revenue"))
    return Kpis(
        people=active.get_column(c.EMAIL).n_unique(),
        events=frame.height,
        sessions=int(sessions),
        conversions=int(figures.item(0, CONVERSIONS)),
        revenue=float(figures.item(0, c.REVENUE)),
        newly_known=newly,
        cohort=frame.get_column(c.EMAIL).n_unique() if since is not None else None,
        conversions_any_time=conversions if scoped else None,
        revenue_any_time=revenue if scoped else None,
    )


def relative_change(current: float, previous: float | None) -> float | None:
    """``(current - previous) / previous``; ``None`` when there is nothing to compare with.

    >>> relative_change(110, 100), relative_change(5, 0), relative_change(5, None)
    (0.1, None, None)
    """
    if previous is None or previous == 0:
        return None
    return (current - previous) / previous


def kpi_changes(now: Kpis, before: Kpis | None) -> dict[str, float | None]:
    """The relative change (:func:`relative_change`) of every figure ``now`` and ``before``
    both have; ``None`` where there is nothing to compare with.

    >>> kpi_changes(Kpis(12, 30, 10, 3, 75.0, 4), Kpis(10, 40, 10, 0, 50.0, 5))
    ... # doctest: +NORMALIZE_WHITESPACE
    {'people': 0.2, 'events': -0.25, 'sessions': 0.0, 'conversions': None, 'revenue': 0.5,
     'newly_known': -0.2, 'cohort': None, 'conversions_any_time': None, 'revenue_any_time': None}
    """
    out: dict[str, float | None] = {}
    for name in Kpis.__slots__:
        value = getattr(now, name)
        previous = None if before is None else getattr(before, name)
        out[name] = None if value is None else relative_change(value, previous)
    return out


def previous_period(
    start: dt.datetime, end: dt.datetime, tz: str = "UTC"
) -> tuple[dt.datetime, dt.datetime]:
    """The period before the one from ``start`` to ``end`` (its as-of, its last instant),
    with as many local days: ``(its start, start)``.

    Its length is the number of local days from ``start``'s to ``end``'s (a partial last day
    counts as one, as in the daily trend), so both periods start at the same local time.

    >>> utc = dt.UTC
    >>> [t.isoformat() for t in previous_period(dt.datetime(2022, 7, 1, tzinfo=utc),
    ...     dt.datetime(2022, 7, 10, 12, tzinfo=utc))]
    ['2022-06-21T00:00:00+00:00', '2022-07-01T00:00:00+00:00']
    """
    zone = parse_timezone(tz)
    first = start.astimezone(zone)
    last = end.astimezone(zone).date()
    days = max((last - first.date()).days, 0) + 1
    begin = dt.datetime.combine(first.date() - dt.timedelta(days=days), first.timetz())
    return begin.astimezone(start.tzinfo or dt.UTC), start


def partial_day(end: dt.datetime, tz: str = "UTC") -> dt.date | None:
    """The local day of ``end`` (a period's last instant) when the period stops before that
    day ends: its figures cover only part of it. ``None`` when ``end`` is the day's last
    microsecond (a whole day).

    >>> partial_day(dt.datetime(2022, 8, 31, 10, 30, tzinfo=dt.UTC))
    datetime.date(2022, 8, 31)
    >>> partial_day(dt.datetime(2022, 8, 30, 23, 59, 59, 999999, tzinfo=dt.UTC)) is None
    True
    """
    local = end.astimezone(parse_timezone(tz))
    after = (end + dt.timedelta(microseconds=1)).astimezone(parse_timezone(tz))
    return None if after.date() != local.date() else local.date()


# --------------------------------------------------------------------------- profile


@dataclass(frozen=True, slots=True)
class Profile:
    """One individual at a glance (the customer lookup's profile card)."""

    email: str
    known_at: dt.datetime
    first_seen: dt.datetime
    last_seen: dt.datetime
    devices: int
    sessions: int
    events: int
    touches_before_known: int
    channels: tuple[str, ...] = field(default_factory=tuple)
    first_channel: str | None = None
    known_via: str | None = None
    orders: int = 0
    revenue: float = 0.0


def profile(
    frame: pl.DataFrame, *, conversion_events: Sequence[str] = CONVERSION_EVENTS
) -> Profile | None:
    """The profile of the one individual in ``frame``; ``None`` when it has no rows.

    ``channels`` lists the channels of their sessions, most sessions first; ``known_via`` is
    the channel of the session in which they became known (``None`` if that is before the rows).
    """
    if frame.is_empty():
        return None
    emails = frame.get_column(c.EMAIL).unique()
    if emails.len() != 1:
        msg = f"profile() needs the rows of one individual, got {emails.len()} emails."
        raise InputError("email", msg)
    rows = _ensure_sessions(frame)
    sessions = session_summary(rows)
    channel_counts = (
        sessions.group_by(c.CHANNEL)
        .agg(pl.len().alias("n"), pl.col(c.SESSION_START).min().alias("first"))
        .sort(["n", "first"], descending=[True, False])
    )
    known_at = rows.get_column(c.KNOWN_AT)[0]
    up_to_known = rows.filter(pl.col(c.OCCURRED_AT) <= pl.col(c.KNOWN_AT))
    return Profile(
        email=str(emails[0]),
        known_at=known_at,
        first_seen=rows.get_column(c.OCCURRED_AT).min(),  # type: ignore[arg-type]
        last_seen=rows.get_column(c.OCCURRED_AT).max(),  # type: ignore[arg-type]
        devices=rows.get_column(c.ANONYMOUS_ID).drop_nulls().n_unique(),
        sessions=sessions.height,
        events=rows.height,
        touches_before_known=int(rows.filter(pl.col(c.BEFORE_KNOWN) & pl.col(c.IS_TOUCH)).height),
        channels=tuple(channel_counts.get_column(c.CHANNEL).to_list()),
        first_channel=str(sessions.get_column(c.CHANNEL)[0]),
        known_via=(str(up_to_known.get_column(c.CHANNEL)[-1]) if up_to_known.height else None),
        orders=int(rows.select(is_conversion(conversion_events).sum()).item()),
        revenue=float(rows.get_column(c.REVENUE).fill_null(0.0).sum()),
    )


# --------------------------------------------------------------------------- trends


def _local(column: str, tz: str) -> pl.Expr:
    return pl.col(column).dt.convert_time_zone(tz)


def daily_trend(
    frame: pl.DataFrame,
    *,
    start: dt.datetime,
    end: dt.datetime,
    tz: str = "UTC",
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
) -> pl.DataFrame:
    """Per local day from ``start`` to ``end``: events, active people, conversions, newly known.

    ``newly_known`` counts people whose ``known_at`` falls on that day. Days without
    activity appear with zeros. Conversions are scoped when ``frame`` has ``in_scope``.
    """
    first_day = start.astimezone(parse_timezone(tz)).date()
    last_day = end.astimezone(parse_timezone(tz)).date()
    days = pl.DataFrame({DAY: pl.date_range(first_day, max(first_day, last_day), "1d", eager=True)})
    window = frame.filter(
        pl.col(c.OCCURRED_AT) >= utc_lit(start), pl.col(c.OCCURRED_AT) <= utc_lit(end)
    )
    activity = window.group_by(_local(c.OCCURRED_AT, tz).dt.date().alias(DAY)).agg(
        pl.len().cast(pl.Int64).alias(EVENTS),
        pl.col(c.EMAIL).n_unique().cast(pl.Int64).alias(PEOPLE),
        _conversions(frame, conversion_events).sum().cast(pl.Int64).alias(CONVERSIONS),
    )
    known = (
        frame.select(c.EMAIL, c.KNOWN_AT)
        .unique(c.EMAIL)
        .filter(pl.col(c.KNOWN_AT) >= utc_lit(start), pl.col(c.KNOWN_AT) <= utc_lit(end))
        .group_by(_local(c.KNOWN_AT, tz).dt.date().alias(DAY))
        .agg(pl.len().cast(pl.Int64).alias(NEWLY_KNOWN_PEOPLE))
    )
    return (
        days.join(activity, on=DAY, how="left")
        .join(known, on=DAY, how="left")
        .with_columns(pl.col(EVENTS, PEOPLE, CONVERSIONS, NEWLY_KNOWN_PEOPLE).fill_null(0))
        .sort(DAY)
    )


def hourly_by_channel(
    frame: pl.DataFrame, *, start: dt.datetime, end: dt.datetime, tz: str = "UTC"
) -> pl.DataFrame:
    """Events per local hour and session channel between ``start`` and ``end``.

    ``hour`` is a naive local datetime (the start of the hour in ``tz``).
    """
    rows = _ensure_sessions(frame).filter(
        pl.col(c.OCCURRED_AT) >= utc_lit(start), pl.col(c.OCCURRED_AT) <= utc_lit(end)
    )
    return (
        rows.group_by(
            _local(c.OCCURRED_AT, tz).dt.truncate("1h").dt.replace_time_zone(None).alias(HOUR),
            c.CHANNEL,
        )
        .agg(pl.len().cast(pl.Int64).alias(EVENTS))
        .sort(HOUR, c.CHANNEL)
    )


# --------------------------------------------------------------------------- breakdowns


def _counted(
    frame: pl.DataFrame, since: dt.datetime | None, *, scoped: bool = True
) -> pl.Expr | None:
    """Which rows' conversions the figures count (see the module's *counted conversions*):
    those at or after ``since``, and in scope when ``frame`` has ``in_scope`` (unless not
    ``scoped``); ``None`` for every row."""
    parts = [] if since is None else [pl.col(c.OCCURRED_AT) >= utc_lit(since)]
    if scoped and c.IN_SCOPE in frame.columns:
        parts.append(_scope())
    return pl.all_horizontal(parts) if parts else None


def _conversions(
    frame: pl.DataFrame,
    events: Sequence[str],
    since: dt.datetime | None = None,
    *,
    scoped: bool = True,
) -> pl.Expr:
    """The conversions the figures count (:func:`_counted`), 1 or 0 per row."""
    hit = is_conversion(events)
    counted = _counted(frame, since, scoped=scoped)
    return hit if counted is None else hit & counted


def _revenue(
    frame: pl.DataFrame, since: dt.datetime | None = None, *, scoped: bool = True
) -> pl.Expr:
    """The revenue the figures count (:func:`_counted`), 0 where it does not count."""
    revenue = pl.col(c.REVENUE)
    counted = _counted(frame, since, scoped=scoped)
    if counted is not None:
        revenue = pl.when(counted).then(revenue)
    return revenue.fill_null(0.0)


def with_dimension(
    frame: pl.DataFrame, by: str, *, since: dt.datetime | None = None
) -> pl.DataFrame:
    """``frame`` (with sessions) with the column ``by`` of :data:`DIMENSIONS` (null as
    ``(not set)``): ``source_medium`` ("google / cpc"), ``landing_page`` (the visit's first
    page URL), ``anonymous_id`` (the device) or ``known_status`` (``Newly known`` when
    ``known_at >= since``, else ``Previously known``).

    >>> rows = pl.DataFrame({"email": ["a", "a"], "event_id": ["1", "2"],
    ...     "occurred_at": [dt.datetime(2022, 7, 1, 10, m, tzinfo=dt.UTC) for m in (0, 5)],
    ...     "utm_source": ["google", None], "utm_medium": ["cpc", None],
    ...     "page_url": [None, "https://s.io/p"]})
    >>> with_dimension(with_sessions(rows), "source_medium")["source_medium"].to_list()
    ['google / cpc', 'google / cpc']
    >>> with_dimension(with_sessions(rows), "landing_page")["landing_page"].to_list()
    ['https://s.io/p', 'https://s.io/p']
    """
    if by not in DIMENSIONS:
        msg = f"{by!r} is not a breakdown; use one of {', '.join(DIMENSIONS)}."
        raise InputError("by", msg)
    rows = _ensure_sessions(frame)
    if by in BREAKDOWN_DIMENSIONS:
        return rows
    if by == c.SOURCE_MEDIUM:
        value = pl.concat_str(
            pl.col(c.SESSION_SOURCE), pl.lit(SOURCE_MEDIUM_SEPARATOR), pl.col(c.SESSION_MEDIUM)
        )
    elif by == c.LANDING_PAGE:
        page = pl.col(c.PAGE_URL)
        value = page.filter(page.is_not_null()).first().over(c.EMAIL, c.SESSION)
    elif by == c.ANONYMOUS_ID:
        value = pl.col(c.ANONYMOUS_ID)
    else:
        if since is None:
            msg = "newly vs previously known needs the campaign start (since=)."
            raise InputError("by", msg)
        value = (
            pl.when(pl.col(c.KNOWN_AT) >= utc_lit(since))
            .then(pl.lit(NEWLY_KNOWN))
            .otherwise(pl.lit(PREVIOUSLY_KNOWN))
        )
    return rows.with_columns(value.fill_null(NOT_SET).alias(by))


def breakdown(
    frame: pl.DataFrame,
    *,
    by: str = c.CHANNEL,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
    limit: int | None = None,
    since: dt.datetime | None = None,
) -> pl.DataFrame:
    """People, sessions, events, conversions and revenue per value of ``by``
    (:data:`DIMENSIONS`, see :func:`with_dimension`).

    Events count toward the session they belong to, so a purchase in a session that began
    with a paid-search click counts for Paid Search. Sorted by people, then sessions.
    Conversions and revenue count from ``since`` (the module's *counted conversions*) and are
    scoped when ``frame`` has ``in_scope`` (:func:`with_scope`).
    """
    rows = with_dimension(frame, by, since=since)
    out = (
        rows.group_by(by)
        .agg(
            pl.col(c.EMAIL).n_unique().cast(pl.Int64).alias(PEOPLE),
            pl.struct(c.EMAIL, c.SESSION).n_unique().cast(pl.Int64).alias(SESSIONS),
            pl.len().cast(pl.Int64).alias(EVENTS),
            _conversions(rows, conversion_events, since).sum().cast(pl.Int64).alias(CONVERSIONS),
            _revenue(rows, since).sum().alias(c.REVENUE),
        )
        .sort([PEOPLE, SESSIONS, by], descending=[True, True, False])
    )
    return out.head(limit) if limit is not None else out


def trend_by(
    frame: pl.DataFrame,
    *,
    by: str,
    start: dt.datetime,
    end: dt.datetime,
    tz: str = "UTC",
    top: int = 5,
    since: dt.datetime | None = None,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
) -> pl.DataFrame:
    """The daily trend split by ``by``: per local day and value, events, people, conversions.

    The ``top`` values of :func:`breakdown` (the KPI table's first rows) keep their name, the
    rest are summed into :data:`OTHER` (its people: distinct people of those values). One
    row per local day from ``start`` to ``end`` and value, with zeros; values in breakdown
    order, then ``(other)``.
    """
    everything = with_dimension(_ensure_sessions(frame), by, since=since)
    ranked = breakdown(everything, by=by, since=since, limit=top + 1).get_column(by).to_list()
    kept = ranked[:top]
    values = [*kept, *([OTHER] if len(ranked) > top else [])]
    rows = everything.filter(
        pl.col(c.OCCURRED_AT) >= utc_lit(start), pl.col(c.OCCURRED_AT) <= utc_lit(end)
    )
    grouped = rows.with_columns(
        pl.when(pl.col(by).is_in(kept)).then(pl.col(by)).otherwise(pl.lit(OTHER)).alias(by)
    )
    first_day = start.astimezone(parse_timezone(tz)).date()
    last_day = max(first_day, end.astimezone(parse_timezone(tz)).date())
    grid = pl.DataFrame({DAY: pl.date_range(first_day, last_day, "1d", eager=True)}).join(
        pl.DataFrame({by: values}, schema={by: pl.String}), how="cross"
    )
    activity = grouped.group_by(_local(c.OCCURRED_AT, tz).dt.date().alias(DAY), by).agg(
        pl.len().cast(pl.Int64).alias(EVENTS),
        pl.col(c.EMAIL).n_unique().cast(pl.Int64).alias(PEOPLE),
        _conversions(grouped, conversion_events).sum().cast(pl.Int64).alias(CONVERSIONS),
    )
    order = {v: i for i, v in enumerate(values)}
    return (
        grid.join(activity, on=[DAY, by], how="left")
        .with_columns(pl.col(EVENTS, PEOPLE, CONVERSIONS).fill_null(0))
        .sort(DAY, pl.col(by).replace_strict(order, return_dtype=pl.Int64))
    )


def touchpoints_before_known(
    frame: pl.DataFrame,
    *,
    newly_known_since: dt.datetime | None = None,
    limit: int | None = 10,
) -> pl.DataFrame:
    """The touches that most often came before people became known.

    Touches (see the module docstring) with ``before_known``, grouped by channel, source,
    medium and campaign: ``touches``, ``people`` and ``share_of_people`` (of the people
    considered). With ``newly_known_since``, only people newly known since then count.
    """
    rows = _ensure_sessions(frame)
    if newly_known_since is not None:
        rows = rows.filter(pl.col(c.KNOWN_AT) >= utc_lit(newly_known_since))
    population = rows.get_column(c.EMAIL).n_unique()
    keys = [c.CHANNEL, c.SESSION_SOURCE, c.SESSION_MEDIUM, c.SESSION_CAMPAIGN]
    out = (
        rows.filter(pl.col(c.BEFORE_KNOWN) & pl.col(c.IS_TOUCH))
        .group_by(keys)
        .agg(
            pl.len().cast(pl.Int64).alias(TOUCHES),
            pl.col(c.EMAIL).n_unique().cast(pl.Int64).alias(PEOPLE),
        )
        .with_columns((pl.col(PEOPLE) / population if population else pl.lit(0.0)).alias(SHARE))
        .sort([PEOPLE, TOUCHES, *keys], descending=[True, True, False, False, False, False])
    )
    return out.head(limit) if limit is not None else out


def people_table(
    frame: pl.DataFrame,
    *,
    since: dt.datetime | None = None,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
) -> pl.DataFrame:
    """One row per person: known since, first/last event, events, sessions, channels, orders.

    With ``since``, ``is_newly_known`` tells whether ``known_at >= since`` and conversions and
    revenue count from it, as in the key figures (the module's *counted conversions*; the
    events and visits are the whole journey's). Sorted by the latest activity first.
    Conversions and revenue are scoped when ``frame`` has ``in_scope`` (:func:`with_scope`).
    """
    rows = _ensure_sessions(frame)
    newly = (
        (pl.col(c.KNOWN_AT).first() >= utc_lit(since))
        if since is not None
        else pl.lit(None, pl.Boolean)
    )
    # Channels of each person's touches: most touches first, ties by first use.
    channels = (
        rows.filter(pl.col(c.IS_TOUCH))
        .group_by(c.EMAIL, c.CHANNEL)
        .agg(pl.len().alias("_n"), pl.col(c.OCCURRED_AT).min().alias("_first"))
        .sort([c.EMAIL, "_n", "_first"], descending=[False, True, False])
        .group_by(c.EMAIL, maintain_order=True)
        .agg(pl.col(c.CHANNEL).str.join(", ").alias(CHANNELS_USED))
    )
    return (
        rows.group_by(c.EMAIL)
        .agg(
            pl.col(c.KNOWN_AT).first(),
            newly.alias(IS_NEWLY_KNOWN),
            pl.col(c.OCCURRED_AT).min().alias(FIRST_EVENT),
            pl.col(c.OCCURRED_AT).max().alias(LAST_EVENT),
            pl.len().cast(pl.Int64).alias(EVENTS),
            pl.col(c.SESSION).n_unique().cast(pl.Int64).alias(SESSIONS),
            _conversions(rows, conversion_events, since).sum().cast(pl.Int64).alias(CONVERSIONS),
            _revenue(rows, since).sum().alias(c.REVENUE),
        )
        .join(channels, on=c.EMAIL, how="left")
        .select(
            c.EMAIL,
            c.KNOWN_AT,
            IS_NEWLY_KNOWN,
            FIRST_EVENT,
            LAST_EVENT,
            EVENTS,
            SESSIONS,
            pl.col(CHANNELS_USED).fill_null(""),
            CONVERSIONS,
            c.REVENUE,
        )
        .sort([LAST_EVENT, c.EMAIL], descending=[True, False])
    )


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True, slots=True)
class Filters:
    """Which people to keep: those with at least one event matching every non-empty filter.

    Within one filter any listed value matches. Campaign, source and medium are the session's
    (so a purchase in a session from a campaign matches that campaign).
    """

    campaigns: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    media: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any(self._pairs().values())

    def _pairs(self) -> dict[str, tuple[str, ...]]:
        return {
            c.SESSION_CAMPAIGN: self.campaigns,
            c.SESSION_SOURCE: self.sources,
            c.SESSION_MEDIUM: self.media,
            c.CHANNEL: self.channels,
            c.EVENT_TYPE: self.event_types,
        }

    @property
    def scoped(self) -> bool:
        """Whether a campaign, source, medium or channel filter is set (conversions are then
        scoped to the matching touches, see :func:`with_scope`)."""
        return any(self.touch_pairs().values())

    def touch_pairs(self) -> dict[str, tuple[str, ...]]:
        """The filters a touch can match: campaign, source, medium and channel."""
        return {k: v for k, v in self._pairs().items() if k != c.EVENT_TYPE}

    def predicate(self) -> pl.Expr:
        """The row predicate: every non-empty filter matches."""
        expr = pl.lit(True)
        for column, values in self._pairs().items():
            if values:
                expr = expr & pl.col(column).is_in(list(values))
        return expr

    def touch_predicate(self) -> pl.Expr:
        """Whether a row's touch in force matches every non-empty touch filter."""
        expr = pl.lit(True)
        for column, values in self.touch_pairs().items():
            if values:
                expr = expr & pl.col(column).is_in(list(values))
        return expr


FILTER_DIMENSIONS: Final[tuple[str, ...]] = (
    c.SESSION_CAMPAIGN,
    c.SESSION_SOURCE,
    c.SESSION_MEDIUM,
    c.CHANNEL,
    c.EVENT_TYPE,
)


def filter_people(frame: pl.DataFrame, filters: Filters) -> pl.DataFrame:
    """All rows of the people with a matching event (rows keep their order)."""
    if not filters.active:
        return frame
    rows = _ensure_sessions(frame)
    keep = rows.filter(filters.predicate()).get_column(c.EMAIL).unique()
    return rows.filter(pl.col(c.EMAIL).is_in(keep.implode()))


def with_scope(
    frame: pl.DataFrame, filters: Filters, *, lookback: dt.timedelta = CONVERSION_LOOKBACK
) -> pl.DataFrame:
    """``frame`` (with sessions) with ``in_scope``: whether the row's person had a touch
    matching the campaign/source/medium/channel ``filters`` at or before the row, at most
    ``lookback`` earlier. Without such a filter, ``frame`` is returned unchanged.

    >>> t = [dt.datetime(2022, 7, d, 10, tzinfo=dt.UTC) for d in (1, 2, 20)]
    >>> rows = pl.DataFrame({"email": ["a"] * 3, "event_id": ["1", "2", "3"],
    ...     "occurred_at": t, "utm_source": [None, "google", None],
    ...     "utm_medium": [None, "cpc", None], "utm_campaign": [None, "x", None]})
    >>> scoped = with_scope(with_sessions(rows), Filters(campaigns=("x",)),
    ...     lookback=dt.timedelta(days=10))
    >>> scoped["in_scope"].to_list()
    [False, True, False]
    """
    if not filters.scoped:
        return frame
    rows = _ensure_sessions(frame)
    at = pl.col(c.OCCURRED_AT)
    touched = pl.when(pl.col(c.IS_TOUCH) & filters.touch_predicate()).then(at)
    latest = touched.forward_fill().over(c.EMAIL, order_by=[c.OCCURRED_AT, c.EVENT_ID])
    lookback_us = int(lookback / dt.timedelta(microseconds=1))
    within = (at - latest).dt.total_microseconds() <= lookback_us
    return rows.with_columns(
        (latest.is_not_null() & within).fill_null(value=False).alias(c.IN_SCOPE)
    )


def journey_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Only the result columns, in result order: the rows `journey export` writes."""
    return frame.select(c.RESULT_COLUMNS)


def filter_options(frame: pl.DataFrame) -> dict[str, list[str]]:
    """For each filter dimension, its values, those with most people first."""
    rows = _ensure_sessions(frame)
    out: dict[str, list[str]] = {}
    for column in FILTER_DIMENSIONS:
        counts = (
            rows.group_by(column)
            .agg(pl.col(c.EMAIL).n_unique().alias("_n"))
            .drop_nulls(column)
            .sort(["_n", column], descending=[True, False])
        )
        out[column] = counts.get_column(column).to_list()
    return out


# --------------------------------------------------------------------------- page reports


@dataclass(frozen=True, slots=True)
class RecentReport:
    """Everything the recent activity page shows, from one result."""

    kpis: Kpis
    previous: Kpis | None
    hourly: pl.DataFrame
    campaigns: pl.DataFrame
    sources: pl.DataFrame
    people: pl.DataFrame
    preview: pl.DataFrame
    total_rows: int


def recent_report(
    frame: pl.DataFrame,
    *,
    start: dt.datetime,
    end: dt.datetime,
    previous: pl.DataFrame | None = None,
    tz: str = "UTC",
    preview_rows: int = 1000,
    top: int = 10,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
) -> RecentReport:
    """The recent activity page from the rows of its window (and of the window before it)."""
    rows = _ensure_sessions(frame)
    campaigns = breakdown(rows, by=c.SESSION_CAMPAIGN, conversion_events=conversion_events)
    campaigns = campaigns.filter(pl.col(c.SESSION_CAMPAIGN) != NO_CAMPAIGN).head(top)
    return RecentReport(
        kpis=kpis(rows, conversion_events=conversion_events),
        previous=(
            kpis(_ensure_sessions(previous), conversion_events=conversion_events)
            if previous is not None
            else None
        ),
        hourly=hourly_by_channel(rows, start=start, end=end, tz=tz),
        campaigns=campaigns,
        sources=breakdown(rows, by=c.SOURCE_MEDIUM, conversion_events=conversion_events, limit=top),
        people=people_table(rows, conversion_events=conversion_events),
        preview=newest(rows, preview_rows),
        total_rows=rows.height,
    )


def _have(people: int) -> str:
    return "has" if people == 1 else "have"


@dataclass(frozen=True, slots=True)
class Exclusion:
    """People of the cohort a figure leaves out, and the sentence the page states."""

    figure: str
    people: int
    message: str


def exclusions(
    kpis: Kpis, *, start: dt.datetime, funnel: pl.DataFrame | None = None
) -> tuple[Exclusion, ...]:
    """What each campaign figure leaves out of the cohort (only figures that do).

    ``people`` (active since ``start``) leaves out those with no event since then; the
    ``funnel`` (:func:`journey_core.analytics.funnel.funnel` of the cohort since ``start``)
    those with no event of its first step since then (its step 1, every group).
    """
    cohort = kpis.cohort or 0
    out: list[Exclusion] = []
    inactive = cohort - kpis.people
    if inactive > 0:
        out.append(
            Exclusion(
                c.PEOPLE,
                inactive,
                f"{inactive:,} of the {cohort:,} people {_have(inactive)} no event since "
                f"{start:%d %b %Y} "
                "(they became known since then; their journey is earlier).",
            )
        )
    if funnel is not None and funnel.height:
        first = funnel.filter(pl.col(STEP) == 1)
        missing = cohort - int(first.get_column(PEOPLE).sum())
        if missing > 0:
            step = str(first.item(0, c.EVENT_TYPE))
            out.append(
                Exclusion(
                    "funnel",
                    missing,
                    f"{missing:,} of the {cohort:,} people {_have(missing)} no {step} event "
                    f"since {start:%d %b %Y}, so the funnel starts without them.",
                )
            )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class CampaignReport:
    """Everything the campaign influence page shows, from one result and its filters.

    ``previous``: the same figures over the previous period (:func:`previous_period`), when
    its rows were given; ``excluded``: what a figure leaves out of the cohort.
    """

    kpis: Kpis
    trend: pl.DataFrame
    channels: pl.DataFrame
    campaigns: pl.DataFrame
    touchpoints: pl.DataFrame
    people: pl.DataFrame
    preview: pl.DataFrame
    total_rows: int
    previous: Kpis | None = None
    excluded: tuple[Exclusion, ...] = ()

    @property
    def cohort_size(self) -> int:
        """The people of the campaign cohort (the people table's rows)."""
        return self.kpis.cohort or 0

    @property
    def changes(self) -> dict[str, float | None]:
        """Each key figure's relative change against the previous period."""
        return kpi_changes(self.kpis, self.previous)


def _cohort_rows(frame: pl.DataFrame, filters: Filters, lookback: dt.timedelta) -> pl.DataFrame:
    """The filtered cohort's rows, with ``in_scope`` when a touch filter is set."""
    return with_scope(filter_people(_ensure_sessions(frame), filters), filters, lookback=lookback)


def campaign_report(
    frame: pl.DataFrame,
    *,
    start: dt.datetime,
    end: dt.datetime,
    filters: Filters = Filters(),
    steps: Sequence[str] | None = None,
    tz: str = "UTC",
    preview_rows: int = 1000,
    top: int = 10,
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
    previous: pl.DataFrame | None = None,
    lookback: dt.timedelta = CONVERSION_LOOKBACK,
) -> CampaignReport:
    """The campaign influence page: ``start`` is the campaign start, ``end`` the period's end
    (the as-of time of ``frame``'s rows).

    Everything is computed on the cohort: the people the filters keep (see the module
    docstring); with a touch filter, conversions and revenue are scoped (``lookback``).
    ``previous``: the rows of the previous period (the ``event_date`` rule for
    :func:`previous_period`'s start, as of just before ``start``), for :attr:`previous`.
    ``steps``: the funnel whose first step says who it leaves out (default: the funnel
    section's, :data:`journey_core.analytics.funnel.NEWLY_KNOWN_STEPS`).
    """
    from journey_core.analytics import funnel as fn  # funnel imports this module

    rows = _cohort_rows(frame, filters, lookback)
    figures = kpis(rows, since=start, conversion_events=conversion_events)
    before = None
    if previous is not None:
        before = previous_kpis(
            previous,
            start=start,
            end=end,
            filters=filters,
            tz=tz,
            conversion_events=conversion_events,
            lookback=lookback,
        )
    spec = fn.FunnelSpec(steps=fn.NEWLY_KNOWN_STEPS if steps is None else tuple(steps), since=start)
    return CampaignReport(
        kpis=figures,
        trend=daily_trend(rows, start=start, end=end, tz=tz, conversion_events=conversion_events),
        channels=breakdown(rows, by=c.CHANNEL, conversion_events=conversion_events, since=start),
        campaigns=breakdown(
            rows, by=c.SESSION_CAMPAIGN, conversion_events=conversion_events, limit=top, since=start
        ),
        touchpoints=touchpoints_before_known(rows, newly_known_since=start, limit=top),
        people=people_table(rows, since=start, conversion_events=conversion_events),
        preview=newest(rows.drop(c.IN_SCOPE, strict=False), preview_rows),
        total_rows=rows.height,
        previous=before,
        excluded=exclusions(figures, start=start, funnel=fn.funnel(rows, spec)),
    )


def previous_kpis(
    previous: pl.DataFrame,
    *,
    start: dt.datetime,
    end: dt.datetime,
    filters: Filters = Filters(),
    tz: str = "UTC",
    conversion_events: Sequence[str] = CONVERSION_EVENTS,
    lookback: dt.timedelta = CONVERSION_LOOKBACK,
) -> Kpis:
    """The key figures of the previous period (:func:`previous_period` of ``start`` and
    ``end``) from its rows ``previous``, with the same ``filters``: the
    :attr:`CampaignReport.previous` of :func:`campaign_report`."""
    earlier = _cohort_rows(previous, filters, lookback)
    since, _ = previous_period(start, end, tz)
    return kpis(earlier, since=since, conversion_events=conversion_events)


def newest(rows: pl.DataFrame, n: int) -> pl.DataFrame:
    """The ``n`` most recent rows, newest first (then by email and event id, descending)."""
    return rows.sort([c.OCCURRED_AT, c.EMAIL, c.EVENT_ID], descending=True).head(n)
