"""Many dashboard sessions at once: their Polars work never deadlocks the server.

Streamlit runs each session's script in a thread of one process. With Polars 2.1, a Python
function run on Polars' thread pool (``Expr.map_elements``, as the funnel table's times once
were) while another thread converted a frame to pandas (``st.dataframe`` does) deadlocked
every thread, the server's event loop with them: caught in the ten-sessions browser test
(tests/e2e/test_outages_sessions_access.py) as a page that never finished, all threads idle,
two in Polars' ``collect``, one in ``to_pandas``.

The scenario runs in a child process, as a deadlock holds the GIL: it would hang this one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Three threads draw funnel tables and three convert frames of several chunks to pandas
#: (``ROUNDS`` times each),
#: as five campaign pages and their tables do at once; it prints ``done`` if all end.
SCENARIO = """
import threading

import polars as pl

from journey_core import columns as c
from journey_core.analytics import funnel as fn
from journey_ui.funnel import funnel_table

FUNNEL = pl.DataFrame({
    c.STEP: [1, 2, 3],
    c.EVENT_TYPE: ["page_view", "add_to_cart", "purchase"],
    c.PEOPLE: [10, 5, 2],
    fn.FROM_START: [1.0, 0.5, 0.2],
    fn.FROM_PREVIOUS: [None, 0.5, 0.4],
    c.DROP_OFF: [0, 5, 3],
    fn.MEDIAN_SECONDS: [None, 42.0, 7_200.0],
})
FUNNEL = pl.concat([FUNNEL] * 4, rechunk=False)  # a frame of several chunks, as pages have
PART = pl.DataFrame({"a": range(200), "b": [str(v) for v in range(200)], "c": [1.5] * 200})
TABLE = pl.concat([PART] * 8, rechunk=False)
ROUNDS = 300


def tables() -> None:
    for _ in range(ROUNDS):
        funnel_table(FUNNEL, breakdown=False)


def shown() -> None:
    for _ in range(ROUNDS):
        TABLE.to_pandas()


threads = [threading.Thread(target=t) for t in (tables, shown) * 3]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("done")
"""


def test_funnel_tables_and_pandas_conversions_at_once_finish() -> None:
    """With the funnel's times formatted by ``map_elements`` this hung within a second; the
    60 s are a guard against a hang, not a speed check (it takes about 2 s)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", SCENARIO],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("funnel tables and pandas conversions in six threads deadlocked")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("done"), done.stdout[-500:]
