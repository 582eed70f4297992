"""Journey Explorer: who a campaign influenced, one customer's timeline, journeys as CSV.

Run with ``bash scripts/run.sh`` (or ``streamlit run app.py``). The pages live in ``app_pages/``
(see :data:`journey_ui.shell.PAGES`); each page calls ``shell.context()`` for what this file set up.
"""

import streamlit as st

from journey_ui import access, data, runlog, shell
from journey_ui import components as ui

st.set_page_config(
    page_title="Journey Explorer",
    page_icon=":material/route:",
    layout="wide",
    initial_sidebar_state="expanded",
)
settings = shell.settings()  # read once per run, passed down
if settings is None or not access.gate(settings):
    st.stop()
page = shell.navigation()
ctx = shell.start(settings, page)
if ctx is None:
    st.stop()
data.use_budget(settings)
ui.sidebar_warehouse(ctx, ui.try_summary(ctx, data.summary))
ui.permalink(ctx)  # the link as the URL came; the page redraws it once its inputs are read
with runlog.page_run(page.url_path or "recent"):
    page.run()
