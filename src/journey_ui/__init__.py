"""Streamlit glue for the dashboard pages: cached loaders, widgets, query params."""

# Import pandas once, under this package's import lock: Plotly looks pandas up lazily and, when
# ten sessions start at once on a cold server, one may find it half-imported (AttributeError:
# partially initialized module 'pandas'). Every page imports journey_ui first, so they wait here.
import pandas  # noqa: F401
