"""The API on a warehouse in another shape: Snowplow's atomic.events through the snowplow preset.

The API must read through the same mapping as ``journey export --mapping`` and, as it does,
look people up by user id when the mapping's identifier is ``id``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from journey_api.app import PATH, create_app
from journey_cli.commands import main as journey_main
from journey_core.config import Settings
from journey_core.warehouse.mapping import load_mapping
from tests.support.snowplow import load_snowplow

AS_OF = "2021-03-31T00:00:00Z"


@pytest.fixture(scope="module")
def snowplow_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('snowplow') / 'snowplow.duckdb'}"
    load_snowplow(url)
    return url


@pytest.fixture(scope="module")
def client(snowplow_url: str) -> Iterator[TestClient]:
    app = create_app(
        Settings(database_url=snowplow_url),
        mapping=load_mapping("snowplow"),
    )
    with TestClient(app, raise_server_exceptions=False) as tc:
        yield tc


def export(url: str, tmp_path: Path, params: dict[str, str], fmt: str) -> bytes:
    out = tmp_path / f"export.{fmt}"
    argv = ["export", "--db", url, "--mapping", "snowplow", "--as-of", AS_OF]
    argv += ["--format", fmt, "--output", str(out)]
    for name, value in params.items():
        argv += [f"--{name.replace('_', '-')}", value]
    assert journey_main(argv) == 0
    return out.read_bytes()


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"email": " Long Session "}, id="user-id"),
        pytest.param({"event_date": "2020-07-03"}, id="event_date"),
        pytest.param({"email": "long session", "event_date": "2020-07-03"}, id="both"),
    ],
)
def test_mapped_rows_equal_journey_export_with_the_mapping(
    client: TestClient, snowplow_url: str, tmp_path: Path, params: dict[str, str]
) -> None:
    expected = json.loads(export(snowplow_url, tmp_path, params, "json"))
    assert expected
    page = client.get(PATH, params={**params, "as_of": AS_OF, "limit": 10_000})
    assert page.status_code == 200, page.text
    assert page.json()["data"] == expected
    csv = client.get(PATH, params={**params, "as_of": AS_OF, "format": "csv"})
    assert csv.content == export(snowplow_url, tmp_path, params, "csv")


def test_a_bad_user_id_is_a_400(client: TestClient) -> None:
    response = client.get(PATH, params={"email": "bad\x01id", "as_of": AS_OF})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["parameter"] == "email"
    assert "is not a valid user id" in error["message"]


def test_the_wrong_mapping_is_a_503_naming_the_mapping_key(snowplow_url: str) -> None:
    app = create_app(Settings(database_url=snowplow_url))
    with TestClient(app, raise_server_exceptions=False) as tc:
        response = tc.get(PATH, params={"as_of": AS_OF})
    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert "The journey warehouse cannot be read" in message
    assert "(mapping key events." in message


def test_serve_rejects_an_unknown_mapping_before_listening(
    snowplow_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = journey_main(["serve", "--db", snowplow_url, "--mapping", "nope", "--port", "9"])
    assert code == 2
    assert "is neither a built-in preset" in capsys.readouterr().err
