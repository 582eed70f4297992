"""The dashboard: Streamlit glue over journey_core, and the Plotly figure builders.

:mod:`~journey_ui.shell` prepares each page run (settings, engine, as-of, navigation),
:mod:`~journey_ui.access` is the sign-in gate, :mod:`~journey_ui.data` holds the cached loaders,
:mod:`~journey_ui.components` and :mod:`~journey_ui.sections` draw what the thin pages in
``app_pages/`` list, :mod:`~journey_ui.urlstate` mirrors inputs in the URL, and
:mod:`~journey_ui.figures` builds the charts without Streamlit. Only this package imports
Streamlit and Plotly.
"""

# Import pandas once, under this package's import lock: Plotly looks pandas up lazily and, when
# ten sessions start at once on a cold server, one may find it half-imported (AttributeError:
# partially initialized module 'pandas'). Every page imports journey_ui first, so they wait here.
import pandas  # noqa: F401

__all__: list[str] = []  # the modules are imported by name; nothing is re-exported
