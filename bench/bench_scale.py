"""Scale benchmark (issue 12): campaign figures, exports and the dashboard at 1M-100M events.

Usage::

    nice -n 10 .venv/bin/python bench/bench_scale.py --sizes 1M,10M,100M \\
        --data /work/benchdata --engines duckdb,postgres,spark

``--data`` (default ``$JOURNEY_BENCH_DATA``) holds the demo warehouses, outside the repository:
``demo-<size>.duckdb`` is built with ``journey demo --events <size>`` (seed 7, last event
2026-01-01) when missing, and reused otherwise; the build's time and peak are kept beside it
(``demo-<size>.duckdb.build.json``). The campaign is the event_date rule 30 days before the
as-of time (the last event). Measured, each in a process of its own so that its peak RSS
(``VmHWM``, interpreter and libraries included) is its own:

- ``figures``: the campaign page's figures. Route ``sql`` is
  :func:`journey_core.warehouse.figures.campaign_figures` (every figure an aggregate in the
  warehouse); ``polars`` is the route the dashboard took before it (``fetch_journeys``, then
  ``with_sessions`` and ``analytics.campaign.campaign_report`` in Polars); ``baseline`` is ONE
  hand-written DuckDB aggregate (``bench/sql/campaign_kpis.sql``) of the same headline figures.
  The headline figures of every route are compared (``check``).
- ``export``: ``journey export --event-date`` of the campaign to a CSV file (DuckDB file).
- ``page``: a real ``streamlit run app.py`` on the DuckDB file (and on PostgreSQL with
  ``--engines postgres``), the Campaign influence page opened in headless Chromium until it
  is interactive (its note: when the period's figures
  were first shown; the previous period's come last); the Streamlit process's ``VmHWM``. The
  process is stopped when its RSS passes ``--page-cap-mb`` (the row then says so).
- ``attribution``: the same for the Attribution page (default settings, the same campaign),
  in a dashboard process of its own. Both page rows keep the key figures the page showed; an
  error box shown instead of the figures is the row's status, and the Attribution page's
  "People in the cohort" is checked against the Campaign page's "Known people active" (the
  same cohort) in its note.
- PostgreSQL (``--pg auto``: a throwaway local cluster, or a server URL) gets the same demo by
  ``journey demo`` (its load time is a row); Spark (a local Thrift server as
  ``tests/support/spark.py`` starts it, ``local[2]``) reads Parquet files written by DuckDB from
  the DuckDB file through ``CREATE TABLE ... USING parquet LOCATION``.

Results accumulate in ``bench/results_scale.json``, in the repository beside the table (a
re-run replaces the rows it measures; the data folder can go), and the table goes to
``bench/RESULTS.md`` between the ``bench_scale`` markers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS_MD = BENCH / "RESULTS.md"
RESULTS_JSON = BENCH / "results_scale.json"
SIZES = {"1M": 1_000_000, "10M": 10_000_000, "100M": 100_000_000}
SEED = 7
END = "2026-01-01T00:00:00Z"
CAMPAIGN_DAYS = 30
RESULT = "RESULT "
_CHILD = (
    "import sys\n"
    "from journey_cli.commands import main\n"
    "code = main(sys.argv[1:])\n"
    "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
    "print('VMHWM', hwm, flush=True)\n"
    "sys.exit(code)\n"
)


# --------------------------------------------------------------------------- helpers
def _as_of() -> dt.datetime:
    return dt.datetime.fromisoformat(END.replace("Z", "+00:00"))


def campaign_start() -> dt.date:
    """The campaign's start date: 30 days before the as-of time."""
    return (_as_of() - dt.timedelta(days=CAMPAIGN_DAYS)).date()


def _hwm_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def journey_cli(args: list[str], *, quiet_stdout: bool = True) -> dict[str, Any]:
    """Run ``journey <args>`` in a child; its wall time, peak RSS and stderr tail."""
    started = time.monotonic()
    load = os.getloadavg()[0]
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *args],
        capture_output=True,
        text=True,
        check=False,
        env=_env(),
    )
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        msg = f"journey {' '.join(args)} failed:\n{proc.stderr[-3000:]}"
        raise RuntimeError(msg)
    hwm = re.search(r"VMHWM (\d+)", proc.stdout)
    return {
        "seconds": seconds,
        "peak_mb": int(hwm.group(1)) / 1024 if hwm else float("nan"),
        "stderr": proc.stderr[-400:],
        "load": f"{load:.1f}-{os.getloadavg()[0]:.1f}",
    }


def run_worker(spec: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Run :func:`worker` in a fresh process (so that its peak RSS is its own).

    A worker still running after ``timeout_s`` is stopped; the row says so.
    """
    started = time.monotonic()
    load = os.getloadavg()[0]
    try:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__)), "--worker", json.dumps(spec)],
            capture_output=True,
            text=True,
            check=False,
            env=_env(),
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {
            "seconds": None,
            "status": f"stopped after {timeout_s:.0f} s (no result)",
            "load": f"{load:.1f}-{os.getloadavg()[0]:.1f}",
        }
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        msg = f"worker {spec['kind']}/{spec.get('route')} failed:\n{proc.stderr[-3000:]}"
        raise RuntimeError(msg)
    out: dict[str, Any] = json.loads(lines[-1][len(RESULT) :])
    out["wall_s"] = time.monotonic() - started
    out["load"] = f"{load:.1f}-{os.getloadavg()[0]:.1f}"
    return out


# --------------------------------------------------------------------------- worker
def _kpis(k: Any) -> dict[str, Any]:
    return {
        "people": int(k.people),
        "events": int(k.events),
        "sessions": int(k.sessions),
        "conversions": int(k.conversions),
        "revenue": round(float(k.revenue), 2),
        "newly_known": None if k.newly_known is None else int(k.newly_known),
    }


def _bench_params() -> dict[str, dt.datetime]:
    """The campaign's bounds as window.sql binds them (naive UTC)."""
    from journey_core.rules.query import JourneyQuery

    query = JourneyQuery(as_of=_as_of(), event_date=campaign_start())
    assert query.start is not None

    def naive(value: dt.datetime) -> dt.datetime:
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    return {  # as bench_rules.py binds window.sql for the event_date rule
        "as_of": naive(query.as_of),
        "window_start": naive(query.window_start),
        "start": naive(query.start),
        "lookback_start": naive(query.lookback_start),
    }


def _headline(row: Any) -> dict[str, Any]:
    people, events, sessions, conversions, revenue, newly = row
    return {
        "people": int(people),
        "events": int(events),
        "sessions": int(sessions),
        "conversions": int(conversions),
        "revenue": round(float(revenue), 2),
        "newly_known": int(newly),
    }


def baseline_sql() -> str:
    """ONE hand-written DuckDB aggregate: ``sql/campaign_kpis.sql`` over ``sql/window.sql``
    (without its ORDER BY); parameters as :func:`_bench_params`."""
    window = (BENCH / "sql" / "window.sql").read_text()
    rule = window[: window.rindex("ORDER BY")]
    return (BENCH / "sql" / "campaign_kpis.sql").read_text().replace("{rule}", rule)


def _baseline(path: str) -> Callable[[], dict[str, Any]]:
    """ONE hand-written DuckDB aggregate (:func:`baseline_sql`)."""
    import duckdb

    from journey_core.warehouse import DUCKDB_CONFIG

    sql = baseline_sql()
    params = _bench_params()
    con = duckdb.connect(path, read_only=True, config=DUCKDB_CONFIG)

    def run() -> dict[str, Any]:
        (row,) = con.sql(sql, params=params).fetchall()
        return _headline(row)

    return run


def _postgres_baseline(url: str) -> Callable[[], dict[str, Any]]:
    """ONE hand-written PostgreSQL aggregate (``sql/campaign_kpis_postgres.sql``), in a
    transaction with the product's reading settings (``POSTGRES_SETTINGS``)."""
    import sqlalchemy as sa

    from journey_core.warehouse import create_engine
    from journey_core.warehouse.read import POSTGRES_SETTINGS

    sql = sa.text((BENCH / "sql" / "campaign_kpis_postgres.sql").read_text())
    params = _bench_params()
    engine = create_engine(url)
    setting = sa.text("SELECT set_config(:name, :value, true)")

    def run() -> dict[str, Any]:
        with engine.connect() as conn:
            for name, value in POSTGRES_SETTINGS.items():
                conn.execute(setting, {"name": name, "value": value})
            return _headline(conn.execute(sql, params).one())

    return run


def _route(spec: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    from journey_core.rules.query import JourneyQuery

    route = spec["route"]
    if route == "baseline":
        if spec["url"].startswith("postgresql"):
            return _postgres_baseline(spec["url"])
        return _baseline(spec["path"])
    from journey_core.analytics import campaign as an
    from journey_core.warehouse import create_engine, fetch_journeys
    from journey_core.warehouse.figures import campaign_figures

    engine = create_engine(spec["url"])
    query = JourneyQuery(as_of=_as_of(), event_date=campaign_start())
    assert query.start is not None
    start = query.start

    if route == "sql":
        return lambda: _kpis(campaign_figures(engine, query).kpis)

    def polars_route() -> dict[str, Any]:
        rows = an.with_sessions(fetch_journeys(engine, query).frame)
        report = an.campaign_report(rows, start=start, end=query.as_of, tz=query.timezone)
        assert report.kpis is not None
        return _kpis(report.kpis)

    return polars_route


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Time one route of the campaign figures: a warm-up, then ``runs`` runs (1 if slow)."""
    run = _route(spec)
    started = time.perf_counter()
    kpis = run()
    warm = time.perf_counter() - started
    times = []
    runs = spec["runs"] if warm < spec.get("slow_s", 60) else 1
    for _ in range(runs):
        started = time.perf_counter()
        kpis = run()
        times.append(time.perf_counter() - started)
    return {
        "seconds": statistics.median(times),
        "times": times,
        "first_s": warm,
        "kpis": kpis,
        "peak_mb": _hwm_mb(),
    }


# --------------------------------------------------------------------------- data
def _utc_minute(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))


def demo_path(data: Path, size: str) -> Path:
    return data / f"demo-{size}.duckdb"


def ensure_demo(data: Path, size: str, record: Callable[..., None]) -> Path:
    """The DuckDB demo of ``size`` events, built (and its build measured) when missing."""
    path = demo_path(data, size)
    sidecar = path.with_name(path.name + ".build.json")
    if not path.exists():
        print(f"building {path} ...", flush=True)
        args = ["demo", "--db", f"duckdb:///{path}", "--events", str(SIZES[size])]
        got = journey_cli([*args, "--seed", str(SEED), "--end", END])
        wrote = re.search(r"Wrote ([\d,]+) events", got["stderr"])
        build = {
            "seconds": got["seconds"],
            "peak_mb": got["peak_mb"],
            "events": int(wrote.group(1).replace(",", "")) if wrote else None,
            "load": got["load"],
            "file_mb": path.stat().st_size / 1e6,
            "measured": _utc_minute(time.time()),
        }
        sidecar.write_text(json.dumps(build))
    if sidecar.exists():
        build = json.loads(sidecar.read_text())
        # when the build was measured (the file's time, for a sidecar written without it)
        build.setdefault("measured", _utc_minute(sidecar.stat().st_mtime))
        record(size, "duckdb", "demo build", "journey demo", **build)
    return path


@contextmanager
def postgres(option: str) -> Iterator[str]:
    """A PostgreSQL server URL: the given one, or a throwaway local cluster (``auto``)."""
    if option != "auto":
        yield option
        return
    sys.path.insert(0, str(ROOT))
    from tests.support.postgres import PostgresServer

    with PostgresServer() as pg:
        yield pg.admin_url()


def ensure_postgres(server: str, size: str, record: Callable[..., None]) -> str:
    """Database ``journey_scale_<size>`` on ``server``, loaded by ``journey demo`` if empty."""
    import sqlalchemy as sa

    name = f"journey_scale_{size.lower()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if found is None:  # a fixed name of our own, not user input
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            loaded = conn.execute(
                sa.text("SELECT count(*) FROM pg_tables WHERE tablename = 'events'")
            ).scalar()
    finally:
        engine.dispose()
    if not loaded:
        print(f"loading PostgreSQL {name} ...", flush=True)
        got = journey_cli(
            ["demo", "--db", url, "--events", str(SIZES[size]), "--seed", str(SEED), "--end", END]
        )
        got.pop("stderr")
        record(size, "postgres", "load", "journey demo", **got)
    return url


def parquet_dir(data: Path, path: Path, size: str) -> Path:
    """The DuckDB file's tables as Parquet (UTC instants), written by DuckDB once."""
    import duckdb

    out = data / f"parquet-{size}"
    done = out / "done"
    if done.exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        for table, select in _PARQUET.items():
            (out / table).mkdir(parents=True)
            con.sql(select).write_parquet(str(out / table / "part-0.parquet"))
    finally:
        con.close()
    done.touch()
    return out


# The canonical tables with their times as UTC instants (Parquet isAdjustedToUTC), as Spark's
# TIMESTAMP columns read them.
_PARQUET = {
    "events": "SELECT * REPLACE (occurred_at::TIMESTAMPTZ AS occurred_at) FROM events",
    "identities": "SELECT * REPLACE (identified_at::TIMESTAMPTZ AS identified_at) FROM identities",
}


@contextmanager
def spark_server() -> Iterator[Any]:
    """A local Spark Thrift server as the tests start it, sized for millions of rows."""
    sys.path.insert(0, str(ROOT))
    from tests.support.spark import SparkThriftServer

    class BenchSpark(SparkThriftServer):
        overrides: ClassVar[dict[str, str]] = {
            "spark.driver.memory": "4g",
            "spark.sql.shuffle.partitions": "8",
            "spark.sql.adaptive.enabled": "true",
            "spark.sql.codegen.wholeStage": "true",
        }

        def _command(self, base: Path) -> list[str]:
            cmd = super()._command(base)
            for i, item in enumerate(cmd):
                key, _, value = item.partition("=")
                if key in self.overrides:
                    cmd[i] = f"{key}={self.overrides[key]}"
                elif key == "spark.driver.extraJavaOptions":  # full JIT, default GC
                    flags = value.replace("-XX:TieredStopAtLevel=1", "")
                    cmd[i] = f"{key}={flags.replace('-XX:+UseSerialGC', '').strip()}"
            return cmd

    with BenchSpark() as server:
        yield server


def load_spark(server: Any, folder: Path) -> None:
    from tests.support.spark import _DDL

    for table in ("events", "identities"):
        server.execute(f"DROP TABLE IF EXISTS default.{table}")
        server.execute(
            f"CREATE TABLE default.{table} ({_DDL[table]}) USING parquet LOCATION %(path)s",
            {"path": str(folder / table)},
        )


# --------------------------------------------------------------------------- the page
PAGES: dict[str, str] = {"page": "campaign", "attribution page": "attribution"}
"""Each page row (its ``what``): the dashboard page's path."""


def people_label(what: str) -> str:
    """The key figure of the cohort's people on the page of ``what`` (the two pages' cohorts
    are the same campaign's); imported here, not at the top: a figures worker runs this file
    and its peak must not carry the dashboard's modules."""
    from journey_ui.figures.palette import COHORT_PEOPLE, KNOWN_ACTIVE

    return {"page": KNOWN_ACTIVE, "attribution page": COHORT_PEOPLE}[what]


def _shown_figures(page: Any) -> dict[str, str]:
    """The key figures (``st.metric``) the page shows: label to value, as displayed."""
    shown: dict[str, str] = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        shown[label] = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return shown


def measure_page(
    url: str,
    *,
    cap_mb: float,
    timeout_s: float,
    screenshot: Path | None = None,
    what: str = "page",
) -> dict[str, Any]:
    """A dashboard page (:data:`PAGES` of ``what``: the Campaign influence page by default)
    in a real dashboard process on the warehouse ``url``: seconds, its VmHWM and the key
    figures it showed (``shown``).

    With ``screenshot``, the page as it stands at the end is saved there (1440x900).
    """
    sys.path.insert(0, str(ROOT))
    from playwright.sync_api import sync_playwright
    from tests.support.browser import StreamlitServer, launch_browser

    stamp = END
    url_path = f"{PAGES[what]}?event_date={campaign_start().isoformat()}&as_of={stamp}"
    env = {"JOURNEY_DATABASE_URL": url, "PYTHONPATH": _env()["PYTHONPATH"]}
    load = os.getloadavg()[0]
    app = StreamlitServer(cwd=ROOT, env=env, timeout=120)
    app.start()
    popen = app.server.popen
    assert popen is not None
    pid = popen.pid
    peak = {"rss": 0.0, "capped": False}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.25):
            rss = _rss_mb(pid)
            peak["rss"] = max(peak["rss"], rss)
            if rss > cap_mb:
                peak["capped"] = True
                app.stop(timeout=5)
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    status = "interactive"
    started = time.monotonic()
    shown = float("nan")
    figures: dict[str, str] = {}
    try:
        with sync_playwright() as pw:
            browser = launch_browser(pw)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(timeout_s * 1000)
            try:
                page.goto(f"{app.url}/{url_path}")
                error = '[data-testid="stException"], [data-testid="stAlertContentError"]'
                # a chart, or an error in its place (the page then has none to wait for):
                # the period's figures are drawn; the previous period's come after them
                page.wait_for_function(
                    "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 1"
                    f" || document.querySelector('{error}') !== null"
                )
                shown = time.monotonic() - started
                ready = '[data-testid="stApp"][data-test-script-state="notRunning"]'
                for _ in range(3):
                    page.wait_for_selector(ready)
                    page.wait_for_timeout(300)
                errors = page.locator(error)
                if errors.count():
                    status = f"error shown: {errors.first.inner_text()[:300]}"
                figures = _shown_figures(page)
                if screenshot is not None:
                    page.screenshot(path=str(screenshot), full_page=True)
            except Exception as exc:  # a capped or slow page is a result too
                status = "stopped at cap" if peak["capped"] else f"failed: {type(exc).__name__}"
            finally:
                browser.close()
        seconds = time.monotonic() - started
        hwm = peak["rss"] if peak["capped"] else max(_hwm_mb(pid), peak["rss"])
    finally:
        stop.set()
        app.stop()
        app.close_logs()
    if peak["capped"]:
        status = f"stopped at {cap_mb:.0f} MB cap"
    return {
        "seconds": seconds,
        "peak_mb": hwm,
        "status": status,
        "figures_s": shown,
        "shown": figures,
        "load": f"{load:.1f}-{os.getloadavg()[0]:.1f}",
    }


# --------------------------------------------------------------------------- results
class Results:
    """Rows kept in :data:`RESULTS_JSON`, keyed by size, engine, what and route."""

    def __init__(self, path: Path = RESULTS_JSON) -> None:
        self.path = path
        self.rows: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self.rows = json.loads(self.path.read_text())

    def record(self, size: str, engine: str, what: str, route: str, **values: Any) -> None:
        """Keep one row (replacing its earlier measurement) and rewrite the RESULTS table."""
        row = {"size": size, "engine": engine, "what": what, "route": route, **values}
        row.setdefault("measured", _utc_minute(time.time()))
        if self.path.exists():  # another run may have added or re-measured rows: keep theirs
            self.rows = {**self.rows, **json.loads(self.path.read_text())}
        self.rows[f"{size}|{engine}|{what}|{route}"] = row
        self.path.write_text(json.dumps(self.rows, indent=1, default=str) + "\n")
        print(json.dumps(row, default=str), flush=True)
        write_results(self)

    def get(self, size: str, engine: str, what: str, route: str) -> dict[str, Any] | None:
        return self.rows.get(f"{size}|{engine}|{what}|{route}")


def _machine() -> str:
    import duckdb
    import polars as pl

    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = next(
        int(line.split()[1]) / 1024 / 1024
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return (
        f"{os.cpu_count()} cores ({model}), {mem:.1f} GB RAM; Python "
        f"{platform.python_version()}, Polars {pl.__version__}, DuckDB {duckdb.__version__}"
    )


_ORDER = {"1M": 0, "10M": 1, "100M": 2}
_WHAT = {"demo build": 0, "load": 1, "figures": 2, "export": 3, "page": 4, "attribution page": 5}


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _note(row: dict[str, Any], results: Results) -> str:
    """The row's note column: what it measured, then its hand-written ``note`` if any."""
    found = _measured_note(row, results)
    extra = row.get("note")
    return f"{found}; {extra}" if extra and found else str(extra or found)


def _measured_note(row: dict[str, Any], results: Results) -> str:
    if row.get("status"):
        notes = [str(row["status"])]
        shown = row.get("figures_s")
        if row["what"] == "page" and shown is not None and shown == shown:  # not NaN
            notes.append(f"figures shown at {shown:,.0f} s")
        if row["what"] in PAGES:
            notes.append(_people_note(row, results))
        return "; ".join(filter(None, notes))
    if row["what"] == "figures":
        return "; ".join(filter(None, [_figures_note(row, results), _first_run(row)]))
    if row["what"] == "demo build":
        return f"{_fmt(row.get('events'))} events, file {_fmt(row.get('file_mb'))} MB"
    return str(row.get("status", ""))


def _people_note(row: dict[str, Any], results: Results) -> str:
    """A page row's people shown; on the Attribution page, checked against the Campaign
    page's (the same cohort) of the same size and engine."""
    label = people_label(row["what"])
    people = (row.get("shown") or {}).get(label)
    if people is None:
        return ""
    if row["what"] == "page":
        return f"{people} people"
    campaign = results.get(row["size"], row["engine"], "page", "dashboard") or {}
    theirs = (campaign.get("shown") or {}).get(people_label("page"))
    if theirs is None:
        return f"{people} people"
    same = "=" if theirs == people else "DIFFERS from"
    return f"{people} people ({same} the Campaign page's {theirs})"


def _figures_note(row: dict[str, Any], results: Results) -> str:
    if row["route"] == "baseline" and row["engine"] == "duckdb":
        k = row.get("kpis") or {}
        return f"{k.get('people', 0):,} people, {k.get('events', 0):,} rows"
    base = results.get(row["size"], "duckdb", "figures", "baseline")
    if base and row.get("kpis") is not None:
        # Rows rebuilt from the table before results_scale.json was kept (2026-12-05) keep
        # only people and events: the figures both rows have are compared.
        theirs, ours = base.get("kpis") or {}, row["kpis"]
        same = all(theirs[key] == ours[key] for key in theirs.keys() & ours.keys())
        return "headline figures = baseline" if same else f"DIFFERS: {row['kpis']}"
    return ""


def _first_run(row: dict[str, Any]) -> str:
    """The warm-up's time: the first run in a fresh process, what a first page visit pays."""
    first = row.get("first_s")
    return "" if first is None else f"first run {_fmt(first, 1)} s"


def _ratio(row: dict[str, Any], results: Results) -> str:
    if row["what"] != "figures":
        return ""
    if row["engine"] == "duckdb":  # against the hand-written query
        if row["route"] == "baseline":
            return ""
        base = results.get(row["size"], "duckdb", "figures", "baseline")
    else:  # the sql route and the hand-written query against the engine's Polars route
        if row["route"] == "polars":
            return ""
        base = results.get(row["size"], row["engine"], "figures", "polars")
    if not base:
        return ""
    if not row.get("seconds") or not base.get("seconds"):
        return ""
    return f"{row['seconds'] / base['seconds']:.2f}x"


def _cell(text: str) -> str:
    """``text`` on one line of a Markdown table (an error message may span several)."""
    return " ".join(text.split()).replace("|", "\\|")


def table(results: Results) -> list[str]:
    rows = sorted(
        results.rows.values(),
        key=lambda r: (
            _ORDER.get(r["size"], 9),
            _WHAT.get(r["what"], 9),
            r["engine"],
            r["route"],
        ),
    )
    out = [
        "| size | engine | measured | route | seconds | vs | peak MB | note | load | when |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['size']} | {r['engine']} | {r['what']} | {r['route']} "
            f"| {_fmt(r.get('seconds'), 1)} | {_ratio(r, results)} | {_fmt(r.get('peak_mb'))} "
            f"| {_cell(_note(r, results))} | {r.get('load', '')} | {r.get('measured', '')} |"
        )
    return out


def targets(results: Results) -> list[str]:
    out = []
    sql = results.get("100M", "duckdb", "figures", "sql")
    base = results.get("100M", "duckdb", "figures", "baseline")
    if sql and base and sql.get("seconds") and base.get("seconds"):
        ratio = sql["seconds"] / base["seconds"]
        out.append(
            f"- campaign figures at 100M, DuckDB, within 1.5x of the hand-written query: "
            f"{ratio:.2f}x, {'met' if ratio <= 1.5 else 'MISSED'}"
        )
    pages = [results.get(s, "duckdb", "page", "dashboard") for s in _ORDER]
    peaks = [(s, p["peak_mb"], p.get("status")) for s, p in zip(_ORDER, pages, strict=True) if p]
    if peaks:
        worst = max(peak for _, peak, _ in peaks)
        flat = all(status == "interactive" for _, _, status in peaks) and worst < 600
        listed = ", ".join(
            f"{s} {peak:,.0f} MB" + ("" if status == "interactive" else " (did not open)")
            for s, peak, status in peaks
        )
        missing = [s for s, p in zip(_ORDER, pages, strict=True) if not p]
        verdict = "met" if flat else "MISSED"
        if missing and flat:
            verdict = f"met so far, not measured at {', '.join(missing)}"
        out.append(
            f"- dashboard peak RSS, Campaign influence page, flat and < 600 MB: {listed}, {verdict}"
        )
    attribution = [results.get(s, "duckdb", "attribution page", "dashboard") for s in _ORDER]
    measured = [(s, p) for s, p in zip(_ORDER, attribution, strict=True) if p]
    if measured:
        listed = ", ".join(
            f"{s} {p['peak_mb']:,.0f} MB"
            + ("" if p.get("status") == "interactive" else " (did not open)")
            for s, p in measured
        )
        out.append(f"- dashboard peak RSS, Attribution page (for the same < 600 MB aim): {listed}")
    exp = results.get("10M", "duckdb", "export", "journey export")
    if exp:
        out.append(
            f"- `journey export` event_date at 10M < 500 MB: {exp['peak_mb']:,.0f} MB, "
            f"{'met' if exp['peak_mb'] < 500 else 'MISSED'}"
        )
    pg_sql = results.get("10M", "postgres", "figures", "sql")
    pg_pl = results.get("10M", "postgres", "figures", "polars")
    if pg_sql and pg_pl and pg_sql.get("seconds") and pg_pl.get("seconds"):
        speed = pg_pl["seconds"] / pg_sql["seconds"]
        line = (
            f"- PostgreSQL campaign figures at 10M >= 5x faster than the Polars route: "
            f"{speed:.1f}x, {'met' if speed >= 5 else 'MISSED'}"
        )
        pg_base = results.get("10M", "postgres", "figures", "baseline")
        if pg_base and pg_base.get("seconds"):
            line += (
                f" (the hand-written PostgreSQL query: {pg_base['seconds']:.1f} s, "
                f"{pg_pl['seconds'] / pg_base['seconds']:.1f}x)"
            )
        out.append(line)
    return out


def write_results(results: Results) -> None:
    text = "\n".join(
        [
            f"Written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by "
            f"`bench/bench_scale.py`: {_machine()}. The machine is shared: the 1-minute load "
            "average at the start and end of each measurement is in its row. Seconds: the "
            "median of the timed runs after a warm-up (one run when the warm-up took over a "
            "minute); the note gives the warm-up's own time (the first run in a fresh process, "
            "what a first page visit pays) where it was recorded. Peak MB: VmHWM of the "
            'process that measured only that row. "vs": '
            "DuckDB rows against the hand-written query; other engines' sql route and "
            "hand-written query (baseline) against their own Polars route. Campaign: "
            f"event_date {campaign_start()} as of {END}.",
            "",
            *table(results),
            "",
            *targets(results),
        ]
    )
    begin, end = "<!-- bench_scale:begin -->", "<!-- bench_scale:end -->"
    block = f"{begin}\n{text}\n{end}"
    current = RESULTS_MD.read_text()
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(current):
        current = pattern.sub(lambda _m: block, current)
    else:
        current = current.rstrip("\n") + f"\n\n## Scale (issue 12)\n\n{block}\n"
    RESULTS_MD.write_text(current)


# --------------------------------------------------------------------------- main
def _pages(
    results: Results, size: str, engine: str, url: str, args: argparse.Namespace, data: Path
) -> None:
    """Measure the pages ``--measure`` names (``page``, ``attribution``) on ``url``, each in
    a dashboard process of its own, and keep their rows (screenshots in ``data``)."""
    suffix = "" if engine == "duckdb" else f"-{engine}"
    for what, named in (("page", "page"), ("attribution page", "attribution")):
        if named not in args.measure.split(","):
            continue
        shot = data / f"{PAGES[what]}-{size}{suffix}.png"
        got = measure_page(
            url, cap_mb=args.page_cap_mb, timeout_s=args.page_timeout_s, screenshot=shot, what=what
        )
        results.record(size, engine, what, "dashboard", **got)


def _figures(
    results: Results, size: str, engine: str, url: str, routes: list[str], args: Any, path: Path
) -> None:
    for route in routes:
        spec = {"kind": "figures", "route": route, "url": url, "path": str(path)}
        spec["runs"] = args.runs
        got = run_worker(spec, args.timeout_s)
        results.record(size, engine, "figures", route, **got)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,10M,100M")
    parser.add_argument("--data", type=Path, default=os.environ.get("JOURNEY_BENCH_DATA"))
    parser.add_argument("--engines", default="duckdb,postgres,spark")
    parser.add_argument(
        "--measure",
        default="figures,polars,export,page,attribution",
        help="what to measure (all by default)",
    )
    parser.add_argument("--pg", default="auto", help="PostgreSQL server URL, or auto")
    parser.add_argument("--pg-max", default="10M", help="largest size loaded into PostgreSQL")
    parser.add_argument("--spark-max", default="10M", help="largest size loaded into Spark")
    parser.add_argument("--polars-max", default="10M", help="largest size for the Polars route")
    parser.add_argument("--export-max", default="10M", help="largest size exported")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--timeout-s", type=float, default=1800, help="stop one figures worker after this"
    )
    parser.add_argument("--page-cap-mb", type=float, default=8000)
    parser.add_argument("--page-timeout-s", type=float, default=900)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(RESULT + json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    if args.data is None:
        parser.error("--data (or $JOURNEY_BENCH_DATA) is required")
    args.data.mkdir(parents=True, exist_ok=True)
    sizes = [s for s in args.sizes.split(",") if s]
    engines = set(args.engines.split(","))
    measure = set(args.measure.split(","))
    results = Results()

    def within(size: str, limit: str) -> bool:
        return SIZES[size] <= SIZES[limit]

    def routes(size: str) -> list[str]:
        """The figures' routes measured at ``size`` (the Polars route up to --polars-max)."""
        polars = "polars" in measure and within(size, args.polars_max)
        return ["baseline", "sql", *(["polars"] if polars else [])]

    paths = {size: ensure_demo(args.data, size, results.record) for size in sizes}
    for size in sizes:
        path = paths[size]
        if "duckdb" in engines:
            url = f"duckdb:///{path}"
            if "figures" in measure:
                _figures(results, size, "duckdb", url, routes(size), args, path)
            if "export" in measure and within(size, args.export_max):
                out = args.data / f"export-{size}.csv"
                got = journey_cli(
                    [
                        "export",
                        "--db",
                        url,
                        "--event-date",
                        campaign_start().isoformat(),
                        "--as-of",
                        END,
                        "--output",
                        str(out),
                    ]
                )
                wrote = re.search(r"Wrote ([\d,]+) rows", got["stderr"])
                got["status"] = f"{wrote.group(1) if wrote else '?'} rows, CSV "
                got["status"] += f"{out.stat().st_size / 1e6:,.0f} MB"
                out.unlink(missing_ok=True)
                got.pop("stderr")
                results.record(size, "duckdb", "export", "journey export", **got)
            _pages(results, size, "duckdb", url, args, args.data)
    if "postgres" in engines and measure & {"figures", "page", "attribution"}:
        pg_sizes = [s for s in sizes if within(s, args.pg_max)]
        if pg_sizes:
            with postgres(args.pg) as server:
                for size in pg_sizes:
                    url = ensure_postgres(server, size, results.record)
                    if "figures" in measure:
                        _figures(results, size, "postgres", url, routes(size), args, paths[size])
                    _pages(results, size, "postgres", url, args, args.data)
    if "spark" in engines and "figures" in measure:
        spark_sizes = [s for s in sizes if within(s, args.spark_max)]
        if spark_sizes:
            with spark_server() as server:
                for size in spark_sizes:
                    started = time.monotonic()
                    load_spark(server, parquet_dir(args.data, paths[size], size))
                    results.record(
                        size, "spark", "load", "parquet", seconds=time.monotonic() - started
                    )
                    _figures(results, size, "spark", server.url(), ["sql"], args, paths[size])
    write_results(results)
    print("\n".join(targets(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
