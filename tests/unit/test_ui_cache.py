"""journey_ui.cache.ByteCache: bounded by estimated bytes, least recently used first, shared."""

from __future__ import annotations

import threading
import time
from typing import Any

import polars as pl
import pytest

from journey_ui.cache import ByteCache, size_of


def frame(rows: int) -> pl.DataFrame:
    return pl.DataFrame({"email": [f"p{i}@x.io" for i in range(rows)], "n": range(rows)})


def test_bytes_stay_under_the_budget_and_the_least_recent_go_first() -> None:
    one = size_of(frame(1000))
    cache = ByteCache(max_bytes=3 * one + one // 2)
    for key in "abcd":
        cache.get_or_make(key, lambda: frame(1000))
        assert cache.bytes <= cache.max_bytes
    assert len(cache) == 3
    calls: list[str] = []

    def make(key: str) -> pl.DataFrame:
        calls.append(key)
        return frame(1000)

    cache.get_or_make("a", lambda: make("a"))  # "a" was dropped
    assert calls == ["a"]
    cache.get_or_make("c", lambda: make("c"))  # still there
    assert calls == ["a"]


def test_a_result_larger_than_the_budget_is_returned_not_kept() -> None:
    cache = ByteCache(max_bytes=size_of(frame(10)))
    big = cache.get_or_make("big", lambda: frame(10_000))
    assert big.height == 10_000
    assert len(cache) == 0
    assert cache.bytes == 0


@pytest.mark.parametrize(
    ("value", "at_least"),
    [
        pytest.param(frame(1000), 1000 * 8, id="frame"),
        pytest.param((frame(1000), "message"), 1000 * 8, id="tuple"),
        pytest.param({"k": [b"x" * 5000]}, 5000, id="dict-of-bytes"),
    ],
)
def test_size_of_counts_frames_inside_containers(value: Any, at_least: int) -> None:
    assert size_of(value) >= at_least


def test_expired_results_are_made_again() -> None:
    cache = ByteCache(max_bytes=10**6, ttl_seconds=0.01)
    cache.get_or_make("k", lambda: 1)
    time.sleep(0.02)
    assert cache.get_or_make("k", lambda: 2) == 2


def test_concurrent_callers_of_one_key_make_it_once() -> None:
    cache = ByteCache(max_bytes=10**6)
    made: list[int] = []

    def make() -> int:
        time.sleep(0.05)
        made.append(1)
        return 42

    threads = [threading.Thread(target=cache.get_or_make, args=("k", make)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert made == [1]


def test_resize_drops_results_to_fit() -> None:
    cache = ByteCache(max_bytes=10**7)
    for key in range(5):
        cache.get_or_make(key, lambda: frame(1000))
    cache.resize(size_of(frame(1000)))
    assert len(cache) == 1
    assert cache.bytes <= cache.max_bytes
