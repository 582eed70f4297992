"""Attribution: credit, paths and time to convert for the campaign cohort (rule "event_date")."""

import streamlit as st

from journey_ui import attribution as sections
from journey_ui import components as ui
from journey_ui import data, runlog, setting, shell

ctx = shell.context()
ui.page_header(
    "Attribution",
    "Which channels and campaigns earned the conversions of people a campaign reached: "
    "six attribution models side by side, the paths people took, and how long they took.",
)
with ui.guard("attribution"):
    start, end = sections.cohort_inputs(ctx)
    query = setting.campaign_query(ctx, start, end)  # the campaign page's cohort
    key = data.key_of(ctx, query)
    with ui.loading(f"Loading journeys since {start:%d %b %Y}…"):
        event_types = data.event_types(*key)
        options = data.campaign_options(*key)
    filters = setting.filters_panel(ctx, options)
    shared = setting.remember(setting.CampaignSetting(start, end, query.as_of, filters))
    model, inputs = sections.model_inputs(event_types)
    ui.permalink(ctx)
    until = shared.end_time(ctx.tz)
    with ui.loading("Computing attribution…"):
        view = data.attribution(*key, inputs, filters, end=until)
    sections.caption(ctx, query, inputs, until)
    runlog.note(rows=view.people)
    if view.people == 0:
        ui.empty_state(
            view.message
            or (
                "Nobody matches these filters."
                if filters.active
                else "Nobody is in the campaign cohort for these dates."
            ),
            tips=setting.empty_tips(ctx, query, filters),
        )
        st.stop()
    sections.kpis(view.report, view.people, start=start, end=until, tz=ctx.tz)
    sections.credit_section(view.report, model, ctx)
    sections.paths_section(view.report, ctx)
    sections.time_section(view.report, ctx)
    sections.channels_section(view.report, key[2], ctx)
