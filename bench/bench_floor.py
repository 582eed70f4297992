"""The memory floor of the campaign's headline figures on a DuckDB file (issue 12).

ONE hand-written DuckDB aggregate (``bench/sql/campaign_kpis.sql`` over ``bench/sql/window.sql``,
as ``bench_scale.py``'s ``baseline`` route) run under DuckDB memory limits, each in a process
of its own; its peak RSS (``VmHWM``) is what one statement over the cohort's wide rows needs
for six of the page's figures of one period. ``--ui`` imports the dashboard's libraries first
(Streamlit, pandas, Plotly, pyarrow and ``journey_ui``), so the row reads as a floor for the
dashboard process. Usage::

    .venv/bin/python bench/bench_floor.py --db /work/benchdata/demo-100M.duckdb \\
        --limits 128MB,192MB,256MB --threads 2 --ui

``--route steps`` runs ``bench/sql/campaign_steps.sql`` instead: the same cohort in narrow
steps (email, ``known_at``, event id, time and the event's ``rowid``) written to tables of a
scratch DuckDB file attached to the connection (``--store scratch``) or to TEMP tables
(``--store temp``), the wide columns joined back ``--buckets`` buckets of people at a time;
each step's seconds and peak are printed too.

Prints one line per run: limit, threads, seconds, peak MB, the RSS before the statement, and
the headline figures or DuckDB's error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_scale import _bench_params, _headline, _hwm_mb, _rss_mb, baseline_sql

BENCH = Path(__file__).resolve().parent
UI_MODULES = ("streamlit", "pandas", "pyarrow", "plotly.graph_objects", "journey_ui.sections")
STORES = ("scratch", "temp")  # the catalog the steps' tables go to (temp: DuckDB's TEMP tables)


def _rss_now() -> int:
    """This process's RSS in MB."""
    return int(_rss_mb(os.getpid()))


class _Peak:
    """The process's largest RSS inside ``with``, sampled every 0.1 s (``VmHWM`` cannot be
    reset, so a step's own peak is sampled)."""

    def __init__(self) -> None:
        self.mb = _rss_now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _Peak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.mb = max(self.mb, _rss_now())

    def reset(self) -> None:
        self.mb = _rss_now()


def _steps(sql: str, store: str) -> list[tuple[str, str]]:
    """``campaign_steps.sql`` cut at its ``-- step: NAME`` lines, in ``store``."""
    if store not in STORES:
        raise ValueError(store)
    if store == "temp":  # DuckDB makes a table in its temp catalog only when told TEMP
        sql = sql.replace("CREATE TABLE {store}.", "CREATE TEMP TABLE {store}.")
    parts = re.split(r"^-- step: (\w+)$", sql.replace("{store}", store), flags=re.MULTILINE)
    return list(zip(parts[1::2], parts[2::2], strict=True))


def _run_steps(con: Any, params: dict[str, Any], store: str, buckets: int) -> Any:
    """The cohort in steps; each step's seconds and peak, then the headline figures."""
    times: list[str] = []
    row = None
    steps = _steps((BENCH / "sql" / "campaign_steps.sql").read_text(), store)
    bound = {**params, "buckets": buckets}
    with _Peak() as peak:
        for name, text in steps:
            used = {key: value for key, value in bound.items() if f"${key}" in text}
            for bucket in range(buckets) if name == "bucket" else [None]:
                peak.reset()
                started = time.perf_counter()
                each = used if bucket is None else {**used, "bucket": bucket}
                fetched = con.execute(text, each).fetchall()
                label = name if bucket is None else f"{name} {bucket}"
                times.append(f"{label} {time.perf_counter() - started:.1f} s {peak.mb} MB")
                if name == "headline":
                    (row,) = fetched
    return {"steps": times, "headline": _headline(row)}


def _run(
    db: str, limit: str, threads: int, ui: bool, route: str, store: str, buckets: int
) -> dict[str, Any]:
    """One measurement, in this process (the ``--worker`` side)."""
    import duckdb

    from journey_core.warehouse import DUCKDB_CONFIG

    if ui:
        for name in UI_MODULES:
            importlib.import_module(name)
    con = duckdb.connect(db, read_only=True, config=DUCKDB_CONFIG)
    with tempfile.TemporaryDirectory(prefix="journey-floor-") as folder:
        con.execute("SET memory_limit = ?", [limit])
        con.execute("SET temp_directory = ?", [str(Path(folder) / "spill")])
        con.execute("SET threads = ?", [threads])
        con.execute("SET preserve_insertion_order = false")
        if route == "steps" and store == "scratch":
            con.execute("ATTACH ? AS scratch (READ_WRITE)", [str(Path(folder) / "scratch.duckdb")])
        before = _rss_now()
        started = time.perf_counter()
        try:
            if route == "steps":
                outcome: Any = _run_steps(con, _bench_params(), store, buckets)
            else:
                (row,) = con.sql(baseline_sql(), params=_bench_params()).fetchall()
                outcome = _headline(row)
        except duckdb.Error as exc:
            outcome = str(exc).splitlines()[0]
        seconds = time.perf_counter() - started
        con.close()
    return {
        "route": route if route == "aggregate" else f"steps ({store}, {buckets} buckets)",
        "limit": limit,
        "threads": threads,
        "ui": ui,
        "seconds": round(seconds, 1),
        "peak_mb": int(_hwm_mb()),
        "before_mb": before,
        "outcome": outcome,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a demo DuckDB file (journey demo)")
    parser.add_argument("--limits", default="128MB,192MB,256MB")
    parser.add_argument("--threads", default="2")
    parser.add_argument("--ui", action="store_true", help="import the dashboard's libraries")
    parser.add_argument("--route", choices=("aggregate", "steps"), default="aggregate")
    parser.add_argument("--store", choices=STORES, default="scratch")
    parser.add_argument("--buckets", type=int, default=9)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        limit, threads = args.worker.split(",")
        run = _run(args.db, limit, int(threads), args.ui, args.route, args.store, args.buckets)
        print(json.dumps(run))
        return
    for limit in args.limits.split(","):
        for threads in args.threads.split(","):
            command = [sys.executable, __file__, "--db", args.db, "--worker", f"{limit},{threads}"]
            command += [
                "--route",
                args.route,
                "--store",
                args.store,
                "--buckets",
                str(args.buckets),
            ]
            done = subprocess.run(
                [*command, *(["--ui"] if args.ui else [])],
                capture_output=True,
                text=True,
                check=True,
                cwd=BENCH,
            )
            print(done.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
