"""The sections of each page: inputs bound to the URL, KPIs, charts and tables.

Pages call these in order; each section reads its figures from a view that
:mod:`journey_ui.data` loads and caches (computed in the warehouse for the Campaign influence
and Recent activity pages, by :mod:`journey_core.analytics.campaign` for the others).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Final

import polars as pl
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.errors import JourneyError
from journey_core.timeutil import local_day, parse_timezone
from journey_core.warehouse import pages as wp
from journey_core.warehouse.quality import KIND, ROWS, TREATMENT
from journey_ui import components as ui
from journey_ui import data, runlog, setting, urlstate
from journey_ui.figures import campaign as charts
from journey_ui.figures.palette import KNOWN_ACTIVE
from journey_ui.shell import PageContext

# --------------------------------------------------------------------------- recent activity


def _versus(change: str | None, period: str) -> str | None:
    """A KPI's change with what it is against: ``+1.2% vs previous 24 h``."""
    return None if change is None else f"{change} vs previous {period}"


def recent_kpis(report: data.RecentView, *, hours: float) -> None:
    """Known people active, events, conversions and revenue, against the window before."""
    now, before = report.kpis, report.previous
    window = f"{hours:g} h"
    ui.kpi_row(
        [
            ui.Kpi(
                KNOWN_ACTIVE,
                ui.fmt_int(now.people),
                _versus(ui.fmt_change(now.people, before.people if before else None), window),
                f"Known individuals with at least one event in the last {window}; the change is "
                f"against the {window} before.",
            ),
            ui.Kpi(
                "Events",
                ui.fmt_int(now.events),
                _versus(ui.fmt_change(now.events, before.events if before else None), window),
                f"Events of known individuals in the last {window}.",
            ),
            ui.Kpi(
                "Conversions",
                ui.fmt_int(now.conversions),
                _versus(
                    ui.fmt_change(now.conversions, before.conversions if before else None), window
                ),
                "Purchase events.",
            ),
            ui.Kpi(
                ui.money_label("Revenue"),
                ui.fmt_amount(now.revenue, compact=True),
                _versus(ui.fmt_change(now.revenue, before.revenue if before else None), window),
                "Sum of the revenue of the events.",
            ),
        ]
    )


def recent_charts(
    report: data.RecentView, ctx: PageContext, *, start: dt.datetime, end: dt.datetime
) -> None:
    """Events per hour by channel; top campaigns and source / medium pairs by visits."""
    ui.section(
        "Events per hour by channel",
        "Each event counts for the channel of the visit it belongs to. Hours the window "
        "covers only in part (its first and last) are drawn lighter.",
    )
    ui.chart(
        charts.hourly_chart(report.hourly, tz=ctx.tz, start=start, end=end), key="recent.hourly"
    )
    left, right = st.columns(2, gap="large")
    with left:
        ui.section("Top campaigns", "Visits that came from each campaign (UTM campaign).")
        if report.campaigns.is_empty():
            st.caption("No campaign-tagged visits in this window.")
        else:
            ui.chart(
                charts.breakdown_chart(report.campaigns, by=c.SESSION_CAMPAIGN, value=an.SESSIONS),
                key="recent.campaigns",
            )
    with right:
        ui.section(
            "Top source / medium",
            "Visits per source and medium, as GA4 shows them: the UTM source and medium, else "
            "the referring site and its kind, or (direct) / (none).",
        )
        ui.chart(
            charts.breakdown_chart(report.sources, by=c.SOURCE_MEDIUM, value=an.SESSIONS),
            key="recent.sources",
        )


# --------------------------------------------------------------------------- journeys table


PEOPLE_COLUMNS = (
    c.EMAIL,
    c.KNOWN_AT,
    an.IS_NEWLY_KNOWN,
    an.FIRST_EVENT,
    an.LAST_EVENT,
    an.SESSIONS,
    an.EVENTS,
    an.CHANNELS_USED,
    an.CONVERSIONS,
    c.REVENUE,
)


def journeys_table(
    *,
    people: wp.PeoplePage,
    page_of: Callable[[int], wp.PeoplePage],
    preview: pl.DataFrame,
    total_rows: int,
    ctx: PageContext,
    key: str,
) -> None:
    """People, a page at a time (pick one to open their customer lookup), and the most
    recent events. ``page_of(i)`` loads page ``i`` (from 0) of the people table."""
    tab_people, tab_events = st.tabs(
        [
            f":material/group: People ({ui.fmt_int(people.total)})",
            f":material/list: Events ({ui.fmt_int(total_rows)})",
        ],
        key=f"{key}.tab",
        on_change="rerun",  # only the open tab's table is built and sent
    )
    if tab_people.open is not False:
        with tab_people:
            frame = _people_page(people, page_of, key).frame
            columns = [
                name
                for name in PEOPLE_COLUMNS
                if name != an.IS_NEWLY_KNOWN or frame.get_column(name).null_count() == 0
            ]
            picked = ui.table(
                frame, tz=ctx.tz, key=f"{key}.people", columns=columns, height=420, pickable=True
            )
            if picked is not None:
                ui.open_customer(frame.get_column(c.EMAIL)[picked], ctx)
    if tab_events.open:
        with tab_events:
            shown = min(preview.height, total_rows)
            note = (
                f"The {ui.fmt_int(shown)} most recent of {ui.fmt_int(total_rows)} events; "
                "the CSV download has all of them."
                if shown < total_rows
                else f"All {ui.fmt_int(total_rows)} events, newest first."
            )
            st.caption(note + " Select a row to open that person's customer lookup.")
            picked = ui.table(
                preview,
                tz=ctx.tz,
                key=f"{key}.events",
                columns=ui.EVENT_TABLE_COLUMNS,
                height=420,
                pickable=True,
            )
            if picked is not None:
                ui.open_customer(preview.get_column(c.EMAIL)[picked], ctx)


def _people_page(
    first: wp.PeoplePage, page_of: Callable[[int], wp.PeoplePage], key: str
) -> wp.PeoplePage:
    """The page of people picked (the first unless the table has more), and its caption."""
    pages = max(1, -(-first.total // first.limit))
    shown = first
    if pages > 1:
        left, right = st.columns([1, 4], vertical_alignment="bottom")
        with left:
            number = st.number_input(
                f"Page (of {ui.fmt_int(pages)})",
                min_value=1,
                max_value=pages,
                value=1,
                step=1,
                key=f"{key}.people.page",
            )
        if number > 1:
            shown = page_of(int(number) - 1)
        with right:
            last = shown.offset + shown.frame.height
            st.caption(
                f"Showing people {ui.fmt_int(shown.offset + 1)} to {ui.fmt_int(last)} of "
                f"{ui.fmt_int(shown.total)} ({ui.fmt_int(shown.limit)} a page, latest activity "
                "first); the CSV download has everyone. Select a row to open that person's "
                "customer lookup."
            )
    else:
        st.caption(
            f"All {ui.fmt_int(shown.total)} people, latest activity first. "
            "Select a row to open that person's customer lookup."
        )
    return shown


# --------------------------------------------------------------------------- campaign influence


def campaign_filters(ctx: PageContext, options: dict[str, list[str]]) -> an.Filters:
    """Optional filters, each mirrored in the URL (shared with Attribution)."""
    active = sum(bool(st.query_params.get_all(name)) for name, _, _ in setting.FILTERS)
    active += sum(bool(st.session_state.get(p.key)) for p in setting.FILTER_PARAMS.values())
    # Opened at first if the link has filters; afterwards it stays as the user leaves it.
    opened = st.session_state.setdefault("_campaign.filters_opened", active > 0)
    with st.expander(
        "Filters",
        icon=":material/filter_list:",
        expanded=opened,
        key="campaign.filters",
    ):
        st.caption(
            "Keep people with at least one event matching every filter you set "
            "(campaign, source and medium are those of the visit). Shared with Attribution. "
            "Each list offers up to "
            f"{wp.OPTION_LIMIT:,} values, those with most people first."
        )
        filters = setting.filter_inputs(ctx, options)
    setting.filters_caption(filters, options)
    return filters


NO_BREAKDOWN = "No breakdown"
#: The breakdown picker's choices: URL name -> the dimension (``campaign.DIMENSIONS``).
BREAKDOWNS: dict[str, str] = {
    "channel": c.CHANNEL,
    "source_medium": c.SOURCE_MEDIUM,
    "campaign": c.SESSION_CAMPAIGN,
    "landing_page": c.LANDING_PAGE,
    "device": c.ANONYMOUS_ID,
    "known": c.KNOWN_STATUS,
}
BREAKDOWN_LABELS: dict[str, str] = {
    NO_BREAKDOWN: NO_BREAKDOWN,
    c.CHANNEL: "Channel",
    c.SOURCE_MEDIUM: "Source / medium",
    c.SESSION_CAMPAIGN: "Campaign",
    c.LANDING_PAGE: "Landing page",
    c.ANONYMOUS_ID: "Device",
    c.KNOWN_STATUS: "Newly vs previously known",
}
BREAKDOWN_PARAM = urlstate.named_param(
    "breakdown", "campaign.breakdown", names=BREAKDOWNS, default=NO_BREAKDOWN
)


def breakdown_picker() -> str | None:
    """The one breakdown of the page (trend, table and funnel), in the URL (``?breakdown=``);
    returns the dimension, ``None`` for no breakdown."""
    urlstate.restore(BREAKDOWN_PARAM)
    picked = st.selectbox(
        "Break down by",
        options=list(BREAKDOWN_LABELS),
        format_func=BREAKDOWN_LABELS.__getitem__,
        key=BREAKDOWN_PARAM.key,
        help="Splits the daily trend, adds a table of the key figures per value and splits "
        "the funnel (by each person's first touch). Channel, source / medium, campaign and "
        "landing page are the visit's; device is the anonymous id.",
        width=290,  # "Newly vs previously known" in full, in any window
    )
    urlstate.publish(BREAKDOWN_PARAM, picked)
    ui.warn_url_errors(BREAKDOWN_PARAM)
    return None if picked == NO_BREAKDOWN else picked


def period_text(period: tuple[dt.datetime, dt.datetime], tz: str) -> str:
    """The days of ``period`` ``[start, end)`` as people read them: ``02 Jul – 31 Jul 2022``.

    >>> utc = dt.UTC
    >>> period_text((dt.datetime(2022, 7, 2, tzinfo=utc), dt.datetime(2022, 8, 1, tzinfo=utc)),
    ...     "UTC")
    '02 Jul – 31 Jul 2022'
    """
    first = local_day(period[0], tz)
    last = local_day(period[1] - dt.timedelta(microseconds=1), tz)
    if first == last:
        return f"{first:%d %b %Y}"
    return f"{first:%d %b}{'' if first.year == last.year else f' {first.year}'} – {last:%d %b %Y}"


def _change(now: float | None, before: float | None) -> str | None:
    return None if now is None else ui.fmt_change(now, before)


def _before(value: str, previous: float | None, dates: str | None) -> str:
    if dates is None:
        return ""
    if previous is None:
        return f" Previous period ({dates}): no figure."
    return f" Previous period ({dates}): {value}."


COMPARING: Final = (
    "Changes against the previous period of the same length, {dates}, follow once its figures "
    "are computed."
)
"""The key figures' caption while the previous period's are computed (:func:`campaign_kpis`)."""
COMPARING_SPINNER: Final = "Computing the previous period's figures…"


def campaign_kpis(
    report: data.CampaignView, ctx: PageContext, start: dt.date, *, comparing: bool = False
) -> None:
    """The key figures of the cohort against the previous period of the same length (its
    dates in each help and the caption); with a campaign/channel/source/medium filter,
    conversions and revenue after a matching touch, with the any-time figures beside them;
    then what a figure leaves out of the cohort. ``comparing``: the previous period's
    figures are still being computed (the caption says so; no changes yet)."""
    k, before = report.kpis, report.previous
    since = f"{start:%d %b %Y}"
    dates = period_text(report.previous_period, ctx.tz) if report.previous_period else None
    pending = dates if comparing else None  # said in the caption while they are computed
    if comparing:  # no changes, and no "no figure" in the helps, until they are here
        before, dates = None, None
    prev = before if before is not None else an.Kpis(0, 0, 0, 0, 0.0)
    has = before is not None
    scoped = k.conversions_any_time is not None
    lookback = f"{an.CONVERSION_LOOKBACK.days} days"
    items = [
        ui.Kpi(
            KNOWN_ACTIVE,
            # Everyone in the result (the people table's, the CSV's and the funnel's people):
            # those active since the date and those who became known since, with no event since.
            ui.fmt_int(report.cohort),
            _change(report.cohort, prev.cohort if has else None),
            help=f"Known individuals with at least one event since {since}, or who became "
            f"known since {since}: everyone in the table, the CSV and the funnel."
            + _before(ui.fmt_int(prev.cohort), prev.cohort if has else None, dates),
        ),
        ui.Kpi(
            "Newly known",
            ui.fmt_int(k.newly_known),
            _change(k.newly_known, prev.newly_known if has else None),
            help=f"People who became known (first identified) on or after {since}."
            + _before(ui.fmt_int(prev.newly_known), prev.newly_known if has else None, dates),
        ),
        ui.Kpi(
            "Events",
            ui.fmt_int(k.events),
            _change(k.events, prev.events if has else None),
            help="Every event in these journeys, including the earlier journey of the newly "
            "known people." + _before(ui.fmt_int(prev.events), prev.events if has else None, dates),
        ),
        ui.Kpi(
            "Conversions after a matching touch" if scoped else "Conversions",
            ui.fmt_int(k.conversions),
            _change(k.conversions, prev.conversions if has else None),
            help=(
                f"Purchases since {since} at most {lookback} after the person's touch (visit) "
                "matching the campaign, source, medium or channel filter. Purchases before that "
                "touch are not counted here; they are in the any-time figure."
                if scoped
                else f"Purchase events since {since}. The earlier journeys of the newly known "
                "people (in Events and the CSV) may hold older purchases; they are not this "
                "period's."
            )
            + _before(ui.fmt_int(prev.conversions), prev.conversions if has else None, dates),
        ),
        ui.Kpi(
            ui.money_label("Revenue after a matching touch" if scoped else "Revenue"),
            ui.fmt_amount(k.revenue, compact=True),
            _change(k.revenue, prev.revenue if has else None),
            help=(
                f"Revenue of the purchases since {since} at most {lookback} after a matching touch."
                if scoped
                else f"Sum of the revenue of the events since {since}."
            )
            + _before(ui.fmt_money(prev.revenue), prev.revenue if has else None, dates),
        ),
    ]
    if scoped:
        any_conv, any_rev = k.conversions_any_time, k.revenue_any_time
        items += [
            ui.Kpi(
                "Conversions, any time",
                ui.fmt_int(any_conv),
                _change(any_conv or 0, prev.conversions_any_time if has else None),
                help=f"Every purchase of these people since {since}, also those before their "
                "matching touch or longer after it.",
            ),
            ui.Kpi(
                ui.money_label("Revenue, any time"),
                ui.fmt_amount(any_rev, compact=True),
                _change(any_rev or 0.0, prev.revenue_any_time if has else None),
                help=f"The revenue of every purchase of these people since {since}.",
            ),
        ]
    if scoped:  # a row per measure: after a matching touch beside any time
        ui.kpi_row(items[:3])
        ui.kpi_row([items[3], items[5]])
        ui.kpi_row([items[4], items[6]])
    else:
        ui.kpi_row(items)
    notes = []
    if pending is not None:
        notes.append(COMPARING.format(dates=pending))
    if dates is not None:
        notes.append(
            f"Changes are against the previous period of the same length, {dates}"
            + ("." if has else " (no figures for it).")
        )
    notes += [e.message for e in report.excluded]
    if notes:
        st.caption(" ".join(notes))


def campaign_comparison(
    headline: DeltaGenerator,
    report: data.CampaignView,
    ctx: PageContext,
    start: dt.date,
    previous: Callable[[], an.Kpis],
) -> None:
    """Draw the key figures (:func:`campaign_kpis`) in ``headline`` again with their changes
    against ``previous()``, the previous period's figures: a cohort of its own (minutes at
    100M events), so the page asks for it last, with a spinner and the cohort's bar under
    the figures while it runs. If it fails, the figures stay, with the error under them."""
    before, failed = None, None
    with headline.container():
        campaign_kpis(report, ctx, start, comparing=True)
        with ui.loading(COMPARING_SPINNER):
            try:
                before = previous()
            except JourneyError as exc:
                failed = exc
    with headline.container():
        campaign_kpis(dataclasses.replace(report, previous=before), ctx, start)
        if failed is not None:
            ui.show_error(failed)


def campaign_charts(report: data.CampaignView, ctx: PageContext, start: dt.date) -> None:
    """Daily trend (split by the breakdown picked, with its table); channel and campaign
    breakdowns."""
    until = (
        report.period_end.astimezone(parse_timezone(ctx.tz)).strftime("%H:%M")
        if report.period_end
        else None
    )
    split = report.by is not None and report.split is not None
    partial = (
        f" The last day, {report.partial_day:%d %b}, is partial: counted up to {until} {ctx.tz} "
        "(the as-of time), so "
        + ("its bars are hatched." if split else "its bar is hatched and its line dotted.")
        if report.partial_day is not None
        else ""
    )
    if report.by is not None and report.split is not None and report.breakdown is not None:
        name = BREAKDOWN_LABELS[report.by]
        grouped = report.split.get_column(report.by).eq(an.OTHER).any()
        ui.section(
            f"Daily trend by {name.lower()}",
            f"Events per day since {start:%d %b %Y}, per {name.lower()}"
            + (
                f" (the {data.SPLIT_TOP} with most people; the rest as {an.OTHER})"
                if grouped
                else ""
            )
            + "."
            + partial,
        )
        ui.chart(
            charts.split_trend_chart(
                report.split, by=report.by, partial=report.partial_day, until=until
            ),
            key="campaign.trend",
        )
        ui.section(
            f"Key figures by {name.lower()}",
            "People, visits and events per value (whole journeys), conversions and revenue "
            f"since {start:%d %b %Y}; most people first (a person with visits of several "
            "values counts in each).",
        )
        ui.table(report.breakdown, tz=ctx.tz, key="campaign.breakdown.table")
    else:
        ui.section(
            "Daily trend",
            f"Events per day since {start:%d %b %Y} and the people who became known each day."
            + partial,
        )
        ui.chart(
            charts.daily_trend_chart(report.trend, partial=report.partial_day, until=until),
            key="campaign.trend",
        )
    left, right = st.columns(2, gap="large")
    with left:
        ui.section(
            "Channels",
            "People reached per channel (the channel of each visit). Unassigned: no channel "
            "rule matches, or the visit began before the window.",
        )
        ui.chart(
            charts.breakdown_chart(report.channels, by=c.CHANNEL, value=an.PEOPLE),
            key="campaign.channels",
        )
        ui.table(report.channels.drop(an.EVENTS), tz=ctx.tz, key="campaign.channels.table")
    with right:
        tagged = report.campaigns.filter(pl.col(c.SESSION_CAMPAIGN) != an.NO_CAMPAIGN)
        untagged = report.campaigns.filter(pl.col(c.SESSION_CAMPAIGN) == an.NO_CAMPAIGN)
        note = (
            f" {ui.fmt_int(untagged.get_column(an.PEOPLE).item())} people also had visits "
            "without a campaign, listed as (not set) in the table."
            if untagged.height
            else ""
        )
        ui.section("Campaigns", "People reached per campaign (UTM campaign of the visit)." + note)
        if tagged.is_empty():
            st.caption("No campaign-tagged visits in these journeys.")
        else:
            ui.chart(
                charts.breakdown_chart(tagged, by=c.SESSION_CAMPAIGN, value=an.PEOPLE),
                key="campaign.campaigns",
            )
        ui.table(report.campaigns.drop(an.EVENTS), tz=ctx.tz, key="campaign.campaigns.table")


def campaign_touchpoints(report: data.CampaignView, ctx: PageContext) -> None:
    """The touches that most often came before people became known."""
    ui.section(
        "Touchpoints before becoming known",
        "For the people who became known since the start date: the visits and campaign clicks "
        "that came before, most people first.",
    )
    if report.touchpoints.is_empty():
        st.caption("No touches before becoming known in these journeys.")
        return
    ui.table(report.touchpoints, tz=ctx.tz, key="campaign.touchpoints")


# --------------------------------------------------------------------------- data quality

QUALITY_LABELS: dict[str, str] = {
    "null_timestamp": "Events without a time",
    "unparseable_timestamp": "Events with an unreadable time",
    "future_event": "Events in the future",
    "duplicate_event_id": "Repeated event ids",
    "identity_without_anonymous_id": "Identities without an anonymous id",
    "malformed_email": "Malformed emails",
    "oversized_value": "Oversized text values",
}


def quality_panel(report: pl.DataFrame) -> None:
    """The data-quality counts: a headline, then one row per kind with its treatment."""
    bad = report.filter(pl.col(ROWS) > 0)
    total = int(bad.get_column(ROWS).sum() or 0)
    runlog.note(rule="quality", rows=total)
    ui.kpi_row(
        [
            ui.Kpi("Problem rows", ui.fmt_int(total), help="Rows counted once per kind."),
            ui.Kpi("Kinds found", f"{bad.height} of {report.height}"),
        ],
    )
    if total == 0:
        st.success("No problems found: every row is usable.", icon=":material/check_circle:")
    else:
        st.warning(
            f"{ui.plural(total, 'row')} of messy data: left out of results as described below. "
            "No page fails on them.",
            icon=":material/report:",
        )
    shown = report.select(
        pl.col(KIND)
        .replace_strict(QUALITY_LABELS, default=pl.col(KIND), return_dtype=pl.String)
        .alias("Problem"),
        pl.col(ROWS).alias("Rows"),
        pl.col(TREATMENT).alias("What results do with them"),
    )
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        key="quality.table",
        column_config={
            "Problem": st.column_config.Column(width=250),
            "Rows": st.column_config.NumberColumn(format="localized", width=80),
            "What results do with them": st.column_config.Column(),
        },
    )
    st.caption("Counts cover the whole warehouse up to the as-of time; see README, *Data quality*.")
