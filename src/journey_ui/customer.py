"""The Customer lookup page's sections: people search, profile, visit feed, timeline, events.

One search box (key ``customer.email``) finds people as the user types (``live``): part of
an email, or the start of an anonymous id, searched by the warehouse
(:mod:`journey_core.warehouse.search`, through :func:`journey_ui.data.people_search`); a
full email (or an ``?email=`` link) opens that person's lookup. An empty box lists the most
recently active people. With masking on (``JOURNEY_MASK_PII=1``) suggestions show masked
emails, their widget keys are keyed hashes (:func:`journey_ui.people.tag`) and opening one
puts a ``?person=<token>`` in the URL, never the email.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, cast

import polars as pl
import streamlit as st

from journey_core import columns as c
from journey_core.analytics import person as pa
from journey_core.errors import InputError
from journey_core.rules.query import EMAIL_PATTERN, JourneyQuery
from journey_core.timeutil import local_day
from journey_core.warehouse.search import LAST_SEEN, MATCHED_ID
from journey_ui import components as ui
from journey_ui import data, people, urlstate
from journey_ui.figures import person as person_charts
from journey_ui.figures.palette import event_label
from journey_ui.shell import PageContext

__all__ = [
    "EMAIL_PARAM",
    "LANE_PARAM",
    "MIN_SEARCH",
    "PERSON",
    "Lookup",
    "activity_feed",
    "customer_events",
    "customer_not_found",
    "customer_prompt",
    "customer_timeline",
    "lane_choice",
    "profile_panel",
    "search_box",
    "suggestions",
]

EMAIL_PARAM = urlstate.text_param("email", "customer.email")
LANE_PARAM = urlstate.choice_param(
    "lane", "customer.lane", choices=("event_type", "channel"), default="event_type"
)
PERSON = "person"  # ?person=<token>: a person link without the email (journey_ui.people)
#: Fewest typed characters that search (fewer list the recently active people).
MIN_SEARCH: Final = 3
SUGGESTIONS: Final = 10
_EMAIL_RE = re.compile(EMAIL_PATTERN)


@dataclass(frozen=True)
class Lookup:
    """What the search box asks for: a person to open (``email``), or a search (``text``)."""

    email: str = ""
    text: str = ""


def _looks_like_email(text: str) -> bool:
    return _EMAIL_RE.fullmatch(text.lower()) is not None


def search_box() -> Lookup:
    """The search box, mirrored in the URL when it holds a person to open.

    A full email, or the ``?email=`` the URL brought, opens that person (validated later);
    other text searches. The URL carries ``?email=``, or with masking on
    ``?person=<token>`` (never the email); an empty box opens the person of a ``?person=``
    link. Typed search text never reaches the URL.
    """
    urlstate.restore(EMAIL_PARAM)
    value = st.text_input(
        "Find a person",
        key=EMAIL_PARAM.key,
        persist_state="session",
        placeholder="Type part of an email or an anonymous id, e.g. vic.148",
        help="Suggestions appear as you type (from 3 characters): people whose email contains "
        "the text, or whose device (anonymous id) starts with it. A full email opens that "
        "person; case and spaces are ignored.",
        max_chars=254,
        icon=":material/person_search:",
        live="300ms",
    )
    typed = (value or "").strip()
    from_url = typed != "" and typed == (st.query_params.get(EMAIL_PARAM.name) or "").strip()
    if typed and (from_url or _looks_like_email(typed)):
        if ui.masking():
            urlstate.publish(EMAIL_PARAM, "")
            st.query_params[PERSON] = people.remember(typed)
        else:
            urlstate.publish(EMAIL_PARAM, typed)
            st.query_params.pop(PERSON, None)
        return Lookup(email=typed)
    urlstate.publish(EMAIL_PARAM, "")
    if typed:
        st.query_params.pop(PERSON, None)
        return Lookup(text=typed)
    link = st.query_params.get(PERSON)
    if not link:
        return Lookup()
    email = people.resolve(link)
    if email is None:
        raise InputError(
            PERSON, "this person link has expired (the server restarted); search for them again."
        )
    st.caption(f":material/link: From a link: {ui.plain(ui.shown_email(email))}")
    return Lookup(email=email)


def _use_person(email: str) -> None:
    """A suggestion's button: open ``email`` (through a person link when masking)."""
    if ui.masking():
        st.session_state[EMAIL_PARAM.key] = ""
        st.query_params[PERSON] = people.remember(email)
    else:
        st.session_state[EMAIL_PARAM.key] = email


def _ago(ctx: PageContext, value: Any) -> str:
    return f"last seen {ui.fmt_time(value, ctx.tz)}" if value is not None else "no events yet"


def suggestions(ctx: PageContext, text: str) -> int:
    """The people matching ``text`` (or the recently active, for short text) as buttons.

    Returns how many were listed.
    """
    searching = len(text) >= MIN_SEARCH
    found = data.people_search(
        ctx.engine,
        ctx.url,
        ctx.settings.mapping,
        ctx.effective_as_of,
        text if searching else "",
        SUGGESTIONS,
    )
    if searching:
        quoted = f"“{ui.plain(text)}”"
        if found.height == SUGGESTIONS:  # there may be more: say which ones these are
            head = f"The {SUGGESTIONS} most recently active people matching {quoted}"
        else:
            head = f"{found.height} {'person matches' if found.height == 1 else 'people match'} "
            head += quoted
    else:
        if text:
            st.caption(f"Type at least {MIN_SEARCH} characters to search.")
        head = "Recently active people"
    st.markdown(f"**{head}**")
    if found.is_empty():
        st.caption("Nobody found. Try fewer characters, or another part of the email.")
        return 0
    with st.container(border=True, gap="small"):
        for row in found.iter_rows(named=True):
            email = str(row[c.EMAIL])
            matched = row[MATCHED_ID]
            detail = _ago(ctx, row[LAST_SEEN]) + (
                f" · device {matched}" if matched is not None else ""
            )
            left, right = st.columns([3, 2], vertical_alignment="center")
            left.button(
                ui.plain(ui.shown_email(email)),
                key=f"customer.try.{people.tag(email)}",  # a keyed hash: no email in the DOM
                on_click=_use_person,
                args=(email,),
                type="tertiary",
                icon=":material/person:",
            )
            right.caption(ui.plain(detail))
    return found.height


def customer_prompt(ctx: PageContext, text: str = "") -> None:
    """What to do with an empty or partial search box: suggestions to open."""
    if not text:
        st.info(
            "Enter an email, or part of one, to find a person; or open one of the recently "
            "active people below. Their "
            f"last {ctx.settings.lookback_days:g} days follow: profile, visits, timeline and "
            "every event.",
            icon=":material/person_search:",
        )
    suggestions(ctx, text)


def customer_not_found(message: str, ctx: PageContext, text: str = "") -> None:
    """Why nothing was found, what to try, and people whose email contains ``text``'s name
    part (not with masking on: the list's heading quotes it). A person known by then whose
    last event is before the lookback gets a link to their lookup as of that event's day."""
    seen = _seen(ctx, text) if text else None
    if seen is not None:
        last = seen[LAST_SEEN][0]
        if last is None:
            tips = ["They have no events yet, only the identify call that made them known."]
        else:
            link = ui.day_link(ctx, local_day(last, ctx.tz), _param_lists(text))
            tips = [
                f"Their last event is on {ui.fmt_time(last, ctx.tz)} {ctx.tz}: [open their "
                f"lookup as of that day]({link}) to see the {ctx.settings.lookback_days:g} "
                "days up to it."
            ]
    else:
        tips = [
            "Check the spelling; the lookup ignores case and surrounding spaces.",
            "Pick a later as-of time in the sidebar, or turn Live on."
            if ctx.as_of is not None
            else "People become known when they first identify (sign up, log in, click an email).",
        ]
    ui.empty_state(
        message,
        tips=[
            *tips,
            "Find people on the Campaign influence or Recent activity pages and select a row.",
        ],
    )
    local = text.split("@")[0]
    if text and seen is None and not ui.masking():  # the heading quotes the text: never masked
        suggestions(ctx, local if len(local) >= MIN_SEARCH else text)


def _seen(ctx: PageContext, email: str) -> pl.DataFrame | None:
    """``email``'s search row (known by the as-of time; its last event), or ``None``."""
    found = data.people_search(
        ctx.engine, ctx.url, ctx.settings.mapping, ctx.effective_as_of, email, SUGGESTIONS
    )
    row = found.filter(pl.col(c.EMAIL) == email)
    return row if row.height else None


def _param_lists(email: str) -> dict[str, list[str]]:
    return {name: [value] for name, value in ui.person_params(email).items()}


# --------------------------------------------------------------------------- the person


def _first_touch_md(touch: pa.FirstTouch | None, ctx: PageContext) -> str:
    if touch is None:
        return "—"
    lines = [
        f"**{ui.plain(touch.channel)}** · {ui.plain(touch.source_medium)}",
        f"Campaign: {ui.plain(touch.campaign)}",
        f"Landing page: {ui.plain(touch.landing_page or '—')}",
        f"Referrer: {ui.plain(touch.referrer or '—')}",
        f"{ui.fmt_time(touch.at, ctx.tz)} {ctx.tz}",
    ]
    return "  \n".join(lines)


def profile_panel(view: data.CustomerView, ctx: PageContext) -> None:
    """Who this is (the profile card), how they first found you, and their devices."""
    assert view.profile is not None
    ui.profile_card(view.profile, ctx)
    rows = ui.masked(view.rows)  # URLs and ids may carry an email
    touch, devices = pa.first_touch(rows), pa.devices(rows)
    with st.container(border=True):
        first, known, kit = st.columns([2.2, 1.4, 1.4])
        with first:
            st.markdown(
                "**First touch in the window**",
                help="The first visit in the window: its channel, source / medium, campaign, "
                "landing page and referrer.",
            )
            st.markdown(ui.shown_text(_first_touch_md(touch, ctx)))
        with known:
            orders = view.profile.orders
            st.markdown("**Known since**")
            st.markdown(
                f"{ui.fmt_time(view.profile.known_at, ctx.tz)} {ctx.tz}  \n"
                f"via {ui.plain(view.profile.known_via or 'a visit before the window')}  \n"
                f"Lifetime revenue in the window: **{ui.fmt_money(view.profile.revenue)}** "
                f"({ui.fmt_int(orders)} order{'s' if orders != 1 else ''})"
            )
        with kit:
            st.markdown(
                f"**Devices ({len(devices)})**",
                help="Anonymous ids (browsers or devices) stitched to this person, most events "
                "first.",
            )
            shown = [f"`{d}`" if len(d) <= 40 else f"`{d[:39]}…`" for d in devices[:5]]
            more = len(devices) - len(shown)
            st.markdown("  \n".join(shown) + (f"  \n… and {more} more" if more else ""))


def _what(row: dict[str, Any]) -> str:
    """``13 page views · Add to cart · Purchase``."""
    views = int(row[pa.PAGE_VIEWS])
    parts = [f"{views} page view{'s' if views != 1 else ''}"] if views else []
    parts += [event_label(a) for a in row[pa.ACTIONS]]
    return " · ".join(parts) or f"{row[pa.EVENTS]} events"


def activity_feed(view: data.CustomerView, ctx: PageContext) -> None:
    """The visits, newest first: when, channel, source / medium, what they did, revenue,
    landing page (the campaign is on the timeline's hover and in the events)."""
    feed = pa.visit_feed(ui.masked(view.rows))  # a landing page may carry an email
    ui.section(
        "Activity",
        f"{ui.fmt_int(feed.height)} visit{'s' if feed.height != 1 else ''}, newest first "
        "(a visit ends after 30 minutes without activity). ◆ before the person became known.",
    )
    table = feed.select(
        pl.col(c.SESSION_START).alias("when"),
        (
            pl.when(pl.col(c.BEFORE_KNOWN)).then(pl.lit("◆ ")).otherwise(pl.lit(""))
            + pl.col(c.SESSION).cast(pl.String)
        ).alias("visit"),
        pl.col(c.CHANNEL).alias("channel"),
        (pl.col(c.SESSION_SOURCE) + " / " + pl.col(c.SESSION_MEDIUM)).alias("source_medium"),
        pl.Series("what", [_what(r) for r in feed.iter_rows(named=True)], dtype=pl.String),
        pl.Series(
            "revenue",
            [ui.fmt_money(r) if n else "" for r, n in feed.select(c.REVENUE, pa.ORDERS).rows()],
            dtype=pl.String,
        ),
        pl.col(c.LANDING_PAGE).alias("landing"),
    )
    config = {
        "when": st.column_config.DatetimeColumn(
            "When", format="D MMM YYYY, HH:mm", timezone=ctx.tz, width=125
        ),
        "visit": st.column_config.TextColumn("Visit", width=50),
        "channel": st.column_config.TextColumn("Channel", width=110),
        "source_medium": st.column_config.TextColumn("Source / medium", width=150),
        "what": st.column_config.TextColumn("What they did", width=210),
        "landing": st.column_config.LinkColumn(
            "Landing page", display_text=r"^https?://(?:www\.)?(.*)$", width="medium"
        ),
        "revenue": st.column_config.TextColumn("Revenue", width=75),
    }
    st.dataframe(
        table,
        column_config=config,
        hide_index=True,
        width="stretch",
        height=min(460, 38 + 35 * max(table.height, 1)),
        key="customer.feed",
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
    """The timeline of one person (visits on a numbered axis), with a lane switch."""
    # The switch at its own width beside the heading, or under it in a narrow window (a
    # quarter column cut "Channel" to "Cha..." at 1024 px).
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        with st.container(width="stretch"):
            ui.section(
                "Timeline",
                "One column per visit, oldest left (its date under the number). A marker's size "
                "and number are how many events of that kind the visit had; colour is the "
                "visit's channel; ◆ before the person became known, ● after. Hover for times "
                "and pages.",
            )
        lane = lane_choice()
    ui.chart(
        person_charts.timeline(
            ui.masked(view.rows),
            lane=cast("person_charts.Lane", lane),
            tz=ctx.tz,
            currency=ui.currency(),
        ),
        key="customer.timeline",
    )


EVENT_COLUMNS: Final = (
    c.OCCURRED_AT,
    c.EVENT_TYPE,
    c.SESSION,
    c.CHANNEL,
    c.PAGE_URL,
    c.UTM_SOURCE,
    c.UTM_MEDIUM,
    c.UTM_CAMPAIGN,
    c.UTM_CONTENT,
    c.UTM_TERM,
    c.REFERRER,
    c.REVENUE,
    c.ANONYMOUS_ID,
)


def customer_events(view: data.CustomerView, query: JourneyQuery, ctx: PageContext) -> None:
    """Every event of the person, newest first, and the CSV of exactly these rows."""
    ui.section("Events", f"All {ui.fmt_int(view.rows.height)} events in the window, newest first.")
    newest = view.rows.sort([c.OCCURRED_AT, c.EVENT_ID], descending=True, nulls_last=True)
    ui.table(
        newest,
        tz=ctx.tz,
        key="customer.events",
        columns=list(EVENT_COLUMNS),
        height=min(640, 38 + 35 * max(view.rows.height, 1)),
        drop_empty=True,
        wide=(c.PAGE_URL,),
    )
    ui.download_csv(
        data=lambda: data.build_csv(view.rows, mask_pii=ctx.settings.mask_pii),
        file_name=ui.csv_name(f"email-{ui.shown_email(query.email or '')}", ui.as_of_part(ctx)),
        rows=view.rows.height,
        people=1 if view.rows.height else 0,
        key="customer.csv",
        what="these events",
    )
