"""A real ``journey serve`` process on loopback, driven over HTTP like any client would."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from journey_api.app import PATH
from journey_core.io.privacy import fingerprint
from tests.support.api_server import DEMO_AS_OF, ApiServer, build_demo_warehouse

EMAIL = "ann.110@example.com"
CAMPAIGN = "2022-07-01"
KEY = "serve-test-key-0123456789"
JOURNEY = str(Path(sys.executable).with_name("journey"))

RULES = [
    pytest.param({"email": EMAIL}, "email", id="email"),
    pytest.param({"event_date": CAMPAIGN}, "event_date", id="event_date"),
    pytest.param({"email": EMAIL, "event_date": CAMPAIGN}, "email_and_event_date", id="both"),
    pytest.param({}, "recent", id="neither"),
]


def get(
    base: str,
    path: str,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Message, bytes]:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    request = urllib.request.Request(f"{base}{path}{query}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_demo_warehouse(tmp_path_factory.mktemp("serve-demo"))


@pytest.fixture(scope="module")
def server(demo_url: str) -> Iterator[ApiServer]:
    with ApiServer(db=demo_url, env={"JOURNEY_API_KEYS": None}) as api:
        yield api


def journey_export(demo_url: str, params: dict[str, str], fmt: str) -> bytes:
    argv = [JOURNEY, "export", "--db", demo_url, "--as-of", DEMO_AS_OF, "--format", fmt]
    for name, value in params.items():
        argv += [f"--{name.replace('_', '-')}", value]
    done = subprocess.run(argv, capture_output=True, check=True, timeout=120)
    return done.stdout


@pytest.mark.parametrize(("params", "rule"), RULES)
def test_every_rule_in_json_csv_and_ndjson_equals_journey_export(
    server: ApiServer, demo_url: str, params: dict[str, str], rule: str
) -> None:
    expected_rows = json.loads(journey_export(demo_url, params, "json"))
    assert expected_rows

    status, _, body = get(server.url, PATH, {**params, "as_of": DEMO_AS_OF, "limit": 10_000})
    assert status == 200
    page = json.loads(body)
    assert page["meta"]["rule"] == rule
    assert page["data"] == expected_rows

    status, headers, body = get(server.url, PATH, {**params, "as_of": DEMO_AS_OF, "format": "csv"})
    assert status == 200
    assert headers["Content-Type"].startswith("text/csv")
    assert body == journey_export(demo_url, params, "csv")

    status, headers, body = get(
        server.url, PATH, {**params, "as_of": DEMO_AS_OF, "format": "ndjson"}
    )
    assert status == 200
    assert headers["Content-Type"] == "application/x-ndjson"
    assert [json.loads(line) for line in body.split(b"\n")[:-1]] == expected_rows


def test_pages_return_every_row_exactly_once(server: ApiServer) -> None:
    params = {"event_date": CAMPAIGN, "as_of": DEMO_AS_OF}
    status, _, body = get(server.url, PATH, {**params, "format": "ndjson"})
    assert status == 200
    whole = [json.loads(line) for line in body.split(b"\n")[:-1]]
    rows: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        extra: dict[str, str] = {"cursor": cursor} if cursor else {}
        status, _, body = get(server.url, PATH, {**params, "limit": 999, **extra})
        assert status == 200
        page = json.loads(body)
        rows += page["data"]
        cursor = page["meta"]["next_cursor"]
        if cursor is None:
            break
    assert cursor is None
    assert len(whole) > 999 * 3
    assert rows == whole
    assert len({row["event_id"] for row in rows}) == len(rows)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        pytest.param({"email": "nope"}, "email", id="email"),
        pytest.param({"event_date": "2022-7-1"}, "event_date", id="event_date"),
        pytest.param({"as_of": "noon"}, "as_of", id="as_of"),
        pytest.param({"limit": "100000"}, "limit", id="limit"),
        pytest.param({"cursor": "abc"}, "cursor", id="cursor"),
        pytest.param({"format": "parquet"}, "format", id="format"),
    ],
)
def test_bad_input_is_400_json(server: ApiServer, params: dict[str, str], parameter: str) -> None:
    status, headers, body = get(server.url, PATH, params)
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["parameter"] == parameter
    assert error["expected"]


def test_docs_are_served(server: ApiServer) -> None:
    status, headers, body = get(server.url, "/docs")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b"openapi.json" in body


def test_log_has_one_line_per_request_and_no_email(server: ApiServer) -> None:
    marker = "/log-marker-path"
    get(server.url, marker)
    get(server.url, PATH, {"email": EMAIL, "as_of": DEMO_AS_OF})
    get(server.url, PATH, {"email": "Someone.Else@Example.org", "as_of": "bad"})
    deadline = time.monotonic() + 10  # the line is written just after the response is sent
    while True:
        _, stderr = server.output()
        all_lines = stderr.splitlines()
        marks = [i for i, line in enumerate(all_lines) if f"path={marker} " in line]
        lines = [line for line in all_lines[marks[-1] :] if "method=GET" in line] if marks else []
        if len(lines) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(lines) == 3
    assert [line.split(" status=")[1].split()[0] for line in lines] == ["404", "200", "400"]
    assert all("duration_ms=" in line for line in lines)
    for needle in (EMAIL, "ann.110%40", "someone.else@", "Someone.Else", "%40Example"):
        assert needle not in stderr
    assert f"email={fingerprint(EMAIL)}" in lines[1]


def test_api_keys_are_required_when_set(demo_url: str) -> None:
    with ApiServer(db=demo_url, env={"JOURNEY_API_KEYS": f"other-key-000000000,{KEY}"}) as api:
        params = {"as_of": DEMO_AS_OF}
        assert get(api.url, PATH, params)[0] == 401
        assert get(api.url, PATH, params, headers={"X-API-Key": "wrong"})[0] == 401
        status, _, body = get(api.url, PATH, params, headers={"X-API-Key": KEY})
        assert status == 200
        assert json.loads(body)["meta"]["rule"] == "recent"
        _, stderr = api.output()
    assert "API keys on (2 keys)" in stderr
    assert KEY not in stderr


def test_without_keys_it_refuses_a_public_address(demo_url: str, tmp_path: Path) -> None:
    env_argv = [JOURNEY, "serve", "--db", demo_url, "--host", "0.0.0.0", "--port", "9"]
    done = subprocess.run(
        env_argv,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0 without API keys" in done.stderr
    assert "JOURNEY_API_KEYS" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_warehouse_is_a_503_and_the_server_stays_up(tmp_path: Path) -> None:
    with ApiServer(db=f"duckdb:///{tmp_path / 'absent.duckdb'}") as api:
        status, _, body = get(api.url, PATH, {"as_of": DEMO_AS_OF})
        assert status == 503
        assert "does not exist" in json.loads(body)["error"]["message"]
        assert get(api.url, "/openapi.json")[0] == 200
        # SIGTERM is a graceful shutdown; uvicorn re-raises the signal once it is done.
        assert api.stop() in {0, -15}
        _, stderr = api.output()
    assert "Finished server process" in stderr
    assert "Traceback" not in stderr
