"""The app around the pages: settings, the warehouse engine, the demo build, the "as of" control.

``app.py`` declares the pages (:func:`navigation`) and calls :func:`start` once per run, before
the page; pages call :func:`context` for what :func:`start` prepared.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from journey_core.config import DEFAULT_DB_PATH, ENV_DATABASE_URL, Settings
from journey_core.errors import InputError, JourneyError
from journey_core.io.demo import build_demo
from journey_core.io.privacy import use_secret
from journey_core.rules.query import JourneyQuery, parse_as_of
from journey_core.timeutil import parse_timezone as _zone
from journey_core.warehouse import Engine, create_engine, local_file, safe_url
from journey_core.warehouse.mapping import load_mapping
from journey_ui import urlstate

log = logging.getLogger("journey_ui")

_CONTEXT = "journey.context"
_NOW = "journey.now"
#: Session keys of the settings the pages read (:func:`.components.currency`,
#: :func:`.components.masking`), set by :func:`start`.
CURRENCY_KEY = "journey.currency"
MASK_PII_KEY = "journey.mask_pii"
AS_OF_LIVE = "as_of.live"
AS_OF_VALUE = "as_of.value"
AS_OF_EXACT = "as_of.exact"
_BUILD_LOCK = threading.Lock()

ATTRIBUTION = "attribution"
QUALITY = "quality"


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: its script, title, icon and URL path.

    Every page has the sidebar's as-of control; the URL parameters it reads are
    :data:`journey_ui.urlstate.PAGE_PARAMS` of its URL path.
    """

    script: str
    title: str
    icon: str
    url_path: str = ""  # "": the home page

    @property
    def params(self) -> tuple[str, ...]:
        """URL parameters the page reads besides ``as_of`` (others are dropped: :func:`start`)."""
        return urlstate.PAGE_PARAMS.get(self.url_path, ())


PAGES: tuple[PageSpec, ...] = (
    PageSpec("app_pages/recent.py", "Recent activity", ":material/bolt:"),
    PageSpec("app_pages/customer.py", "Customer lookup", ":material/person_search:", "customer"),
    PageSpec("app_pages/campaign.py", "Campaign influence", ":material/campaign:", "campaign"),
    PageSpec("app_pages/attribution.py", "Attribution", ":material/account_tree:", ATTRIBUTION),
    PageSpec("app_pages/quality.py", "Data quality", ":material/rule:", QUALITY),
)
#: URL paths of the pages besides the home page (the sign-in page answers on all of them).
PAGE_PATHS = tuple(spec.url_path for spec in PAGES if spec.url_path)


@dataclass(frozen=True)
class PageContext:
    """What every page needs: settings, engine, and the as-of time picked in the sidebar."""

    settings: Settings
    engine: Engine
    url: str
    now: dt.datetime
    as_of: dt.datetime | None
    as_of_error: InputError | None = None
    link_slot: Any = None
    page: str = ""
    """The URL path of the page being shown ("": the home page)."""

    @property
    def channels_file(self) -> str:
        """The channel grouping file (``JOURNEY_CHANNELS_FILE``); blank: the defaults."""
        return self.settings.channels_file

    @property
    def tz(self) -> str:
        """The timezone days and hours are shown in (``JOURNEY_TIMEZONE``, default UTC)."""
        return self.settings.timezone

    @property
    def is_demo(self) -> bool:
        """Whether the app runs on the embedded demo warehouse."""
        return not self.settings.url_from_user

    @property
    def effective_as_of(self) -> dt.datetime:
        """The as-of time of every query: the picked time, else the session's "now"."""
        return self.as_of if self.as_of is not None else self.now

    def query(
        self, *, email: str | None = None, event_date: str | dt.date | None = None
    ) -> JourneyQuery:
        """Validate the inputs into a query (raises :class:`InputError` naming the field)."""
        if self.as_of_error is not None:
            raise self.as_of_error
        mapping = load_mapping(self.settings.mapping)
        by_email = mapping.identifier == "email"
        query = JourneyQuery.build(
            now=dt.datetime.now(dt.UTC),
            email=email if by_email else None,
            event_date=event_date,
            as_of=self.effective_as_of,
            lookback_days=self.settings.lookback_days,
            recent_hours=self.settings.recent_hours,
            timezone=self.settings.timezone,
        )
        if not by_email and email:  # the mapping's individuals are user ids, as in the CLI
            query = replace(query, email=mapping.parse_identifier(email))
        return query

    def link_params(self) -> dict[str, str]:
        """Query parameters that carry the as-of time to another page."""
        return {"as_of": format_as_of(self.as_of)} if self.as_of is not None else {}


def format_as_of(value: dt.datetime) -> str:
    """The URL form of an as-of time: ISO-8601 in UTC with a ``Z`` (microseconds if any).

    >>> format_as_of(dt.datetime(2022, 8, 30, 23, 59, 59, 999_999, tzinfo=dt.UTC))
    '2022-08-30T23:59:59.999999Z'
    """
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return value.astimezone(dt.UTC).strftime(fmt)


def _floor_minute(value: dt.datetime) -> dt.datetime:
    return value.replace(second=0, microsecond=0)


@st.cache_resource(show_spinner=False, max_entries=4)
def _engine(url: str, duckdb_memory_mb: int = 0) -> Engine:
    """The dashboard's engine; a DuckDB file's memory bounded (``JOURNEY_DUCKDB_MEMORY_MB``)."""
    return create_engine(url, duckdb_memory=f"{duckdb_memory_mb}MB" if duckdb_memory_mb else None)


def _ensure_demo(settings: Settings) -> None:
    """Build the embedded demo warehouse on first run, with a visible progress bar."""
    if settings.url_from_user:
        return
    path = local_file(settings.database_url)
    if path is None or path.exists():
        return
    with _BUILD_LOCK:
        if path.exists():
            return
        bar = st.progress(0.0, text="First run: building the demo warehouse…")

        def progress(step: str, fraction: float) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=f"Building the demo warehouse: {step}")

        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            build_demo(
                f"duckdb:///{tmp.as_posix()}", end=dt.datetime.now(dt.UTC), progress=progress
            )
            os.replace(tmp, path)
        finally:
            for leftover in (tmp, Path(f"{tmp}.wal")):
                leftover.unlink(missing_ok=True)
        bar.empty()


def _as_of_param(tz: str) -> urlstate.UrlParam[dt.datetime | None]:
    def parse(raws: list[str]) -> dt.datetime | None:
        value = parse_as_of(raws[-1], now=dt.datetime.now(dt.UTC))
        return value.astimezone(_zone(tz)).replace(tzinfo=None)

    return urlstate.UrlParam(
        name="as_of",
        key=AS_OF_VALUE,
        parse=parse,
        fmt=lambda value: (
            [format_as_of(value.replace(tzinfo=_zone(tz)))]
            if isinstance(value, dt.datetime)
            else []
        ),
        default=lambda: None,
        fallback=lambda: None,
    )


def _as_of_control(
    settings: Settings, now: dt.datetime
) -> tuple[dt.datetime | None, InputError | None]:
    """The sidebar's "as of" control, mirrored in ``?as_of=``; returns (UTC time or None, error)."""
    tz = settings.timezone
    param = _as_of_param(tz)
    before = st.session_state.get(param.key)
    urlstate.restore(param)
    error = urlstate.url_error(param)
    restored = st.session_state.get(param.key)
    if AS_OF_LIVE not in st.session_state or restored != before:
        st.session_state[AS_OF_LIVE] = restored is None and error is None
    if restored != before:
        # The picker works in minutes; keep the URL's exact time while the minute is unchanged.
        st.session_state[AS_OF_EXACT] = restored
    with st.sidebar:
        st.markdown("**As of**")
        live = st.toggle(
            "Live (now)",
            key=AS_OF_LIVE,
            persist_state="session",
            help="Off: look at the data as it was at a past time (retrospective analysis).",
        )
        value: dt.datetime | None = None
        if live:
            local_now = now.astimezone(_zone(tz))
            st.caption(f"Now: {local_now:%d %b %Y %H:%M} {tz}, fixed until you refresh")
            if st.button("Refresh to now", icon=":material/refresh:", key="as_of.refresh"):
                st.session_state[_NOW] = _floor_minute(dt.datetime.now(dt.UTC))
                st.rerun()
        else:
            if st.session_state.get(param.key) is None and error is None:
                st.session_state[param.key] = now.astimezone(_zone(tz)).replace(tzinfo=None)
            value = st.datetime_input(
                f"As-of time ({tz})",
                key=param.key,
                persist_state="session",
                format="YYYY-MM-DD",
                step=dt.timedelta(minutes=1),
                help="Every page shows what the warehouse knew at this time.",
            )
            exact = st.session_state.get(AS_OF_EXACT)
            if (
                isinstance(exact, dt.datetime)
                and value is not None
                and _floor_minute(exact) == _floor_minute(value)
            ):
                value = exact
        if live:
            urlstate.clear_error(param)
        urlstate.publish(param, None if live else value)
        st.session_state["journey.link_slot"] = st.empty()
        if live:
            return None, None
        if value is None:
            return None, error or InputError(
                "as_of", "pick a date and time in the sidebar, or switch Live (now) back on."
            )
        return value.replace(tzinfo=_zone(tz)).astimezone(dt.UTC), None


def settings() -> Settings | None:
    """This run's settings from the environment; ``None`` (after showing the error) if invalid.

    ``app.py`` calls this once per run and passes the result to :mod:`journey_ui.access` and
    :func:`start`.
    """
    try:
        settings = Settings.from_env()
    except JourneyError as exc:
        st.error(f"**Configuration**: {exc}")
        return None
    use_secret(settings.secret_key)  # keyed fingerprints and person links, as the API's
    return settings


def start(settings: Settings, page: StreamlitPage) -> PageContext | None:
    """Set up the app for this run of ``page``; ``None`` (after showing an error) if it can't."""
    try:
        _ensure_demo(settings)
        engine = _engine(settings.database_url, settings.duckdb_memory_mb)
    except JourneyError as exc:
        st.error(f"**Warehouse**: {exc}")
        return None
    except Exception as exc:  # a failed demo build must not show a traceback
        log.exception("cannot prepare the warehouse")
        st.error(
            f"**Warehouse**: cannot prepare {safe_url(settings.database_url)} "
            f"({type(exc).__name__}). Check that {DEFAULT_DB_PATH.parent}/ is writable, or set "
            f"{ENV_DATABASE_URL} to your warehouse."
        )
        return None
    st.session_state[MASK_PII_KEY] = settings.mask_pii
    st.session_state[CURRENCY_KEY] = settings.currency
    if _NOW not in st.session_state:
        st.session_state[_NOW] = _floor_minute(dt.datetime.now(dt.UTC))
    now: dt.datetime = st.session_state[_NOW]
    spec = spec_of(page)
    drop_foreign_params(spec)
    as_of, error = _as_of_control(settings, now)
    ctx = PageContext(
        settings=settings,
        engine=engine,
        url=settings.database_url,
        now=now,
        as_of=as_of,
        as_of_error=error,
        link_slot=st.session_state.pop("journey.link_slot", None),
        page=spec.url_path,
    )
    st.session_state[_CONTEXT] = ctx
    return ctx


def drop_foreign_params(spec: PageSpec) -> None:
    """Remove the URL parameters ``spec``'s page does not read (another page's, after Back).

    So the address bar and the permalink of a page never carry another page's inputs, such as
    a person's ``email`` on the campaign page.
    """
    for name in urlstate.foreign(spec.url_path, list(st.query_params)):
        del st.query_params[name]


def navigation() -> StreamlitPage:
    """The app's pages (``st.navigation`` of :data:`PAGES`); returns the page to run."""
    return st.navigation(
        [
            st.Page(
                spec.script,
                title=spec.title,
                icon=spec.icon,
                url_path=spec.url_path or None,
                default=not spec.url_path,
            )
            for spec in PAGES
        ]
    )


def spec_of(page: StreamlitPage) -> PageSpec:
    """The :class:`PageSpec` of a page :func:`navigation` returned."""
    return next(spec for spec in PAGES if spec.url_path == page.url_path)


def context() -> PageContext:
    """The context :func:`start` prepared for this run (pages call this first).

    Pages run inside ``app.py`` (``st.navigation``); ``app_pages/`` is not a classic ``pages/``
    folder, so Streamlit never runs a page file on its own.
    """
    ctx = st.session_state.get(_CONTEXT)
    if not isinstance(ctx, PageContext):  # a page file started on its own
        st.error("This is a page of Journey Explorer: start the app with `streamlit run app.py`.")
        st.stop()
    return ctx
