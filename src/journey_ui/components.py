"""The building blocks pages are made of: headers, banner, KPIs, charts, tables, downloads, errors.

No figure is computed here: values come from :mod:`journey_core.analytics.campaign` (through
:mod:`journey_ui.data`) and figures from :mod:`journey_ui.figures.campaign`.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from journey_core import columns as c
from journey_core.analytics import attribution as attr
from journey_core.analytics import campaign as an
from journey_core.errors import ConfigError, InputError, JourneyError, WarehouseError
from journey_core.io.export import to_csv_bytes
from journey_core.io.privacy import mask_email, mask_frame, mask_text
from journey_core.progress import Progress, reporting
from journey_core.timeutil import local_day, parse_timezone
from journey_core.warehouse import WarehouseSummary, short_url
from journey_ui import downloads, people, runlog, urlstate
from journey_ui import format as fmt
from journey_ui.figures import campaign as charts
from journey_ui.figures.attribution import ComparisonTable
from journey_ui.shell import CURRENCY_KEY, MASK_PII_KEY, PageContext, format_as_of

log = logging.getLogger("journey_ui")

CUSTOMER_PAGE = "app_pages/customer.py"

FIELD_LABELS = {
    "email": "Email",
    "person": "Person link",
    "event_date": "Campaign start date",
    "end": "End date",
    "campaign": "Campaign",
    "source": "Source",
    "medium": "Medium",
    "channel": "Channel",
    "event_type": "Event type",
    "as_of": "As of",
    "steps": "Funnel steps",
    "who": "Funnel people",
    "window": "Funnel window",
    "breakdown": "Break down by",
    "timezone": "Timezone",
    "lookback": "Lookback",
    "model": "Attribution model",
    "half_life": "Time-decay half-life",
    "path_unit": "Path steps",
    "collapse": "Collapse repeated channels",
    "recent_window": "Recent window",
}
CHART_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"],
    "toImageButtonOptions": {"format": "png", "scale": 2},
}


# --------------------------------------------------------------------------- formatting


def currency() -> str:
    """The currency of revenue in this session (``JOURNEY_CURRENCY``; set by the shell)."""
    return str(st.session_state.get(CURRENCY_KEY, fmt.DEFAULT_CURRENCY))


def fmt_int(value: int | None) -> str:
    """``12,345``; an em dash for unknown (:func:`.format.fmt_int`)."""
    return fmt.fmt_int(value)


def fmt_money(value: float | None, *, compact: bool = False) -> str:
    """``USD 12,345.67`` in this session's currency (:func:`.format.fmt_money`)."""
    return fmt.fmt_money(value, currency(), compact=compact)


def fmt_amount(value: float | None, *, compact: bool = False) -> str:
    """Money without the currency, for a KPI labelled by :func:`money_label`."""
    return fmt.fmt_amount(value, compact=compact)


def money_label(title: str) -> str:
    """A money KPI's label with this session's currency: ``Revenue (USD)``."""
    return fmt.money_title(title, currency())


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 person``, ``2 people``, ``3 rows``."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def fmt_time(value: dt.datetime | None, tz: str, *, seconds: bool = False) -> str:
    """``26 Nov 2026 14:02`` in ``tz``."""
    if value is None:
        return "—"
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(tz)).strftime(
        "%d %b %Y %H:%M:%S" if seconds else "%d %b %Y %H:%M"
    )


def fmt_age(delta: dt.timedelta) -> str:
    """``3 minutes``, ``5 hours``, ``2 days``."""
    seconds = max(delta.total_seconds(), 0)
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return "less than a minute"


def fmt_change(current: float, previous: float | None) -> str | None:
    """``+12.3%`` against the previous value (from :func:`analytics.relative_change`)."""
    change = an.relative_change(current, previous)
    return None if change is None else fmt.fmt_change(change)


# --------------------------------------------------------------------------- errors

_MARKDOWN_SPECIAL = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def plain(text: str) -> str:
    r"""``text`` (e.g. a URL parameter quoted in a message) as Markdown that renders literally.

    Every ASCII punctuation character is backslash-escaped, so no image, link, autolink,
    HTML, emphasis, ``:material/...:`` icon or ``$`` formula comes out of it; line breaks
    become spaces.

    >>> plain("![x](http://h/i.png) *hi*")
    '\\!\\[x\\]\\(http\\:\\/\\/h\\/i\\.png\\) \\*hi\\*'
    """
    flat = " ".join(text.splitlines())
    return "".join(f"\\{ch}" if ch in _MARKDOWN_SPECIAL else ch for ch in flat)


def show_error(exc: JourneyError) -> None:
    """One ``st.error`` naming the field (or the warehouse) and the fix; never a traceback.

    An input error is shown as plain text (:func:`plain`): it may quote what a link supplied.
    """
    if isinstance(exc, InputError):
        name = FIELD_LABELS.get(exc.field, exc.field)
        st.error(f"**{plain(name)}**: {plain(exc.detail)}", icon=":material/edit:")
    elif isinstance(exc, WarehouseError):
        st.error(f"**Warehouse**: {exc}", icon=":material/database:")
    elif isinstance(exc, ConfigError):
        st.error(f"**Configuration**: {exc}", icon=":material/settings:")
    else:
        st.error(plain(str(exc)), icon=":material/error:")


def show_warning(note: InputError) -> None:
    """One ``st.warning`` naming the field of an input that was used differently than asked.

    Plain text (:func:`plain`), like :func:`show_error`: it may quote what a link supplied.
    """
    name = FIELD_LABELS.get(note.field, note.field)
    st.warning(f"**{plain(name)}**: {plain(note.detail)}", icon=":material/warning:")


def warn_url_errors(*params: urlstate.UrlParam[Any]) -> None:
    """:func:`show_warning` for each of ``params`` whose URL value was malformed (the input
    then holds its default)."""
    for param in params:
        error = urlstate.url_error(param)
        if error is not None:
            show_warning(error)


@contextmanager
def guard(what: str) -> Iterator[None]:
    """Show errors raised while building ``what`` as one clear message."""
    try:
        yield
    except JourneyError as exc:
        show_error(exc)
    except Exception as exc:
        log.exception("unexpected error while showing %s", what)
        st.error(
            f"Something went wrong while showing {what} ({type(exc).__name__}). "
            "Reload the page; if it keeps happening, the server log has the details.",
            icon=":material/error:",
        )


def progress_text(step: str) -> str:
    """A reported step as a bar's text.

    >>> progress_text("visits and touches, part 2 of 9")
    'Visits and touches, part 2 of 9…'
    """
    return f"{step[:1].upper()}{step[1:]}…"


@contextmanager
def loading(text: str) -> Iterator[None]:
    """A spinner with ``text`` and its elapsed time while the block runs, and under it a bar
    of the steps the warehouse reports (:mod:`journey_core.progress`: a cohort built in steps
    takes minutes at 100M events); the bar is removed when the block ends, however it ends."""
    with st.spinner(text, show_time=True):
        bar = st.empty()  # under the spinner
        try:
            with reporting(progress_bar(bar)):
                yield
        finally:
            bar.empty()


def progress_bar(bar: DeltaGenerator) -> Progress:
    """A listener that draws each reported step in the placeholder ``bar``."""

    def show(step: str, fraction: float) -> None:
        bar.progress(fraction, text=progress_text(step))

    return show


def empty_state(message: str, *, tips: Sequence[str] = ()) -> None:
    """Why a result is empty and what to try (``message`` is shown as plain text)."""
    body = plain(message) + "".join(f"\n- {tip}" for tip in tips)
    st.info(body, icon=":material/search_off:")


def day_link(ctx: PageContext, day: dt.date, params: dict[str, list[str]]) -> str:
    """A link (``?...``) to this page with ``params``, as of the midnight after ``day`` in the
    app's timezone: that whole day and what came before it, as the warehouse knew it."""
    after = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), parse_timezone(ctx.tz))
    return "?" + urlstate.link_query(ctx.page, params, format_as_of(after))


def when_tips(
    ctx: PageContext,
    summary: WarehouseSummary | None,
    since: dt.datetime,
    *,
    days: int | None = None,
) -> list[str]:
    """What to try about the time of an empty result needing events since ``since``.

    When the warehouse's last event is before ``since`` (a warehouse no longer loaded, an old
    export), a link to this page as of that event's day (:func:`day_link`; with a campaign
    from ``days`` before it to that day, if given): a later as-of time cannot help there.
    When a pinned as-of time is before the last event, a later one. Otherwise nothing (a live
    as-of time on a current warehouse is not what emptied the result).
    """
    last = summary.last_event if summary is not None else None
    if last is None:
        return []
    if last < since:
        day = local_day(last, ctx.tz)
        params = (
            {"event_date": [(day - dt.timedelta(days=days)).isoformat()], "end": [day.isoformat()]}
            if days
            else {}
        )
        span = f"the {days} days up to it" if days else "its last day"
        return [
            f"The warehouse's last event is on {fmt_time(last, ctx.tz)} {ctx.tz}, before this "
            f"window: [open this page as of that day]({day_link(ctx, day, params)}) to see "
            f"{span}."
        ]
    if ctx.as_of is not None and last > ctx.as_of:
        return [
            "Pick a later as-of time in the sidebar (or turn Live on): the warehouse has events "
            f"up to {fmt_time(last, ctx.tz)} {ctx.tz}."
        ]
    return []


# --------------------------------------------------------------------------- layout


def page_header(title: str, subtitle: str) -> None:
    """The page title and one line saying what the page answers."""
    st.title(title, anchor=False)
    st.caption(subtitle)


def section(title: str, caption: str | None = None) -> None:
    """A section heading with an optional explanation."""
    st.subheader(title, anchor=False)
    if caption:
        st.caption(caption)


def lazy_tabs(labels: Sequence[str], *, key: str) -> tuple[int, DeltaGenerator]:
    """Tabs of which only the open one is built and sent to the browser: ``(index,
    container)`` of the open tab (the first until the user picks another).

    Switching tabs reruns the page (``on_change="rerun"``); the open tab's label is
    ``st.session_state[key]``, so it survives reruns (a tab whose label changes, e.g. with
    the picked model, opens the first tab again).
    """
    tabs = st.tabs(list(labels), key=key, on_change="rerun")
    index = next((i for i, tab in enumerate(tabs) if tab.open), 0)
    return index, tabs[index]


def chart(fig: go.Figure, *, key: str) -> None:
    """A Plotly chart at full width; emails in its labels and hover texts masked if asked."""
    if masking():
        fig = pio.from_json(mask_text(fig.to_json()))
    st.plotly_chart(fig, key=key, config=CHART_CONFIG, width="stretch")


@dataclass(frozen=True)
class Kpi:
    """One headline figure."""

    label: str
    value: str
    delta: str | None = None
    help: str | None = None


def kpi_row(items: Sequence[Kpi]) -> None:
    """Headline figures side by side, in bordered cards that share the row's width; in a
    window too narrow for them all, the cards wrap onto a second row rather than cutting a
    label or a figure to an ellipsis."""
    with st.container(horizontal=True, gap="small"):
        for item in items:
            st.metric(
                item.label,
                item.value,
                delta=item.delta,
                help=item.help,
                border=True,
                delta_color="normal",
                width="stretch",
            )


def permalink(ctx: PageContext) -> str:
    """The sidebar's link to this exact view and its "Copy link" button; returns the query.

    The link carries the page's own URL parameters only (:func:`.urlstate.link_query`: never
    another page's, such as a person's ``email`` on the campaign page) and always ``as_of``,
    resolved to a time even when Live, so it shows the same figures whenever it is opened.
    """
    params = {name: st.query_params.get_all(name) for name in st.query_params}
    query = urlstate.link_query(ctx.page, params, format_as_of(ctx.effective_as_of))
    if ctx.link_slot is None:
        return query
    with ctx.link_slot.container():
        st.markdown(
            f"[:material/link: Link to this exact view](?{query})",
            help="The current page, inputs and as-of time: copy it to share or bookmark a view "
            "that will not change as new data arrives.",
        )
        st.html(copy_link_html(query), unsafe_allow_javascript=True)
    return query


def copy_link_html(query: str) -> str:
    """A "Copy link" button copying this page's address with ``query``, and its confirmation.

    The query is HTML-escaped into a data attribute (and read back by the script), so nothing
    from the URL is ever run as code.
    """
    return f"""<div class="journey-copy-link" data-query="{html.escape(query, quote=True)}">
<button type="button" class="journey-copy-button"
 style="cursor:pointer;border:1px solid rgba(49,51,63,.2);border-radius:.5rem;background:#fff;
 padding:.25rem .75rem;font-size:.875rem;font-family:inherit;color:inherit">Copy link</button>
<span class="journey-copy-done" role="status" aria-live="polite"
 style="margin-left:.5rem;font-size:.8rem;color:#177233"></span>
</div>
<script>
(() => {{
  for (const box of document.querySelectorAll(".journey-copy-link")) {{
    if (box.dataset.bound === box.dataset.query) continue;
    box.dataset.bound = box.dataset.query;
    const button = box.querySelector("button");
    const done = box.querySelector(".journey-copy-done");
    button.onclick = async () => {{
      const url = new URL("?" + box.dataset.query, window.location.href).href;
      box.dataset.copied = url;
      let ok = false;
      try {{ await navigator.clipboard.writeText(url); ok = true; }} catch (e) {{
        const area = document.createElement("textarea");
        area.value = url; document.body.appendChild(area); area.select();
        try {{ ok = document.execCommand("copy"); }} catch (e2) {{ ok = false; }}
        area.remove();
      }}
      done.textContent = ok ? "Link copied" : "Copy failed: use the link above";
      setTimeout(() => {{ done.textContent = ""; }}, 4000);
    }};
  }}
}})();
</script>"""


# --------------------------------------------------------------------------- warehouse banner


def freshness(summary: WarehouseSummary, *, now: dt.datetime) -> tuple[str, str]:
    """(level, text): how long ago the last event arrived; level is ok / warn / stale."""
    if summary.last_event is None:
        return "stale", "no events yet"
    age = now - summary.last_event
    text = f"last event {fmt_age(age)} ago"
    if age <= dt.timedelta(hours=1):
        return "ok", text
    if age <= dt.timedelta(days=1):
        return "warn", text
    return "stale", text


def warehouse_banner(ctx: PageContext, summary: WarehouseSummary) -> None:
    """Which warehouse is connected, its row counts, first/last event and freshness."""
    level, fresh = freshness(summary, now=dt.datetime.now(dt.UTC))
    badge = {"ok": ":green-badge[Fresh]", "warn": ":orange-badge[Delayed]"}.get(
        level, ":red-badge[Stale]"
    )
    kind = "embedded demo warehouse" if ctx.is_demo else "warehouse"
    span = (
        f"{fmt_time(summary.first_event, ctx.tz)} → {fmt_time(summary.last_event, ctx.tz)} {ctx.tz}"
        if summary.first_event is not None
        else "no events"
    )
    with st.container(border=True):
        st.markdown(
            f":material/database: Connected to the {kind} `{summary.url}` &nbsp;{badge}  \n"
            f"**{fmt_int(summary.events)}** events · **{fmt_int(summary.identities)}** identity "
            f"links · events {span} · {fresh}"
        )


def sidebar_warehouse(ctx: PageContext, summary: WarehouseSummary | None) -> None:
    """A one-line reminder of the connected warehouse, at the bottom of the sidebar."""
    with st.sidebar:
        st.divider()
        if summary is None:
            st.caption(":material/database: Warehouse unavailable")
            return
        level, fresh = freshness(summary, now=dt.datetime.now(dt.UTC))
        dot = {"ok": ":green[●]", "warn": ":orange[●]"}.get(level, ":red[●]")
        name = "Demo warehouse" if ctx.is_demo else "Warehouse"
        st.caption(  # the file's name or the server: the whole URL broke mid-word here
            f"{dot} {name}: {fmt_int(summary.events)} events, {fresh}  \n"
            f"`{short_url(summary.url)}`",
            help=f"Connected to `{summary.url}`",
        )


# --------------------------------------------------------------------------- tables


def _column_config(frame: pl.DataFrame, tz: str) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name, dtype in frame.schema.items():
        title = charts.label(name)
        if isinstance(dtype, pl.Datetime):
            shape = "D MMM YYYY, HH:mm:ss" if name == c.OCCURRED_AT else "D MMM YYYY, HH:mm"
            config[name] = st.column_config.DatetimeColumn(title, format=shape, timezone=tz)
        elif name in (c.EMAIL, c.UTM_CAMPAIGN):
            config[name] = st.column_config.Column(title, width="medium")
        elif name in (c.PAGE_URL, c.REFERRER):
            config[name] = st.column_config.LinkColumn(
                title, display_text=r"^https?://(?:www\.)?(.*)$", width="medium"
            )
        elif name in (c.REVENUE, c.REVENUE_CREDIT):
            config[name] = st.column_config.NumberColumn(
                fmt.money_title(title, currency()), format=fmt.money_format(currency())
            )
        elif name == an.SHARE:
            config[name] = st.column_config.ProgressColumn(  # percent: _display
                title, format=fmt.PERCENT_FORMAT, min_value=0.0, max_value=100.0
            )
        elif name == attr.CONVERSION_RATE:  # percentage points (_display)
            config[name] = st.column_config.NumberColumn(title, format=fmt.PERCENT_FORMAT)
        elif dtype.is_integer():
            config[name] = st.column_config.NumberColumn(title, format=fmt.COUNT_FORMAT)
        elif dtype.is_float():  # credits, days (display only: downloads keep full precision)
            config[name] = st.column_config.NumberColumn(title, format=fmt.CREDIT_FORMAT)
        elif dtype == pl.Boolean:
            config[name] = st.column_config.Column(title)
        else:
            config[name] = st.column_config.Column(title)
    return config


def masking() -> bool:
    """Whether emails are shown masked in this session (``JOURNEY_MASK_PII``; set by the
    shell)."""
    return bool(st.session_state.get(MASK_PII_KEY, False))


def shown_email(email: str) -> str:
    """``email`` as the user may see it: masked (``j***@example.com``) when masking is on."""
    return mask_email(email) if masking() and email else email


def shown_text(text: str) -> str:
    """``text`` as the user may see it: emails in it masked when masking is on."""
    return mask_text(text) if masking() else text


def masked(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` as the user may see it: emails masked (:func:`.privacy.mask_frame`) if asked."""
    return mask_frame(frame) if masking() else frame


def _display(frame: pl.DataFrame) -> pl.DataFrame:
    """Friendly event names, blank (not "None") for missing text, emails masked if asked."""
    out = masked(frame).with_columns(
        pl.col(pl.String).fill_null(""),
        # "Yes" or blank: read-only check boxes look clickable next to the row selectors.
        pl.col(pl.Boolean).replace_strict({True: "Yes"}, default="", return_dtype=pl.String),
    )
    for share in (attr.CONVERSION_RATE, an.SHARE):  # percent, one decimal (PERCENT_FORMAT)
        if share in out.columns:
            out = out.with_columns(pl.col(share) * 100)
    if c.EVENT_TYPE in out.columns:
        out = out.with_columns(
            pl.col(c.EVENT_TYPE).replace_strict(
                charts.EVENT_LABELS, default=pl.col(c.EVENT_TYPE), return_dtype=pl.String
            )
        )
    return out


EVENT_TABLE_COLUMNS: tuple[str, ...] = (
    c.OCCURRED_AT,
    c.EMAIL,
    c.EVENT_TYPE,
    c.SESSION,
    c.CHANNEL,
    c.UTM_SOURCE,
    c.UTM_MEDIUM,
    c.UTM_CAMPAIGN,
    c.UTM_CONTENT,
    c.UTM_TERM,
    c.PAGE_URL,
    c.REFERRER,
    c.REVENUE,
    c.BEFORE_KNOWN,
    c.KNOWN_AT,
    c.ANONYMOUS_ID,
    c.EVENT_ID,
)


def comparison_table(view: ComparisonTable, *, currency: str, key: str) -> None:
    """A model comparison (:class:`~journey_ui.figures.attribution.ComparisonTable`) under its
    title: numbers formatted and right-aligned, each change's cell green or red, the names
    pinned; it scrolls sideways in a narrow window rather than cutting a number."""
    shown: dict[str, Callable[[float], str]] = {
        "credit": fmt.fmt_credit,
        "money": lambda value: fmt.fmt_money(value, currency),
        "change": fmt.fmt_change,
    }
    first = view.values.columns[0]
    text = view.values.select(first).with_columns(
        pl.Series(name, [fmt.MISSING if v is None else shown[kind](v) for v in view.values[name]])
        for name, kind in view.formats.items()
    )
    fills = view.fills.to_pandas()
    styler = text.to_pandas().style.apply(
        lambda _: fills.map(lambda colour: f"background-color: {colour}" if colour else ""),
        axis=None,
    )
    config = {
        name: st.column_config.Column(label=view.headers[name], pinned=True)
        if name == first
        else st.column_config.Column(
            label=view.headers[name], help=view.helps.get(name), alignment="right"
        )
        for name in text.columns
    }
    st.markdown(f"**{view.title}**")
    st.dataframe(styler, hide_index=True, width="stretch", key=key, column_config=config)


def table(
    frame: pl.DataFrame,
    *,
    tz: str,
    key: str,
    columns: Sequence[str] | None = None,
    height: int | Literal["auto"] = "auto",
    pickable: bool = False,
    drop_empty: bool = False,
    wide: Sequence[str] = (),
) -> int | None:
    """A read-only table with friendly headers; returns the picked row when ``pickable``.

    ``drop_empty`` hides columns without any value (e.g. UTM term for untagged traffic);
    ``wide`` columns get a large width (e.g. a page URL that must stay readable).
    """
    shown = frame.select([name for name in (columns or frame.columns) if name in frame.columns])
    if drop_empty and shown.height:
        shown = shown.select(
            name for name in shown.columns if shown.get_column(name).null_count() < shown.height
        )
    data = _display(shown)
    config = _column_config(shown, tz)
    for name in wide:
        if name in config:
            config[name]["width"] = "large"
    if not pickable:
        st.dataframe(
            data, column_config=config, hide_index=True, width="stretch", height=height, key=key
        )
        return None
    event = st.dataframe(
        data,
        column_config=config,
        hide_index=True,
        width="stretch",
        height=height,
        key=key,
        on_select="rerun",
        selection_mode="single-row",
    )
    rows = list(event.selection.rows)
    return rows[0] if rows and 0 <= rows[0] < frame.height else None


def person_params(email: str) -> dict[str, str]:
    """The query parameters of a link to ``email``'s customer lookup.

    With masking on, ``?person=<token>`` (:mod:`journey_ui.people`): no email in the URL.
    """
    return {"person": people.remember(email)} if masking() else {"email": email}


def open_customer(email: str, ctx: PageContext) -> None:
    """Open the customer lookup of ``email`` (keeping the as-of time)."""
    st.switch_page(CUSTOMER_PAGE, query_params={**person_params(email), **ctx.link_params()})


def download_table(frame: pl.DataFrame, name: str, *, file_name: str, key: str) -> None:
    """A CSV download of exactly the table shown (ISO timestamps, formulas neutralised).

    Emails are masked when the session masks them (``JOURNEY_MASK_PII``).
    """
    shown = masked(frame)
    st.download_button(
        f"Download {name} (CSV)",
        data=downloads.deferred(lambda: to_csv_bytes(shown)),
        file_name=file_name,
        mime="text/csv",
        key=key,
        icon=":material/download:",
        on_click="ignore",
    )


def download_csv(
    *,
    data: Callable[[], bytes | io.RawIOBase] | bytes,
    file_name: str,
    rows: int,
    people: int,
    key: str,
    what: str = "journeys",
) -> None:
    """A CSV download button saying what it contains; the file is made on click.

    Only while the session may see data (:mod:`journey_ui.downloads`).
    """
    runlog.note(rows=rows)
    make: Callable[[], bytes | io.RawIOBase] = data if callable(data) else (lambda: data)
    st.download_button(
        f"Download {what} as CSV ({plural(rows, 'row')}, {plural(people, 'person', 'people')})",
        data=downloads.deferred(make),
        file_name=file_name,
        mime="text/csv",
        icon=":material/download:",
        key=key,
        on_click="ignore",
        type="primary",
    )


def as_of_part(ctx: PageContext) -> str | None:
    """``as_of-20220831T2359`` for file names, when a past time is picked."""
    if ctx.as_of is None:
        return None
    return "as_of-" + ctx.as_of.strftime("%Y%m%dT%H%M")


def csv_name(*parts: str | None) -> str:
    """``journeys_event_date-2022-07-01_as_of-2022-08-31.csv`` from the non-empty parts."""
    safe = [
        "".join(ch if ch.isalnum() or ch in "-_.@" else "-" for ch in part)
        for part in parts
        if part
    ]
    return "_".join(["journeys", *safe]) + ".csv"


# --------------------------------------------------------------------------- channel chips


def channel_chips(names: Sequence[str]) -> str:
    """HTML chips, one per channel, in the channel's chart colour."""
    chips = []
    for name in names:
        color = charts.channel_color(name)
        chips.append(
            f'<span style="display:inline-block;margin:0 6px 6px 0;padding:2px 10px;'
            f"border-radius:999px;background:{color}1A;color:{color};font-size:0.85rem;"
            f'font-weight:600;border:1px solid {color}40">{html.escape(name)}</span>'
        )
    return "".join(chips)


def profile_card(profile: an.Profile, ctx: PageContext) -> None:
    """Who this is: known since, first seen, devices, touches before known, channels, orders."""
    with st.container(border=True):
        head, chips = st.columns([3, 2], vertical_alignment="center")
        with head:
            # Plain Markdown, not raw HTML: the browser renders raw-HTML Markdown lazily, and
            # in busy cold sessions the card was seen without its name (issue 14, finding 11).
            st.header(plain(shown_email(profile.email)), anchor=False)
            via = f" via **{profile.known_via}**" if profile.known_via else ""
            st.caption(
                f"Known since **{fmt_time(profile.known_at, ctx.tz)} {ctx.tz}**{via}. "
                f"First seen in the window {fmt_time(profile.first_seen, ctx.tz)}, "
                f"last seen {fmt_time(profile.last_seen, ctx.tz)}."
            )
        with chips:
            st.markdown(channel_chips(profile.channels), unsafe_allow_html=True)
        kpi_row(
            [
                Kpi(
                    "Devices",
                    fmt_int(profile.devices),
                    help="Distinct anonymous ids (browsers or devices) stitched to this email.",
                ),
                Kpi(
                    "Visits",
                    fmt_int(profile.sessions),
                    help="Sessions: events with no gap longer than 30 minutes.",
                ),
                Kpi(
                    "Touches before known",
                    fmt_int(profile.touches_before_known),
                    help="Marketing touches (visits and new campaign clicks) before the "
                    "person first identified with this email.",
                ),
                Kpi("Orders", fmt_int(profile.orders)),
                Kpi(money_label("Revenue"), fmt_amount(profile.revenue, compact=True)),
            ],
        )


def try_summary(
    ctx: PageContext, loader: Callable[[Any, str, str], WarehouseSummary]
) -> WarehouseSummary | None:
    """The warehouse summary, or ``None`` if the warehouse cannot be read right now."""
    try:
        return loader(ctx.engine, ctx.url, ctx.settings.mapping)
    except JourneyError:
        return None
