"""Streamlit glue of the Attribution page: warehouse, inputs, one cached report, sections.

Every figure comes from :mod:`journey_core.analytics.attribution`; this module only collects inputs,
caches the report (keyed on plain values; the engine is passed as ``_engine``) and draws it.
Inputs live in the URL (``bind="query-params"``), so a view can be shared as a link.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import polars as pl
import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from journey_core import columns as c
from journey_core.analytics import attribution as a
from journey_core.analytics.attribution import (
    AttributionReport,
    AttributionSettings,
    Model,
    PathUnit,
)
from journey_core.analytics.channels import ChannelConfig
from journey_core.config import Settings
from journey_core.errors import InputError, JourneyError
from journey_core.io.export import to_csv_bytes
from journey_core.rules.query import JourneyQuery, to_utc
from journey_core.warehouse import Engine, create_engine, fetch_journeys, safe_url, summarize
from journey_core.warehouse.mapping import load_mapping
from journey_ui.figures import attribution as charts

TTL = dt.timedelta(minutes=30)
SANKEY_STEPS = 3
SANKEY_PATHS = 15


@contextmanager
def errors_shown() -> Iterator[None]:
    """Show a product error as one clear message (never a traceback) and stop the page."""
    try:
        yield
    except InputError as exc:
        st.error(f"**{exc.field}**: {exc.detail}", icon=":material/error:")
        st.stop()
    except JourneyError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()


# --------------------------------------------------------------------------- warehouse


@st.cache_resource(show_spinner=False, max_entries=4)
def _engine_for(url: str) -> Engine:
    return create_engine(url)


@dataclass(frozen=True)
class Warehouse:
    """Where the data is: the engine, its URL (the cache key) and the settings."""

    engine: Engine
    url: str
    settings: Settings


def warehouse(settings: Settings) -> Warehouse:
    """The configured warehouse (``JOURNEY_DATABASE_URL``, ``JOURNEY_MAPPING``, ...)."""
    return Warehouse(_engine_for(settings.database_url), settings.database_url, settings)


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def _last_event(_engine: Engine, url: str, mapping: str) -> dt.datetime | None:
    return summarize(_engine, mapping=load_mapping(mapping)).last_event


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Inputs:
    """The page's inputs as plain, hashable values (the report's cache key)."""

    event_date: dt.date
    as_of: dt.datetime
    conversion_types: tuple[str, ...]
    lookback_days: int
    half_life_days: float
    path_unit: str
    collapse: bool

    def settings(self, channels: ChannelConfig) -> AttributionSettings:
        """The attribution settings of these inputs."""
        return AttributionSettings.build(
            conversion_event_types=self.conversion_types or None,
            lookback_days=self.lookback_days,
            path_unit=self.path_unit,
            collapse_repeats=self.collapse,
            half_life_days=self.half_life_days,
            channels=channels,
        )


def cohort_inputs(wh: Warehouse) -> tuple[dt.date, dt.datetime]:
    """Campaign start date and as-of date (the campaign cohort: the event_date rule)."""
    last = _last_event(wh.engine, wh.url, wh.settings.mapping)
    default_as_of = (last or dt.datetime.now(dt.UTC)).date()
    left, right = st.columns(2)
    as_of_day = right.date_input(
        "As of (end of day, UTC)",
        value=default_as_of,
        key="as_of",
        bind="query-params",
        help="Conversions up to the end of this day count. Defaults to the last event.",
    )
    start = left.date_input(
        "Campaign start date",
        value=as_of_day - dt.timedelta(days=30),
        max_value=as_of_day,
        key="event_date",
        bind="query-params",
        help="Everyone active since this date, or newly known since it, is in the cohort.",
    )
    as_of = to_utc(dt.datetime.combine(as_of_day, dt.time(23, 59, 59, 999_999)))
    return start, as_of


def model_inputs(
    event_types: list[str], event_date: dt.date, as_of: dt.datetime
) -> tuple[Model, Inputs]:
    """The model picker and the attribution settings (conversions, lookback, paths)."""
    cols = st.columns([2, 2, 1])
    model = cols[0].selectbox(
        "Attribution model",
        options=list(Model),
        format_func=lambda m: Model(m).label,
        index=list(Model).index(Model.LAST_NON_DIRECT),
        key="model",
        bind="query-params",
        help="Tables and highlighted bars use this model; the chart compares all six. "
        "In the URL the model is its name, e.g. ?model=Linear.",
    )
    default_types = [t for t in ("purchase",) if t in event_types] or event_types[:1]
    conversion_types = cols[1].multiselect(
        "Conversion events",
        options=event_types,
        default=default_types,
        key="conversions",
        bind="query-params",
        help="Events of these types are conversions (their revenue is attributed).",
    )
    lookback = cols[2].number_input(
        "Lookback (days)",
        min_value=1,
        max_value=365,
        value=30,
        step=1,
        key="lookback",
        bind="query-params",
        help="Touches this many days before a conversion share its credit.",
    )
    with st.expander("Path and model options"):
        opt = st.columns(3)
        half_life = opt[0].number_input(
            "Time-decay half-life (days)",
            min_value=0.5,
            max_value=90.0,
            value=7.0,
            step=0.5,
            key="half_life",
            bind="query-params",
        )
        unit = opt[1].segmented_control(
            "Path steps",
            options=[u.value for u in PathUnit],
            default=PathUnit.SESSION.value,
            required=True,
            key="path_unit",
            bind="query-params",
            help="One step per session (its first touch), or per touch with its own tags.",
        )
        collapse = opt[2].toggle(
            "Collapse repeated channels",
            value=True,
            key="collapse",
            bind="query-params",
            help="Direct > Direct > Email is shown as Direct > Email.",
        )
    return Model(model or Model.LAST_NON_DIRECT), Inputs(
        event_date=event_date,
        as_of=as_of,
        conversion_types=tuple(conversion_types),
        lookback_days=int(lookback),
        half_life_days=float(half_life),
        path_unit=str(unit or PathUnit.SESSION.value),
        collapse=bool(collapse),
    )


# --------------------------------------------------------------------------- data


def _query(wh: Warehouse, event_date: dt.date, as_of: dt.datetime) -> JourneyQuery:
    return JourneyQuery(
        as_of=as_of,
        event_date=event_date,
        lookback=dt.timedelta(days=wh.settings.lookback_days),
        timezone=wh.settings.timezone,
    )


@st.cache_data(ttl=TTL, max_entries=8, show_spinner=False)
def _journeys(
    _engine: Engine, url: str, mapping: str, query: JourneyQuery
) -> tuple[pl.DataFrame, str | None]:
    result = fetch_journeys(_engine, query, mapping=load_mapping(mapping))
    return result.frame, result.message


def event_types(wh: Warehouse, event_date: dt.date, as_of: dt.datetime) -> list[str]:
    """The event types in the cohort's journeys (the conversion picker's options)."""
    frame, _ = _journeys(wh.engine, wh.url, wh.settings.mapping, _query(wh, event_date, as_of))
    return sorted(frame[c.EVENT_TYPE].drop_nulls().unique().to_list())


@st.cache_data(ttl=TTL, max_entries=16, show_spinner=False)
def _report(
    _engine: Engine, url: str, mapping: str, channels: str, query: JourneyQuery, inputs: Inputs
) -> tuple[AttributionReport, str | None, int]:
    frame, message = _journeys(_engine, url, mapping, query)
    settings = inputs.settings(ChannelConfig.from_file(channels))
    assert query.start is not None
    report = a.analyze(frame, settings=settings, start=query.start, end=query.as_of)
    return report, message, frame[c.EMAIL].n_unique()


def report(wh: Warehouse, inputs: Inputs) -> tuple[AttributionReport, str | None, int]:
    """The attribution report of the campaign cohort, its empty-result message, and people."""
    query = _query(wh, inputs.event_date, inputs.as_of)
    return _report(wh.engine, wh.url, wh.settings.mapping, wh.settings.channels_file, query, inputs)


# --------------------------------------------------------------------------- sections


def download(frame: pl.DataFrame, name: str, *, key: str) -> None:
    """A CSV download of exactly the table shown (ISO timestamps, formulas neutralised)."""
    st.download_button(
        f"Download {name} (CSV)",
        data=to_csv_bytes(frame),
        file_name=f"attribution-{key}.csv",
        mime="text/csv",
        key=f"download.{key}",
        icon=":material/download:",
        on_click="ignore",
    )


def _column_config(frame: pl.DataFrame) -> dict[str, ColumnConfig]:
    """Display formats only (the CSV keeps full precision): rates as %, other floats 2 dp."""
    out: dict[str, ColumnConfig] = {}
    for name, dtype in frame.schema.items():
        if dtype == pl.Float64:
            fmt = "percent" if name == a.CONVERSION_RATE else "%.2f"
            out[name] = st.column_config.NumberColumn(format=fmt)
    return out


def table(frame: pl.DataFrame, name: str, *, key: str) -> None:
    """A table and its CSV download."""
    st.dataframe(frame, hide_index=True, column_config=_column_config(frame), key=f"table.{key}")
    download(frame, name, key=key)


def kpis(rep: AttributionReport, people: int) -> None:
    """People, converters, conversions, revenue."""
    converters = rep.conversions[c.EMAIL].n_unique()
    cols = st.columns(5)
    cols[0].metric("People in the cohort", f"{people:,}")
    cols[1].metric("Converted", f"{converters:,}", help="People with a conversion")
    cols[2].metric("Conversion rate", f"{converters / people:.1%}" if people else "–")
    cols[3].metric("Conversions", f"{rep.conversions.height:,}")
    cols[4].metric("Revenue", f"{rep.conversions[c.REVENUE].sum():,.2f}")


def credit_section(rep: AttributionReport, model: Model) -> None:
    """The model comparison chart and the picked model's credit per channel and campaign."""
    st.subheader("Credit by model")
    metric = st.segmented_control(
        "Measure",
        options=[c.CONVERSIONS, c.REVENUE],
        default=c.CONVERSIONS,
        required=True,
        format_func=str.capitalize,
        key="metric",
    )
    st.plotly_chart(
        charts.model_comparison(rep.by_channel, metric=str(metric), highlight=model),
        key="chart.models",
    )
    by_channel = rep.by_channel.filter(pl.col(c.MODEL) == model.value)
    by_campaign = rep.by_campaign.filter(pl.col(c.MODEL) == model.value)
    tabs = st.tabs([f"{model.label}: per channel", f"{model.label}: per campaign", "All models"])
    with tabs[0]:
        table(by_channel, "credit per channel", key="channels")
    with tabs[1]:
        table(by_campaign, "credit per campaign", key="campaigns")
    with tabs[2]:
        table(rep.by_channel, "credit per channel, all models", key="models")


def paths_section(rep: AttributionReport) -> None:
    """The Sankey of paths and the path summary."""
    st.subheader("Paths to conversion")
    st.caption(
        f"The {SANKEY_PATHS} most frequent paths, their last {SANKEY_STEPS} steps "
        "(“…” marks earlier steps left out); every path is in the tables below."
    )
    links = a.sankey_links(rep.path_summary, max_steps=SANKEY_STEPS, top_paths=SANKEY_PATHS)
    st.plotly_chart(charts.path_sankey(links), key="chart.sankey")
    tabs = st.tabs(["Path summary", "Paths to conversion", "Paths without conversion"])
    with tabs[0]:
        table(rep.path_summary, "path summary", key="path-summary")
    with tabs[1]:
        table(rep.conversion_paths, "paths to conversion", key="conversion-paths")
    with tabs[2]:
        table(rep.non_conversion_paths, "paths without conversion", key="non-conversion-paths")


def time_section(rep: AttributionReport) -> None:
    """Time to first conversion: chart, median/p90 per channel, and per person."""
    st.subheader("Time to convert")
    st.caption(
        "From each converter's first touch, and from when they became known, to their first "
        "conversion in the window. First touches are those in the retrieved journeys: events "
        "since the start date, and earlier ones of people who became known since."
    )
    st.plotly_chart(
        charts.time_to_convert_chart(rep.time_to_convert_histogram, rep.time_to_convert_summary),
        key="chart.ttc",
    )
    tabs = st.tabs(["Median and p90", "Per person", "Histogram"])
    with tabs[0]:
        table(rep.time_to_convert_summary, "time to convert summary", key="ttc-summary")
    with tabs[1]:
        table(rep.time_to_convert, "time to convert per person", key="ttc-people")
    with tabs[2]:
        table(rep.time_to_convert_histogram, "time to convert histogram", key="ttc-histogram")


def channels_section(rep: AttributionReport, channels_file: str) -> None:
    """Touches per channel/campaign/source/medium and the channel rules in effect."""
    with st.expander("Channel grouping: touches per channel and the rules in effect"):
        table(rep.channel_counts, "touches per channel", key="channel-counts")
        cfg = ChannelConfig.from_file(channels_file)
        st.caption(
            "Rules are tried top to bottom; set JOURNEY_CHANNELS_FILE to a TOML file to "
            f"change them. Touches no rule matches are grouped as “{cfg.unassigned}”."
        )
        st.code("\n".join(rule.describe() for rule in cfg.rules), language=None)


def caption(wh: Warehouse, inputs: Inputs) -> None:
    """What the page is computing, in one line."""
    st.caption(
        f"Campaign cohort since {inputs.event_date:%d %b %Y}, conversions up to "
        f"{inputs.as_of:%d %b %Y} · {inputs.lookback_days}-day lookback · "
        f"warehouse {safe_url(wh.url)}"
    )
