"""The sections of each page: inputs bound to the URL, KPIs, charts and tables.

Pages call these in order; each section reads its figures from a report built by
:mod:`journey_core.analytics.campaign` (cached in :mod:`journey_ui.data`).
"""

from __future__ import annotations

import datetime as dt
from typing import cast

import polars as pl
import streamlit as st

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.errors import InputError
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse.quality import KIND, ROWS, TREATMENT
from journey_ui import components as ui
from journey_ui import data, people, runlog, setting, urlstate
from journey_ui.figures import campaign as charts
from journey_ui.shell import PageContext

# --------------------------------------------------------------------------- recent activity


def recent_kpis(report: an.RecentReport, *, hours: float) -> None:
    """Known people active, events, conversions and revenue, against the window before."""
    now, before = report.kpis, report.previous
    window = f"{hours:g} h"
    ui.kpi_row(
        [
            ui.Kpi(
                "Known people active",
                ui.fmt_int(now.people),
                ui.fmt_change(now.people, before.people if before else None),
                f"Known individuals with at least one event in the last {window}; the change is "
                f"against the {window} before.",
            ),
            ui.Kpi(
                "Events",
                ui.fmt_int(now.events),
                ui.fmt_change(now.events, before.events if before else None),
                f"Events of known individuals in the last {window}.",
            ),
            ui.Kpi(
                "Conversions",
                ui.fmt_int(now.conversions),
                ui.fmt_change(now.conversions, before.conversions if before else None),
                "Purchase events.",
            ),
            ui.Kpi(
                ui.money_label("Revenue"),
                ui.fmt_amount(now.revenue, compact=True),
                ui.fmt_change(now.revenue, before.revenue if before else None),
                "Sum of the revenue of the events.",
            ),
        ]
    )


def recent_charts(report: an.RecentReport, ctx: PageContext) -> None:
    """Events per hour by channel; top campaigns and sources by visits."""
    ui.section(
        "Events per hour by channel",
        "Each event counts for the channel of the visit it belongs to.",
    )
    ui.chart(charts.hourly_chart(report.hourly, tz=ctx.tz), key="recent.hourly")
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
        ui.section("Top sources", "Visits per source: UTM source, else the referring site.")
        ui.chart(
            charts.breakdown_chart(report.sources, by=c.SESSION_SOURCE, value=an.SESSIONS),
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
    people: pl.DataFrame,
    preview: pl.DataFrame,
    total_rows: int,
    ctx: PageContext,
    key: str,
) -> None:
    """People (pick one to open their customer lookup) and the most recent events."""
    tab_people, tab_events = st.tabs(
        [
            f":material/group: People ({ui.fmt_int(people.height)})",
            f":material/list: Events ({ui.fmt_int(total_rows)})",
        ],
        key=f"{key}.tab",
        on_change="rerun",  # only the open tab's table is built and sent
    )
    if tab_people.open is not False:
        with tab_people:
            st.caption("Select a row to open that person's customer lookup.")
            columns = [
                name
                for name in PEOPLE_COLUMNS
                if name != an.IS_NEWLY_KNOWN or people.get_column(name).null_count() == 0
            ]
            picked = ui.table(
                people, tz=ctx.tz, key=f"{key}.people", columns=columns, height=420, pickable=True
            )
            if picked is not None:
                ui.open_customer(people.get_column(c.EMAIL)[picked], ctx)
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


# --------------------------------------------------------------------------- customer lookup

EMAIL_PARAM = urlstate.text_param("email", "customer.email")
LANE_PARAM = urlstate.choice_param(
    "lane", "customer.lane", choices=("event_type", "channel"), default="event_type"
)


PERSON = "person"  # ?person=<token>: a person link without the email (journey_ui.people)


def email_input() -> str:
    """The email box, mirrored in the URL; returns the email to look up (validated later).

    The URL carries ``?email=``, or with masking on ``?person=<token>`` (never the email).
    An empty box looks up the person of a ``?person=`` link; typing replaces it.
    """
    urlstate.restore(EMAIL_PARAM)
    value = st.text_input(
        "Email",
        key=EMAIL_PARAM.key,
        persist_state="session",
        placeholder="name@example.com",
        help="The email a person identified with (case and spaces are ignored). Press Enter.",
        max_chars=254,
    )
    typed = value.strip()
    if typed:
        if ui.masking():
            urlstate.publish(EMAIL_PARAM, "")
            st.query_params[PERSON] = people.remember(typed)
        else:
            urlstate.publish(EMAIL_PARAM, value)
            st.query_params.pop(PERSON, None)
        return typed
    urlstate.publish(EMAIL_PARAM, "")
    link = st.query_params.get(PERSON)
    if not link:
        return ""
    email = people.resolve(link)
    if email is None:
        raise InputError(
            PERSON, "this person link has expired (the server restarted); type the email."
        )
    st.caption(f":material/link: From a link: {ui.plain(ui.shown_email(email))}")
    return email


def _use_person(email: str) -> None:
    """A "recently active" button: look ``email`` up (through a person link when masking)."""
    if ui.masking():
        st.session_state[EMAIL_PARAM.key] = ""
        st.query_params[PERSON] = people.remember(email)
    else:
        st.session_state[EMAIL_PARAM.key] = email


def customer_prompt(ctx: PageContext) -> None:
    """What to do with an empty email box, with recently active people to try."""
    st.info(
        "Enter an email to see that person's last "
        f"{ctx.settings.lookback_days:g} days: profile, timeline and every event.",
        icon=":material/person_search:",
    )
    try:
        report, _ = data.recent(*data.key_of(ctx, ctx.query()))
    except InputError:
        return
    suggested = report.people.head(6).get_column(c.EMAIL).to_list()
    if suggested:
        st.caption("Recently active customers:")
        grid = st.columns(3)
        for index, email in enumerate(suggested):
            grid[index % 3].button(
                ui.plain(ui.shown_email(email)),
                key=f"customer.try.{people.tag(email)}",  # a keyed hash: no email in the DOM
                on_click=_use_person,
                args=(email,),
                type="tertiary",
                icon=":material/person:",
            )


def customer_not_found(message: str, ctx: PageContext) -> None:
    """Why nothing was found and what to try."""
    ui.empty_state(
        message,
        tips=[
            "Check the spelling; the lookup ignores case and surrounding spaces.",
            "Turn Live off in the sidebar and pick a later as-of time"
            if ctx.as_of is not None
            else "People become known when they first identify (sign up, log in, click an email).",
            "Find people on the Campaign influence or Recent activity pages and select a row.",
        ],
    )


def lane_choice() -> str:
    """Timeline lanes: by event type or by channel (mirrored in ``?lane=``)."""
    urlstate.restore(LANE_PARAM)
    error = urlstate.url_error(LANE_PARAM)
    if error is not None:
        ui.show_error(error)
        urlstate.clear_error(LANE_PARAM)
    value = st.segmented_control(
        "Lanes",
        options=["event_type", "channel"],
        format_func=lambda v: "Event type" if v == "event_type" else "Channel",
        key=LANE_PARAM.key,
        persist_state="session",
        label_visibility="collapsed",
        required=True,
    )
    lane = value or "event_type"
    urlstate.publish(LANE_PARAM, lane)
    return lane


def customer_timeline(view: data.CustomerView, ctx: PageContext) -> None:
    """The timeline of one person, with a lane switch."""
    head, switch = st.columns([3, 1], vertical_alignment="bottom")
    with head:
        ui.section(
            "Timeline",
            "Each marker is an event, coloured by the channel of its visit; ◆ before the person "
            "became known, ● after. Grey bands and numbered squares are visits (30 minutes of "
            "inactivity ends one). Hover for UTM tags and pages; drag to zoom.",
        )
    with switch:
        lane = lane_choice()
    ui.chart(
        charts.timeline(ui.masked(view.rows), lane=cast("charts.Lane", lane), tz=ctx.tz),
        key="customer.timeline",
    )


def customer_events(view: data.CustomerView, query: JourneyQuery, ctx: PageContext) -> None:
    """Every event of the person, and the CSV of exactly these rows."""
    ui.section("Events", f"All {ui.fmt_int(view.rows.height)} events in the window, oldest first.")
    ui.table(
        view.rows,
        tz=ctx.tz,
        key="customer.events",
        columns=[name for name in ui.EVENT_TABLE_COLUMNS if name != c.EMAIL],
        height=min(420, 38 + 35 * max(view.rows.height, 1)),
        drop_empty=True,
    )
    ui.download_csv(
        data=lambda: data.build_csv(view.rows, mask_pii=ctx.settings.mask_pii),
        file_name=ui.csv_name(f"email-{ui.shown_email(query.email or '')}", ui.as_of_part(ctx)),
        rows=view.rows.height,
        people=1 if view.rows.height else 0,
        key="customer.csv",
        what="these events",
    )


# --------------------------------------------------------------------------- campaign influence


STEPS_PARAM = urlstate.list_param("steps", "campaign.steps", default=an.DEFAULT_FUNNEL_STEPS)


def campaign_filters(
    ctx: PageContext, options: dict[str, list[str]]
) -> tuple[an.Filters, tuple[str, ...]]:
    """Optional filters and the funnel steps, each mirrored in the URL."""
    urlstate.restore(STEPS_PARAM)
    active = sum(bool(st.query_params.get_all(name)) for name, _, _ in setting.FILTERS)
    active += sum(bool(st.session_state.get(p.key)) for p in setting.FILTER_PARAMS.values())
    # Opened at first if the link has filters; afterwards it stays as the user leaves it.
    opened = st.session_state.setdefault("_campaign.filters_opened", active > 0)
    with st.expander(
        "Filters and funnel steps",
        icon=":material/filter_list:",
        expanded=opened,
        key="campaign.filters",
    ):
        st.caption(
            "Keep people with at least one event matching every filter you set "
            "(campaign, source and medium are those of the visit). Shared with Attribution."
        )
        filters = setting.filter_inputs(ctx, options)
        event_types = options.get(c.EVENT_TYPE, [])
        step_choices = list(
            dict.fromkeys(
                [*an.DEFAULT_FUNNEL_STEPS, *event_types, *st.session_state[STEPS_PARAM.key]]
            )
        )
        steps = st.multiselect(
            "Funnel steps, in order",
            options=step_choices,
            key=STEPS_PARAM.key,
            persist_state="session",
            format_func=charts.event_label,
            help="The order you pick them in is the funnel order.",
        )
        urlstate.publish(STEPS_PARAM, steps)
    setting.filters_caption(filters, options)
    if len(steps) < 2:
        raise InputError("steps", "pick at least two funnel steps, e.g. page_view then purchase.")
    return filters, tuple(steps)


def campaign_kpis(report: an.CampaignReport, start: dt.date) -> None:
    """Active since the date, newly known since the date, events, conversions, revenue."""
    k = report.kpis
    since = f"{start:%d %b %Y}"
    ui.kpi_row(
        [
            ui.Kpi(
                "Known people active",
                ui.fmt_int(k.people),
                help=f"Known individuals with at least one event since {since}.",
            ),
            ui.Kpi(
                "Newly known",
                ui.fmt_int(k.newly_known),
                help=f"People who became known (first identified) on or after {since}.",
            ),
            ui.Kpi(
                "Events",
                ui.fmt_int(k.events),
                help="Every event in these journeys, including the earlier journey of the newly "
                "known people.",
            ),
            ui.Kpi("Conversions", ui.fmt_int(k.conversions), help="Purchase events."),
            ui.Kpi(
                ui.money_label("Revenue"),
                ui.fmt_amount(k.revenue, compact=True),
                help="Sum of the revenue of the events.",
            ),
        ]
    )


def campaign_charts(report: an.CampaignReport, ctx: PageContext, start: dt.date) -> None:
    """Daily trend; channel and campaign breakdowns."""
    ui.section(
        "Daily trend",
        f"Events per day since {start:%d %b %Y} and the people who became known each day.",
    )
    ui.chart(charts.daily_trend_chart(report.trend), key="campaign.trend")
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


def campaign_funnel(report: an.CampaignReport, ctx: PageContext) -> None:
    """The funnel chart and its table (counts, step conversion, drop-off)."""
    ui.section(
        "Funnel",
        "People who did each step after the previous one, newly known (became known since the "
        "start date) versus previously known. Labels: people · conversion from the step before.",
    )
    ui.chart(charts.funnel_chart(report.funnel), key="campaign.funnel")
    ui.funnel_table(report.funnel, key="campaign.funnel.table")


def campaign_touchpoints(report: an.CampaignReport, ctx: PageContext) -> None:
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
        widths=[1, 1],
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
