"""The demo generator in blocks: deterministic, no person or event twice, nothing dropped."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.io import demo
from journey_core.io.demo import (
    bucket_edges,
    chunks_in_time_order,
    generate,
    generate_chunks,
    individuals_for_events,
)

END = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 40 people and slices of 60 sessions, so 130 people span four blocks."""
    monkeypatch.setattr(demo, "BLOCK", 40)
    monkeypatch.setattr(demo, "_SESSION_SLICE", 60)


def _person(anonymous_id: pl.Expr) -> pl.Expr:
    return anonymous_id.str.extract(r"^anon-(\d+)-\d+$").cast(pl.Int64)


@pytest.mark.usefixtures("small_blocks")
def test_chunks_add_up_to_the_whole_demo_without_duplicates() -> None:
    chunks = list(generate_chunks(individuals=130, seed=3, end=END))
    events, identities = generate(individuals=130, seed=3, end=END)
    assert len(chunks) > 4  # several slices per block, four blocks
    assert sum(ev.height for ev, _ in chunks) == events.height
    assert sum(ids.height for _, ids in chunks) == identities.height
    assert events[c.EVENT_ID].is_unique().all()
    for ev, ids in chunks:  # each chunk is in time order
        assert ev[c.OCCURRED_AT].is_sorted()
        assert ids[c.IDENTIFIED_AT].is_sorted()
    # Every person of every block is there once: numbers 0..129, each with their own email.
    people = events.select(_person(pl.col(c.ANONYMOUS_ID)).alias("p")).drop_nulls()["p"]
    assert people.unique().sort().to_list() == list(range(130))
    pairs = events.select(_person(pl.col(c.ANONYMOUS_ID)).alias("p"), pl.col(c.EMAIL))
    assert pairs.drop_nulls().unique()[c.EMAIL].is_unique().all()  # an email is one person's


@pytest.mark.usefixtures("small_blocks")
def test_blocks_are_deterministic_per_seed_and_end() -> None:
    first = generate(individuals=130, seed=3, end=END)
    again = generate(individuals=130, seed=3, end=END)
    other_seed = generate(individuals=130, seed=4, end=END)
    earlier = generate(individuals=130, seed=3, end=END - dt.timedelta(days=1))
    assert_frame_equal(first[0], again[0])
    assert_frame_equal(first[1], again[1])
    assert not first[0].equals(other_seed[0])
    cutoff = END.replace(tzinfo=None) - dt.timedelta(days=1)
    assert earlier[0].filter(pl.col(c.OCCURRED_AT) > cutoff).is_empty()


@pytest.mark.usefixtures("small_blocks")
def test_rows_do_not_depend_on_the_session_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    sliced = generate(individuals=130, seed=3, end=END)
    monkeypatch.setattr(demo, "_SESSION_SLICE", 10**9)
    whole = generate(individuals=130, seed=3, end=END)
    assert_frame_equal(sliced[0], whole[0])
    assert_frame_equal(sliced[1], whole[1])


@pytest.mark.usefixtures("small_blocks")
def test_the_first_block_is_the_smaller_demo() -> None:
    big, _ = generate(individuals=130, seed=3, end=END)
    small, _ = generate(individuals=40, seed=3, end=END)
    assert_frame_equal(big.filter(pl.col(c.EVENT_ID).is_in(small[c.EVENT_ID].implode())), small)
    # ... and all of the first 40 people's events (email opens carry no anonymous id).
    first_block = big.filter(_person(pl.col(c.ANONYMOUS_ID)) < 40)
    assert first_block.height == small.drop_nulls(c.ANONYMOUS_ID).height


@pytest.mark.parametrize(
    ("events", "individuals"),
    [
        pytest.param(1, 1, id="at-least-one"),
        pytest.param(48, 1, id="one-person"),
        pytest.param(49, 2, id="rounds-up"),
        pytest.param(100_000_000, 2_083_334, id="100M"),
    ],
)
def test_individuals_for_events(events: int, individuals: int) -> None:
    assert individuals_for_events(events) == individuals


@pytest.mark.usefixtures("small_blocks")
def test_chunks_in_time_order_are_the_whole_demo_sorted_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "BUCKET_EVENTS", 1_000)  # about six buckets
    monkeypatch.setattr(demo, "_SPILL_EVENTS", 700)
    monkeypatch.setattr(demo, "_HAND_ROWS", 400)
    steps: list[str] = []
    chunks = list(
        chunks_in_time_order(
            individuals=130, seed=3, end=END, spill=tmp_path, progress=lambda s, _: steps.append(s)
        )
    )
    events, identities = generate(individuals=130, seed=3, end=END)
    assert_frame_equal(pl.concat([ev for ev, _ in chunks]), events)  # sorted across chunks
    assert_frame_equal(pl.concat([ids for _, ids in chunks]), identities)
    assert len(chunks) > 6
    assert max(ev.height for ev, _ in chunks) <= 400
    assert steps[-1] == f"{events.height:,} events written"
    assert f"{events.height:,} events generated" in steps
    assert list(tmp_path.iterdir()) == []  # the parked rows are gone


@pytest.mark.parametrize("buckets", [pytest.param(1, id="one"), pytest.param(200, id="200")])
def test_bucket_edges_start_at_the_span_and_increase(buckets: int) -> None:
    edges = bucket_edges(END, buckets)
    start = np.datetime64(END.replace(tzinfo=None) - dt.timedelta(days=demo.SPAN_DAYS), "us")
    assert edges.size == buckets
    assert edges[0] == start.astype(np.int64)
    assert (np.diff(edges) > 0).all()
    assert edges[-1] < np.datetime64(END.replace(tzinfo=None), "us").astype(np.int64)
