"""Campaign influence: everyone active or newly known since a start date (rule "event_date")."""

import streamlit as st

from journey_ui import components as ui
from journey_ui import data, sections, setting, shell
from journey_ui.funnel import funnel_section

ctx = shell.context()
ui.page_header(
    "Campaign influence",
    "Who a campaign may have influenced: people active since its start date, and the earlier "
    "journey of those who became known since.",
)
with ui.guard("campaign influence"):
    start, end = setting.dates(ctx)
    query = setting.campaign_query(ctx, start, end)  # one cohort: as of the end day's end
    key = data.key_of(ctx, query)
    with ui.loading(f"Loading the filters since {start:%d %b %Y}…"):
        options = data.campaign_options(*key)
    filters = sections.campaign_filters(ctx, options)
    setting.remember(setting.CampaignSetting(start, end, query.as_of, filters))
    headline = st.empty()  # the key figures, above the breakdown picker
    by = sections.breakdown_picker()
    ui.permalink(ctx)
    with ui.loading("Computing the campaign figures…"):
        report, message = data.campaign(*key, filters, by=by)
    if message or report.total_rows == 0:
        ui.empty_state(
            message or "Nobody matches these filters.",
            tips=setting.empty_tips(ctx, query, filters),
        )
        st.stop()
    with headline.container():
        sections.campaign_kpis(report, ctx, start, comparing=True)
    sections.campaign_charts(report, ctx, start)
    funnel_section(
        ctx,
        key,
        filters,
        options.get("event_type", []),
        by=by,
        cohort=report.kpis,
        cohort_size=report.cohort,
    )
    ui.permalink(ctx)  # again, with the funnel's inputs
    sections.campaign_touchpoints(report, ctx)
    ui.section(
        "Journeys",
        "Everyone in the result with their whole journey (visits, events); conversions and "
        f"revenue since {start:%d %b %Y}, as in the key figures. Select a person to open their "
        "customer lookup.",
    )
    sections.journeys_table(
        people=report.people,
        page_of=lambda page: data.people(*key, filters, page),
        preview=report.preview,
        total_rows=report.total_rows,
        ctx=ctx,
        key="campaign",
    )
    ui.download_csv(
        data=lambda: data.csv_file(*key, filters),
        file_name=ui.csv_name(
            f"event_date-{start}", ui.as_of_part(ctx), "filtered" if filters.active else None
        ),
        rows=report.total_rows,
        people=report.people.total,
        key="campaign.csv",
    )
    # Last: the previous period is a cohort of its own (minutes at 100M events).
    sections.campaign_comparison(
        headline, report, ctx, start, lambda: data.campaign_previous(*key, filters)
    )
