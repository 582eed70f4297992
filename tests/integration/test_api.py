"""GET /api/v1/customer-journey-details in process (FastAPI TestClient) on a demo warehouse."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from journey_api import routes as api_app
from journey_api.app import PATH, create_app
from journey_cli.commands import main as journey_main
from journey_core.config import Settings
from journey_core.io.privacy import fingerprint
from journey_core.warehouse import fetch_journeys
from tests.support.api_server import DEMO_AS_OF, DEMO_END, build_demo_warehouse

EMAIL = "ann.110@example.com"
CAMPAIGN = "2022-07-01"
LOOPBACK = "http://127.0.0.1"  # a keyless API answers loopback Host names only

RULES = [
    pytest.param({"email": EMAIL}, "email", id="email"),
    pytest.param({"event_date": CAMPAIGN}, "event_date", id="event_date"),
    pytest.param({"email": EMAIL, "event_date": CAMPAIGN}, "email_and_event_date", id="both"),
    pytest.param({}, "recent", id="neither"),
]


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_demo_warehouse(tmp_path_factory.mktemp("api-demo"))


def make_client(url: str, clock: Any = None, **settings: Any) -> TestClient:
    """A client of the API over ``url``; ``settings`` are :class:`Settings` fields."""
    extra = {} if clock is None else {"clock": clock}
    app = create_app(Settings(database_url=url, **settings), **extra)
    return TestClient(app, base_url=LOOPBACK, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(demo_url: str) -> Iterator[TestClient]:
    with make_client(demo_url, clock=lambda: DEMO_END + dt.timedelta(days=1)) as tc:
        yield tc


def export(demo_url: str, tmp_path: Path, params: dict[str, str], fmt: str) -> bytes:
    """What `journey export` writes for the same parameters."""
    out = tmp_path / f"export.{fmt}"
    argv = ["export", "--db", demo_url, "--as-of", DEMO_AS_OF, "--format", fmt, "--output"]
    argv.append(str(out))
    for name, value in params.items():
        argv += [f"--{name.replace('_', '-')}", value]
    assert journey_main(argv) == 0
    return out.read_bytes()


def get_all_pages(client: TestClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    pages = []
    cursor = None
    for _ in range(10_000):
        response = client.get(PATH, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize(("params", "rule"), RULES)
def test_every_rule_returns_the_rows_of_journey_export(
    client: TestClient, demo_url: str, tmp_path: Path, params: dict[str, str], rule: str
) -> None:
    response = client.get(PATH, params={**params, "as_of": DEMO_AS_OF, "limit": 10_000})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    expected = json.loads(export(demo_url, tmp_path, params, "json"))
    assert expected, "the demo warehouse should have rows for every rule"
    assert body["data"] == expected
    meta = body["meta"]
    assert meta["rule"] == rule
    assert meta["as_of"] == "2022-08-31T00:00:00.000000+00:00"
    assert meta["events"] == meta["returned"] == len(expected)
    assert meta["individuals"] == len({row["email"] for row in expected})
    assert meta["next_cursor"] is None
    assert meta["message"] is None
    assert dt.datetime.fromisoformat(meta["window_start"]) < dt.datetime.fromisoformat(
        meta["as_of"]
    )


def test_rows_carry_iso_timestamps_with_offset(client: TestClient) -> None:
    body = client.get(PATH, params={"email": EMAIL, "as_of": DEMO_AS_OF, "limit": 3}).json()
    row = body["data"][0]
    assert list(row) == [
        "email",
        "known_at",
        "event_id",
        "occurred_at",
        "event_type",
        "anonymous_id",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
        "page_url",
        "referrer",
        "revenue",
        "before_known",
    ]
    for name in ("known_at", "occurred_at"):
        assert dt.datetime.fromisoformat(row[name]).utcoffset() == dt.timedelta(0)
        assert row[name].endswith("+00:00")


def test_email_is_matched_ignoring_case_and_spaces(client: TestClient) -> None:
    plain = client.get(PATH, params={"email": EMAIL, "as_of": DEMO_AS_OF}).json()
    shouted = client.get(PATH, params={"email": f"  {EMAIL.upper()} ", "as_of": DEMO_AS_OF})
    assert shouted.json()["data"] == plain["data"]


def test_unknown_email_is_an_empty_result_with_a_message(client: TestClient) -> None:
    body = client.get(PATH, params={"email": "nobody@example.com", "as_of": DEMO_AS_OF}).json()
    assert body["data"] == []
    assert body["meta"]["events"] == body["meta"]["individuals"] == 0
    assert "No known individual has the email nobody@example.com" in body["meta"]["message"]


@pytest.mark.parametrize(
    ("params", "limit"),
    [
        pytest.param({"email": EMAIL}, 5, id="email-by-5"),
        pytest.param({"event_date": CAMPAIGN}, 700, id="event_date-by-700"),
        pytest.param({}, 1, id="recent-by-1"),
    ],
)
def test_pages_return_every_row_exactly_once(
    client: TestClient, params: dict[str, str], limit: int
) -> None:
    whole = client.get(PATH, params={**params, "as_of": DEMO_AS_OF, "limit": 10_000}).json()
    pages = get_all_pages(client, {**params, "as_of": DEMO_AS_OF, "limit": limit})
    rows = [row for page in pages for row in page["data"]]
    assert rows == whole["data"]
    assert len({row["event_id"] for row in rows}) == len(rows)
    expected_pages = -(-len(whole["data"]) // limit)
    assert len(pages) == expected_pages
    assert all(page["meta"]["returned"] == limit for page in pages[:-1])
    assert {page["meta"]["events"] for page in pages} == {len(rows)}


def test_default_limit_is_1000(client: TestClient) -> None:
    body = client.get(PATH, params={"event_date": CAMPAIGN, "as_of": DEMO_AS_OF}).json()
    assert body["meta"]["events"] > 1000
    assert body["meta"]["returned"] == body["meta"]["limit"] == 1000
    assert body["meta"]["next_cursor"]


def test_cursor_pins_as_of_when_the_clock_moves(demo_url: str) -> None:
    # No as_of given: the first page looks from "now", later pages from the same instant,
    # although the clock has moved by a day in between.
    times = iter(DEMO_END - dt.timedelta(hours=6) + dt.timedelta(days=i) for i in range(10_000))
    with make_client(demo_url, clock=lambda: next(times)) as moving:
        pages = get_all_pages(moving, {"limit": 20})
    assert len(pages) > 2
    assert {page["meta"]["as_of"] for page in pages} == {"2022-08-30T18:00:00.000000+00:00"}
    rows = [row for page in pages for row in page["data"]]
    assert len(rows) == pages[0]["meta"]["events"]
    assert len({row["event_id"] for row in rows}) == len(rows)


def test_cursor_is_opaque_and_stable(client: TestClient) -> None:
    params: dict[str, str | int] = {"event_date": CAMPAIGN, "as_of": DEMO_AS_OF, "limit": 50}
    first = client.get(PATH, params=params).json()["meta"]["next_cursor"]
    again = client.get(PATH, params=params).json()["meta"]["next_cursor"]
    assert first == again
    assert "@" not in first
    assert EMAIL.split("@", maxsplit=1)[0] not in first


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param({"email": EMAIL}, id="email-added"),
        pytest.param({"event_date": "2022-07-02"}, id="event_date-changed"),
        pytest.param({"as_of": "2022-08-30T00:00:00Z"}, id="as_of-changed"),
    ],
)
def test_a_cursor_cannot_be_reused_with_other_parameters(
    client: TestClient, changed: dict[str, str]
) -> None:
    params: dict[str, str | int] = {"event_date": CAMPAIGN, "as_of": DEMO_AS_OF, "limit": 50}
    cursor = client.get(PATH, params=params).json()["meta"]["next_cursor"]
    response = client.get(PATH, params={**params, **changed, "cursor": cursor})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["parameter"] == "cursor"
    assert "other parameters" in error["message"]


def test_a_cursor_works_without_repeating_as_of(client: TestClient) -> None:
    params: dict[str, str | int] = {"event_date": CAMPAIGN, "as_of": DEMO_AS_OF, "limit": 50}
    first = client.get(PATH, params=params).json()
    second = client.get(
        PATH,
        params={"event_date": CAMPAIGN, "limit": 50, "cursor": first["meta"]["next_cursor"]},
    )
    assert second.status_code == 200, second.text
    assert second.json()["meta"]["as_of"] == first["meta"]["as_of"]
    assert second.json()["data"][0] != first["data"][-1]


@pytest.mark.parametrize(
    ("params", "rule"),
    [pytest.param(p.values[0], p.values[1], id=p.id) for p in RULES],
)
def test_csv_equals_journey_export(
    client: TestClient, demo_url: str, tmp_path: Path, params: dict[str, str], rule: str
) -> None:
    response = client.get(PATH, params={**params, "as_of": DEMO_AS_OF, "format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["x-journey-rule"] == rule
    assert f"journeys-{rule}.csv" in response.headers["content-disposition"]
    assert response.content == export(demo_url, tmp_path, params, "csv")


@pytest.mark.parametrize(
    ("params", "rule"),
    [pytest.param(p.values[0], p.values[1], id=p.id) for p in RULES],
)
def test_ndjson_equals_journey_export(
    client: TestClient, demo_url: str, tmp_path: Path, params: dict[str, str], rule: str
) -> None:
    response = client.get(PATH, params={**params, "as_of": DEMO_AS_OF, "format": "ndjson"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = response.content.split(b"\n")[:-1]
    expected = json.loads(export(demo_url, tmp_path, params, "json"))
    assert [json.loads(line) for line in lines] == expected
    assert int(response.headers["x-journey-events"]) == len(expected)


def test_large_csv_is_streamed_in_pieces(client: TestClient) -> None:
    params = {"event_date": CAMPAIGN, "as_of": DEMO_AS_OF, "format": "csv"}
    with client.stream("GET", PATH, params=params) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        events = int(response.headers["x-journey-events"])
        body = b"".join(response.iter_bytes())
    assert events > api_app.CHUNK_ROWS  # so the result spans several chunks
    assert body.count(b"email,known_at") == 1
    assert len(body.splitlines()) == events + 1


@pytest.mark.parametrize(
    ("params", "parameter", "needle"),
    [
        pytest.param({"email": "not-an-email"}, "email", "not a valid email", id="email"),
        pytest.param({"email": "a@b"}, "email", "not a valid email", id="email-no-tld"),
        pytest.param({"event_date": "07/01/2022"}, "event_date", "YYYY-MM-DD", id="date-form"),
        pytest.param({"event_date": "2022-02-30"}, "event_date", "real calendar", id="no-day"),
        pytest.param(
            {"event_date": "2022-09-01", "as_of": DEMO_AS_OF},
            "event_date",
            "after the as-of date",
            id="date-after-as_of",
        ),
        pytest.param({"as_of": "yesterday"}, "as_of", "ISO-8601", id="as_of-form"),
        pytest.param({"as_of": "2999-01-01T00:00:00Z"}, "as_of", "future", id="as_of-future"),
        pytest.param({"as_of": "0001-01-01"}, "as_of", "too early", id="as_of-year-1"),
        pytest.param({"limit": "0"}, "limit", "from 1 to 10000", id="limit-0"),
        pytest.param({"limit": "10001"}, "limit", "from 1 to 10000", id="limit-max"),
        pytest.param({"limit": "ten"}, "limit", "whole number", id="limit-text"),
        pytest.param({"format": "xml"}, "format", "json, csv, ndjson", id="format"),
        pytest.param({"cursor": "bm90LWEtY3Vyc29y"}, "cursor", "not a cursor", id="cursor"),
        pytest.param({"cursor": "%%%"}, "cursor", "not a cursor", id="cursor-not-base64"),
        pytest.param({"format": "csv", "cursor": "x"}, "cursor", "JSON only", id="csv-cursor"),
        pytest.param({"format": "ndjson", "limit": "5"}, "limit", "JSON only", id="nd-limit"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter_and_its_form(
    client: TestClient, params: dict[str, str], parameter: str, needle: str
) -> None:
    response = client.get(PATH, params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["status"] == 400
    assert error["parameter"] == parameter
    assert error["message"].startswith(f"{parameter}: ")
    assert needle in error["message"]
    assert error["expected"] == api_app.EXPECTED[parameter]
    assert error["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text


def test_missing_warehouse_file_is_a_503(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'missing.duckdb'}"
    with make_client(url) as tc:
        response = tc.get(PATH, params={"as_of": DEMO_AS_OF})
    assert response.status_code == 503
    error = response.json()["error"]
    assert "journey warehouse cannot be read" in error["message"]
    assert "does not exist" in error["message"]


def test_unreachable_server_warehouse_is_a_503_without_the_password() -> None:
    url = "postgresql+psycopg://reader:s3cret-pw@127.0.0.1:9/warehouse"  # discard port: closed
    with make_client(url) as tc:
        response = tc.get(PATH, params={"email": EMAIL, "as_of": DEMO_AS_OF})
    assert response.status_code == 503
    error = response.json()["error"]
    assert "Cannot reach the warehouse" in error["message"]
    assert "127.0.0.1:9" not in error["message"]  # a body names no host and port (issue 14)
    assert "s3cret-pw" not in response.text
    assert "Traceback" not in response.text


def test_an_unexpected_error_is_a_500_without_details(
    demo_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError(f"internal detail about {EMAIL}")

    monkeypatch.setattr(api_app, "fetch_journeys", broken)
    caplog.set_level(logging.INFO, logger="journey_api")
    with make_client(demo_url) as tc:
        response = tc.get(PATH, params={"email": EMAIL, "as_of": DEMO_AS_OF})
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["request_id"] == response.headers["x-request-id"]
    assert "internal detail" not in response.text
    assert "Traceback" not in response.text
    logged = caplog.text
    assert f"internal detail about {fingerprint(EMAIL)}" in logged  # the operator sees a tag
    assert EMAIL not in logged


KEYS = ("first-key-0123456789", "second-key-9876543210")


@pytest.fixture(scope="module")
def secured(demo_url: str) -> Iterator[TestClient]:
    with make_client(demo_url, api_keys=KEYS) as tc:
        yield tc


class TestAuth:
    @pytest.mark.parametrize(
        "headers",
        [
            pytest.param({}, id="missing"),
            pytest.param({"X-API-Key": ""}, id="empty"),
            pytest.param({"X-API-Key": "first-key-012345678"}, id="prefix"),
            pytest.param({"X-API-Key": "first-key-0123456789x"}, id="longer"),
            pytest.param({"Authorization": "Bearer first-key-0123456789"}, id="wrong-header"),
        ],
    )
    def test_without_a_matching_key_is_401(
        self, secured: TestClient, headers: dict[str, str]
    ) -> None:
        response = secured.get(PATH, params={"as_of": DEMO_AS_OF}, headers=headers)
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["parameter"] == "X-API-Key"
        assert "data" not in response.json()

    @pytest.mark.parametrize("key", KEYS)
    def test_each_listed_key_is_accepted(self, secured: TestClient, key: str) -> None:
        response = secured.get(PATH, params={"as_of": DEMO_AS_OF}, headers={"X-API-Key": key})
        assert response.status_code == 200
        assert response.json()["meta"]["rule"] == "recent"

    def test_bad_input_with_a_valid_key_is_still_a_400(self, secured: TestClient) -> None:
        response = secured.get(PATH, params={"limit": "0"}, headers={"X-API-Key": KEYS[0]})
        assert response.status_code == 400

    def test_docs_are_public_and_describe_the_key(self, secured: TestClient) -> None:
        assert secured.get("/docs").status_code == 200
        schema = secured.get("/openapi.json").json()
        schemes = schema["components"]["securitySchemes"]
        assert {"type": "apiKey", "in": "header", "name": "X-API-Key"}.items() <= next(
            iter(schemes.values())
        ).items()

    def test_the_key_is_compared_in_constant_time(
        self, demo_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls: list[tuple[bytes, bytes]] = []
        real = hmac.compare_digest

        def spy(a: bytes, b: bytes) -> bool:
            calls.append((a, b))
            return real(a, b)

        monkeypatch.setattr(hmac, "compare_digest", spy)  # what journey_api.app calls
        with make_client(demo_url, api_keys=KEYS) as tc:
            tc.get(PATH, params={"as_of": DEMO_AS_OF}, headers={"X-API-Key": "guess"})
        assert calls == [(b"guess", key.encode()) for key in KEYS]


def test_without_keys_no_header_is_needed(client: TestClient) -> None:
    assert client.get(PATH, params={"as_of": DEMO_AS_OF}).status_code == 200
    assert "securitySchemes" not in client.get("/openapi.json").json().get("components", {})


def test_one_log_line_per_request_and_never_an_email(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="journey_api")
    client.get(PATH, params={"email": EMAIL, "as_of": DEMO_AS_OF})
    client.get(PATH, params={"email": "Bad Email@example.com"})
    client.get(PATH, params={"email": EMAIL, "format": "csv", "as_of": DEMO_AS_OF})
    lines = [r.getMessage() for r in caplog.records if r.name == "journey_api"]
    request_lines = [line for line in lines if " status=" in line]
    assert len(request_lines) == 3
    assert [line.split(" status=")[1].split()[0] for line in request_lines] == [
        "200",
        "400",
        "200",
    ]
    assert all(" duration_ms=" in line for line in request_lines)
    assert "rule=email" in request_lines[0]
    assert f"email={fingerprint(EMAIL)}" in request_lines[0]
    assert "error=email" in request_lines[1]
    text = caplog.text
    for needle in (EMAIL, "ann.110%40", "Email@example.com", "email%40example"):
        assert needle not in text


def test_openapi_documents_the_endpoint(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"][PATH]["get"]
    assert operation["summary"] == "Get Customer Journey Details"
    names = [p["name"] for p in operation["parameters"]]
    assert names == ["email", "event_date", "as_of", "limit", "cursor", "format"]
    assert set(operation["responses"]) == {"200", "400", "401", "503"}
    content = operation["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/csv", "application/x-ndjson"}
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert client.get("/", follow_redirects=False).headers["location"] == "/docs"


@pytest.mark.parametrize(
    ("cache_seconds", "expected_reads"),
    [pytest.param(60.0, 1, id="cached"), pytest.param(0.0, 5, id="cache-off")],
)
def test_the_pages_of_one_query_read_the_warehouse_once(
    demo_url: str, monkeypatch: pytest.MonkeyPatch, cache_seconds: float, expected_reads: int
) -> None:
    reads: list[object] = []
    real = fetch_journeys

    def counting(*args: Any, **kwargs: Any) -> Any:
        reads.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(api_app, "fetch_journeys", counting)
    with make_client(demo_url, api_cache_seconds=cache_seconds) as tc:
        pages = get_all_pages(tc, {"email": EMAIL, "as_of": DEMO_AS_OF, "limit": 12})
    assert len(pages) == 5
    assert len(reads) == expected_reads


# The core silences this DuckDB warning with warnings.catch_warnings(), which is not
# thread-safe: concurrent reads can let it through.
@pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result")
def test_at_most_read_slots_warehouse_reads_run_at_once(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = 0
    peak = 0
    lock = threading.Lock()
    real = fetch_journeys

    def slow(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            time.sleep(0.2)
            return real(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(api_app, "fetch_journeys", slow)
    with (
        # In threads, where the patched read runs (worker processes: tests/integration/
        # test_api_lanes.py).
        make_client(
            demo_url, api_read_slots=2, api_cache_seconds=0, api_cohort_processes=False
        ) as tc,
        ThreadPoolExecutor(max_workers=6) as pool,
    ):
        futures = [
            pool.submit(tc.get, PATH, params={"as_of": f"2022-08-30T0{i}:00:00Z"}) for i in range(6)
        ]
        statuses = [f.result(timeout=60).status_code for f in futures]
    assert statuses == [200] * 6
    assert peak == 2
