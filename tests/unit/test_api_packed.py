"""A person's result is cached packed (Arrow IPC bytes): same pages, bytes counted as kept."""

from __future__ import annotations

import datetime as dt

import pytest
from polars.testing import assert_frame_equal

from journey_api import routes
from journey_api.cache import ResultCache
from journey_api.routes import Answer, Kept, PackedAnswer, kept_bytes, kept_rows
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import CANONICAL, JourneyResult
from tests.unit.test_api_parts import KEYS, rows

AS_OF = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
PERSON = JourneyQuery(as_of=AS_OF, email="a@x.io")
COHORT = JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1))


@pytest.mark.parametrize("limit", [pytest.param(n, id=f"limit-{n}") for n in (1, 2, 4, 10)])
def test_packed_pages_equal_the_frames_pages(limit: int) -> None:
    answer = Answer.of(JourneyResult(rows(KEYS), PERSON))
    packed = PackedAnswer.of(answer)
    assert (packed.events, packed.individuals) == (answer.events, answer.individuals)
    after = None
    for _ in range(len(KEYS) + 1):
        expected, following = answer.page(limit=limit, after=after)
        got, got_following = packed.page(limit=limit, after=after)
        assert_frame_equal(got, expected)
        assert got_following == following
        if following is None:
            break
        after = following
    else:
        pytest.fail("paging never ended")


def test_the_cache_counts_the_packed_bytes() -> None:
    answer = Answer.of(JourneyResult(rows(KEYS), PERSON))
    packed = PackedAnswer.of(answer)
    assert kept_bytes(packed) == len(packed.packed) > 0
    assert kept_rows(packed) == kept_rows(answer) == len(KEYS)
    assert kept_bytes(answer) == answer.result.frame.estimated_size()


@pytest.mark.parametrize(
    ("query", "kind"),
    [pytest.param(PERSON, PackedAnswer, id="person"), pytest.param(COHORT, Answer, id="cohort")],
)
def test_a_persons_result_is_kept_packed(
    monkeypatch: pytest.MonkeyPatch, query: JourneyQuery, kind: type
) -> None:
    result = JourneyResult(rows(KEYS), query)
    monkeypatch.setattr(routes, "_fetch", lambda _warehouse, _query: result)
    cache: ResultCache[Kept] = ResultCache(
        ttl_seconds=60, max_rows=1000, rows=kept_rows, size=kept_bytes, max_bytes=1e9
    )
    warehouse = routes.Warehouse("duckdb:///unused.duckdb", mapping=CANONICAL, read_slots=1)
    routes._read_and_keep(warehouse, query, "k", cache, None)
    kept = cache.get("k")
    assert kept is not None
    assert isinstance(kept, kind)
    assert_frame_equal(kept.page(limit=100, after=None)[0], rows(KEYS))
