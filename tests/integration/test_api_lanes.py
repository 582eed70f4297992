"""Issue 14, soak: lookups never queue behind cohort reads, one read per query, large
results paged from the spool without re-reading or evicting the cache, cohort reads in
low-priority worker processes, the DuckDB file held only while busy."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient
from polars.testing import assert_frame_equal

from journey_api import routes as api_routes
from journey_api.app import PATH, create_app
from journey_api.workers import NICE
from journey_core.config import Settings
from journey_core.warehouse import create_engine, fetch_journeys, load_mapping
from tests.support.api_server import DEMO_AS_OF, build_demo_warehouse
from tests.support.process import wait_until

EMAIL = "ann.110@example.com"
LOOPBACK = "http://127.0.0.1"
CAMPAIGN = {"event_date": "2022-07-01", "as_of": DEMO_AS_OF}


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_demo_warehouse(tmp_path_factory.mktemp("lanes-demo"))


def client(url: str, **settings: Any) -> TestClient:
    app = create_app(Settings(database_url=url, **settings))
    return TestClient(app, base_url=LOOPBACK, raise_server_exceptions=False)


def _reads(caplog: pytest.LogCaptureFixture, rule: str) -> int:
    """Warehouse reads of ``rule`` in the request log (``cache=miss``)."""
    return sum(
        f"rule={rule} " in r.getMessage() and "cache=miss" in r.getMessage() for r in caplog.records
    )


def _whole(tc: TestClient, params: dict[str, str]) -> pl.DataFrame:
    response = tc.get(PATH, params={**params, "format": "ndjson"})
    assert response.status_code == 200
    rows = [json.loads(line) for line in response.text.splitlines() if line]
    return pl.DataFrame(rows, infer_schema_length=None)


def _all_pages(tc: TestClient, params: dict[str, str], limit: int) -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
        response = tc.get(PATH, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body["data"]
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            return pl.DataFrame(rows, infer_schema_length=None)


@pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result")
def test_a_lookup_answers_while_more_cohort_reads_wait_than_the_server_has_threads(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 48 cohort requests, more than the 40 threads FastAPI runs synchronous routes on: two
    # hold the read slots inside a real DuckDB connection, the others wait for them.
    release = threading.Event()
    inside = threading.Semaphore(0)
    engine = create_engine(demo_url)

    def held_cohorts(*args: Any, **kwargs: Any) -> Any:
        if args[1].email is None:
            with engine.connect():  # the warehouse is open and the read held there
                inside.release()
                release.wait(120)
        return fetch_journeys(*args, **kwargs)

    monkeypatch.setattr(api_routes, "fetch_journeys", held_cohorts)
    waiting = 48
    with (
        client(demo_url, api_read_slots=2, api_cache_seconds=0, api_cohort_processes=False) as tc,
        ThreadPoolExecutor(max_workers=waiting + 1) as pool,
    ):
        tc.get(PATH, params={"email": EMAIL, "as_of": DEMO_AS_OF})  # opens the warehouse
        cohorts = [
            pool.submit(
                tc.get, PATH, params={"event_date": "2022-07-01", "as_of": f"2022-08-30T{h:02}:00Z"}
            )
            for h in range(waiting // 2)
            for _ in range(2)
        ]
        assert inside.acquire(timeout=60)
        assert inside.acquire(timeout=60)
        time.sleep(0.5)  # let the other cohort requests arrive and wait
        lookup = pool.submit(tc.get, PATH, params={"email": EMAIL, "as_of": DEMO_AS_OF})
        try:
            assert lookup.result(timeout=60).status_code == 200
            assert sum(f.done() for f in cohorts) == 0
        finally:
            release.set()
        assert [f.result(timeout=120).status_code for f in cohorts] == [200] * waiting
    engine.dispose()


@pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result")
def test_concurrent_identical_cohort_reads_share_one_read_even_when_not_cached(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = 0
    started = threading.Event()
    release = threading.Event()

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        if args[1].email is None:
            reads += 1
            started.set()
            release.wait(60)
        return fetch_journeys(*args, **kwargs)

    monkeypatch.setattr(api_routes, "fetch_journeys", counted)
    settings = {"api_cache_rows": 10, "api_spool_mb": 0, "api_cohort_processes": False}
    with client(demo_url, **settings) as tc, ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(tc.get, PATH, params=CAMPAIGN)
        assert started.wait(60)
        others = [pool.submit(tc.get, PATH, params=CAMPAIGN) for _ in range(5)]
        time.sleep(1.0)  # the others arrive while the first read is held
        release.set()
        bodies = [f.result(timeout=60).json() for f in [first, *others]]
    assert reads == 1
    assert all(body == bodies[0] for body in bodies)


def test_a_result_larger_than_the_cache_is_read_once_and_evicts_nothing(
    demo_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with client(demo_url, api_cohort_processes=False) as tc:
        whole = _whole(tc, CAMPAIGN)
    assert whole.height > 200
    lookup = {"email": EMAIL, "as_of": DEMO_AS_OF}
    # Room for the campaign or the lookup, not both: before, paging the campaign evicted the
    # lookup, and a cache smaller than it read the warehouse again for every page.
    for processes in (False, True):
        caplog.clear()
        with (
            caplog.at_level(logging.INFO, logger="journey_api"),
            client(
                demo_url, api_cache_rows=whole.height + 10, api_cohort_processes=processes
            ) as tc,
        ):
            assert tc.get(PATH, params=lookup).status_code == 200
            paged = _all_pages(tc, CAMPAIGN, limit=37)
            assert tc.get(PATH, params=lookup).status_code == 200
        assert _reads(caplog, "event_date") == 1, processes
        assert _reads(caplog, "email") == 1, processes
        assert_frame_equal(paged, whole)


def test_cohort_reads_run_in_worker_processes_of_lower_priority(demo_url: str) -> None:
    app = create_app(Settings(database_url=demo_url, api_cache_rows=10))
    with TestClient(app, base_url=LOOPBACK) as tc:
        assert tc.get(PATH, params=CAMPAIGN).status_code == 200
        workers = app.state.services.warehouse.workers
        assert workers is not None
        pids = workers.pids()
        assert pids
        assert os.getpid() not in pids
        lowered = min(os.getpriority(os.PRIO_PROCESS, 0) + NICE, 19)  # 19: the lowest

        def priorities() -> str | None:
            nice = {pid: os.getpriority(os.PRIO_PROCESS, pid) for pid in pids}
            return None if all(v >= lowered for v in nice.values()) else f"nice values {nice}"

        # A worker spawned beside the one that read lowers its priority once it has started
        # (its initializer runs after its imports): wait for that, within a bound.
        wait_until(priorities, timeout=60, what=f"the cohort workers at nice >= {lowered}")
        assert all(os.getpriority(os.PRIO_PROCESS, pid) >= lowered for pid in pids)
        assert tc.get(PATH, params={**CAMPAIGN, "limit": "5"}).status_code == 200


def test_an_error_in_a_worker_read_is_one_error_body(tmp_path: Path) -> None:
    url = build_demo_warehouse(tmp_path)
    app = create_app(Settings(database_url=url))
    with TestClient(app, base_url=LOOPBACK, raise_server_exceptions=False) as tc:
        assert tc.get(PATH, params=CAMPAIGN).status_code == 200  # schema checked, worker up
        warehouse = app.state.services.warehouse
        deadline = time.monotonic() + 30
        while warehouse.holds_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        writer = (
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
            "con.execute('drop table events cascade'); con.close()"
        )
        path = url.removeprefix("duckdb:///")

        def write() -> str | None:
            proc = subprocess.run(
                [sys.executable, "-c", writer, path], capture_output=True, timeout=120, check=False
            )
            return None if proc.returncode == 0 else proc.stderr.decode()

        # The worker lets go of its own connection once idle too (its timer, on a busy
        # host a little later than the API's): the writer tries again until then.
        wait_until(write, timeout=30, what="the writer dropping the events table")
        response = tc.get(PATH, params={**CAMPAIGN, "as_of": "2022-08-30T00:00:00Z"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert "events" in error["message"]
    assert "Traceback" not in error["message"]


@pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result")
def test_the_duckdb_file_is_held_while_busy_and_let_go_after(tmp_path: Path) -> None:
    url = build_demo_warehouse(tmp_path)
    warehouse = api_routes.Warehouse(
        url, mapping=load_mapping("canonical"), read_slots=1, idle_seconds=0.3
    )
    query = api_routes._build_query(
        Settings(database_url=url),
        warehouse.mapping,
        now=dt.datetime.now(dt.UTC),
        email=EMAIL,
        event_date=None,
        as_of=DEMO_AS_OF,
    )
    assert api_routes._fetch(warehouse, query).events > 0
    assert warehouse.holds_file()  # the next lookup does not open the file again
    deadline = time.monotonic() + 30
    while warehouse.holds_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not warehouse.holds_file()
    writer = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
        "con.execute('delete from events'); con.close()"
    )
    path = url.removeprefix("duckdb:///")
    proc = subprocess.run(
        [sys.executable, "-c", writer, path], capture_output=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert api_routes._fetch(warehouse, query).events == 0
    warehouse.dispose()
