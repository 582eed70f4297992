"""One campaign setting shared by Campaign influence and Attribution: start, end, as-of, filters.

The start and end dates and the filters are widgets with the same keys on both pages, mirrored
in the URL (:mod:`journey_ui.urlstate`); the as-of time is the sidebar's (:mod:`journey_ui.shell`).
Streamlit gives a widget on another page a new identity, so each value is also kept in one
session store: a page whose widgets last saw an older value takes the store's (:func:`_sync`)
before drawing them, and a link's value (a changed URL) wins over both. So switching between
the two pages keeps all four. Out-of-range values from a link are never
replaced silently: each gets a message naming the parameter and what was used instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final

import streamlit as st

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.errors import InputError
from journey_core.rules.query import JourneyQuery
from journey_core.timeutil import local_day, parse_timezone
from journey_core.warehouse.figures import period_queries
from journey_ui import components as ui
from journey_ui import data, urlstate
from journey_ui.figures import campaign as charts
from journey_ui.shell import PageContext

DEFAULT_DAYS = 30
START_KEY = "campaign.event_date"
END_KEY = "campaign.end"
_END_PICKED = "campaign.end_picked"
_STORE = "journey.setting"
_TICK = dt.timedelta(microseconds=1)
_VALUES = "journey.setting.values"
_SYNCED = "journey.setting.synced"

#: (URL name, column, label) of each filter; the URL name is also the widget key's suffix.
FILTERS: tuple[tuple[str, str, str], ...] = (
    ("campaign", c.SESSION_CAMPAIGN, "Campaign"),
    ("source", c.SESSION_SOURCE, "Source"),
    ("medium", c.SESSION_MEDIUM, "Medium"),
    ("channel", c.CHANNEL, "Channel"),
    ("event_type", c.EVENT_TYPE, "Event type"),
)
FILTER_PARAMS = {name: urlstate.list_param(name, f"campaign.{name}") for name, _, _ in FILTERS}
_DATE_WIDTH: Final = 220
"""The date inputs' width: "Campaign start date" and its help icon on one line."""
_HALVES: Final = ("campaign", "channel")
"""The filters with long values (campaign names, "Organic Search"): a row of their own, in
halves. Five in a row cut a picked campaign to "su..." at 1280 px."""
_SHORT_WIDTH: Final = 250
"""The width of each other filter (google / cpc, paid_social, Add to cart): three to a row
where they fit, wrapping in a small window. In thirds a 1024 px window cut "newsletter" and
"Add to cart" to "newsle..." and "Add to ..."."""


@dataclass(frozen=True)
class CampaignSetting:
    """The campaign both pages show: start and end days, as-of time (UTC) and filters."""

    start: dt.date
    end: dt.date
    as_of: dt.datetime
    filters: an.Filters = field(default_factory=an.Filters)

    def end_time(self, tz: str) -> dt.datetime:
        """The end of the end day in ``tz`` (UTC), or the as-of time if that is earlier.

        >>> s = CampaignSetting(
        ...     dt.date(2022, 8, 1), dt.date(2022, 8, 10), dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
        ... )
        >>> s.end_time("UTC").isoformat()
        '2022-08-10T23:59:59.999999+00:00'
        >>> s.end_time("Europe/Paris").isoformat()
        '2022-08-10T21:59:59.999999+00:00'
        """
        last = dt.datetime.combine(self.end, dt.time.max, tzinfo=parse_timezone(tz))
        return min(last.astimezone(dt.UTC), self.as_of)


def campaign_query(ctx: PageContext, start: dt.date, end: dt.date) -> JourneyQuery:
    """The campaign cohort both pages show: the ``event_date`` rule from ``start`` over the
    period up to the end of the ``end`` day, or up to the sidebar's as-of time when that is
    earlier (including it; an as-of time at midnight stops at the day before's last instant,
    so it makes whole days). Every figure, table, funnel, CSV and the attribution of the
    pages read this one query, so a cohort has one size everywhere and nothing after the end
    day counts. A malformed start or as-of time, or a start at the as-of time (an as-of time
    at the start day's midnight: an empty period), is an :class:`InputError` naming the field.
    """
    query = ctx.query(event_date=start)
    last = CampaignSetting(start, end, query.as_of).end_time(ctx.tz)
    # The as-of time counts (the rules' bounds are inclusive: a link pinned to a day's last
    # microsecond shows that day whole), except at midnight, which ends the day before.
    midnight = an.partial_day(query.as_of - _TICK, ctx.tz) is None
    stop = min(last + _TICK, query.as_of if midnight else query.as_of + _TICK)
    if query.start is not None and stop <= query.start:  # an as-of time at the start's midnight
        msg = (
            f"the campaign starts at the as-of time ({ui.fmt_time(query.as_of, ctx.tz)} "
            f"{ctx.tz}): nothing has happened since. Pick an earlier start date or a later "
            "as-of time."
        )
        raise InputError("event_date", msg)
    period, _ = period_queries(query, end=stop)
    return period


def as_of_day(ctx: PageContext) -> dt.date:
    """The day (in the app's timezone) of the as-of time every figure is computed at."""
    return local_day(ctx.effective_as_of, ctx.tz)


def empty_tips(ctx: PageContext, query: JourneyQuery, filters: an.Filters) -> list[str]:
    """What both pages suggest when the campaign cohort is empty: a link to the warehouse's
    last days when it ends before the campaign (:func:`journey_ui.components.when_tips`),
    then fewer filters or an earlier start."""
    summary = ui.try_summary(ctx, data.summary)
    since = query.start or query.window_start
    return [
        *ui.when_tips(ctx, summary, since, days=DEFAULT_DAYS),
        "Remove some filters." if filters.active else "Pick an earlier start date.",
    ]


def stored() -> CampaignSetting | None:
    """The setting last used on either page in this session (``None`` before the first)."""
    value = st.session_state.get(_STORE)
    return value if isinstance(value, CampaignSetting) else None


def remember(setting: CampaignSetting) -> CampaignSetting:
    """Keep ``setting`` for the other page (returns it)."""
    st.session_state[_STORE] = setting
    return setting


def _sync(page: str, name: str, key: str) -> None:
    """Give widget ``key`` the shared value of ``name`` if another page changed it since."""
    values: dict[str, Any] = st.session_state.setdefault(_VALUES, {})
    synced: dict[str, Any] = st.session_state.setdefault(_SYNCED, {}).setdefault(page, {})
    if name in values and (name not in synced or synced[name] != values[name]):
        if values[name] is not None:
            st.session_state[key] = values[name]
        synced[name] = values[name]


def _share(page: str, name: str, value: Any) -> None:
    """Keep ``value`` of ``name`` for the other page (and note that ``page`` has seen it)."""
    st.session_state.setdefault(_VALUES, {})[name] = value
    st.session_state.setdefault(_SYNCED, {}).setdefault(page, {})[name] = value


def check_dates(
    start: dt.date, end: dt.date | None, day: dt.date
) -> tuple[dt.date, InputError | None]:
    """The end day to use for ``start``..``end`` at as-of day ``day``, and why it changed.

    No end: the as-of day. An end after the as-of day is cut to it (with a note). An end
    before the start is an :class:`InputError` naming the end date.

    >>> check_dates(dt.date(2022, 8, 1), None, dt.date(2022, 8, 31))
    (datetime.date(2022, 8, 31), None)
    >>> end, note = check_dates(dt.date(2022, 8, 1), dt.date(2022, 9, 9), dt.date(2022, 8, 31))
    >>> end, note.field
    (datetime.date(2022, 8, 31), 'end')
    """
    if end is None:
        return day, None
    if end < start:
        msg = (
            f"{end.isoformat()} is before the campaign start date {start.isoformat()}; "
            "pick an end date on or after the start."
        )
        raise InputError("end", msg)
    if end > day:
        msg = (
            f"{end.isoformat()} is after the as-of day {day.isoformat()}; the figures stop at "
            f"the as-of time, so {day.isoformat()} is used."
        )
        return day, InputError("end", msg)
    return end, None


def _picked_end() -> None:
    st.session_state[_END_PICKED] = True


def dates(ctx: PageContext) -> tuple[dt.date, dt.date]:
    """The start and end date inputs, side by side; returns (start, end).

    Start defaults to 30 days before the as-of day, end to the as-of day (and follows it
    until the user picks an end). A malformed start, or an end before the start, raises an
    :class:`InputError` naming the field; a malformed end, or an end after the as-of day, is
    shown as a warning saying which end is used instead.
    """
    ctx.query()  # a malformed or future as-of time is reported first (it sets the defaults)
    day = as_of_day(ctx)
    state = st.session_state
    start_param = urlstate.date_param(
        "event_date", START_KEY, default=lambda: day - dt.timedelta(days=DEFAULT_DAYS)
    )
    end_param = urlstate.date_param("end", END_KEY, default=lambda: day)
    _sync(ctx.page, "event_date", START_KEY)
    _sync(ctx.page, "end", END_KEY)
    urlstate.restore(start_param)
    if st.query_params.get_all("end"):
        urlstate.restore(end_param)
        state[_END_PICKED] = True
    elif not state.get(_END_PICKED):
        state[END_KEY] = day  # follows the as-of time until the user picks an end
    # Two fixed widths side by side: in quarter columns a 1024 px window wrapped "Campaign
    # start date" onto two lines, and its box sat lower than the end date's.
    with st.container(horizontal=True, gap="small"):
        value = st.date_input(
            "Campaign start date",
            key=START_KEY,
            persist_state="session",
            format="YYYY-MM-DD",
            help="People active since this date, plus the earlier journey (up to the lookback) "
            "of those who became known since. Shared by Campaign influence and Attribution.",
            width=_DATE_WIDTH,
        )
        end_value = st.date_input(
            "End date",
            key=END_KEY,
            persist_state="session",
            format="YYYY-MM-DD",
            on_change=_picked_end,
            help="The last day the figures count (default: the as-of day). Shared by "
            "Campaign influence and Attribution.",
            width=_DATE_WIDTH,
        )
    start = value if isinstance(value, dt.date) else None
    end = end_value if isinstance(end_value, dt.date) else None
    urlstate.publish(start_param, start)
    end_error = urlstate.url_error(end_param)
    urlstate.publish(end_param, end if state.get(_END_PICKED) else None)
    _share(ctx.page, "event_date", start)
    _share(ctx.page, "end", end if state.get(_END_PICKED) else None)
    start_error = urlstate.url_error(start_param)
    if start_error is not None:
        raise start_error
    if start is None:
        raise InputError("event_date", "pick a campaign start date, e.g. the first day it ran.")
    if end_error is not None:
        ui.show_warning(
            InputError("end", f"{end_error.detail} Using the as-of day {day.isoformat()}.")
        )
    if start > day:
        return start, day  # the query names the start date (after the as-of date)
    used, note = check_dates(start, end, day)
    if note is not None:
        ui.show_warning(note)
    return start, used


def filter_inputs(ctx: PageContext, options: dict[str, list[str]]) -> an.Filters:
    """One multiselect per filter, mirrored in the URL; returns the filters. The long ones
    in halves (:data:`_HALVES`), the others at :data:`_SHORT_WIDTH`, wrapping.

    A value the data of these dates does not have (e.g. from a link) is kept: see
    :func:`unknown_values` and :func:`filters_caption`.
    """
    values: dict[str, list[str]] = {}
    for name, _, _ in FILTERS:
        param = FILTER_PARAMS[name]
        _sync(ctx.page, name, param.key)
        urlstate.restore(param)
    place = dict(zip(_HALVES, st.columns(len(_HALVES)), strict=True))
    short = st.container(horizontal=True, gap="small", horizontal_alignment="distribute")
    for name, column, title in FILTERS:
        col = place.get(name, short)
        param = FILTER_PARAMS[name]
        known = options.get(column, [])
        picked = list(st.session_state[param.key])
        choices = list(dict.fromkeys([*known, *picked]))
        with col:
            values[name] = st.multiselect(
                title,
                options=choices,
                key=param.key,
                persist_state="session",
                format_func=charts.event_label if name == "event_type" else ui.shown_text,
                placeholder="Any",
                wrap=True,  # every picked value shown (in a column they scroll sideways)
                width="stretch" if name in _HALVES else _SHORT_WIDTH,
            )
        urlstate.publish(param, values[name])
        _share(ctx.page, name, list(values[name]))
    return an.Filters(
        campaigns=tuple(values["campaign"]),
        sources=tuple(values["source"]),
        media=tuple(values["medium"]),
        channels=tuple(values["channel"]),
        event_types=tuple(values["event_type"]),
    )


def _filter_values(filters: an.Filters) -> dict[str, tuple[str, ...]]:
    return {
        "campaign": filters.campaigns,
        "source": filters.sources,
        "medium": filters.media,
        "channel": filters.channels,
        "event_type": filters.event_types,
    }


def unknown_values(filters: an.Filters, options: dict[str, list[str]]) -> list[InputError]:
    """One note per filter holding values the data of these dates does not have.

    >>> notes = unknown_values(an.Filters(channels=("Email", "Fax")), {c.CHANNEL: ["Email"]})
    >>> [(n.field, n.detail.split(":")[0]) for n in notes]
    [('channel', "'Fax'")]
    """
    values = _filter_values(filters)
    notes = []
    for name, column, _ in FILTERS:
        missing = [v for v in values[name] if v not in options.get(column, [])]
        if missing:
            quoted = ", ".join(repr(v) for v in missing)
            notes.append(
                InputError(
                    name,
                    f"{quoted}: not in the data for these dates; kept as asked, so this "
                    "filter matches nobody. Remove it or pick another value.",
                )
            )
    return notes


def filters_caption(filters: an.Filters, options: dict[str, list[str]]) -> None:
    """One line naming the filters in effect, and a warning per unknown filter value."""
    for note in unknown_values(filters, options):
        ui.show_warning(InputError(note.field, ui.shown_text(note.detail)))
    values = _filter_values(filters)
    chosen = [
        f"{title}: "
        + ui.plain(
            ", ".join(
                charts.event_label(v) if name == "event_type" else ui.shown_text(v)
                for v in values[name]
            )
        )
        for name, _, title in FILTERS
        if values[name]
    ]
    if chosen:
        st.caption(":material/filter_alt: People with an event matching " + " · ".join(chosen))


def filters_panel(ctx: PageContext, options: dict[str, list[str]]) -> an.Filters:
    """The filters in an expander of their own (the Attribution page), their caption and,
    with a touch filter, how it scopes the conversions (:func:`scope_note`)."""
    active = any(st.query_params.get_all(name) for name, _, _ in FILTERS) or any(
        st.session_state.get(p.key) for p in FILTER_PARAMS.values()
    )
    with st.expander("Filters", icon=":material/filter_list:", expanded=bool(active)):
        st.caption(
            "Keep people with at least one event matching every filter you set (campaign, "
            "source and medium are those of the visit). Shared with Campaign influence."
        )
        filters = filter_inputs(ctx, options)
    filters_caption(filters, options)
    if filters.scoped:
        st.caption(":material/schedule: " + scope_note())
    return filters


def scope_note() -> str:
    """How a touch filter scopes the conversions (``campaign.with_scope``), in words."""
    days = an.CONVERSION_LOOKBACK.days
    return (
        "With a campaign, channel, source or medium filter, a conversion counts only after "
        f"the person's matching touch, within {days} days, as on Campaign influence."
    )
