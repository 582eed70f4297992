"""Load test of GET /api/v1/customer-journey-details on loopback.

Builds a demo warehouse in a temporary directory (or uses --db), starts ``journey serve`` on
127.0.0.1, and runs N concurrent keep-alive clients for a fixed time (and at most a fixed
number of requests), then stops the server and prints requests/s, p50, p99 and errors.

    .venv/bin/python bench/load_api.py                       # 20 clients, 20 s, 20,000 people
    .venv/bin/python bench/load_api.py --individuals 300 --seconds 10

Clients: one in five is a sync client (a CRM pulling the campaign since 2022-07-01 page by page,
1,000 rows a page, following next_cursor, as of the demo's last midnight, starting over when
done); the others are interactive: 60% one person's journey (a random known email), 25% the
last 24 hours, 15% email + campaign date, each with a random as_of in the demo's last six hours
so that they are not served from the result cache. Only loopback is ever contacted. Exit status
1 if any request failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support

from tests.support.api_server import DEMO_END, ApiServer  # noqa: E402

from journey_api.app import PATH  # noqa: E402
from journey_api.server import is_loopback  # noqa: E402
from journey_core.io.demo import build_demo  # noqa: E402

MAX_SECONDS = 120.0
MAX_CLIENTS = 64
CAMPAIGN = "2022-07-01"


@dataclass
class Sample:
    kind: str
    status: int
    seconds: float
    nbytes: int


@dataclass
class Shared:
    deadline: float
    max_requests: int
    emails: list[str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: int = 0
    samples: list[Sample] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    def take(self) -> bool:
        with self.lock:
            if self.sent >= self.max_requests or time.monotonic() >= self.deadline:
                return False
            self.sent += 1
            return True


def iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def random_as_of(rng: random.Random) -> str:
    return iso(DEMO_END - dt.timedelta(seconds=rng.randrange(6 * 3600)))


class Client(threading.Thread):
    def __init__(self, host: str, port: int, shared: Shared, seed: int, *, sync: bool) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.shared = host, port, shared
        self.rng = random.Random(seed)
        self.sync = sync
        self.cursor: str | None = None
        self.conn: http.client.HTTPConnection | None = None

    def request(self, params: dict[str, str]) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            self.conn.request("GET", f"{PATH}?{urllib.parse.urlencode(params)}")
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise

    def next_params(self) -> tuple[str, dict[str, str]]:
        if self.sync:
            params = {"event_date": CAMPAIGN, "limit": "1000"}
            if self.cursor:
                params["cursor"] = self.cursor
            else:
                params["as_of"] = iso(DEMO_END)
            return "campaign_page", params
        roll = self.rng.random()
        if roll < 0.6:
            email = self.rng.choice(self.shared.emails)
            return "email", {"email": email, "as_of": random_as_of(self.rng)}
        if roll < 0.85:
            return "recent", {"as_of": random_as_of(self.rng)}
        email = self.rng.choice(self.shared.emails)
        params = {"email": email, "event_date": CAMPAIGN, "as_of": random_as_of(self.rng)}
        return "email_and_event_date", params

    def run(self) -> None:
        while self.shared.take():
            kind, params = self.next_params()
            started = time.perf_counter()
            try:
                status, body = self.request(params)
            except (OSError, http.client.HTTPException) as exc:
                with self.shared.lock:
                    self.shared.failures[f"{kind}: {type(exc).__name__}"] += 1
                continue
            seconds = time.perf_counter() - started
            if kind == "campaign_page" and status == 200:
                # Only the meta, at the end of the body: the client's CPU is the server's too.
                meta = json.loads(body[body.rindex(b',"meta":') + len(b',"meta":') : -1])
                self.cursor = meta["next_cursor"]  # None: start over
            with self.shared.lock:
                self.shared.samples.append(Sample(kind, status, seconds, len(body)))
                if status != 200:
                    self.shared.failures[f"{kind}: HTTP {status}"] += 1
        if self.conn is not None:
            self.conn.close()


def known_emails(host: str, port: int) -> list[str]:
    conn = http.client.HTTPConnection(host, port, timeout=120)
    params = {"event_date": CAMPAIGN, "as_of": iso(DEMO_END), "format": "ndjson"}
    conn.request("GET", f"{PATH}?{urllib.parse.urlencode(params)}")
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        raise SystemExit(f"load_api: warm-up failed with HTTP {response.status}: {body[:300]!r}")
    emails = sorted({json.loads(line)["email"] for line in body.split(b"\n") if line})
    return emails or ["nobody@example.com"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def report(shared: Shared, elapsed: float, args: argparse.Namespace, events: int | None) -> int:
    latencies = [s.seconds for s in shared.samples]
    errors = sum(shared.failures.values())
    total = len(shared.samples) + sum(
        n for k, n in shared.failures.items() if not k.split(": ")[1].startswith("HTTP")
    )
    print(
        f"load_api: {args.clients} clients, {elapsed:.1f} s, {args.individuals:,} people"
        + (f" ({events:,} events)" if events else "")
        + f", cache {'on' if args.cache else 'off'}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} (1 min, at the end)"
    )
    print(
        f"  requests {total:,}   requests/s {total / elapsed:,.1f}   "
        f"p50 {percentile(latencies, 0.5) * 1000:,.1f} ms   "
        f"p99 {percentile(latencies, 0.99) * 1000:,.1f} ms   "
        f"max {max(latencies, default=0) * 1000:,.1f} ms   errors {errors}"
    )
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in shared.samples:
        by_kind[sample.kind].append(sample)
    for kind in sorted(by_kind):
        group = by_kind[kind]
        secs = [s.seconds for s in group]
        mean_kb = sum(s.nbytes for s in group) / len(group) / 1024
        print(
            f"  {kind:<22} n {len(group):>6,}   p50 {percentile(secs, 0.5) * 1000:>8,.1f} ms"
            f"   p99 {percentile(secs, 0.99) * 1000:>8,.1f} ms   mean body {mean_kb:,.1f} KiB"
        )
    for failure, count in shared.failures.most_common(10):
        print(f"  error: {failure} x{count}")
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--individuals", type=int, default=20_000)
    parser.add_argument("--db", help="an existing demo warehouse URL (ending at 2022-08-31)")
    parser.add_argument("--no-cache", dest="cache", action="store_false")
    parser.add_argument("--cache-rows", type=int, help="JOURNEY_API_CACHE_ROWS for the server")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be from 1 to {MAX_CLIENTS}")
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be more than 0 and at most {MAX_SECONDS:g}")
    if args.max_requests < 1:
        parser.error("--max-requests must be at least 1")

    with tempfile.TemporaryDirectory(prefix="journey-load-") as tmp:
        url = args.db
        events = None
        if url is None:
            url = f"duckdb:///{Path(tmp) / 'demo.duckdb'}"
            print(f"load_api: building a {args.individuals:,}-person demo warehouse ...")
            events = build_demo(url, individuals=args.individuals, seed=7, end=DEMO_END).events
        env: dict[str, str | None] = {"JOURNEY_API_KEYS": None}
        if not args.cache:
            env["JOURNEY_API_CACHE_SECONDS"] = "0"
        if args.cache_rows is not None:
            env["JOURNEY_API_CACHE_ROWS"] = str(args.cache_rows)
        with ApiServer(db=url, env=env) as server:
            host, port = "127.0.0.1", server.port
            assert is_loopback(host)
            emails = known_emails(host, port)
            shared = Shared(
                deadline=time.monotonic() + args.seconds,
                max_requests=args.max_requests,
                emails=emails,
            )
            clients = [
                Client(host, port, shared, args.seed + i, sync=i % 5 == 4)
                for i in range(args.clients)
            ]
            started = time.monotonic()
            for client in clients:
                client.start()
            for client in clients:
                client.join(timeout=args.seconds + 120)
            elapsed = time.monotonic() - started
            stuck = sum(client.is_alive() for client in clients)
            if stuck:
                shared.failures["client still waiting at the end"] += stuck
            _, stderr = server.output()
        misses = Counter(
            line.split(" rule=")[1].split()[0]
            for line in stderr.splitlines()
            if " cache=miss" in line and " rule=" in line
        )
        print(f"load_api: warehouse reads by rule: {dict(sorted(misses.items()))}")
        if "Traceback" in stderr:
            shared.failures["traceback in the server log"] += 1
    return report(shared, elapsed, args, events)


if __name__ == "__main__":
    raise SystemExit(main())
