"""Data quality: messy warehouse rows counted per kind, and how every page treats them."""

from journey_ui import components as ui
from journey_ui import data, sections, shell

ctx = shell.context()
ui.page_header(
    "Data quality",
    "Rows the tracking got wrong, counted per kind, and what every page and export does with them.",
)
with ui.guard("data quality"):
    ui.permalink(ctx)
    sections.quality_panel(
        data.quality(ctx.engine, ctx.url, ctx.settings.mapping, ctx.query().as_of)
    )
