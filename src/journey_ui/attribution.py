"""The sections of the Attribution page: cohort and model inputs, KPIs, credit, paths, time.

Every figure comes from :mod:`journey_core.analytics.attribution` through the cached loaders of
:mod:`journey_ui.data`; tables, downloads and errors are the shared :mod:`journey_ui.components`.
The model inputs are mirrored in the URL (:mod:`journey_ui.urlstate`), so a view can be shared
as a link; the cohort (start, end, as-of, filters) is the campaign setting shared with Campaign
influence (:mod:`journey_ui.setting`), with the sidebar's as-of time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl
import streamlit as st

from journey_core import columns as c
from journey_core.analytics import attribution as attr
from journey_core.analytics.attribution import AttributionReport, Model, PathUnit
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import safe_url
from journey_ui import components as ui
from journey_ui import data, setting, urlstate
from journey_ui import format as fmt
from journey_ui.figures import attribution as charts
from journey_ui.figures.palette import COHORT_PEOPLE, KNOWN_ACTIVE, MEASURE_LABELS, event_label
from journey_ui.shell import PageContext

SANKEY_STEPS = 3
SANKEY_PATHS = 15
#: The session-state keys of the three tab groups (each holds its open tab's label).
CREDIT_TABS = "attribution.credit.tab"
PATH_TABS = "attribution.paths.tab"
TIME_TABS = "attribution.time.tab"
#: The session-state key of the channel grouping expander (``True`` while open).
CHANNELS_OPEN = "attribution.channels.open"

# --------------------------------------------------------------------------- inputs


def cohort_inputs(ctx: PageContext) -> tuple[dt.date, dt.date]:
    """Campaign start and end dates, shared with Campaign influence (:func:`.setting.dates`)."""
    return setting.dates(ctx)


MODEL_PARAM = urlstate.named_param(
    "model", "model", names={m.label: m for m in Model}, default=Model.LAST_NON_DIRECT
)
"""The model, in the URL by its name (``?model=Linear``)."""
LOOKBACK_PARAM = urlstate.int_param("lookback", "lookback", default=30, low=1, high=365)
HALF_LIFE_PARAM = urlstate.number_param("half_life", "half_life", default=7.0, low=0.5, high=90.0)
PATH_UNIT_PARAM = urlstate.choice_param(
    "path_unit",
    "path_unit",
    choices=[u.value for u in PathUnit],
    default=PathUnit.SESSION.value,
)
COLLAPSE_PARAM = urlstate.flag_param("collapse", "collapse", default=True)
MODEL_PARAMS: tuple[urlstate.UrlParam[Any], ...] = (
    MODEL_PARAM,
    LOOKBACK_PARAM,
    HALF_LIFE_PARAM,
    PATH_UNIT_PARAM,
    COLLAPSE_PARAM,
)


def model_inputs(event_types: list[str]) -> tuple[Model, data.AttributionInputs]:
    """The model picker and the attribution settings (conversions, lookback, paths).

    Each is mirrored in the URL (:mod:`journey_ui.urlstate`), so a view can be shared as a
    link; a value a link gets wrong is named in a warning and the default used.
    """
    for param in MODEL_PARAMS:
        urlstate.restore(param)
    # The lookback at a fixed width beside the two pickers (in a fifth of a 1024 px window
    # its label wrapped and its box lost its - and + buttons).
    row = st.container(horizontal=True, gap="small")
    model = row.selectbox(
        "Attribution model",
        options=list(Model),
        format_func=lambda m: Model(m).label,
        key=MODEL_PARAM.key,
        help="Tables and highlighted bars use this model; the chart compares all six. "
        "In the URL the model is its name, e.g. ?model=Linear.",
    )
    urlstate.publish(MODEL_PARAM, Model(model or Model.LAST_NON_DIRECT))
    default_types = [t for t in ("purchase",) if t in event_types] or event_types[:1]
    # Shown by label ("Purchase"), in the URL by name (?conversions=purchase).
    in_url = urlstate.list_param("conversions", "conversions", default=default_types)
    urlstate.restore(in_url)
    chosen = list(st.session_state[in_url.key])
    conversion_types = row.multiselect(
        "Conversion events",
        options=list(dict.fromkeys([*event_types, *chosen])),
        format_func=event_label,
        key=in_url.key,
        help="Events of these types are conversions (their revenue is attributed).",
        wrap=True,
    )
    urlstate.publish(in_url, list(conversion_types))
    lookback = row.number_input(
        "Lookback (days)",
        min_value=1,
        max_value=365,
        step=1,
        key=LOOKBACK_PARAM.key,
        help="Touches this many days before a conversion share its credit.",
        width=150,
    )
    urlstate.publish(LOOKBACK_PARAM, int(lookback))
    # Each option at its own width, side by side while they fit (a third of a 1024 px window
    # cut "Collapse repeated channels" to "Collapse repeat...").
    options = st.expander("Path and model options").container(
        horizontal=True, gap="medium", vertical_alignment="bottom"
    )
    with options:
        half_life = st.number_input(
            "Time-decay half-life (days)",
            min_value=0.5,
            max_value=90.0,
            step=0.5,
            key=HALF_LIFE_PARAM.key,
            width=220,
        )
        urlstate.publish(HALF_LIFE_PARAM, float(half_life))
        unit = st.segmented_control(
            "Path steps",
            options=[u.value for u in PathUnit],
            required=True,
            key=PATH_UNIT_PARAM.key,
            help="One step per session (its first touch), or per touch with its own tags.",
        )
        unit = str(unit or PathUnit.SESSION.value)
        urlstate.publish(PATH_UNIT_PARAM, unit)
        collapse = st.toggle(
            "Collapse repeated channels",
            key=COLLAPSE_PARAM.key,
            help="Direct > Direct > Email is shown as Direct > Email.",
        )
        urlstate.publish(COLLAPSE_PARAM, bool(collapse))
    ui.warn_url_errors(*MODEL_PARAMS)
    return Model(model or Model.LAST_NON_DIRECT), data.AttributionInputs(
        conversion_types=tuple(conversion_types),
        lookback_days=int(lookback),
        half_life_days=float(half_life),
        path_unit=unit,
        collapse=bool(collapse),
    )


def caption(
    ctx: PageContext, query: JourneyQuery, inputs: data.AttributionInputs, end: dt.datetime
) -> None:
    """What the page is computing, in one line."""
    st.caption(
        f"Campaign cohort since {query.event_date:%d %b %Y}, conversions up to "
        f"{ui.fmt_time(end, ctx.tz)} {ctx.tz} · {inputs.lookback_days}-day lookback · "
        f"warehouse {safe_url(ctx.url)}"
    )


# --------------------------------------------------------------------------- sections


def shown(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with human values: model names (``last_non_direct`` → ``Last non-direct
    touch``) and what a time is measured from; headers come from the palette's labels."""
    out = frame
    if c.MODEL in out.columns:
        out = out.with_columns(
            pl.col(c.MODEL).replace_strict(
                {m.value: m.label for m in Model}, default=pl.col(c.MODEL), return_dtype=pl.String
            )
        )
    if attr.MEASURE in out.columns:
        out = out.with_columns(
            pl.col(attr.MEASURE).replace_strict(
                MEASURE_LABELS, default=pl.col(attr.MEASURE), return_dtype=pl.String
            )
        )
    return out


def table(frame: pl.DataFrame, name: str, *, key: str, ctx: PageContext) -> None:
    """A table with human labels and the CSV download of exactly that table's data (machine
    column names and values, for spreadsheets and scripts; see docs/attribution.md)."""
    ui.table(shown(frame), tz=ctx.tz, key=f"table.{key}")
    ui.download_table(frame, name, file_name=f"attribution-{key}.csv", key=f"download.{key}")


def open_tab(tabs: Sequence[tuple[str, Callable[[], None]]], *, key: str) -> None:
    """Tabs ``(label, draw)`` of which only the open one is drawn (:func:`.components.lazy_tabs`):
    the browser gets one table of each group, not three."""
    index, container = ui.lazy_tabs([label for label, _ in tabs], key=key)
    with container:
        tabs[index][1]()


def kpis(
    report: AttributionReport, people: int, *, start: dt.date, end: dt.datetime, tz: str
) -> None:
    """People, converters, conversion rate, conversions, revenue; their helps name the
    conversions' period (``start`` to ``end``), which is why they can be fewer than the
    Campaign influence page's for the same cohort."""
    totals = report.totals
    converters = totals.converters
    period = f"from {start:%d %b %Y} to {ui.fmt_time(end, tz)} {tz}"
    ui.kpi_row(
        [
            ui.Kpi(
                COHORT_PEOPLE,
                ui.fmt_int(people),
                help=f"The campaign cohort since {start:%d %b %Y} with the filters: the "
                f"Campaign influence page's {KNOWN_ACTIVE}.",
            ),
            ui.Kpi(
                "Converted",
                ui.fmt_int(converters),
                help=f"People of the cohort with a conversion {period}.",
            ),
            ui.Kpi(
                "Conversion rate",
                fmt.fmt_percent(converters / people if people else None),
                help="Converted over the people in the cohort.",
            ),
            ui.Kpi(
                "Conversions",
                ui.fmt_int(totals.conversions),
                help=f"Conversion events of the cohort {period}: the Campaign influence "
                "page's Conversions. Purchases in the earlier journeys of people who became "
                "known since are not this period's.",
            ),
            ui.Kpi(
                ui.money_label("Revenue"),
                ui.fmt_amount(totals.revenue, compact=True),
                help=f"Revenue of those conversions ({period}).",
            ),
        ],
    )


def credit_section(report: AttributionReport, model: Model, ctx: PageContext) -> None:
    """The model comparison chart and the picked model's credit per channel and campaign."""
    ui.section("Credit by model")
    metric = st.segmented_control(
        "Measure",
        options=[c.CONVERSIONS, c.REVENUE],
        default=c.CONVERSIONS,
        required=True,
        format_func=str.capitalize,
        key="metric",
    )
    currency = ui.currency()
    ui.chart(
        charts.model_comparison(
            report.by_channel, metric=str(metric), highlight=model, currency=currency
        ),
        key="chart.models",
    )
    st.caption(
        "Each model's credit per channel and its change against Last touch (the last click): "
        "green where the model credits the channel more, red where less."
    )
    if report.by_channel.is_empty():
        st.caption("No conversions in this window.")
    else:
        ui.comparison_table(
            charts.model_comparison_table(report.by_channel, metric=str(metric)),
            currency=currency,
            key="attribution.model-table",
        )
    by_channel = report.by_channel.filter(pl.col(c.MODEL) == model.value)
    by_campaign = report.by_campaign.filter(pl.col(c.MODEL) == model.value)
    tabs: list[tuple[str, Callable[[], None]]] = [
        (
            f"{model.label}: per channel",
            lambda: table(by_channel, "credit per channel", key="channels", ctx=ctx),
        ),
        (
            f"{model.label}: per campaign",
            lambda: table(by_campaign, "credit per campaign", key="campaigns", ctx=ctx),
        ),
        (
            "All models",
            lambda: table(
                report.by_channel, "credit per channel, all models", key="models", ctx=ctx
            ),
        ),
    ]
    open_tab(tabs, key=CREDIT_TABS)


def paths_section(report: AttributionReport, ctx: PageContext) -> None:
    """The Sankey of paths and the path summary."""
    ui.section(
        "Paths to conversion",
        f"{charts.paths_note(report.path_summary.height, SANKEY_PATHS)}".replace(
            f" of {ui.fmt_int(data.PREVIEW_ROWS)} paths",
            f" of the {ui.fmt_int(data.PREVIEW_ROWS)} most frequent paths",
        )
        + f" Each path shows its last {SANKEY_STEPS} steps (“…” marks earlier steps left out); "
        f"the tables below list the first {data.PREVIEW_ROWS:,} paths.",
    )
    grouped = charts.top_paths(report.path_summary, SANKEY_PATHS)
    links = attr.sankey_links(grouped, max_steps=SANKEY_STEPS)
    ui.chart(charts.path_sankey(links), key="chart.sankey")
    open_tab(
        [
            (
                "Path summary",
                lambda: table(report.path_summary, "path summary", key="path-summary", ctx=ctx),
            ),
            (
                "Paths to conversion",
                lambda: table(
                    report.conversion_paths,
                    "paths to conversion",
                    key="conversion-paths",
                    ctx=ctx,
                ),
            ),
            (
                "Paths without conversion",
                lambda: table(
                    report.non_conversion_paths,
                    "paths without conversion",
                    key="non-conversion-paths",
                    ctx=ctx,
                ),
            ),
        ],
        key=PATH_TABS,
    )


def time_section(report: AttributionReport, ctx: PageContext) -> None:
    """Time to first conversion: chart, median/p90 per channel, and per person."""
    ui.section(
        "Time to convert",
        "Days from each converter's first touch, and from when they became known, to their "
        "first conversion in the window. “From first touch”: the earliest touch in the lookback "
        "before that conversion, before the start date too. “From becoming known”: the time "
        "they first gave their email.",
    )
    ui.chart(
        charts.time_to_convert_chart(
            report.time_to_convert_histogram, report.time_to_convert_summary
        ),
        key="chart.ttc",
    )
    open_tab(
        [
            (
                "Median and 90th percentile",
                lambda: table(
                    report.time_to_convert_summary,
                    "time to convert summary",
                    key="ttc-summary",
                    ctx=ctx,
                ),
            ),
            (
                "Per person",
                lambda: per_person(report, ctx),
            ),
            (
                "Histogram",
                lambda: table(
                    report.time_to_convert_histogram,
                    "time to convert histogram",
                    key="ttc-histogram",
                    ctx=ctx,
                ),
            ),
        ],
        key=TIME_TABS,
    )


def per_person(report: AttributionReport, ctx: PageContext) -> None:
    """Each converter's time to convert: a first page of the converters, said so if cut."""
    shown, converters = report.time_to_convert.height, report.totals.converters
    if shown < converters:
        st.caption(
            f"The first {ui.fmt_int(shown)} of {ui.fmt_int(converters)} converters, by first "
            "conversion; the download has the same rows."
        )
    table(report.time_to_convert, "time to convert per person", key="ttc-people", ctx=ctx)


def channels_section(report: AttributionReport, key: data.QueryKey, ctx: PageContext) -> None:
    """Touches per channel/campaign/source/medium and the channel rules in effect."""
    with st.expander(
        "Channel grouping: touches per channel and the rules in effect",
        key=CHANNELS_OPEN,
        on_change="rerun",  # drawn only when opened
    ) as grouping:
        if not grouping.open:
            return
        table(report.channel_counts, "touches per channel", key="channel-counts", ctx=ctx)
        cfg = data.channel_config(key)
        st.caption(
            "Rules are tried top to bottom; set JOURNEY_CHANNELS_FILE to a TOML file to "
            f"change them. Touches no rule matches are grouped as “{cfg.unassigned}”."
        )
        st.code("\n".join(rule.describe() for rule in cfg.rules), language=None)
