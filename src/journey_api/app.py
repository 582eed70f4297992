"""The FastAPI application: :func:`create_app` assembles the router, its services and the
error handlers (the route itself is in :mod:`journey_api.routes`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from journey_api.cache import ResultCache
from journey_api.logs import STATE_LOG, STATE_REQUEST_ID, RequestLog, logger
from journey_api.routes import (
    EXPECTED,
    PATH,
    ApiError,
    Services,
    Warehouse,
    require_key,
    router,
)
from journey_core.config import Settings
from journey_core.errors import InputError, JourneyError, WarehouseError
from journey_core.warehouse import SchemaMapping, load_mapping

DESCRIPTION = """\
Journeys of known individuals, by the same rules as the dashboard and `journey export`:

* **email** only: that person's last 90 days.
* **event_date** only: every known individual's events since that date, plus the last 90 days
  of everyone who became known on or after it.
* **email and event_date**: the campaign rule, restricted to one person.
* **neither**: the last 24 hours of every known individual.

`as_of` (optional, default now) is the time the rules look from.
JSON results are paged (`limit`, `cursor`); `format=csv` and `format=ndjson` stream the
whole result. Timestamps are ISO-8601 with offset.
"""


def _error(
    request: Request, status: int, message: str, parameter: str | None = None
) -> JSONResponse:
    state = request.scope.setdefault("state", {})
    state.setdefault(STATE_LOG, {})["error"] = parameter or status
    body = {
        "error": {
            "status": status,
            "message": message,
            "parameter": parameter,
            "expected": EXPECTED.get(parameter) if parameter else None,
            "request_id": state.get(STATE_REQUEST_ID),
        }
    }
    return JSONResponse(body, status_code=status)


def _validation_parameter(exc: RequestValidationError) -> str | None:
    for err in exc.errors():
        loc = err.get("loc", ())
        if len(loc) >= 2 and loc[0] in {"query", "header"}:
            return str(loc[1])
    return None


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return _error(request, 400, str(exc), parameter=exc.field)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return _error(request, exc.status, exc.message, parameter=exc.parameter)

    @app.exception_handler(WarehouseError)
    async def _warehouse(request: Request, exc: WarehouseError) -> JSONResponse:
        logger.warning("warehouse unavailable: %s", exc)
        message = f"The journey warehouse cannot be read. {exc}"
        return _error(request, 503, message)

    @app.exception_handler(JourneyError)
    async def _journey(request: Request, exc: JourneyError) -> JSONResponse:
        logger.error("journey error: %s", exc)
        return _error(request, 500, f"The server cannot answer this request: {exc}")

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        parameter = _validation_parameter(exc)
        expected = EXPECTED.get(parameter or "", "a valid value")
        shown = f"{parameter}: must be" if parameter else "A parameter must be"
        return _error(request, 400, f"{shown} {expected}.", parameter=parameter)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _error(request, exc.status_code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response


def _plain_parameter(parameter: dict[str, Any]) -> None:
    """``anyOf: [X, null]`` becomes ``X``: a query parameter is absent or text, never null."""
    schema = parameter.get("schema", {})
    options = schema.get("anyOf", [])
    kept = [option for option in options if option != {"type": "null"}]
    if len(options) == 2 and len(kept) == 1:
        del schema["anyOf"]
        schema.update(kept[0])


def _openapi_without_422(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The OpenAPI document as clients need it.

    Bad input is answered with 400 and ErrorBody, so FastAPI's default 422 entry goes; optional
    query parameters are shown with their own type instead of "type or null".
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
                    for parameter in operation.get("parameters", []):
                        _plain_parameter(parameter)
            components = schema.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def create_app(
    settings: Settings,
    *,
    mapping: SchemaMapping | None = None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> FastAPI:
    """The API over ``settings.database_url``, read through ``mapping`` (default: the one
    ``settings.mapping`` names).

    ``settings.api_keys`` empty means no authentication. Results are kept
    ``api_cache_seconds`` (0 turns the cache off), at most ``api_cache_rows`` rows; at most
    ``api_read_slots`` warehouse reads run at once.
    """
    services = Services(
        settings=settings,
        warehouse=Warehouse(
            settings.database_url,
            mapping=load_mapping(settings.mapping) if mapping is None else mapping,
            read_slots=settings.api_read_slots,
        ),
        cache=ResultCache(
            ttl_seconds=settings.api_cache_seconds,
            max_rows=settings.api_cache_rows,
            rows=lambda answer: answer.result.events,
        ),
        clock=clock,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        services.warehouse.dispose()

    # Swagger UI and ReDoc from files in the package (fastapi-offline), not from a CDN:
    # the docs work on a self-hosted machine without internet access.
    app = FastAPIOffline(
        title="Journey Explorer API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_middleware(RequestLog)
    _install_error_handlers(app)
    app.openapi = _openapi_without_422(app)  # type: ignore[method-assign]
    app.add_api_route("/", _to_docs, include_in_schema=False)
    # The key check only when keys are set: the OpenAPI document then shows the X-API-Key.
    app.include_router(router, dependencies=[Depends(require_key)] if settings.api_keys else [])
    return app


def _to_docs() -> RedirectResponse:
    return RedirectResponse("/docs")


__all__ = ["DESCRIPTION", "PATH", "create_app"]
