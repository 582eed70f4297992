"""The FastAPI application serving GET /api/v1/customer-journey-details.

Every rule comes from :mod:`journey_core`: ``JourneyQuery.build`` validates the parameters,
``warehouse.fetch_journeys`` reads and selects the rows, and :mod:`journey_core.io.export`
formats them, so the API, the dashboard and ``journey export`` always agree.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.security import APIKeyHeader
from fastapi_offline import FastAPIOffline
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from journey_api import cursor as cursors
from journey_api.cache import ResultCache
from journey_api.logs import STATE_LOG, STATE_REQUEST_ID, RequestLog, log_email, logger
from journey_api.models import ErrorBody, JourneyPage
from journey_core.config import Settings
from journey_core.errors import InputError, JourneyError, WarehouseError
from journey_core.io import export
from journey_core.io.privacy import mask_frame
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import JourneyResult, create_engine, fetch_journeys, verify_schema
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping

PATH = "/api/v1/customer-journey-details"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
CHUNK_ROWS = 5_000
DEFAULT_CACHE_SECONDS = 60.0
DEFAULT_CACHE_ROWS = 1_000_000
DEFAULT_READ_SLOTS = 4
API_KEY_HEADER = "X-API-Key"
ENV_API_KEYS = "JOURNEY_API_KEYS"

Format = Literal["json", "csv", "ndjson"]
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/x-ndjson",
}

# The form each parameter takes, shown with every error about it.
EXPECTED: dict[str, str] = {
    "email": "an email address, e.g. name@example.com",
    "event_date": "a date in YYYY-MM-DD form, e.g. 2022-07-01",
    "as_of": "an ISO-8601 time at or before now, e.g. 2022-08-31T23:59:59Z",
    "limit": f"a whole number from 1 to {MAX_LIMIT}, e.g. {DEFAULT_LIMIT}",
    "cursor": "the meta.next_cursor of the previous page, unchanged",
    "format": "one of json, csv, ndjson",
    API_KEY_HEADER: f"a key listed in {ENV_API_KEYS}",
}

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


_api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description=f"Required when the server sets {ENV_API_KEYS}.",
)
ApiKey = Annotated[str | None, Depends(_api_key_header)]


def parse_api_keys(raw: str | None) -> tuple[str, ...]:
    """The keys of a comma-separated ``JOURNEY_API_KEYS`` value; blanks are ignored.

    >>> parse_api_keys(" k1, ,k2 ")
    ('k1', 'k2')
    """
    if not raw:
        return ()
    return tuple(key.strip() for key in raw.split(",") if key.strip())


class ApiError(Exception):
    """An error answered with ``status`` and a JSON body naming ``parameter``."""

    def __init__(self, status: int, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter


def _iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="microseconds")


class _Warehouse:
    """One engine per app, created on first use (and retried while creation fails).

    At most ``read_slots`` reads run at once: each read already uses several cores (DuckDB
    and Polars are multi-threaded) and a campaign read of a large warehouse holds its rows in
    memory (about 1 GB at its peak on the 20,000-person demo), so many in parallel only
    thrash or exhaust memory; the others wait their turn.
    """

    def __init__(self, url: str, *, mapping: SchemaMapping, read_slots: int) -> None:
        self.url = url
        self.mapping = mapping
        self._engine: Engine | None = None
        self._fitted = mapping
        self._lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(max(1, read_slots))

    def connect(self) -> tuple[Engine, SchemaMapping]:
        """The engine and the mapping fitted to the warehouse (checked once, on first use)."""
        with self._lock:
            if self._engine is None:
                engine = create_engine(self.url)
                try:
                    self._fitted = verify_schema(engine, self.mapping)
                except BaseException:
                    engine.dispose()
                    raise
                self._engine = engine
            return self._engine, self._fitted

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None


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


def _chunks(frame: pl.DataFrame, rows: int) -> Iterator[pl.DataFrame]:
    for offset in range(0, frame.height, rows):
        yield frame.slice(offset, rows)


def csv_stream(frame: pl.DataFrame, *, chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """``export.to_csv_bytes(frame)`` in pieces: one header, then chunk after chunk."""
    if frame.is_empty():
        yield export.to_csv_bytes(frame)
        return
    for index, chunk in enumerate(_chunks(frame, chunk_rows)):
        data = export.to_csv_bytes(chunk)
        yield data if index == 0 else data.split(b"\n", 1)[1]


def ndjson_stream(frame: pl.DataFrame, *, chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """One JSON object per line, the rows of ``journey export --format json``."""
    for chunk in _chunks(frame, chunk_rows):
        yield export.for_output(chunk).write_ndjson().encode("utf-8")


def _json_rows(frame: pl.DataFrame) -> bytes:
    return export.for_output(frame).write_json().encode("utf-8")


def create_app(
    *,
    url: str,
    settings: Settings,
    api_keys: Sequence[str] = (),
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    cache_seconds: float = DEFAULT_CACHE_SECONDS,
    cache_rows: int = DEFAULT_CACHE_ROWS,
    read_slots: int = DEFAULT_READ_SLOTS,
    mapping: SchemaMapping = CANONICAL,
) -> FastAPI:
    """The API over the warehouse at ``url``, read through ``mapping``; ``api_keys`` empty
    means no authentication.

    Results are kept ``cache_seconds`` (0 turns the cache off), at most ``cache_rows`` rows;
    at most ``read_slots`` warehouse reads run at once.
    """
    warehouse = _Warehouse(url, mapping=mapping, read_slots=read_slots)
    cache: ResultCache[_Answer] = ResultCache(
        ttl_seconds=cache_seconds, max_rows=cache_rows, rows=lambda a: a.result.events
    )
    keys = tuple(key.encode("utf-8") for key in api_keys)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        warehouse.dispose()

    # Swagger UI and ReDoc from files in the package (fastapi-offline), not from a CDN:
    # the docs work on a self-hosted machine without internet access.
    app = FastAPIOffline(
        title="Journey Explorer API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.add_middleware(RequestLog)
    _install_error_handlers(app)
    app.openapi = _openapi_without_422(app)  # type: ignore[method-assign]

    def require_key(key: ApiKey) -> None:
        given = (key or "").encode("utf-8")
        matched = False
        for candidate in keys:  # compare with every key, in constant time each
            matched |= hmac.compare_digest(given, candidate)
        if not matched:
            message = f"{API_KEY_HEADER}: missing or not a valid key; send one in this header."
            raise ApiError(401, message, parameter=API_KEY_HEADER)

    dependencies = [Depends(require_key)] if keys else []

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    error = {"model": ErrorBody}

    @app.get(
        PATH,
        summary="Get Customer Journey Details",
        operation_id="get_customer_journey_details",
        tags=["journeys"],
        response_model=None,
        dependencies=dependencies,
        responses={
            200: {
                "model": JourneyPage,
                "description": "Journey rows: a JSON page, or the whole result as CSV/NDJSON.",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/x-ndjson": {"schema": {"type": "string"}},
                },
            },
            400: {**error, "description": "A parameter is malformed; the body names it."},
            401: {**error, "description": "Missing or wrong X-API-Key."},
            503: {**error, "description": "The warehouse cannot be reached."},
        },
    )
    def get_customer_journey_details(
        request: Request,
        email: Annotated[
            str | None,
            Query(
                description="One person's email, e.g. name@example.com (case and surrounding "
                "spaces are ignored; empty means not given).",
                json_schema_extra={"examples": ["ann.110@example.com"]},
            ),
        ] = None,
        event_date: Annotated[
            str | None,
            Query(
                description="Campaign start, YYYY-MM-DD (from 00:00 in the server's timezone; "
                "empty means not given).",
                json_schema_extra={"examples": ["2022-07-01"]},
            ),
        ] = None,
        as_of: Annotated[
            str | None,
            Query(
                description="ISO-8601 time to look from (naive means UTC); default now.",
                json_schema_extra={"examples": ["2022-08-31T00:00:00Z"]},
            ),
        ] = None,
        limit: Annotated[
            int,
            Query(ge=1, le=MAX_LIMIT, description="Rows per JSON page."),
        ] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None,
            Query(description="`meta.next_cursor` of the previous page, unchanged."),
        ] = None,
        format: Annotated[
            Format,
            Query(description="json (paged), or csv / ndjson (the whole result, streamed)."),
        ] = "json",
    ) -> Response:
        log: dict[str, Any] = request.scope.setdefault("state", {}).setdefault(STATE_LOG, {})
        log["format"] = format
        if email:
            log["email"] = log_email(email)
        if format != "json":
            for name in ("limit", "cursor"):
                if name in request.query_params:
                    msg = f"pages JSON only; leave it out with format={format}."
                    raise InputError(name, msg)
        after = cursors.Cursor.decode(cursor) if cursor else None
        query = _build_query(
            settings,
            mapping,
            now=clock(),
            email=email,
            event_date=event_date,
            as_of=as_of if as_of or after is None else _iso(after.as_of),
        )
        if after is not None:
            after.check(query)
        log["rule"] = query.rule.value
        answer, hit = cache.get_or_compute(
            cursors.query_hash(query), lambda: _Answer.of(_fetch(warehouse, query))
        )
        log["rows"] = answer.result.events
        log["cache"] = "hit" if hit else "miss"
        if format == "json":
            return _page_response(answer, limit=limit, after=after, mask=settings.mask_pii)
        stream = csv_stream if format == "csv" else ndjson_stream
        frame = answer.result.frame
        return StreamingResponse(
            stream(mask_frame(frame) if settings.mask_pii else frame),
            media_type=MEDIA_TYPES[format],
            headers=_result_headers(answer, format),
        )

    return app


def _build_query(
    settings: Settings,
    mapping: SchemaMapping,
    *,
    now: dt.datetime,
    email: str | None,
    event_date: str | None,
    as_of: str | None,
) -> JourneyQuery:
    """Validate the parameters as ``journey export`` does, for the mapping's identifier."""
    by_email = mapping.identifier == "email"
    try:
        query = JourneyQuery.build(
            now=now,
            email=email if by_email else None,
            event_date=event_date,
            as_of=as_of,
            lookback_days=settings.lookback_days,
            recent_hours=settings.recent_hours,
            timezone=settings.timezone,
        )
        if not by_email:  # the mapping's individuals are user ids (e.g. Snowplow's user_id)
            query = replace(query, email=mapping.parse_identifier(email))
        _ = query.window_start, query.lookback_start, query.start
    except OverflowError:
        # Dates near year 1 make the window start before the calendar does.
        field, value = ("as_of", as_of) if as_of else ("event_date", event_date)
        raise InputError(field, _too_early(value)) from None
    return query


def _fetch(warehouse: _Warehouse, query: JourneyQuery) -> JourneyResult:
    try:
        with warehouse.slots:
            engine, mapping = warehouse.connect()
            return fetch_journeys(engine, query, mapping=mapping)
    except OverflowError:
        raise InputError("as_of", _too_early(_iso(query.as_of))) from None


def _too_early(value: object) -> str:
    return (
        f"{value!r} is too early: the journey window would start before year 1; use a later time."
    )


@dataclass(frozen=True, slots=True)
class _Answer:
    """A result with its count of individuals (computed once, reused by every page)."""

    result: JourneyResult
    individuals: int

    @classmethod
    def of(cls, result: JourneyResult) -> _Answer:
        return cls(result, result.individuals)


def _meta(answer: _Answer) -> dict[str, Any]:
    query = answer.result.query
    return {
        "rule": query.rule.value,
        "as_of": _iso(query.as_of),
        "window_start": _iso(query.window_start),
        "individuals": answer.individuals,
        "events": answer.result.events,
    }


def _page_response(
    answer: _Answer, *, limit: int, after: cursors.Cursor | None, mask: bool = False
) -> Response:
    result = answer.result
    rows, following = cursors.page(result.frame, result.query, limit=limit, cursor=after)
    if mask:  # after paging: cursors sort and search by the full email
        rows = mask_frame(rows)
    meta = {
        **_meta(answer),
        "returned": rows.height,
        "limit": limit,
        "next_cursor": following.encode() if following else None,
        "message": result.message,
    }
    body = b'{"data":' + _json_rows(rows) + b',"meta":' + json.dumps(meta).encode() + b"}"
    return Response(body, media_type="application/json")


def _result_headers(answer: _Answer, fmt: str) -> dict[str, str]:
    meta = _meta(answer)
    return {
        "Content-Disposition": f'attachment; filename="journeys-{meta["rule"]}.{fmt}"',
        "X-Journey-Rule": str(meta["rule"]),
        "X-Journey-As-Of": str(meta["as_of"]),
        "X-Journey-Window-Start": str(meta["window_start"]),
        "X-Journey-Individuals": str(meta["individuals"]),
        "X-Journey-Events": str(meta["events"]),
    }
