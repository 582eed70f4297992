"""The API's parts without HTTP: cursors, streamed CSV/NDJSON, log masking, exposure checks."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from journey_api import cursor as cursors
from journey_api.cache import ResultCache
from journey_api.logs import ScrubEmails, log_email, scrub
from journey_api.routes import csv_stream, ndjson_stream
from journey_api.server import check_exposure, is_loopback
from journey_cli.commands import main as journey_main
from journey_core.config import Settings, parse_api_keys
from journey_core.errors import ConfigError, InputError, WarehouseError
from journey_core.io import export
from journey_core.io.privacy import fingerprint
from journey_core.rules import RESULT_SCHEMA
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import JourneyResult

UTC = dt.UTC
AS_OF = dt.datetime(2022, 8, 31, tzinfo=UTC)
QUERY = JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1))


def t(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2022, 8, 1, hour, minute, tzinfo=UTC)


def rows(keys: list[tuple[str, dt.datetime, str | None]]) -> pl.DataFrame:
    """A sorted result frame with the given (email, occurred_at, event_id) keys."""
    data: dict[str, list[object]] = {name: [None] * len(keys) for name in RESULT_SCHEMA}
    data["email"] = [k[0] for k in keys]
    data["occurred_at"] = [k[1] for k in keys]
    data["event_id"] = [k[2] for k in keys]
    data["known_at"] = [t(0)] * len(keys)
    data["before_known"] = [False] * len(keys)
    return pl.DataFrame(data, schema=RESULT_SCHEMA)


KEYS = [
    ("a@x.io", t(1), "e1"),
    ("a@x.io", t(2), "e2"),
    ("a@x.io", t(2), "e3"),
    ("a@x.io", t(2), None),  # a null event id sorts last among equal times
    ("b@x.io", t(0), "e0"),
    ("b@x.io", t(5), "e9"),
]


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        pytest.param(0, KEYS[1:], id="after-first"),
        pytest.param(1, KEYS[2:], id="same-time-later-id"),
        pytest.param(2, KEYS[3:], id="null-id-follows"),
        pytest.param(3, KEYS[4:], id="after-null-id"),
        pytest.param(5, [], id="after-last"),
    ],
)
def test_after_keeps_the_rows_that_sort_after_the_key(
    after: int, expected: list[tuple[str, dt.datetime, str | None]]
) -> None:
    email, occurred, event_id = KEYS[after]
    key = cursors.Cursor(email, occurred, event_id, AS_OF, cursors.query_hash(QUERY))
    assert_frame_equal(cursors.after(rows(KEYS), key), rows(expected))


def sort_key(key: tuple[str, dt.datetime, str | None]) -> tuple[str, dt.datetime, bool, str]:
    email, occurred, event_id = key
    return (email, occurred, event_id is None, event_id or "")  # event_id nulls last


KEY = st.tuples(
    st.sampled_from(["a@x.io", "b@x.io", "B@x.io", "é@x.io", "c@x.io"]),
    st.sampled_from([t(1), t(2), t(3)]),
    st.none() | st.sampled_from(["e1", "e2", "E3", "e10"]),
)


@settings(deadline=None)  # builds Polars frames: slow on a busy machine
@given(
    keys=st.lists(KEY, max_size=20, unique_by=lambda k: k[2]),  # event ids unique in a result
    data=st.data(),
)
def test_after_equals_the_definition(
    keys: list[tuple[str, dt.datetime, str | None]], data: st.DataObject
) -> None:
    ordered = sorted(keys, key=sort_key)
    frame = rows(ordered)
    # The cursor's row is usually still there; if the data changed, it may not be.
    probe = data.draw((st.sampled_from(ordered) | KEY) if ordered else KEY, label="probe")
    key = cursors.Cursor(*probe, AS_OF, cursors.query_hash(QUERY))
    expected = [k for k in ordered if sort_key(k) > sort_key(probe)]
    assert_frame_equal(cursors.after(frame, key), rows(expected))


@settings(deadline=None)  # builds Polars frames: slow on a busy machine
@given(limit=st.integers(1, 8))
def test_pages_cover_the_frame_once(limit: int) -> None:
    frame = rows(KEYS)
    seen: list[pl.DataFrame] = []
    cursor = None
    for _ in range(len(KEYS) + 1):
        page, cursor = cursors.page(frame, QUERY, limit=limit, cursor=cursor)
        seen.append(page)
        if cursor is None:
            break
        cursor = cursors.Cursor.decode(cursor.encode())  # through its text form
    assert cursor is None
    assert_frame_equal(pl.concat(seen), frame)
    assert all(p.height == limit for p in seen[:-1])


@settings(deadline=None)  # builds Polars frames: slow on a busy machine
@given(
    email=st.emails(),
    occurred=st.datetimes(
        min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    event_id=st.none() | st.text(max_size=40),
)
def test_cursor_text_round_trips(email: str, occurred: dt.datetime, event_id: str | None) -> None:
    cursor = cursors.Cursor(email, occurred, event_id, AS_OF, "abc123")
    text = cursor.encode()
    assert text.isascii()
    assert "=" not in text
    assert "@" not in text
    assert cursors.Cursor.decode(text) == cursor


@given(text=st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.hex()))
def test_anything_else_is_not_a_cursor(text: str) -> None:
    try:
        cursors.Cursor.decode(text)
    except InputError as exc:
        field = exc.field
    else:
        field = "cursor"  # a random text that decodes to a well-formed cursor is fine too
    assert field == "cursor"


def test_query_hash_changes_with_every_parameter() -> None:
    variants = [
        QUERY,
        JourneyQuery(as_of=AS_OF),
        JourneyQuery(as_of=AS_OF, email="a@x.io"),
        JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 2)),
        JourneyQuery(as_of=AS_OF - dt.timedelta(microseconds=1), event_date=dt.date(2022, 7, 1)),
        JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1), lookback=dt.timedelta(days=30)),
        JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1), timezone="Europe/Berlin"),
    ]
    assert len({cursors.query_hash(q) for q in variants}) == len(variants)


TEXT = (
    st.none()
    | st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
    | st.sampled_from(["=1+1", "-2", "@x", '"q"', "a,b", "line\nbreak", "+x"])
)


@st.composite
def frames(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(0, 12))
    data = {
        "email": draw(st.lists(TEXT, min_size=n, max_size=n)),
        "occurred_at": draw(
            st.lists(
                st.datetimes(
                    min_value=dt.datetime(1970, 1, 1),
                    max_value=dt.datetime(2100, 1, 1),
                    timezones=st.just(UTC),
                ),
                min_size=n,
                max_size=n,
            )
        ),
        "revenue": draw(
            st.lists(
                st.none() | st.floats(allow_nan=False, allow_infinity=False), min_size=n, max_size=n
            )
        ),
        "before_known": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
    }
    return pl.DataFrame(
        data,
        schema={
            "email": pl.String,
            "occurred_at": pl.Datetime("us", "UTC"),
            "revenue": pl.Float64,
            "before_known": pl.Boolean,
        },
    )


@settings(max_examples=200, deadline=None)  # frames are built in Polars: slow on a busy machine
@given(frame=frames(), chunk_rows=st.integers(1, 5))
def test_streamed_csv_is_byte_for_byte_the_export(frame: pl.DataFrame, chunk_rows: int) -> None:
    parts = list(csv_stream(frame, chunk_rows=chunk_rows))
    assert b"".join(parts) == export.to_csv_bytes(frame)
    assert len(parts) == max(1, -(-frame.height // chunk_rows))


@settings(max_examples=200, deadline=None)  # frames are built in Polars: slow on a busy machine
@given(frame=frames(), chunk_rows=st.integers(1, 5))
def test_streamed_ndjson_is_the_json_export(frame: pl.DataFrame, chunk_rows: int) -> None:
    body = b"".join(ndjson_stream(frame, chunk_rows=chunk_rows)).decode()
    expected = json.loads(export.for_output(frame).write_json())
    assert [json.loads(line) for line in body.split("\n")[:-1]] == expected


@pytest.mark.parametrize(
    "email",
    [
        pytest.param("ann.110@example.com", id="plain"),
        pytest.param(" Ann.110@Example.COM ", id="not-normalised"),
        pytest.param("ann.110%40example.com", id="percent-encoded"),
    ],
)
def test_log_email_is_the_core_fingerprint(email: str) -> None:
    assert log_email(email) == fingerprint("ann.110@example.com")
    assert "@" not in log_email(email)


@given(email=st.emails(), before=st.sampled_from(["", "email=", "'", '"', "(", " x "]))
def test_scrub_never_leaves_an_email(email: str, before: str) -> None:
    text = scrub(f"{before}{email} is unknown")
    assert email not in text
    assert "@" not in text
    assert text.endswith(" is unknown")


def test_the_filter_masks_messages_arguments_and_tracebacks() -> None:
    try:
        raise ValueError("ann@example.com")
    except ValueError:
        record = logging.LogRecord(
            "journey_api", logging.ERROR, __file__, 1, "for %s", ("bob@corp.io",), sys.exc_info()
        )
    ScrubEmails().filter(record)
    formatted = logging.Formatter().format(record)
    assert fingerprint("bob@corp.io") in formatted
    assert fingerprint("ann@example.com") in formatted
    assert "bob@corp.io" not in formatted
    assert "ann@example.com" not in formatted


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_exposure_without_keys_is_refused_with_the_fix() -> None:
    with pytest.raises(
        ConfigError, match=r"refusing to serve on 0\.0\.0\.0 without API keys"
    ) as info:
        check_exposure("0.0.0.0", ())
    assert "JOURNEY_API_KEYS" in str(info.value)
    assert "--host 127.0.0.1" in str(info.value)
    check_exposure("0.0.0.0", ("a-key",))
    check_exposure("127.0.0.1", ())


def test_journey_serve_refuses_a_public_host_without_keys(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("JOURNEY_API_KEYS", raising=False)
    code = journey_main(["serve", "--db", "duckdb:///nowhere.duckdb", "--host", "0.0.0.0"])
    assert code == 2
    err = capsys.readouterr().err
    assert "refusing to serve on 0.0.0.0 without API keys" in err


def test_parse_api_keys() -> None:
    assert parse_api_keys(None) == ()
    assert parse_api_keys(" , ") == ()
    assert parse_api_keys("k1,k2 , k3") == ("k1", "k2", "k3")


def result(rows: int) -> JourneyResult:
    frame = pl.DataFrame({"email": ["a@x.io"] * rows})
    return JourneyResult(frame, QUERY)


def height(value: JourneyResult) -> int:
    return value.frame.height


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cache_keeps_a_result_for_its_ttl() -> None:
    clock = FakeClock()
    cache = ResultCache(ttl_seconds=60, max_rows=100, rows=height, clock=clock)
    calls: list[str] = []

    def compute() -> JourneyResult:
        calls.append("x")
        return result(3)

    first, hit1 = cache.get_or_compute("k", compute)
    clock.now = 59.9
    second, hit2 = cache.get_or_compute("k", compute)
    clock.now = 60.0
    third, hit3 = cache.get_or_compute("k", compute)
    assert (hit1, hit2, hit3) == (False, True, False)
    assert second is first
    assert third is not first
    assert len(calls) == 2


def test_cache_evicts_the_least_recently_used_by_rows() -> None:
    cache = ResultCache(ttl_seconds=60, max_rows=10, rows=height, clock=FakeClock())
    cache.get_or_compute("a", lambda: result(4))
    cache.get_or_compute("b", lambda: result(4))
    cache.get_or_compute("a", lambda: result(4))  # a is now the most recently used
    cache.get_or_compute("c", lambda: result(4))  # 12 rows > 10: b goes
    assert [cache.get_or_compute(k, lambda: result(4))[1] for k in "ac"] == [True, True]
    assert cache.get_or_compute("b", lambda: result(4))[1] is False
    cache.get_or_compute("huge", lambda: result(11))  # larger than the cache: not kept
    assert cache.get_or_compute("huge", lambda: result(11))[1] is False


def test_cache_does_not_keep_errors_and_can_be_off() -> None:
    cache = ResultCache(ttl_seconds=60, max_rows=10, rows=height, clock=FakeClock())

    def failing() -> JourneyResult:
        raise WarehouseError("down")

    with pytest.raises(WarehouseError):
        cache.get_or_compute("k", failing)
    assert cache.get_or_compute("k", lambda: result(1))[1] is False
    off = ResultCache(ttl_seconds=0, max_rows=10, rows=height)
    off.get_or_compute("k", lambda: result(1))
    assert off.get_or_compute("k", lambda: result(1))[1] is False
    assert len(off) == 0


def test_concurrent_requests_for_one_query_compute_it_once() -> None:
    cache = ResultCache(ttl_seconds=60, max_rows=100, rows=height)
    started = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def slow() -> JourneyResult:
        calls.append(1)
        started.set()
        assert release.wait(10)
        return result(2)

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(cache.get_or_compute, "k", slow) for _ in range(8)]
        assert started.wait(10)
        time.sleep(0.05)  # let the others queue up behind the first
        release.set()
        outcomes = [f.result(timeout=10) for f in futures]
    assert len(calls) == 1
    assert sorted(hit for _, hit in outcomes) == [False] + [True] * 7
    assert len({id(r) for r, _ in outcomes}) == 1


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, (60.0, 1_000_000), id="defaults"),
        pytest.param({"JOURNEY_API_CACHE_SECONDS": "0"}, (0.0, 1_000_000), id="off"),
        pytest.param({"JOURNEY_API_CACHE_ROWS": " 5000 "}, (60.0, 5000), id="rows"),
    ],
)
def test_cache_settings(env: dict[str, str], expected: tuple[float, int]) -> None:
    settings = Settings.from_env(env)
    assert (settings.api_cache_seconds, settings.api_cache_rows) == expected


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"JOURNEY_API_CACHE_SECONDS": "-1"}, id="negative"),
        pytest.param({"JOURNEY_API_CACHE_SECONDS": "soon"}, id="text"),
        pytest.param({"JOURNEY_API_CACHE_SECONDS": "nan"}, id="nan"),
        pytest.param({"JOURNEY_API_CACHE_ROWS": "1.5"}, id="fraction"),
        pytest.param({"JOURNEY_API_READ_SLOTS": "0"}, id="no-slots"),
    ],
)
def test_bad_server_settings_are_config_errors_naming_the_variable(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=next(iter(env))):
        Settings.from_env(env)
