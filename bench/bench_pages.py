"""How fast the dashboard pages become interactive, in headless Chromium, on the demo warehouse.

Usage::

    .venv/bin/python bench/bench_pages.py [--db URL] [--runs 5]

Starts ``streamlit run app.py`` on the default demo warehouse (``data/demo.duckdb``, about
20k people and 1M events; built first if missing), and for each page measures the time from
navigation to "interactive": Streamlit has finished running and every Plotly chart has drawn.
The first visit fills the cache (cold); the next visits open fresh browser sessions on the same
URL (warm cache; the target is under 2 s). It also times a filter change on the campaign page,
and the campaign CSV download while the page stays usable (a rerun measured during the
download). Prints the figures; asserts nothing.

Where the time goes: beside each browser visit it reports the browser's main-thread busy time
(Chrome's ``TaskDuration``: parsing, layout, Plotly drawing), and, in process, how long each
page's script run takes once the cache is warm (``AppTest``: wall and CPU seconds), so a slow
page on a loaded machine can be told apart from a slow loader.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.browser import StreamlitServer, launch_browser  # noqa: E402

from journey_core.config import Settings  # noqa: E402
from journey_core.io.demo import build_demo  # noqa: E402
from journey_core.warehouse import create_engine, local_file, summarize  # noqa: E402

READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def ensure_demo(url: str) -> None:
    path = local_file(url)
    if path is not None and not path.exists():
        print(f"building the demo warehouse at {path} ...", flush=True)
        build_demo(url, end=dt.datetime.now(dt.UTC), progress=lambda s, f: print(f"  {f:4.0%} {s}"))


def interactive(page: Any, charts: int, timeout_ms: float = 120_000) -> None:
    """Wait for Streamlit to be idle (twice, a run may queue another) and the charts drawn."""
    for _ in range(2):
        page.wait_for_selector(READY, timeout=timeout_ms)
        page.wait_for_timeout(150)
    page.wait_for_selector(READY, timeout=timeout_ms)
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {charts}",
        timeout=timeout_ms,
    )
    if page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count():
        msg = f"the page shows an error: {page.url}"
        raise RuntimeError(msg)


def visit(
    context: Any, url: str, charts: int, shown: str = '[data-testid="stSidebar"]'
) -> tuple[float, float]:
    """Seconds from navigation to interactive, in a new tab (a new Streamlit session), and
    the seconds the browser's main thread was busy meanwhile (``TaskDuration``)."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    try:
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(shown, timeout=120_000)
        interactive(page, charts)
        elapsed = time.perf_counter() - start
        metrics = cdp.send("Performance.getMetrics")["metrics"]
        busy = next(m["value"] for m in metrics if m["name"] == "TaskDuration")
        return elapsed, float(busy)
    finally:
        page.close()


def script_runs(url: str, pages: list[tuple[str, str, int]], runs: int) -> None:
    """Each page's script run in process (``AppTest``), after one run that fills the cache:
    the server's share of a warm visit, without the browser and the network."""
    from urllib.parse import parse_qsl

    from streamlit.testing.v1 import AppTest

    os.environ["JOURNEY_DATABASE_URL"] = url
    # AppTest runs the script outside a server: Streamlit warns about it on every run.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(
        logging.ERROR
    )
    files = {
        "Recent activity": "recent",
        "Customer lookup": "customer",
        "Campaign influence": "campaign",
        "Attribution": "attribution",
        "Data quality": "quality",
    }

    def once(name: str, path: str) -> tuple[float, float]:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        at.switch_page(f"app_pages/{files[name]}.py")
        for key, value in parse_qsl(path.partition("?")[2]):
            at.query_params[key] = value
        wall, cpu = time.perf_counter(), time.process_time()
        at.run()
        if at.exception:
            raise RuntimeError(f"{name}: {at.exception[0].message}")
        return time.perf_counter() - wall, time.process_time() - cpu

    print()
    print(f"{'script run (in process)':<24}{'cold s':>8}{'warm wall s':>13}{'warm cpu s':>12}")
    for name, path, _ in pages:
        cold, _ = once(name, path)
        warm = [once(name, path) for _ in range(runs)]
        wall = statistics.median(w for w, _ in warm)
        cpu = statistics.median(c for _, c in warm)
        print(f"{name:<24}{cold:>8.2f}{wall:>13.2f}{cpu:>12.2f}", flush=True)


BARE_APP = """
import plotly.graph_objects as go
import streamlit as st

st.title("Bare page")
st.plotly_chart(go.Figure(go.Bar(x=[1, 2, 3], y=[3, 1, 2])))
"""


def bare_page(browser: Any, runs: int) -> None:
    """The same visit to a bare Streamlit page with one Plotly chart: what the browser and
    Streamlit cost on this machine now, whatever the app does (a calibration for the load)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "bare.py").write_text(BARE_APP)
        with StreamlitServer("bare.py", cwd=folder, timeout=120) as app:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            title = "h1:has-text('Bare page')"  # a single page has no sidebar
            visit(context, app.url, 1, title)
            warm = [visit(context, app.url, 1, title) for _ in range(runs)]
            context.close()
    times = [seconds for seconds, _ in warm]
    busy = statistics.median(b for _, b in warm)
    print(
        f"{'bare page, one chart':<22}{'':>9}{statistics.median(times):>16.2f}"
        f"{max(times):>13.2f}{busy:>17.2f}",
        flush=True,
    )


def navigate(context: Any, base: str, pages: list[tuple[str, str, int]], runs: int) -> None:
    """Within one session: click each page in the sidebar and time it (warm cache)."""
    page = context.new_page()
    page.set_default_timeout(120_000)
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")

    def busy() -> float:
        metrics = cdp.send("Performance.getMetrics")["metrics"]
        return float(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))

    # One session: open the customer link, then move around with the sidebar (each page keeps
    # its inputs; the campaign page starts 30 days before the as-of time).
    customer = next(path for name, path, _ in pages if name == "Customer lookup")
    page.goto(f"{base}/{customer}")
    interactive(page, 1)
    for name, _, charts in pages:
        page.get_by_role("link", name=name).click()
        page.wait_for_timeout(100)
        interactive(page, charts)
    times: dict[str, list[float]] = {name: [] for name, _, _ in pages}
    busy_times: dict[str, list[float]] = {name: [] for name, _, _ in pages}
    for _ in range(runs):
        for name, _, charts in pages:
            start, was_busy = time.perf_counter(), busy()
            page.get_by_role("link", name=name).click()
            page.wait_for_timeout(100)
            interactive(page, charts)
            times[name].append(time.perf_counter() - start)
            busy_times[name].append(busy() - was_busy)
    print()
    print(f"{'sidebar click to page':<22}{'median s':>9}{'max s':>9}{'browser busy s':>17}")
    for name, values in times.items():
        spent = statistics.median(busy_times[name])
        print(f"{name:<22}{statistics.median(values):>9.2f}{max(values):>9.2f}{spent:>17.2f}")
    page.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="warehouse URL (default: the app's default demo warehouse)")
    parser.add_argument("--runs", type=int, default=5, help="warm visits per page (default 5)")
    args = parser.parse_args()

    settings = Settings.from_env()
    url = args.db or settings.database_url
    ensure_demo(url)
    summary = summarize(create_engine(url))
    assert summary.last_event is not None
    as_of = min(summary.last_event, dt.datetime.now(dt.UTC)).replace(second=0, microsecond=0)
    stamp = as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    start = (as_of - dt.timedelta(days=30)).date().isoformat()
    email = pick_email(url, stamp, start)
    print(f"warehouse: {summary.url}: {summary.events:,} events, {summary.identities:,} identities")
    print(f"as of {stamp}; campaign start {start}; customer {email}; {args.runs} warm runs\n")

    pages = [
        ("Recent activity", f"?as_of={stamp}", 3),
        ("Customer lookup", f"customer?email={email}&as_of={stamp}", 1),
        ("Campaign influence", f"campaign?event_date={start}&as_of={stamp}", 4),
        ("Attribution", f"attribution?event_date={start}&as_of={stamp}", 4),
        ("Data quality", f"quality?as_of={stamp}", 0),
    ]
    env = {"JOURNEY_DATABASE_URL": url}
    from playwright.sync_api import sync_playwright

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average before: {load} on {os.cpu_count()} CPUs\n")
    with StreamlitServer(cwd=ROOT, env=env, timeout=120) as app, sync_playwright() as pw:
        browser = launch_browser(pw)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        print(
            f"{'new tab (session)':<22}{'cold s':>9}{'warm median s':>16}{'warm max s':>13}"
            f"{'browser busy s':>17}"
        )
        for name, path, charts in pages:
            cold, _ = visit(context, f"{app.url}/{path}", charts)
            warm = [visit(context, f"{app.url}/{path}", charts) for _ in range(args.runs)]
            times = [seconds for seconds, _ in warm]
            busy = statistics.median(b for _, b in warm)
            print(
                f"{name:<22}{cold:>9.2f}{statistics.median(times):>16.2f}{max(times):>13.2f}"
                f"{busy:>17.2f}",
                flush=True,
            )
        bare_page(browser, args.runs)
        navigate(context, app.url, pages, args.runs)
        campaign = next(path for name, path, _ in pages if name == "Campaign influence")
        campaign_interactions(browser, f"{app.url}/{campaign}")
        browser.close()
    script_runs(url, pages, args.runs)
    print(f"\nload average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


def pick_email(url: str, stamp: str, start: str) -> str:
    """A person with a long journey (a realistic timeline)."""
    from journey_core.rules.query import JourneyQuery
    from journey_core.warehouse import fetch_journeys

    query = JourneyQuery.build(now=dt.datetime.now(dt.UTC), as_of=stamp, event_date=start)
    rows = fetch_journeys(create_engine(url), query).frame
    counts = rows.group_by("email").len().sort(["len", "email"], descending=[True, False])
    return str(counts["email"][len(counts) // 10])


def campaign_interactions(browser: Any, url: str) -> None:
    """A filter change (cold, then warm) and the full CSV download while the page is used."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(url)
    interactive(page, 4)
    channel = page.get_by_role("combobox", name="Channel")
    expander = page.locator('[data-testid="stExpander"] summary').filter(has_text="Filters")
    for _ in range(5):  # open the filters (a click during a late rerun can be lost)
        expander.first.click()
        try:
            channel.wait_for(timeout=5_000)
            break
        except Exception:
            continue
    rows: dict[str, float] = {}

    def timed(action: Any) -> float:
        start = time.perf_counter()
        action()
        page.wait_for_timeout(100)
        interactive(page, 4)
        return time.perf_counter() - start

    def pick() -> None:
        channel.click()
        page.keyboard.type("Paid Search")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")

    def clear() -> None:
        channel.click()
        page.keyboard.press("Backspace")
        page.keyboard.press("Escape")

    rows["filter Channel = Paid Search (first time)"] = timed(pick)
    rows["filter cleared (cached)"] = timed(clear)
    rows["filter Channel = Paid Search (cached)"] = timed(pick)
    timed(clear)

    button = page.get_by_role("button", name="Download journeys as CSV")
    label = button.inner_text()
    start = time.perf_counter()
    with page.expect_download(timeout=300_000) as info:
        button.click()
        # The page stays usable while the file is made: switch tabs and time that rerun.
        tab_start = time.perf_counter()
        page.get_by_role("tab", name="Events").click()
        page.wait_for_selector(READY)
        during = time.perf_counter() - tab_start
    size = Path(info.value.path()).stat().st_size
    elapsed = time.perf_counter() - start
    print()
    for name, seconds in rows.items():
        print(f"campaign {name:<42}{seconds:>7.2f} s")
    what = label.split("(")[-1].rstrip(")")
    print(f"campaign CSV download, {what}: {elapsed:.2f} s, {size / 1e6:.1f} MB")
    print(f"campaign tab switch while the CSV is being made: {during:.2f} s")
    context.close()


if __name__ == "__main__":
    raise SystemExit(main())
