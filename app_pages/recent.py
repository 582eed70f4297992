"""Recent activity (home): known individuals active in the last 24 hours (rule "neither")."""

import streamlit as st

from journey_core.analytics import campaign as an
from journey_ui import components as ui
from journey_ui import data, sections, shell

ctx = shell.context()
hours = ctx.settings.recent_hours
ui.page_header(
    "Recent activity",
    f"Known individuals active in the last {hours:g} hours: what they did, where they came from.",
)
with ui.guard("recent activity"):
    ui.warehouse_banner(ctx, data.summary(ctx.engine, ctx.url, ctx.settings.mapping))
    query = ctx.query()
    ui.permalink(ctx)
    key = data.key_of(ctx, query)
    with ui.loading(f"Loading the last {hours:g} hours…"):
        report, message = data.recent(*key)
    if message:
        ui.empty_state(
            message,
            tips=[
                *(
                    ui.when_tips(ctx, ui.try_summary(ctx, data.summary), query.window_start)
                    or ["Turn Live off in the sidebar and pick a time when there was activity."]
                ),
                "Open Campaign influence for a longer window.",
            ],
        )
        st.stop()
    sections.recent_kpis(report, hours=hours)
    sections.recent_charts(report, ctx, start=query.window_start, end=query.as_of)
    ui.section("Journeys", "Everyone active in the window and their events.")
    sections.journeys_table(
        people=report.people,
        page_of=lambda page: data.people(*key, an.Filters(), page),
        preview=report.preview,
        total_rows=report.total_rows,
        ctx=ctx,
        key="recent",
    )
    ui.download_csv(
        data=lambda: data.csv_file(*key, an.Filters()),  # made on click, outside the script run
        file_name=ui.csv_name("recent", ui.as_of_part(ctx)),
        rows=report.total_rows,
        people=report.people.total,
        key="recent.csv",
    )
