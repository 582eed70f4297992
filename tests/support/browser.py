"""Helpers for end-to-end tests: headless Chromium (Playwright) + a Streamlit server.

Playwright's own browser download is not used: we drive the system Chromium
(``$JOURNEY_CHROMIUM``, default ``/usr/bin/chromium``).

Usage::

    from playwright.sync_api import sync_playwright

    with StreamlitServer(cwd=repo_root, env={"JOURNEY_DATABASE_URL": url}) as app, \\
            sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page()
        page.goto(app.url)
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from journey_core.io.demo import build_demo
from tests.support.process import ServerProcess, free_port, http_probe

#: Where e2e tests save screenshots for a human look (git-ignored; never committed).
SCREENSHOTS = Path(__file__).resolve().parents[2] / "tests" / "screenshots"

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Playwright

__all__ = [
    "CHROMIUM_ARGS",
    "OPEN_TAB_GRID",
    "READY",
    "StreamlitServer",
    "chromium_path",
    "launch_browser",
    "pick_first_row",
    "recent_demo",
    "settle",
    "wait_for_location",
]

#: The app once a script run has ended ("initial" before the first run).
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'
#: What Streamlit draws while a lazily loaded widget's code (a date field, a metric, a select
#: box...) or Markdown's plugins are still loading: the run has ended, the widget is not there.
LOADING = '[data-testid="stSkeleton"]'

DEFAULT_CHROMIUM = "/usr/bin/chromium"

# Flags for running Debian's Chromium headless in containers/CI, without any
# background traffic (only PyPI/apt/npm are reachable on CI machines).
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
)


def chromium_path() -> str:
    """Chromium executable: ``$JOURNEY_CHROMIUM`` or ``/usr/bin/chromium``."""
    return os.environ.get("JOURNEY_CHROMIUM") or DEFAULT_CHROMIUM


def launch_browser(playwright: Playwright, *, timeout_ms: float = 30_000) -> Browser:
    """Launch the system Chromium headless through Playwright.

    The caller closes the browser (``browser.close()``), or lets the
    ``sync_playwright()`` context manager do it.
    """
    path = chromium_path()
    if not os.access(path, os.X_OK):
        msg = (
            f"Chromium not found at {path!r}; install the 'chromium' package "
            "(bash scripts/test-deps.sh) or set JOURNEY_CHROMIUM"
        )
        raise RuntimeError(msg)
    return playwright.chromium.launch(
        executable_path=path,
        headless=True,
        args=list(CHROMIUM_ARGS),
        timeout=timeout_ms,
    )


def settle(page: Page, *, timeout_ms: float = 60_000, pause_ms: float = 400) -> None:
    """Wait until Streamlit has finished running (twice: a run may queue another) and has
    drawn every element (no skeleton of a widget still loading); no exception box.

    A run's end alone is not enough: in CI a date field's code arrived after it, and a test
    that read the page's date fields found none.
    """
    for _ in range(2):
        page.wait_for_selector(READY, timeout=timeout_ms)
        page.wait_for_timeout(pause_ms)
    page.wait_for_selector(READY, timeout=timeout_ms)
    page.wait_for_function(
        "selector => document.querySelectorAll(selector).length === 0",
        arg=LOADING,
        timeout=timeout_ms,
    )
    assert page.locator('[data-testid="stException"]').count() == 0


def wait_for_location(page: Page, part: str) -> None:
    """Wait until the address bar contains ``part`` (Streamlit updates it without a reload)."""
    page.wait_for_function("part => (location.pathname + location.search).includes(part)", arg=part)


#: The data grids of the open tab (a hidden tab's grids stay in the page).
OPEN_TAB_GRID = '[role="tabpanel"]:not([hidden]) [data-testid="stDataFrame"]'


def pick_first_row(page: Page, grid: Locator) -> None:
    """Tick the row-selection box of ``grid``'s first row (a Streamlit data grid draws on a
    canvas: the box sits in its left column, under the 35 px header)."""
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)


class StreamlitServer:
    """Runs ``streamlit run <app>`` in a subprocess on 127.0.0.1:<free port>.

    :param app: script to run, relative to *cwd* (default ``app.py``).
    :param cwd: working directory (default: the current one).
    :param env: extra environment variables (e.g. ``JOURNEY_DATABASE_URL``),
        added on top of ``os.environ``; a value of ``None`` removes the variable.
    :param port: TCP port (default: a free one).
    :param timeout: seconds to wait for ``/_stcore/health`` to answer ``ok``.
    :param extra_args: more ``streamlit run`` options.

    The server's stdout/stderr go to temp files (see :meth:`output`) so a
    chatty server can never block on a full pipe.
    """

    def __init__(
        self,
        app: str | os.PathLike[str] = "app.py",
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str | None] | None = None,
        port: int | None = None,
        timeout: float = 60.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.app = str(app)
        self.cwd = Path(cwd) if cwd is not None else Path.cwd()
        self.port = port or free_port()
        self.timeout = timeout
        self.extra_args = list(extra_args)
        self.server = ServerProcess(self.command(), name="Streamlit", cwd=self.cwd, env=env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.url}/_stcore/health"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self.server.running

    def command(self) -> list[str]:
        return [
            sys.executable,
            str(Path(__file__).with_name("streamlit_main.py")),  # with thread_dump()
            "run",
            self.app,
            "--server.headless",
            "true",
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            *self.extra_args,
        ]

    def output(self) -> tuple[str, str]:
        """(stdout, stderr) captured from the server so far."""
        return self.server.output()

    def thread_dump(self, settle_seconds: float = 1.0) -> str:
        """Every thread's stack in the server now (it goes on running): for a test that finds
        a page still running after its time is up."""
        popen = self.server.popen
        if popen is None or popen.poll() is not None:
            return "(the server is not running)"
        before = len(self.output()[1])
        os.kill(popen.pid, signal.SIGUSR1)
        time.sleep(settle_seconds)
        return self.output()[1][before:]

    def start(self) -> StreamlitServer:
        self.server.start()
        self.server.wait_healthy(http_probe(self.health_url, body="ok"), timeout=self.timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole process group, SIGKILL after *timeout* seconds."""
        self.server.stop(timeout)

    def close_logs(self) -> None:
        self.server.close_logs()

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self.close_logs()


def recent_demo(directory: Path, *, individuals: int, seed: int) -> tuple[str, str]:
    """``(url, as_of)``: a demo DuckDB file in ``directory`` of ``individuals`` people whose
    last event was 3 minutes ago (Live, a page's default, shows it), and that time as a page's
    ``as_of`` (``YYYY-MM-DDTHH:MM:SSZ``)."""
    url = f"duckdb:///{directory / 'demo.duckdb'}"
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=3)
    build_demo(url, individuals=individuals, seed=seed, end=end)
    return url, end.strftime("%Y-%m-%dT%H:%M:%SZ")
