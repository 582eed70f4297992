"""Bounded loopback soak: the API and the dashboard under 20 clients for 60 s, RSS sampled.

Builds a demo warehouse in a temporary directory (or uses --db), starts ``journey serve`` and the
dashboard (``streamlit run app.py``, as ``scripts/run.sh`` does) on 127.0.0.1 at free ports, and
runs N client threads for a fixed time (and at most a fixed number of requests). Each client
mixes one person's journey (``email``), the 2022-07-01 campaign page by page (``campaign``:
1,000 rows a page, following ``next_cursor`` for up to five pages, then starting over) and, now
and then, a dashboard page load (``GET /`` and ``/_stcore/health``). Every API read uses one of
ten distinct ``as_of`` values, so the result cache sees a bounded set of campaigns. The resident
memory (VmRSS, summed over each server's process group, and the API process's own without its
cohort workers) is sampled every second.

    .venv/bin/python bench/soak.py                        # 20 clients, 60 s, 20,000 people
    .venv/bin/python bench/soak.py --individuals 300 --seconds 10

Prints request counts, errors, p50/p99 per kind (and, from the API's log, the server's own time
for email lookups: in all, waiting for a lookup thread, reading), RSS first/peak/last, and checks
issue 14's bar: 0 errors, email p99 under 500 ms, RSS no longer growing. "No longer growing"
means, for each server: over the second half of the run, the least-squares slope of RSS is at
most 0.25 MB/s, or RSS never rises above the peak of the first half. Only
loopback is ever contacted; both servers are stopped (their whole process groups) at the end,
also on Ctrl-C or SIGTERM. Exit status 1 if any request failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support and bench

from bench.load_api import CAMPAIGN, iso, known_emails, percentile  # noqa: E402
from tests.support.api_server import DEMO_END, ApiServer  # noqa: E402
from tests.support.browser import StreamlitServer, launch_browser  # noqa: E402

from journey_api.app import PATH  # noqa: E402
from journey_api.server import is_loopback  # noqa: E402
from journey_core.config import ENV_DATABASE_URL  # noqa: E402
from journey_core.io.demo import build_demo  # noqa: E402

HOST = "127.0.0.1"
MAX_SECONDS = 300.0
MAX_CLIENTS = 64
AS_OF_VALUES = 10
PAGES_PER_READ = 5
EMAIL_P99_MS = 500.0
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
FLAT_MB_PER_S = 0.25  # "stops growing": a slope of at most 15 MB a minute ...
# ... over the second half of the run (after warm-up), or no new peak in it: RSS that moves
# within the bound the first half reached (caches filling and evicting) is not growing.


@dataclass
class Sample:
    kind: str
    status: int
    seconds: float


@dataclass
class Shared:
    deadline: float
    max_requests: int
    emails: list[str]
    as_of: list[str]
    page_share: float
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: int = 0
    samples: list[Sample] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    def take(self) -> bool:
        with self.lock:
            if (
                self.stop.is_set()
                or self.sent >= self.max_requests
                or time.monotonic() >= self.deadline
            ):
                return False
            self.sent += 1
            return True

    def record(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)
            if sample.status != 200:
                self.failures[f"{sample.kind}: HTTP {sample.status}"] += 1


def as_of_values(count: int) -> list[str]:
    """``count`` distinct as_of values, one every 37 minutes back from the demo's end.

    >>> as_of_values(2)
    ['2022-08-31T00:00:00Z', '2022-08-30T23:23:00Z']
    """
    return [iso(DEMO_END - dt.timedelta(minutes=37 * i)) for i in range(count)]


class Connection:
    """One keep-alive connection to a loopback server, reopened after an error."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes]:
        # A kept-alive connection the server closed while idle (uvicorn closes them after
        # 5 s) fails at once: reopen and send again, once, as browsers and urllib3 do.
        reused = self.conn is not None
        try:
            return self._get(path)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            return self._get(path)

    def _get(self, path: str) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        try:
            self.conn.request("GET", path)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Client(threading.Thread):
    def __init__(self, api_port: int, ui_port: int, shared: Shared, seed: int) -> None:
        super().__init__(daemon=True)
        self.api = Connection(api_port)
        self.ui = Connection(ui_port)
        self.shared = shared
        self.rng = random.Random(seed)
        self.cursor: str | None = None
        self.pages = 0

    def api_path(self) -> tuple[str, str]:
        if self.cursor is not None and self.pages < PAGES_PER_READ:
            params = {"event_date": CAMPAIGN, "limit": "1000", "cursor": self.cursor}
            return "campaign", f"{PATH}?{urllib.parse.urlencode(params)}"
        self.cursor, self.pages = None, 0
        as_of = self.rng.choice(self.shared.as_of)
        if self.rng.random() < 0.7:
            email = self.rng.choice(self.shared.emails)
            return "email", f"{PATH}?{urllib.parse.urlencode({'email': email, 'as_of': as_of})}"
        params = {"event_date": CAMPAIGN, "limit": "1000", "as_of": as_of}
        return "campaign", f"{PATH}?{urllib.parse.urlencode(params)}"

    def timed(self, kind: str, conn: Connection, path: str) -> bytes | None:
        started = time.perf_counter()
        try:
            status, body = conn.get(path)
        except (OSError, http.client.HTTPException) as exc:
            with self.shared.lock:
                self.shared.failures[f"{kind}: {type(exc).__name__}"] += 1
            return None
        self.shared.record(Sample(kind, status, time.perf_counter() - started))
        return body if status == 200 else None

    def run(self) -> None:
        while self.shared.take():
            if self.rng.random() < self.shared.page_share:
                if self.timed("dashboard_page", self.ui, "/") is not None:
                    self.timed("dashboard_health", self.ui, "/_stcore/health")
                continue
            kind, path = self.api_path()
            body = self.timed(kind, self.api, path)
            if kind == "campaign":
                if body is None:
                    self.cursor = None
                    continue
                # Only the meta, at the end of the body: the client's CPU is the server's too.
                meta = json.loads(body[body.rindex(b',"meta":') + len(b',"meta":') : -1])
                self.cursor = meta["next_cursor"]  # None: start over
                self.pages += 1
        self.api.close()
        self.ui.close()


class BrowserClient(threading.Thread):
    """Optional: headless Chromium opening a new dashboard session (tab) after another.

    Each visit is a customer lookup (one of the clients' emails and as_of values) or the
    recent-activity page, timed from navigation until Streamlit has finished the run.
    """

    def __init__(self, ui_url: str, shared: Shared, seed: int) -> None:
        super().__init__(daemon=True)
        self.ui_url = ui_url
        self.shared = shared
        self.rng = random.Random(seed)

    def page_url(self) -> str:
        as_of = self.rng.choice(self.shared.as_of)
        if self.rng.random() < 0.5:
            email = self.rng.choice(self.shared.emails)
            query = urllib.parse.urlencode({"email": email, "as_of": as_of})
            return f"{self.ui_url}/customer?{query}"
        return f"{self.ui_url}/?{urllib.parse.urlencode({'as_of': as_of})}"

    def run(self) -> None:
        from playwright.sync_api import Error, sync_playwright

        with sync_playwright() as pw:
            browser = launch_browser(pw)
            try:
                while self.shared.take():
                    context = browser.new_context()
                    page = context.new_page()
                    started = time.perf_counter()
                    try:
                        page.goto(self.page_url(), timeout=60_000)
                        page.wait_for_selector('[data-testid="stSidebar"]', timeout=60_000)
                        page.wait_for_timeout(150)
                        page.wait_for_selector(READY, timeout=60_000)
                        failed = page.locator(ERRORS).count() > 0
                        status = 500 if failed else 200
                        self.shared.record(
                            Sample("dashboard_session", status, time.perf_counter() - started)
                        )
                    except Error as exc:
                        with self.shared.lock:
                            self.shared.failures[f"dashboard_session: {type(exc).__name__}"] += 1
                    finally:
                        context.close()
            finally:
                browser.close()


def group_rss_mb(pgid: int) -> float:
    """VmRSS summed over the processes of process group ``pgid``, in MB (0 if none)."""
    total_kb = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            if int(stat[stat.rindex(")") + 2 :].split()[2]) != pgid:
                continue
            for line in Path(entry.path, "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total_kb / 1024


def process_rss_mb(pid: int) -> float:
    """VmRSS of process ``pid`` alone, in MB (0 if gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t, y) points; 0 for fewer than two.

    >>> slope([(0, 1.0), (1, 3.0), (2, 5.0)])
    2.0
    """
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    cov = sum((t - mean_t) * (y - mean_y) for t, y in points)
    return cov / var if var else 0.0


def growth(points: list[tuple[float, float]], elapsed: float) -> tuple[bool, str]:
    """Whether RSS ``points`` stopped growing in the second half of the run, and the figures.

    >>> growth([(0, 100.0), (1, 300.0), (2, 250.0), (3, 290.0)], 4.0)
    (True, 'second half: slope +40.00 MB/s, peak 290 MB (first half 300 MB)')
    >>> growth([(0, 100.0), (1, 110.0), (2, 120.0), (3, 130.0)], 4.0)[0]
    False
    """
    first = [y for t, y in points if t < elapsed / 2] or [0.0]
    second = [(t, y) for t, y in points if t >= elapsed / 2]
    per_s = slope(second)
    peak = max((y for _, y in second), default=0.0)
    verdict = per_s <= FLAT_MB_PER_S or peak <= max(first)
    text = (
        f"second half: slope {per_s:+.2f} MB/s, peak {peak:,.0f} MB "
        f"(first half {max(first):,.0f} MB)"
    )
    return verdict, text


def server_email_times(stderr: str) -> dict[str, list[float]]:
    """The API log's times of email lookups, in ms: the whole request, and, for those that
    read the warehouse, the wait for a lookup thread and the read.

    >>> line = "INFO request_id=1 status=200 duration_ms=52.0 rule=email queued_ms=3.5 read_ms=40.0"
    >>> server_email_times(line)["request"], server_email_times(line)["read"]
    ([52.0], [40.0])
    """
    times: dict[str, list[float]] = {"request": [], "queued": [], "read": []}
    names = {"duration_ms": "request", "queued_ms": "queued", "read_ms": "read"}
    for line in stderr.splitlines():
        if " rule=email" not in line:
            continue
        for part in line.split():
            key, _, value = part.partition("=")
            if key in names:
                try:
                    times[names[key]].append(float(value))
                except ValueError:
                    continue
    return times


def pid_of(server: ApiServer | StreamlitServer) -> int:
    popen = server.server.popen
    assert popen is not None
    return popen.pid


def run_clients(
    shared: Shared, clients: list[threading.Thread], meters: dict[str, Callable[[], float]]
) -> tuple[float, dict[str, list[tuple[float, float]]]]:
    """Start the clients, sample RSS every second until they finish; (elapsed, samples)."""
    rss: dict[str, list[tuple[float, float]]] = {name: [] for name in meters}
    started = time.monotonic()
    for client in clients:
        client.start()
    hard_stop = shared.deadline + 120
    while any(c.is_alive() for c in clients) and time.monotonic() < hard_stop:
        now = time.monotonic() - started
        for name, meter in meters.items():
            rss[name].append((now, meter()))
        time.sleep(1.0)
    elapsed = time.monotonic() - started
    stuck = sum(c.is_alive() for c in clients)
    if stuck:
        shared.failures["client still waiting at the end"] += stuck
    return elapsed, rss


def report(
    shared: Shared,
    elapsed: float,
    rss: dict[str, list[tuple[float, float]]],
    args: argparse.Namespace,
    events: int | None,
    load: tuple[float, float],
    server_times: dict[str, list[float]],
) -> int:
    errors = sum(shared.failures.values())
    print(
        f"soak: {args.clients} clients, {elapsed:.1f} s, {args.individuals:,} people"
        + (f" ({events:,} events)" if events else "")
        + f", {len(shared.as_of)} as_of values, {os.cpu_count()} CPUs, load average (1 min) "
        f"{load[0]:.1f} before, {load[1]:.1f} at the end"
    )
    print(f"  requests {len(shared.samples):,}   errors {errors}")
    by_kind: dict[str, list[float]] = defaultdict(list)
    for sample in shared.samples:
        by_kind[sample.kind].append(sample.seconds)
    for kind in sorted(by_kind):
        secs = by_kind[kind]
        print(
            f"  {kind:<18} n {len(secs):>6,}   p50 {percentile(secs, 0.5) * 1000:>8,.1f} ms"
            f"   p99 {percentile(secs, 0.99) * 1000:>8,.1f} ms"
            f"   max {max(secs) * 1000:>8,.1f} ms"
        )
    for failure, count in shared.failures.most_common(10):
        print(f"  error: {failure} x{count}")
    flat = True
    for name, points in rss.items():
        values = [y for _, y in points] or [0.0]
        verdict, text = growth(points, elapsed)
        flat = flat and verdict
        print(
            f"  RSS {name:<10} first {values[0]:,.0f} MB   peak {max(values):,.0f} MB   "
            f"last {values[-1]:,.0f} MB   {text} ({len(points)} samples)"
        )
        print(f"      every 10 s: {' '.join(f'{y:,.0f}' for y in values[::10])} MB")
    for label, ms in server_times.items():
        if ms:
            print(
                f"  API log, email {label:<9} n {len(ms):>6,}   p50 {percentile(ms, 0.5):>8,.1f} ms"
                f"   p99 {percentile(ms, 0.99):>8,.1f} ms"
            )
    email = by_kind.get("email", [])
    p99 = percentile(email, 0.99) * 1000 if email else float("nan")
    print(f"  0 errors: {'met' if errors == 0 else 'MISSED'} ({errors})")
    print(
        f"  email p99 < {EMAIL_P99_MS:.0f} ms: "
        f"{'met' if p99 < EMAIL_P99_MS else 'MISSED'} ({p99:,.0f} ms)"
    )
    print(
        f"  RSS stops growing (second half: slope <= {FLAT_MB_PER_S} MB/s, or no new peak): "
        f"{'met' if flat else 'MISSED'}"
    )
    return 1 if errors else 0


def terminate(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM behaves like Ctrl-C, so every ``with`` block stops its server."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--individuals", type=int, default=20_000)
    parser.add_argument("--db", help="an existing demo warehouse URL (ending at 2022-08-31)")
    parser.add_argument("--as-of-values", type=int, default=AS_OF_VALUES)
    parser.add_argument(
        "--page-share", type=float, default=0.01, help="share of dashboard page loads"
    )
    parser.add_argument(
        "--browser",
        action="store_true",
        help="also open dashboard sessions in headless Chromium, one after another",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be from 1 to {MAX_CLIENTS}")
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be more than 0 and at most {MAX_SECONDS:g}")
    if args.max_requests < 1:
        parser.error("--max-requests must be at least 1")
    if not 1 <= args.as_of_values <= 100:
        parser.error("--as-of-values must be from 1 to 100")
    if not 0 <= args.page_share <= 1:
        parser.error("--page-share must be from 0 to 1")
    assert is_loopback(HOST)
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started in the background

    with tempfile.TemporaryDirectory(prefix="journey-soak-") as tmp:
        url = args.db
        events = None
        if url is None:
            url = f"duckdb:///{Path(tmp) / 'demo.duckdb'}"
            print(f"soak: building a {args.individuals:,}-person demo warehouse ...")
            events = build_demo(url, individuals=args.individuals, seed=7, end=DEMO_END).events
        api_env: dict[str, str | None] = {"JOURNEY_API_KEYS": None}
        ui_env: dict[str, str | None] = {
            ENV_DATABASE_URL: url,
            "JOURNEY_PASSWORD_HASH": None,
            "JOURNEY_DASHBOARD_PUBLIC": None,
        }
        print("soak: starting journey serve and the dashboard on 127.0.0.1 ...")
        with (
            ApiServer(db=url, env=api_env, host=HOST) as api,
            StreamlitServer(cwd=ROOT, env=ui_env, timeout=120) as ui,
        ):
            emails = known_emails(HOST, api.port)
            shared = Shared(
                deadline=time.monotonic() + args.seconds,
                max_requests=args.max_requests,
                emails=emails,
                as_of=as_of_values(args.as_of_values),
                page_share=args.page_share,
            )
            clients: list[threading.Thread] = [
                Client(api.port, ui.port, shared, args.seed + i) for i in range(args.clients)
            ]
            if args.browser:
                clients.append(BrowserClient(ui.url, shared, args.seed - 1))
            api_pid, ui_pid = pid_of(api), pid_of(ui)
            meters: dict[str, Callable[[], float]] = {
                "api": lambda: group_rss_mb(api_pid),  # with its cohort worker processes
                "api main": lambda: process_rss_mb(api_pid),  # the API process alone
                "dashboard": lambda: group_rss_mb(ui_pid),
            }
            load_before = os.getloadavg()[0]
            print(f"soak: {args.clients} clients for {args.seconds:g} s ...")
            try:
                elapsed, rss = run_clients(shared, clients, meters)
            finally:
                shared.stop.set()
            load_after = os.getloadavg()[0]
            _, stderr = api.output()
            misses = Counter(
                line.split(" rule=")[1].split()[0]
                for line in stderr.splitlines()
                if " cache=miss" in line and " rule=" in line
            )
            print(f"soak: warehouse reads by rule: {dict(sorted(misses.items()))}")
            server_times = server_email_times(stderr)
            if "Traceback" in stderr:
                shared.failures["traceback in the API log"] += 1
            if "Traceback" in ui.output()[1]:
                shared.failures["traceback in the dashboard log"] += 1
    load = (load_before, load_after)
    return report(shared, elapsed, rss, args, events, load, server_times)


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("soak: interrupted; both servers stopped", file=sys.stderr)
        raise SystemExit(130) from None
