"""Streamlit glue for the dashboard pages: cached loaders, widgets, query params."""
