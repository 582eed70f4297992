"""Property-based fuzzing of the published OpenAPI schema with Schemathesis.

Every generated request (schema-valid and schema-invalid parameters, with and without API
keys on the server) must get a documented status, a documented content type and a body that
matches the schema, and never a 5xx; schema-invalid ones must be rejected.

Not checked: that every schema-valid request is accepted. Some rules span parameters or
the clock (event_date after as_of, as_of in the future, a cursor of another query), so a
request can match the schema and still get a documented 400.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from journey_api.app import PATH, create_app
from journey_core.config import Settings
from tests.support.api_server import DEMO_END, build_demo_warehouse

KEY = "fuzz-key-0123456789"
# Schemathesis leaves its operation type generic in what from_asgi() returns.
Operation = APIOperation[Any, Any, Any, Any]
STATUSES: dict[tuple[str, bool], list[int]] = {}


@pytest.fixture(scope="module", params=[(), (KEY,)], ids=["open", "with-keys"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    url = build_demo_warehouse(tmp_path_factory.mktemp("fuzz-demo"), individuals=60)
    # "now" sits just after the demo's last event, so generated as_of values in the past
    # and "last 24 hours" both reach real rows.
    return create_app(
        Settings(database_url=url, api_keys=request.param),
        clock=lambda: DEMO_END + dt.timedelta(hours=1),
    )


@pytest.fixture(scope="module")
def operation(api: FastAPI) -> Operation:
    return schemathesis.openapi.from_asgi("/openapi.json", api)[PATH]["GET"]


# schemathesis.pytest.from_fixture() relies on a pytest internal that pytest 9 removed,
# so the operation's Hypothesis strategy is driven directly.
@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_no_5xx_and_every_response_matches_the_schema(
    operation: Operation, mode: GenerationMode
) -> None:
    keyed = bool(operation.schema.raw_schema.get("components", {}).get("securitySchemes"))

    @given(case=operation.as_strategy(generation_mode=mode), send_key=st.booleans())
    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def fuzz(case: schemathesis.Case[Operation], send_key: bool) -> None:
        # Generated cases carry a random (wrong) key; half of them get the right one. A case
        # whose header was left out on purpose (negative mode) keeps it out: that is a 401.
        right = keyed and send_key and "X-API-Key" in (case.headers or {})
        headers = {"X-API-Key": KEY} if right else None
        response = case.call_and_validate(
            headers=headers, excluded_checks=[positive_data_acceptance]
        )
        STATUSES[(mode.value, keyed)].append(response.status_code)

    STATUSES[(mode.value, keyed)] = []
    fuzz()
    seen = set(STATUSES[(mode.value, keyed)])
    assert 400 in seen
    if mode is GenerationMode.POSITIVE:
        assert 200 in seen  # the fuzzing reached the warehouse, not only validation
    if keyed:
        assert 401 in seen
