"""Attribution: credit, paths and time to convert for the campaign cohort (rule "event_date")."""

import streamlit as st

from journey_ui import attribution as sections
from journey_ui import components as ui
from journey_ui import data, runlog, shell

ctx = shell.context()
ui.page_header(
    "Attribution",
    "Which channels and campaigns earned the conversions of people a campaign reached: "
    "six attribution models side by side, the paths people took, and how long they took.",
)
with ui.guard("attribution"):
    start, as_of_day = sections.cohort_inputs(ctx)
    query = sections.cohort_query(ctx, start, as_of_day)
    key = data.key_of(ctx, query)
    with st.spinner(f"Loading journeys since {start:%d %b %Y}…", show_time=True):
        event_types = data.event_types(*key)
    model, inputs = sections.model_inputs(event_types)
    ui.permalink(ctx, as_of=as_of_day.isoformat())
    with st.spinner("Computing attribution…", show_time=True):
        view = data.attribution(*key, inputs)
    sections.caption(ctx, query, inputs)
    runlog.note(rows=view.people)
    if view.people == 0:
        ui.empty_state(
            view.message or "Nobody is in the campaign cohort for these dates.",
            tips=["Pick an earlier campaign start date, or a later as-of day."],
        )
        st.stop()
    sections.kpis(view.report, view.people)
    sections.credit_section(view.report, model, ctx)
    sections.paths_section(view.report, ctx)
    sections.time_section(view.report, ctx)
    sections.channels_section(view.report, key[2], ctx)
