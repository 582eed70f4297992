"""Customer lookup: one person's last 90 days (rule "email"): profile, timeline, events."""

import streamlit as st

from journey_ui import components as ui
from journey_ui import data, sections, shell

ctx = shell.context()
ui.page_header(
    "Customer lookup",
    "One person's journey: how they found you, when they became known, what they did since.",
)
with ui.guard("this customer"):
    email = sections.email_input()
    ui.permalink(ctx)
    if not email:
        sections.customer_prompt(ctx)
        st.stop()
    query = ctx.query(email=email)
    with st.spinner(f"Loading {ui.plain(ui.shown_email(query.email or ''))}…", show_time=True):
        view = data.customer(*data.key_of(ctx, query))
    if view.profile is None:
        message = view.message or "No events for this email."
        sections.customer_not_found(
            message.replace(query.email or "", ui.shown_email(query.email or "")), ctx
        )
        st.stop()
    ui.profile_card(view.profile, ctx)
    sections.customer_timeline(view, ctx)
    sections.customer_events(view, query, ctx)
