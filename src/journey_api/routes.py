"""GET /api/v1/customer-journey-details: the route, its dependencies and its answers.

Every rule comes from :mod:`journey_core`: ``JourneyQuery.build`` validates the parameters,
``warehouse.fetch_journeys`` reads and selects the rows of JSON pages, the rules' one
statement (:func:`~journey_core.warehouse.native.stream_journeys`) streams CSV and NDJSON in
bounded chunks as ``journey export`` does, and :mod:`journey_core.io.export` formats them, so
the API, the dashboard and ``journey export`` always agree.

:data:`router` is module-level; what a request needs (settings, warehouse, cache, clock, the
API-key check) comes through ``Depends`` from the :class:`Services` that
:func:`journey_api.app.create_app` keeps in ``app.state``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal, Protocol, cast

import anyio
import polars as pl
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from journey_api import cursor as cursors
from journey_api.cache import ResultCache
from journey_api.lanes import Lane
from journey_api.logs import STATE_LOG, log_email
from journey_api.models import ErrorBody, JourneyPage
from journey_api.spool import ROW_GROUP_ROWS, ResultSpool, SpooledAnswer
from journey_api.workers import CohortWorkers
from journey_core.config import ENV_API_KEYS, Settings
from journey_core.errors import InputError
from journey_core.io import export
from journey_core.io.privacy import mask_frame, mask_text
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import (
    Engine,
    JourneyResult,
    SchemaMapping,
    create_engine,
    fetch_journeys,
    verify_schema,
)
from journey_core.warehouse.filepool import IDLE_SECONDS, FilePool
from journey_core.warehouse.native import count_journeys, stream_journeys

PATH = "/api/v1/customer-journey-details"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
CHUNK_ROWS = 5_000
API_KEY_HEADER = "X-API-Key"

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

_api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description=f"Required when the server sets {ENV_API_KEYS}.",
)
ApiKey = Annotated[str | None, Depends(_api_key_header)]


class ApiError(Exception):
    """An error answered with ``status`` and a JSON body naming ``parameter``."""

    def __init__(self, status: int, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter


def _iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="microseconds")


class _Closable(Protocol):
    def close(self) -> None: ...


class Warehouse:
    """One engine per app, created on first use (and retried while creation fails).

    At most ``read_slots`` cohort reads run at once: each read already uses several cores
    (DuckDB and Polars are multi-threaded) and a campaign read of a large warehouse holds its
    rows in memory (about 1 GB at its peak on the 20,000-person demo), so many in parallel
    only thrash or exhaust memory; the others wait their turn. Person lookups (a query with
    an email) are small and fast and have ``lookup_slots`` of their own, so they never queue
    behind cohort reads: each kind has its own :class:`~journey_api.lanes.Lane` of threads
    (JSON pages) and its own slots (the same bound for CSV and NDJSON streams). A cohort's
    pages, once read, are cut and encoded on at most ``read_slots`` threads at once
    (:attr:`page_limiter`), so many paging clients cannot crowd out the lookups either.

    With ``cohort_processes`` the cohort reads of JSON pages run in worker processes of lower
    CPU priority (:mod:`journey_api.workers`, shared by the apps of a process) that write
    their rows to the spool's folder.

    The engine pools a DuckDB file's connections for ``idle_seconds`` after the last read
    (:class:`~journey_core.warehouse.filepool.FilePool`): a lookup does not open the file
    again, a writer elsewhere waits at most that long, and a replaced file is opened anew.
    """

    def __init__(
        self,
        url: str,
        *,
        mapping: SchemaMapping,
        read_slots: int,
        lookup_slots: int = 2,
        idle_seconds: float = IDLE_SECONDS,
        cohort_processes: bool = False,
    ) -> None:
        self.url = url
        self.mapping = mapping
        self._engine: Engine | None = None
        self._fitted = mapping
        self._lock = threading.Lock()
        self.read_slots = max(1, read_slots)
        self.lookup_slot_count = max(1, lookup_slots)
        self.slots = threading.BoundedSemaphore(self.read_slots)
        self.lookup_slots = threading.BoundedSemaphore(self.lookup_slot_count)
        self._lanes: dict[str, Lane[Any]] = {}
        self.workers = CohortWorkers.shared(self.read_slots) if cohort_processes else None
        self.page_limiter = anyio.CapacityLimiter(self.read_slots)
        """At most ``read_slots`` threads cut and encode cohort pages at once."""
        self.idle_seconds = idle_seconds

    def slots_for(self, query: JourneyQuery) -> threading.BoundedSemaphore:
        """The slots a read of ``query`` waits for: a person's own, or the cohort reads'."""
        return self.lookup_slots if query.email else self.slots

    def lane_for(self, query: JourneyQuery) -> Lane[Any]:
        """The threads a JSON read of ``query`` runs on: the lookups' or the cohort reads'."""
        name, workers = (
            ("lookup", self.lookup_slot_count) if query.email else ("cohort", self.read_slots)
        )
        with self._lock:
            lane = self._lanes.get(name)
            if lane is None:
                lane = self._lanes[name] = Lane(name, workers)
            return lane

    def holds_file(self) -> bool:
        """Whether a connection (in use or idle) keeps the DuckDB file open now."""
        with self._lock:
            engine = self._engine
        return engine is not None and isinstance(engine.pool, FilePool) and engine.pool.open() > 0

    def connect(self) -> tuple[Engine, SchemaMapping]:
        """The engine and the mapping fitted to the warehouse (checked once, on first use)."""
        with self._lock:
            if self._engine is None:
                engine = create_engine(self.url, idle_seconds=self.idle_seconds)
                try:
                    self._fitted = verify_schema(engine, self.mapping)
                except BaseException:
                    engine.dispose()
                    raise
                self._engine = engine
            return self._engine, self._fitted

    def dispose(self) -> None:
        with self._lock:
            lanes, self._lanes = list(self._lanes.values()), {}
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
        for lane in lanes:
            lane.shutdown()


def _chunks(frame: pl.DataFrame, rows: int) -> Iterator[pl.DataFrame]:
    for offset in range(0, frame.height, rows):
        yield frame.slice(offset, rows)


def csv_stream(frame: pl.DataFrame, *, chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """``export.to_csv_bytes(frame)`` in pieces: one header, then chunk after chunk."""
    if frame.is_empty():
        return export.csv_pieces([frame])
    return export.csv_pieces(_chunks(frame, chunk_rows))


def ndjson_stream(frame: pl.DataFrame, *, chunk_rows: int = CHUNK_ROWS) -> Iterator[bytes]:
    """One JSON object per line, the rows of ``journey export --format json``."""
    return export.ndjson_pieces(_chunks(frame, chunk_rows))


def _json_rows(frame: pl.DataFrame) -> bytes:
    return export.for_output(frame).write_json().encode("utf-8")


class Paged(Protocol):
    """A result pages are cut from: in memory (:class:`Answer`) or on disk
    (:class:`~journey_api.spool.SpooledAnswer`)."""

    @property
    def query(self) -> JourneyQuery: ...
    @property
    def events(self) -> int: ...
    @property
    def individuals(self) -> int: ...
    @property
    def message(self) -> str | None: ...

    def page(
        self, *, limit: int, after: cursors.Cursor | None
    ) -> tuple[pl.DataFrame, cursors.Cursor | None]: ...


@dataclass(frozen=True, slots=True)
class Answer:
    """A result with its count of individuals (computed once, reused by every page)."""

    result: JourneyResult
    individuals: int

    @classmethod
    def of(cls, result: JourneyResult) -> Answer:
        return cls(result, result.individuals)

    @property
    def query(self) -> JourneyQuery:
        return self.result.query

    @property
    def events(self) -> int:
        return self.result.events

    @property
    def message(self) -> str | None:
        return self.result.message

    def page(
        self, *, limit: int, after: cursors.Cursor | None
    ) -> tuple[pl.DataFrame, cursors.Cursor | None]:
        """At most ``limit`` rows after ``after``, and the cursor of the next page."""
        return cursors.page(self.result.frame, self.result.query, limit=limit, cursor=after)


@dataclass(frozen=True, slots=True)
class PackedAnswer:
    """A person's result kept in the cache as Arrow IPC bytes (LZ4), unpacked per page.

    As a frame, a few rows keep alive buffers of everything the lookup read (string views
    into the rows DuckDB returned): about 65 KB of memory for 3 KB that ``estimated_size``
    counts, so the cache's byte bound held only on paper and the API's memory grew with every
    person looked up. Packed, the bytes kept are the bytes counted (unpacking: under 1 ms).
    """

    packed: bytes
    query: JourneyQuery
    events: int
    individuals: int
    message: str | None

    @classmethod
    def of(cls, answer: Answer) -> PackedAnswer:
        sink = io.BytesIO()
        answer.result.frame.write_ipc(sink, compression="lz4")
        return cls(sink.getvalue(), answer.query, answer.events, answer.individuals, answer.message)

    @property
    def frame(self) -> pl.DataFrame:
        """The rows, unpacked."""
        return pl.read_ipc(io.BytesIO(self.packed))

    def page(
        self, *, limit: int, after: cursors.Cursor | None
    ) -> tuple[pl.DataFrame, cursors.Cursor | None]:
        """At most ``limit`` rows after ``after``, and the cursor of the next page."""
        return cursors.page(self.frame, self.query, limit=limit, cursor=after)


Kept = Answer | PackedAnswer
"""What the memory cache keeps: a cohort's result as a frame, a person's packed."""


def kept_rows(kept: Kept) -> int:
    """Rows of a kept result (the cache's row bound)."""
    return kept.events


def kept_bytes(kept: Kept) -> int:
    """Bytes of a kept result (the cache's byte bound): packed bytes, else the frame's estimate."""
    if isinstance(kept, PackedAnswer):
        return len(kept.packed)
    return int(kept.result.frame.estimated_size())


Clock = Callable[[], dt.datetime]
AnswerCache = ResultCache[Kept]


@dataclass(frozen=True, slots=True)
class Services:
    """What the route depends on, built once per app by ``create_app`` (``app.state``)."""

    settings: Settings
    warehouse: Warehouse
    cache: AnswerCache
    clock: Clock
    cursor_key: bytes
    """Seals the page cursors (derived from ``JOURNEY_SECRET_KEY``, else random per process)."""
    spool: ResultSpool | None = None
    """Keeps the results too large for ``cache`` on disk (``None``: not kept)."""


def services(request: Request) -> Services:
    """The app's :class:`Services` (a dependency; override it in tests if needed)."""
    return cast(Services, request.app.state.services)


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return services(request).settings


def get_warehouse(request: Request) -> Warehouse:
    """The app's warehouse (one engine, opened on first use)."""
    return services(request).warehouse


def get_cache(request: Request) -> AnswerCache:
    """The app's result cache."""
    return services(request).cache


def get_spool(request: Request) -> ResultSpool | None:
    """The app's spool of large results (``None``: none)."""
    return services(request).spool


def get_clock(request: Request) -> Clock:
    """The app's clock ("now" of queries without ``as_of``)."""
    return services(request).clock


def get_cursor_key(request: Request) -> bytes:
    """The key that seals and opens page cursors."""
    return services(request).cursor_key


def require_key(key: ApiKey, settings: Annotated[Settings, Depends(get_settings)]) -> None:
    """Refuse a request without one of ``settings.api_keys`` in the ``X-API-Key`` header.

    ``create_app`` adds this dependency only when keys are configured, so the OpenAPI
    document shows the key exactly when the server asks for one.
    """
    given = (key or "").encode("utf-8")
    matched = False
    for candidate in settings.api_keys:  # compare with every key, in constant time each
        matched |= hmac.compare_digest(given, candidate.encode("utf-8"))
    if not matched:
        message = f"{API_KEY_HEADER}: missing or not a valid key; send one in this header."
        raise ApiError(401, message, parameter=API_KEY_HEADER)


router = APIRouter()
_ERROR = {"model": ErrorBody}


@router.get(
    PATH,
    summary="Get Customer Journey Details",
    operation_id="get_customer_journey_details",
    tags=["journeys"],
    response_model=None,
    responses={
        200: {
            "model": JourneyPage,
            "description": "Journey rows: a JSON page, or the whole result as CSV/NDJSON.",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        },
        400: {
            **_ERROR,
            "description": "A parameter (or the Host header) is malformed; the body names it.",
        },
        401: {**_ERROR, "description": "Missing or wrong X-API-Key."},
        503: {**_ERROR, "description": "The warehouse cannot be reached."},
    },
)
async def get_customer_journey_details(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    warehouse: Annotated[Warehouse, Depends(get_warehouse)],
    cache: Annotated[AnswerCache, Depends(get_cache)],
    spool: Annotated[ResultSpool | None, Depends(get_spool)],
    clock: Annotated[Clock, Depends(get_clock)],
    cursor_key: Annotated[bytes, Depends(get_cursor_key)],
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
    after = cursors.Cursor.decode(cursor, cursor_key) if cursor else None
    query = _build_query(
        settings,
        warehouse.mapping,
        now=clock(),
        email=email,
        event_date=event_date,
        as_of=as_of if as_of or after is None else _iso(after.as_of),
    )
    if after is not None:
        after.check(query)
    log["rule"] = query.rule.value
    if format != "json":
        return await run_in_threadpool(
            _streamed_response, warehouse, query, format, mask=settings.mask_pii, log=log
        )
    key = cursors.query_hash(query)

    def kept_page() -> tuple[Response, int] | None:
        """The page from the memory cache or the spool (and the result's row count),
        ``None`` if neither has the result."""
        answer = cache.get(key)
        if answer is not None:
            page = _page_response(answer, limit=limit, after=after, key=cursor_key, mask=mask)
            return page, answer.events
        if spool is None:
            return None
        with spool.borrow(key) as spooled:
            if spooled is None:
                return None
            page = _page_response(spooled, limit=limit, after=after, key=cursor_key, mask=mask)
            return page, spooled.events

    mask = settings.mask_pii

    def page_of(answer: Paged) -> Response:
        return _page_response(answer, limit=limit, after=after, key=cursor_key, mask=mask)

    if query.email:
        # A person's result is a few rows: a hit in the memory cache is answered here, on
        # the event loop (about a millisecond), and a miss is read and its page cut on one
        # lookup thread. No other thread hop: under load each hop waits for the GIL and a
        # core again, which cost more than the read itself (bench/RESULTS.md, "api14").
        answer = cache.get(key)
        if answer is not None:
            log["cache"] = "hit"
            log["rows"] = answer.events
            return page_of(answer)
    else:
        # A cohort's page is cut (from memory or the spool) and encoded on at most
        # read_slots threads at once, so paging clients cannot take a lookup's CPU.
        kept = await anyio.to_thread.run_sync(kept_page, limiter=warehouse.page_limiter)
        if kept is not None:
            log["cache"] = "hit"
            log["rows"] = kept[1]
            return kept[0]
    queued = time.perf_counter()

    def read_and_keep() -> Paged:
        # How long the read waited for a thread of its lane, and how long it took: the log
        # tells queueing from work (bench/soak.py sums them up).
        began = time.perf_counter()
        log["queued_ms"] = f"{(began - queued) * 1000:.1f}"
        try:
            return _read_and_keep(warehouse, query, key, cache, spool)
        finally:
            log["read_ms"] = f"{(time.perf_counter() - began) * 1000:.1f}"

    def read_page(read: Paged) -> Response:
        if spool is None or not isinstance(read, SpooledAnswer):
            return page_of(read)
        with spool.borrow(key) as spooled:  # keeps the file while the page is read
            return page_of(spooled or read)

    if query.email:

        def read_person() -> tuple[Response, int, bool]:
            """The page from the spool (a person's result too large for the memory cache),
            else read and paged here; and its row count, and whether it was read."""
            kept = kept_page()
            if kept is not None:
                return kept[0], kept[1], False
            read = read_and_keep()
            return read_page(read), read.events, True

        # Single flight per page: concurrent identical requests share the read and the page.
        flight = f"{key}|{limit}|{cursor or ''}"
        (response, rows, fresh), started = await warehouse.lane_for(query).run(flight, read_person)
        log["rows"] = rows
        log["cache"] = ("miss" if fresh else "hit") if started else "shared"
        return response

    read, started = await warehouse.lane_for(query).run(key, read_and_keep)
    log["rows"] = read.events
    log["cache"] = "miss" if started else "shared"
    return await anyio.to_thread.run_sync(read_page, read, limiter=warehouse.page_limiter)


def _read_and_keep(
    warehouse: Warehouse,
    query: JourneyQuery,
    key: str,
    cache: AnswerCache,
    spool: ResultSpool | None,
) -> Paged:
    """Read ``query`` and keep the result: in memory if the cache admits it, else on disk."""
    if warehouse.workers is not None and spool is not None and not query.email:
        return _read_in_worker(warehouse, warehouse.workers, query, key, cache, spool)
    answer = Answer.of(_fetch(warehouse, query))
    kept: Kept = PackedAnswer.of(answer) if query.email else answer
    if not cache.put(key, kept) and spool is not None and cache.enabled:
        spool.put(
            key,
            answer.result.frame,
            query,
            individuals=answer.individuals,
            message=answer.message,
        )
    return answer


def _streamed_response(
    warehouse: Warehouse, query: JourneyQuery, fmt: Format, *, mask: bool, log: dict[str, Any]
) -> StreamingResponse:
    """The whole result as CSV or NDJSON, read from the warehouse chunk by chunk as it is sent.

    The counts for the headers come first, from one counting statement; then the rows
    stream from the one statement in batches of :data:`CHUNK_ROWS` (a read slot is held
    while they do), so neither the server nor its cache ever holds the whole result.
    """
    try:
        with warehouse.slots_for(query):
            engine, mapping = warehouse.connect()
            events, individuals = count_journeys(engine, query, mapping=mapping)
    except OverflowError:
        raise InputError("as_of", _too_early(_iso(query.as_of))) from None
    log["rows"] = events
    log["cache"] = "streamed"

    def chunks() -> Iterator[pl.DataFrame]:
        with warehouse.slots_for(query):
            engine, mapping = warehouse.connect()
            batches = stream_journeys(engine, query, mapping=mapping, rows=CHUNK_ROWS)
            try:
                for chunk in batches:
                    yield mask_frame(chunk) if mask else chunk
            finally:
                batches.close()

    pieces = export.csv_pieces if fmt == "csv" else export.ndjson_pieces
    return StreamingResponse(
        pieces(chunks()),
        media_type=MEDIA_TYPES[fmt],
        headers=_result_headers(query, fmt, events=events, individuals=individuals),
    )


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


def _read_in_worker(
    warehouse: Warehouse,
    workers: CohortWorkers,
    query: JourneyQuery,
    key: str,
    cache: AnswerCache,
    spool: ResultSpool,
) -> Paged:
    """A cohort read in a worker process, its file kept by the spool (or read back)."""
    path = spool.new_path()
    try:
        with warehouse.slots_for(query):
            _, mapping = warehouse.connect()  # checks the schema once, in this process
            written = workers.write(
                warehouse.url, mapping, query, path, row_group_rows=ROW_GROUP_ROWS
            )
    except OverflowError:
        path.unlink(missing_ok=True)
        raise InputError("as_of", _too_early(_iso(query.as_of))) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if written.events > cache.max_rows * cache.entry_share:  # too many rows for memory
        kept = spool.adopt(
            key,
            path,
            query,
            events=written.events,
            individuals=written.individuals,
            message=written.message,
        )
        if kept is not None:
            return kept
    answer = Answer(
        JourneyResult(pl.read_parquet(path), query, written.message), written.individuals
    )
    if cache.put(key, answer) or (
        spool.adopt(
            key,
            path,
            query,
            events=written.events,
            individuals=written.individuals,
            message=written.message,
        )
        is None
    ):
        path.unlink(missing_ok=True)
    return answer


def _fetch(warehouse: Warehouse, query: JourneyQuery) -> JourneyResult:
    try:
        with warehouse.slots_for(query):
            engine, mapping = warehouse.connect()
            return fetch_journeys(engine, query, mapping=mapping)
    except OverflowError:
        raise InputError("as_of", _too_early(_iso(query.as_of))) from None


def _too_early(value: object) -> str:
    return (
        f"{value!r} is too early: the journey window would start before year 1; use a later time."
    )


def _meta(query: JourneyQuery, *, events: int, individuals: int) -> dict[str, Any]:
    return {
        "rule": query.rule.value,
        "as_of": _iso(query.as_of),
        "window_start": _iso(query.window_start),
        "individuals": individuals,
        "events": events,
    }


def _page_response(
    answer: Paged, *, limit: int, after: cursors.Cursor | None, key: bytes, mask: bool = False
) -> Response:
    rows, following = answer.page(limit=limit, after=after)
    if mask:  # after paging: cursors sort and search by the full email
        rows = mask_frame(rows)
    message = answer.message
    meta = {
        **_meta(answer.query, events=answer.events, individuals=answer.individuals),
        "returned": rows.height,
        "limit": limit,
        "next_cursor": following.encode(key) if following else None,
        "message": mask_text(message) if mask and message else message,
    }
    body = b'{"data":' + _json_rows(rows) + b',"meta":' + json.dumps(meta).encode() + b"}"
    return Response(body, media_type="application/json")


def _result_headers(
    query: JourneyQuery, fmt: str, *, events: int, individuals: int
) -> dict[str, str]:
    meta = _meta(query, events=events, individuals=individuals)
    return {
        "Content-Disposition": f'attachment; filename="journeys-{meta["rule"]}.{fmt}"',
        "X-Journey-Rule": str(meta["rule"]),
        "X-Journey-As-Of": str(meta["as_of"]),
        "X-Journey-Window-Start": str(meta["window_start"]),
        "X-Journey-Individuals": str(meta["individuals"]),
        "X-Journey-Events": str(meta["events"]),
    }
