"""Customer lookup: find a person, then their last 90 days (rule "email"): profile, visits,
timeline, events."""

import streamlit as st

from journey_ui import components as ui
from journey_ui import customer, data, shell

ctx = shell.context()
ui.page_header(
    "Customer lookup",
    "Find a person, then see how they found you, when they became known and what they did since.",
)
with ui.guard("this customer"):
    lookup = customer.search_box()
    ui.permalink(ctx)
    if not lookup.email:
        customer.customer_prompt(ctx, lookup.text)
        st.stop()
    query = ctx.query(email=lookup.email)
    with ui.loading(f"Loading {ui.plain(ui.shown_email(query.email or ''))}…"):
        view = data.customer(*data.key_of(ctx, query))
    if view.profile is None:
        message = view.message or "No events for this email."
        customer.customer_not_found(
            message.replace(query.email or "", ui.shown_email(query.email or "")),
            ctx,
            lookup.email,
        )
        st.stop()
    customer.profile_panel(view, ctx)
    customer.activity_feed(view, ctx)
    customer.customer_timeline(view, ctx)
    customer.customer_events(view, query, ctx)
