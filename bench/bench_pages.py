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
"""

from __future__ import annotations

import argparse
import datetime as dt
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


def visit(context: Any, url: str, charts: int) -> float:
    """Seconds from navigation to interactive, in a new tab (a new Streamlit session)."""
    page = context.new_page()
    try:
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_selector('[data-testid="stSidebar"]', timeout=120_000)
        interactive(page, charts)
        return time.perf_counter() - start
    finally:
        page.close()


def navigate(context: Any, base: str, pages: list[tuple[str, str, int]], runs: int) -> None:
    """Within one session: click each page in the sidebar and time it (warm cache)."""
    page = context.new_page()
    page.set_default_timeout(120_000)
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
    for _ in range(runs):
        for name, _, charts in pages:
            start = time.perf_counter()
            page.get_by_role("link", name=name).click()
            page.wait_for_timeout(100)
            interactive(page, charts)
            times[name].append(time.perf_counter() - start)
    print()
    print(f"{'sidebar click to page':<22}{'median s':>9}{'max s':>9}")
    for name, values in times.items():
        print(f"{name:<22}{statistics.median(values):>9.2f}{max(values):>9.2f}")
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
    ]
    env = {"JOURNEY_DATABASE_URL": url}
    from playwright.sync_api import sync_playwright

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average before: {load} on {os.cpu_count()} CPUs\n")
    with StreamlitServer(cwd=ROOT, env=env, timeout=120) as app, sync_playwright() as pw:
        browser = launch_browser(pw)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        print(f"{'new tab (session)':<22}{'cold s':>9}{'warm median s':>16}{'warm max s':>13}")
        for name, path, charts in pages:
            cold = visit(context, f"{app.url}/{path}", charts)
            warm = [visit(context, f"{app.url}/{path}", charts) for _ in range(args.runs)]
            print(
                f"{name:<22}{cold:>9.2f}{statistics.median(warm):>16.2f}{max(warm):>13.2f}",
                flush=True,
            )
        navigate(context, app.url, pages, args.runs)
        campaign_interactions(browser, f"{app.url}/{pages[2][1]}")
        browser.close()
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
    for _ in range(5):  # open the filters (a click during a late rerun can be lost)
        page.get_by_text("Filters and funnel steps").click()
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
