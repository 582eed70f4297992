"""Attribution: credit, paths and time to convert for the campaign cohort (rule "event_date")."""

import streamlit as st

from journey_ui import access, runlog, shell
from journey_ui import attribution_ui as ui

settings = shell.settings()  # this file may also run on its own (a first direct visit)
if settings is None:
    st.stop()
if not access.signed_in(settings):  # a first direct visit may run this file without app.py's gate
    shell.navigation()
    st.rerun()
st.title("Attribution")
st.write(
    "Which channels and campaigns earned the conversions of people a campaign reached: "
    "six attribution models side by side, the paths people took, and how long they took."
)
with ui.errors_shown():
    wh = ui.warehouse(settings)
    start, as_of = ui.cohort_inputs(wh)
    model, inputs = ui.model_inputs(ui.event_types(wh, start, as_of), start, as_of)
    with st.spinner("Computing attribution…", show_time=True):
        report, message, people = ui.report(wh, inputs)
    ui.caption(wh, inputs)
    runlog.note(rule="event_date", rows=people)
    if people == 0:
        st.info(message or "Nobody is in the campaign cohort for these dates.")
        st.stop()
    ui.kpis(report, people)
    ui.credit_section(report, model)
    ui.paths_section(report)
    ui.time_section(report)
    ui.channels_section(report, wh.settings.channels_file)
