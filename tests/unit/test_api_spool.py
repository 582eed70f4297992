"""The API's spool of large results, its key filter, and the lanes' single flight."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_api import cursor as cursors
from journey_api.cache import ResultCache
from journey_api.lanes import Lane
from journey_api.spool import ResultSpool
from journey_core import columns as c
from journey_core.rules.query import JourneyQuery

UTC = dt.UTC
T0 = dt.datetime(2022, 8, 1, tzinfo=UTC)
QUERY = JourneyQuery(as_of=dt.datetime(2022, 8, 31, tzinfo=UTC), event_date=dt.date(2022, 7, 1))


def _rows(n: int) -> pl.DataFrame:
    """Sorted journey-like rows: 3 rows a person, ties in time, a null event id last."""
    emails = [f"p{i // 3:04}@example.com" for i in range(n)]
    times = [T0 + dt.timedelta(minutes=(i % 3) // 2) for i in range(n)]
    ids = [None if i % 3 == 2 else f"e{i:05}" for i in range(n)]
    return pl.DataFrame(
        {c.EMAIL: emails, c.OCCURRED_AT: times, c.EVENT_ID: ids},
        schema={c.EMAIL: pl.String, c.OCCURRED_AT: pl.Datetime("us", "UTC"), c.EVENT_ID: pl.String},
    )


@pytest.mark.parametrize("position", [0, 1, 2, 3, 7, 298], ids=lambda p: f"after-row-{p}")
def test_the_key_filter_keeps_what_follows_the_cursor(position: int) -> None:
    frame = _rows(300)
    last = frame.row(position, named=True)
    cursor = cursors.Cursor(last[c.EMAIL], last[c.OCCURRED_AT], last[c.EVENT_ID], QUERY.as_of, "q")
    expected = cursors.after(frame, cursor)
    assert_frame_equal(frame.filter(cursors.after_expr(cursor)), expected)
    assert_frame_equal(expected, frame.slice(position + 1))


def test_spooled_pages_equal_pages_from_memory(tmp_path: object) -> None:
    frame = _rows(20_000)
    spool = ResultSpool(ttl_seconds=60, max_bytes=50e6)
    assert spool.put("k", frame, QUERY, individuals=frame[c.EMAIL].n_unique(), message=None)
    pages: list[pl.DataFrame] = []
    after = None
    with spool.borrow("k") as spooled:
        assert spooled is not None
        while True:
            rows, after = spooled.page(limit=999, after=after)
            pages.append(rows)
            if after is None:
                break
    assert_frame_equal(pl.concat(pages), frame)
    spool.close()
    assert spool.files() == []


def test_the_spool_is_bounded_on_disk_and_drops_the_least_recently_used() -> None:
    frame = _rows(5_000)
    one = ResultSpool(ttl_seconds=60, max_bytes=1e9)
    one.put("x", frame, QUERY, individuals=1, message=None)
    size = one.bytes
    one.close()
    spool = ResultSpool(ttl_seconds=60, max_bytes=size * 2.5)
    for key in "ab":
        spool.put(key, frame, QUERY, individuals=1, message=None)
    with spool.borrow("a"):
        pass  # a is now more recent than b
    spool.put("c", frame, QUERY, individuals=1, message=None)  # 3 files > 2.5: b goes
    assert len(spool) == 2
    assert spool.bytes <= spool.max_bytes
    assert len(spool.files()) == 2
    with spool.borrow("a") as a, spool.borrow("b") as b, spool.borrow("c") as c_:
        assert (a is not None, b is None, c_ is not None) == (True, True, True)
    tiny = ResultSpool(ttl_seconds=60, max_bytes=10)
    assert not tiny.put("k", frame, QUERY, individuals=1, message=None)  # larger than all
    assert tiny.files() == []
    spool.close()


def test_a_file_being_read_survives_its_eviction_until_the_read_ends() -> None:
    frame = _rows(3_000)
    spool = ResultSpool(ttl_seconds=60, max_bytes=1e9)
    spool.put("a", frame, QUERY, individuals=1, message=None)
    spool.max_bytes = spool.bytes  # room for one file
    with spool.borrow("a") as reading:
        assert reading is not None
        spool.put("b", frame, QUERY, individuals=1, message=None)  # evicts a
        assert reading.page(limit=10, after=None)[0].height == 10
        assert len(spool.files()) == 2
    assert len(spool.files()) == 1
    spool.close()


def test_expired_results_are_gone() -> None:
    now = [0.0]
    spool = ResultSpool(ttl_seconds=5, max_bytes=1e9, clock=lambda: now[0])
    spool.put("a", _rows(30), QUERY, individuals=1, message="m")
    now[0] = 6.0
    with spool.borrow("a") as entry:
        assert entry is None
    assert spool.files() == []
    spool.close()


def test_the_cache_admits_at_most_its_entry_share() -> None:
    cache: ResultCache[pl.DataFrame] = ResultCache(
        ttl_seconds=60, max_rows=100, rows=lambda f: f.height, entry_share=0.25
    )
    assert cache.put("small", _rows(25))
    assert not cache.put("large", _rows(26))
    assert cache.get("small") is not None
    assert cache.get("large") is None


def test_a_lane_runs_concurrent_identical_reads_once() -> None:
    lane: Lane[int] = Lane("test", 2)
    release = threading.Event()
    calls = 0

    def read() -> int:
        nonlocal calls
        calls += 1
        release.wait(30)
        return 42

    async def main() -> list[tuple[int, bool]]:
        waits = [asyncio.ensure_future(lane.run("k", read)) for _ in range(5)]
        await asyncio.sleep(0.1)
        assert lane.in_flight() == 1
        release.set()
        return list(await asyncio.gather(*waits))

    results = asyncio.run(main())
    lane.shutdown()
    assert calls == 1
    assert lane.reads == 1
    assert [value for value, _ in results] == [42] * 5
    assert sum(started for _, started in results) == 1
