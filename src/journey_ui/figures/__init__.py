"""Plotly figure builders: ``DataFrame -> go.Figure``, free of Streamlit, unit-tested.

:mod:`~journey_ui.figures.campaign` draws the campaign and customer pages' charts and
:mod:`~journey_ui.figures.attribution` the attribution page's; both take their colours, fonts
and labels from :mod:`~journey_ui.figures.palette`.
"""

from journey_ui.figures import attribution, campaign, palette

__all__ = ["attribution", "campaign", "palette"]
