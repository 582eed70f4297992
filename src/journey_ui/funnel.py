"""The Funnel section of Campaign influence: steps, window, breakdown, chart, table, people.

Figures come from :func:`journey_ui.data.funnel` (computed by the warehouse,
:mod:`journey_core.warehouse.funnel`); the chart from :mod:`journey_ui.figures.funnel`.
Picking a step lists the people who reached it or dropped off there; picking a person opens
their Customer lookup through the usual person link (``?person=`` when emails are masked).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

import polars as pl
import streamlit as st

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.analytics import funnel as fn
from journey_core.analytics.funnel import FunnelSpec
from journey_core.errors import InputError
from journey_core.warehouse import Engine
from journey_ui import components as ui
from journey_ui import data, urlstate
from journey_ui.data import QueryKey
from journey_ui.figures import funnel as figs
from journey_ui.figures.palette import event_label
from journey_ui.shell import PageContext

__all__ = [
    "PREVIOUS_AT",
    "WHO_LABELS",
    "WHO_PARAM",
    "WINDOW_PARAM",
    "excluded_note",
    "fmt_duration",
    "funnel_section",
    "funnel_table",
    "steps_param",
]

WHO_LABELS: Final[dict[str, str]] = {
    fn.NEWLY_KNOWN: "Newly known",
    fn.PREVIOUSLY_KNOWN: "Previously known",
    fn.ALL_PEOPLE: "Everyone",
}
OUTCOME_LABELS: Final[dict[str, str]] = {
    fn.REACHED: "Reached this step",
    fn.DROPPED: "Dropped off here",
}
ALL_GROUPS: Final = "All groups"
NO_TIME: Final = "–"

STEP_COLUMN: Final = "Step"
GROUP_COLUMN: Final = "Group"
MEDIAN_COLUMN: Final = "Median time from the step before"
PREVIOUS_AT: Final = "did_the_step_before_at"


def fmt_duration(seconds: float | None) -> str:
    """A median time between steps as people read it; ``–`` when there is none.

    >>> [fmt_duration(s) for s in (None, 42, 150, 7_200, 5.5 * 86_400)]
    ['–', '42 s', '2.5 min', '2.0 h', '5.5 d']
    """
    if seconds is None:
        return NO_TIME
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3_600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86_400:
        return f"{seconds / 3_600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def funnel_table(funnel: pl.DataFrame, *, breakdown: bool) -> pl.DataFrame:
    """The funnel as people read it: step names, counts, shares, drop-off and median time,
    never an empty cell (``–`` where there is no step before, or nobody to measure)."""
    names = dict(enumerate(figs.step_names(funnel), start=1))
    # Formatted here, not by a Polars UDF (map_elements): a Python function run on Polars'
    # thread pool deadlocked the whole dashboard when another session's table was converted
    # for display at the same moment (docs/security.md, "Ten cold sessions at once").
    medians = [fmt_duration(s) for s in funnel.get_column(fn.MEDIAN_SECONDS).to_list()]
    return funnel.select(
        *([pl.col(c.GROUP).alias(GROUP_COLUMN)] if breakdown else []),
        pl.col(c.STEP).replace_strict(names, return_dtype=pl.String).alias(STEP_COLUMN),
        pl.col(c.PEOPLE).alias("People"),
        (pl.col(fn.FROM_START) * 100).alias("Of step 1"),
        (pl.col(fn.FROM_PREVIOUS) * 100).alias("Of the step before"),
        pl.col(c.DROP_OFF).alias("Dropped off"),
        pl.Series(MEDIAN_COLUMN, medians, dtype=pl.String),
    )


#: The funnel's inputs in the URL (``?who=previously&steps=page_view&steps=purchase&window=7``),
#: so a copied link restores the funnel; its breakdown is the page's (``?breakdown=``).
WHO_PARAM = urlstate.named_param(
    "who",
    "funnel.who",
    names={"newly": fn.NEWLY_KNOWN, "previously": fn.PREVIOUSLY_KNOWN, "all": fn.ALL_PEOPLE},
    default=fn.NEWLY_KNOWN,
)
WINDOW_PARAM = urlstate.int_param(
    "window", "funnel.window", default=fn.DEFAULT_WINDOW.days, low=1, high=365
)


def steps_param(who: str) -> urlstate.UrlParam[list[str]]:
    """The steps of ``who``'s funnel in the URL (``?steps=`` repeated, in order)."""
    return urlstate.list_param("steps", f"funnel.steps.{who}", default=fn.default_steps(who))


def _who_changed() -> None:
    # The steps in the URL were the other group's: each group starts from its own.
    if "steps" in st.query_params:
        del st.query_params["steps"]


def _inputs(event_types: Sequence[str]) -> tuple[str, tuple[str, ...], int]:
    urlstate.restore(WHO_PARAM)
    urlstate.restore(WINDOW_PARAM)
    # Who on a row of its own, then the steps taking what the window leaves beside its fixed
    # width (in three fixed columns a 1024 px window broke "Window (days)" into three lines
    # and hid the last step's chip).
    who = st.radio(
        "People",
        options=list(WHO_LABELS),
        format_func=WHO_LABELS.__getitem__,
        key=WHO_PARAM.key,
        horizontal=True,
        on_change=_who_changed,
        help="Newly known: became known since the start date. Previously known: known "
        "before it (they signed up earlier, so their default funnel has no Sign-up step).",
        width="content",
    )
    urlstate.publish(WHO_PARAM, who)
    defaults = fn.default_steps(who)
    steps_in_url = steps_param(who)
    urlstate.restore(steps_in_url)
    chosen = list(st.session_state[steps_in_url.key])
    row = st.container(horizontal=True, gap="medium")
    with row:
        steps = st.multiselect(
            "Steps, in order",
            options=list(dict.fromkeys([*defaults, *event_types, *chosen])),
            key=steps_in_url.key,
            format_func=event_label,
            help="The order you pick them in is the funnel order. Each step must happen after "
            "the step before.",
            wrap=True,
        )
    urlstate.publish(steps_in_url, list(steps))
    with row:
        days = st.number_input(
            "Window (days)",
            min_value=1,
            max_value=365,
            step=1,
            key=WINDOW_PARAM.key,
            help="Every step must happen within this many days of the person's step 1.",
            width=150,
        )
    urlstate.publish(WINDOW_PARAM, int(days))
    ui.warn_url_errors(WHO_PARAM, WINDOW_PARAM)
    return who, tuple(steps), int(days)


def funnel_section(
    ctx: PageContext,
    key: tuple[Engine, str, QueryKey],
    filters: an.Filters,
    event_types: Sequence[str],
    *,
    by: str | None = None,
    cohort: an.Kpis | None = None,
    cohort_size: int | None = None,
) -> None:
    """The Funnel section (the campaign page's ``key`` and filters; ``event_types``: the
    step picker's options; ``by``: the page's breakdown, of each person's first touch).

    ``cohort`` (the key figures) and ``cohort_size`` (everyone in the table) let the section
    say how many people of the cohort the funnel leaves out, and why.
    """
    ui.section(
        "Funnel",
        "People who did each step in order, within the conversion window from their first "
        "step since the start date. Pick a step below the table to see who reached it or "
        "dropped off there.",
    )
    who, steps, days = _inputs(event_types)
    since = key[2].query().start
    try:
        spec = FunnelSpec(
            steps=steps,
            window=dt.timedelta(days=days),
            since=since,
            who=who,
            breakdown=by,
        )
    except InputError as exc:  # shown here; the rest of the page stays
        ui.show_error(exc)
        return
    with ui.loading("Computing the funnel…"):
        funnel = data.funnel(*key, filters, spec)
    first = int(funnel.filter(pl.col(c.STEP) == 1).get_column(c.PEOPLE).sum())
    last = int(funnel.filter(pl.col(c.STEP) == len(steps)).get_column(c.PEOPLE).sum())
    who_text = WHO_LABELS[who].lower() if who != fn.ALL_PEOPLE else ""
    st.markdown(
        f"**{ui.fmt_int(first)}** {who_text} people did *{event_label(steps[0])}* since the "
        f"start date; **{ui.fmt_int(last)}** ({figs.pct(last / first if first else 0.0)}) "
        f"reached *{event_label(steps[-1])}* within {ui.plural(days, 'day')}."
    )
    note = excluded_note(who, steps[0], first, cohort=cohort, cohort_size=cohort_size)
    if note:
        st.caption(note)
    ui.chart(figs.funnel_chart(funnel, who=who, breakdown=by), key="funnel.chart")
    table = funnel_table(funnel, breakdown=by is not None)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key="funnel.table",
        column_config={
            "People": st.column_config.NumberColumn(format="localized"),
            "Of step 1": st.column_config.ProgressColumn(
                format="%.1f%%", min_value=0.0, max_value=100.0
            ),
            "Of the step before": st.column_config.ProgressColumn(
                format="%.1f%%", min_value=0.0, max_value=100.0
            ),
            "Dropped off": st.column_config.NumberColumn(
                format="localized", help="People of the step before who did not do this step."
            ),
            MEDIAN_COLUMN: st.column_config.TextColumn(
                help="Median time from the step before among those who did both; – at step 1 "
                "(no step before) and where nobody reached the step."
            ),
        },
    )
    _people(ctx, key, filters, spec, funnel)


def excluded_note(
    who: str,
    step: str,
    first: int,
    *,
    cohort: an.Kpis | None,
    cohort_size: int | None,
) -> str:
    """Who of the cohort the funnel leaves out: the people of the group picked (``who``)
    without a ``step`` event since the start date (``first``: those with one).

    >>> k = an.Kpis(10, 50, 12, 3, 9.0, newly_known=4)
    >>> excluded_note("Newly known", "page_view", 3, cohort=k, cohort_size=11)[:50]
    '1 of the 4 newly known people did no Page view sin'
    >>> excluded_note("All people", "page_view", 11, cohort=k, cohort_size=11)
    ''
    """
    if cohort is None or cohort_size is None:
        return ""
    newly = cohort.newly_known or 0
    group = {fn.NEWLY_KNOWN: newly, fn.PREVIOUSLY_KNOWN: cohort_size - newly}.get(who, cohort_size)
    missing = group - first
    if missing <= 0:
        return ""
    whom = "people" if who == fn.ALL_PEOPLE else f"{WHO_LABELS[who].lower()} people"
    return (
        f"{ui.fmt_int(missing)} of the {ui.fmt_int(group)} {whom} did no {event_label(step)} "
        "since the start date, so the funnel starts without them."
    )


def _people(
    ctx: PageContext,
    key: tuple[Engine, str, QueryKey],
    filters: an.Filters,
    spec: FunnelSpec,
    funnel: pl.DataFrame,
) -> None:
    """Pick a step (and group, outcome): list its people; pick one to open their lookup."""
    names = figs.step_names(funnel) if funnel.height else []
    cols = st.columns([3, 2, 2])
    with cols[0]:
        step = st.selectbox(
            "People at step",
            options=list(range(1, len(spec.steps) + 1)),
            format_func=lambda k: names[k - 1] if names else str(k),
            index=None,
            placeholder="Pick a step…",
            key="funnel.people.step",
        )
    with cols[1]:
        outcome = st.radio(
            "Who",
            options=list(OUTCOME_LABELS),
            format_func=OUTCOME_LABELS.__getitem__,
            key="funnel.people.outcome",
            horizontal=True,
        )
    group: str | None = None
    if spec.breakdown is not None:
        groups = funnel.get_column(c.GROUP).unique(maintain_order=True).to_list()
        with cols[2]:
            picked = st.selectbox("Group", options=[ALL_GROUPS, *groups], key="funnel.people.group")
        group = None if picked == ALL_GROUPS else picked
    if step is None:
        return
    if outcome == fn.DROPPED and step == 1:
        st.info("Nobody drops off at step 1: it is where the funnel starts. Pick a later step.")
        return
    people = data.funnel(*key, filters, spec, (step, outcome, group))
    row = funnel.filter(
        pl.col(c.STEP) == step, *([pl.col(c.GROUP) == group] if group is not None else [])
    )
    total = int(
        row.get_column(c.DROP_OFF if outcome == fn.DROPPED else c.PEOPLE).sum() if row.height else 0
    )
    what = "reached" if outcome == fn.REACHED else "dropped off at"
    when = "when they reached it" if outcome == fn.REACHED else "when they did the step before"
    if people.is_empty():
        st.caption(f"Nobody {what} {names[step - 1]}.")
        return
    st.caption(
        f"{ui.plural(total, 'person', 'people')} {what} {names[step - 1]}; the first "
        f"{ui.fmt_int(people.height)} by email, with {when}. Select a row to open that "
        "person's customer lookup."
    )
    shown = people if outcome == fn.REACHED else people.rename({fn.REACHED_AT: PREVIOUS_AT})
    picked_row = ui.table(
        shown,
        tz=ctx.tz,
        key="funnel.people.table",
        height=min(420, 38 + 35 * people.height),
        pickable=True,
    )
    if picked_row is not None:
        ui.open_customer(people.get_column(c.EMAIL)[picked_row], ctx)
