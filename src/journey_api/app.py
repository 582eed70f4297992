"""The FastAPI application: :func:`create_app` assembles the router, its services and the
error handlers (the route itself is in :mod:`journey_api.routes`).
"""

from __future__ import annotations

import datetime as dt
import re
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
from journey_api.hosts import TrustedHosts, allowed_hosts
from journey_api.logs import STATE_LOG, STATE_REQUEST_ID, RequestLog, logger
from journey_api.routes import (
    EXPECTED,
    PATH,
    ApiError,
    Services,
    Warehouse,
    kept_bytes,
    kept_rows,
    require_key,
    router,
)
from journey_api.spool import ResultSpool
from journey_core.config import Settings
from journey_core.errors import InputError, JourneyError, WarehouseError
from journey_core.io.privacy import derive_key, mask_text, use_secret
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


MEGABYTE = 1024 * 1024
CACHE_ENTRY_SHARE = 0.25
"""The largest share of the memory cache one result may take; larger ones go to the spool."""

# What a public error body must not show, each with the words it is replaced by.
_PRIVATE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b[a-z][a-z0-9+.\-]*://\S+", re.IGNORECASE), "the configured URL"),
    (re.compile(r"(?<=DuckDB file) \S+"), ""),
    (re.compile(r"(?<=another process) \(PID \d+\)"), ""),
    (re.compile(r"(?<!\w)(?:[A-Za-z]:)?(?:[\\/][\w.\-~$@%+]+)+[\\/]?"), "the file"),
    (  # a relative path: folders, then a file name with an extension (not "and/or")
        re.compile(
            r"(?<![\w.\-~$@%+])(?:[\w\-~$@%+][\w.\-~$@%+]*[\\/])+[\w.\-~$@%+]*\.[A-Za-z]\w{0,7}\b"
        ),
        "the file",
    ),
    (re.compile(r"\(?\bPID[ :=]*\d+\)?", re.IGNORECASE), "another process"),
    (re.compile(r"\bby user \S+"), ""),
    (
        re.compile(
            r"\[[0-9A-Fa-f:.]+\](?::\d+)?|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?"
            r"|\b(?=[\w.\-]*[A-Za-z])[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*"
            r":(?:\d{1,5}\b|default port)"
        ),
        "the configured host",
    ),
)


def public_message(text: str) -> str:
    r"""``text`` without file paths, URLs, host:port or process ids, for a response body
    (the log keeps the detail).

    >>> public_message("Cannot reach the warehouse at db.internal:5432: refused.")
    'Cannot reach the warehouse at the configured host: refused.'
    >>> public_message('Could not set lock on "/srv/w.duckdb": held by /usr/bin/python (PID 7)')
    'Could not set lock on "the file": held by the file another process'
    >>> public_message("The DuckDB file data/w.duckdb is being written by another process "
    ...                "(PID 7), e.g. a loading job.")
    'The DuckDB file is being written by another process, e.g. a loading job.'
    >>> public_message("The warehouse file data/w.duckdb does not exist (see conf\\map.toml)")
    'The warehouse file the file does not exist (see the file)'
    >>> public_message("at 23:59 the user and/or C:\\data\\w.duckdb failed")
    'at 23:59 the user and/or the file failed'
    """
    for pattern, words in _PRIVATE:
        text = pattern.sub(words, text)
    return re.sub(r" {2,}", " ", text).strip()


EXCERPT_CHARS = 40


def excerpt(value: str, *, limit: int = EXCERPT_CHARS) -> str:
    r"""``value`` as an error body may show it: at most ``limit`` characters, escaped
    (``repr``: quotes, control and invisible characters as escapes), emails masked.

    >>> excerpt("ann@example.com\x00")
    "'a***@example.com\\x00'"
    >>> len(excerpt("x" * 5000))
    42
    """
    shown = value if len(value) <= limit else value[: limit - 3] + "..."
    return mask_text(repr(shown))


def input_message(message: str, raw_values: list[str]) -> str:
    """An input error's message for a response body: a raw value it quotes in full (longer
    than an excerpt) is cut to :func:`excerpt`; emails are masked.

    >>> input_message("'ann@x.io' is not valid", ["ann@x.io"])
    "'a***@x.io' is not valid"
    """
    for raw in sorted(raw_values, key=len, reverse=True):
        if len(raw) > EXCERPT_CHARS:
            message = message.replace(repr(raw), excerpt(raw)).replace(raw, excerpt(raw))
    return mask_text(message)


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
        message = input_message(str(exc), list(request.query_params.values()))
        return _error(request, 400, message, parameter=exc.field)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        message = input_message(exc.message, list(request.query_params.values()))
        return _error(request, exc.status, message, parameter=exc.parameter)

    @app.exception_handler(WarehouseError)
    async def _warehouse(request: Request, exc: WarehouseError) -> JSONResponse:
        logger.warning("warehouse unavailable: %s", exc)
        message = f"The journey warehouse cannot be read. {public_message(str(exc))}"
        return _error(request, 503, message)

    @app.exception_handler(JourneyError)
    async def _journey(request: Request, exc: JourneyError) -> JSONResponse:
        logger.error("journey error: %s", exc)
        message = f"The server cannot answer this request: {public_message(str(exc))}"
        return _error(request, 500, message)

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

    ``settings.api_keys`` empty means no authentication (and, unless
    ``api_allowed_hosts`` says otherwise, only loopback ``Host`` names are answered). Results
    are kept ``api_cache_seconds`` (0 turns the cache off), at most ``api_cache_mb``
    megabytes and ``api_cache_rows`` rows, a result larger than a quarter of that on disk
    (at most ``api_spool_mb`` megabytes, :mod:`journey_api.spool`); at most
    ``api_read_slots`` cohort reads and ``api_lookup_slots`` person lookups run at once, each
    kind on threads of its own (:mod:`journey_api.lanes`). ``secret_key`` (if set) becomes the
    process's secret, which seals cursors and keys log fingerprints.
    """
    use_secret(settings.secret_key)
    services = Services(
        settings=settings,
        warehouse=Warehouse(
            settings.database_url,
            mapping=load_mapping(settings.mapping) if mapping is None else mapping,
            read_slots=settings.api_read_slots,
            lookup_slots=settings.api_lookup_slots,
            cohort_processes=settings.api_cohort_processes,
        ),
        cache=ResultCache(
            ttl_seconds=settings.api_cache_seconds,
            max_rows=settings.api_cache_rows,
            rows=kept_rows,
            max_bytes=settings.api_cache_mb * MEGABYTE,
            size=kept_bytes,
            entry_share=CACHE_ENTRY_SHARE,
        ),
        spool=ResultSpool(
            ttl_seconds=settings.api_cache_seconds, max_bytes=settings.api_spool_mb * MEGABYTE
        ),
        clock=clock,
        cursor_key=derive_key("api-cursor"),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if services.warehouse.workers is not None:
            services.warehouse.workers.start()
        yield
        services.warehouse.dispose()
        if services.spool is not None:
            services.spool.close()

    # Swagger UI and ReDoc from files in the package (fastapi-offline), not from a CDN:
    # the docs work on a self-hosted machine without internet access.
    app = FastAPIOffline(
        title="Journey Explorer API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        # No redirect is ever built from the Host header: "/path/" is a 404, not a 307.
        redirect_slashes=False,
    )
    app.state.services = services
    app.add_middleware(TrustedHosts, allowed=allowed_hosts(settings))  # inside the log
    app.add_middleware(RequestLog)
    _install_error_handlers(app)
    app.openapi = _openapi_without_422(app)  # type: ignore[method-assign]
    app.add_api_route("/", _to_docs, include_in_schema=False)
    # The key check only when keys are set: the OpenAPI document then shows the X-API-Key.
    app.include_router(router, dependencies=[Depends(require_key)] if settings.api_keys else [])
    return app


def _to_docs() -> RedirectResponse:
    return RedirectResponse("/docs")


__all__ = ["DESCRIPTION", "PATH", "create_app", "excerpt", "input_message", "public_message"]
