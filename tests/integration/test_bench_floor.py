"""The bench's hand-written campaign queries (``bench/sql``) give the product's headline figures,
so that what ``bench/bench_floor.py`` measures is the page's question, repeated event ids
included (the demo has none)."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from journey_core.io.demo import build_demo

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.append(str(BENCH))  # the bench scripts import each other by module name

import bench_floor  # noqa: E402
import bench_scale  # noqa: E402

# A copy of some events under the same id, an hour later, with another page and revenue:
# the rule keeps the first of (email, time, type, anonymous id, page), the original.
REPEAT = """
INSERT INTO events
SELECT event_id, occurred_at + INTERVAL 1 HOUR, anonymous_id, email, event_type,
       coalesce(page_url, '') || '?again', referrer, utm_source, utm_medium, utm_campaign,
       utm_content, utm_term, coalesce(revenue, 0) + 7
FROM events
WHERE occurred_at >= TIMESTAMP '2025-11-20' AND hash(event_id) % 7 = 0
"""


@pytest.fixture(scope="module", params=[False, True], ids=["unique-ids", "repeated-ids"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("floor") / "demo.duckdb"
    end = dt.datetime.fromisoformat(bench_scale.END.replace("Z", "+00:00"))
    build_demo(f"duckdb:///{path.as_posix()}", individuals=400, seed=11, end=end)
    if request.param:
        with duckdb.connect(str(path)) as con:
            con.execute(REPEAT)
            (repeated,) = con.execute(
                "SELECT count(*) FROM (SELECT event_id FROM events GROUP BY 1 HAVING count(*) > 1)"
            ).fetchone() or (0,)
            assert repeated > 0
    return str(path)


@pytest.fixture(scope="module")
def expected(world: str) -> dict[str, Any]:
    """The product's headline figures (``campaign_figures``, bench_scale's ``sql`` route), on
    a copy of the file (the product's engine keeps its file open in this process)."""
    copy = Path(world).with_name("product.duckdb")
    shutil.copyfile(world, copy)
    run: Callable[[], dict[str, Any]] = bench_scale._route(
        {"route": "sql", "url": f"duckdb:///{copy.as_posix()}"}
    )
    return run()


def test_the_aggregate_is_the_products_question(world: str, expected: dict[str, Any]) -> None:
    got = bench_floor._run(world, "256MB", 2, False, "aggregate", "scratch", 1)
    assert got["outcome"] == expected
    assert expected["people"] > 0
    assert expected["conversions"] > 0


@pytest.mark.parametrize(
    ("store", "buckets"),
    [
        pytest.param("scratch", 1, id="scratch-one-bucket"),
        pytest.param("scratch", 3, id="scratch-three-buckets"),
        pytest.param("temp", 3, id="temp-three-buckets"),
    ],
)
def test_the_narrow_steps_are_the_products_question(
    world: str, expected: dict[str, Any], store: str, buckets: int
) -> None:
    got = bench_floor._run(world, "256MB", 2, False, "steps", store, buckets)
    assert got["outcome"]["headline"] == expected
    assert len([s for s in got["outcome"]["steps"] if s.startswith("bucket ")]) == buckets
