"""Issue 14 for the API's parts: sealed cursors, public 503 messages, a byte-bounded cache."""

from __future__ import annotations

import base64
import datetime as dt
import json

import polars as pl
import pytest

from journey_api import cursor as cursors
from journey_api.cache import ResultCache
from journey_core.errors import InputError
from journey_core.rules.query import JourneyQuery

AS_OF = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
EMAIL = "secret.person@example.com"
KEY = b"k" * 32


def _cursor(email: str = EMAIL) -> cursors.Cursor:
    query = JourneyQuery(as_of=AS_OF)
    return cursors.Cursor(
        email, AS_OF - dt.timedelta(hours=1), "e1", AS_OF, cursors.query_hash(query)
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_cursor_reveals_no_email() -> None:
    text = _cursor().encode(KEY)
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    for needle in (EMAIL, "secret", "example.com"):
        assert needle.encode() not in raw
        assert needle not in text


def test_one_position_gives_one_cursor_and_another_position_another() -> None:
    assert _cursor().encode(KEY) == _cursor().encode(KEY)  # stable: a synthetic nonce
    assert _cursor().encode(KEY) != _cursor("other@example.com").encode(KEY)


@pytest.mark.parametrize("position", [0, 5, 20, -3, -1], ids=lambda p: f"byte {p}")
def test_an_altered_cursor_is_refused(position: int) -> None:
    text = _cursor().encode(KEY)
    raw = bytearray(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    raw[position] ^= 0x01
    with pytest.raises(InputError) as info:
        cursors.Cursor.decode(_b64(bytes(raw)), KEY)
    assert info.value.field == "cursor"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            _b64(json.dumps({"v": 1, "k": [EMAIL, 0, None], "a": 0, "q": "x"}).encode()),
            id="old-plain-json",
        ),
        pytest.param(_b64(b"[" * 1500), id="nested-1500"),
        pytest.param("[" * 1500, id="brackets"),
        pytest.param("", id="empty"),
    ],
)
def test_a_forged_cursor_is_refused(text: str) -> None:
    with pytest.raises(InputError) as info:
        cursors.Cursor.decode(text, KEY)
    assert info.value.field == "cursor"


def test_a_cursor_of_another_key_is_refused() -> None:
    text = _cursor().encode(KEY)
    with pytest.raises(InputError):
        cursors.Cursor.decode(text, b"another key" * 3)
    assert cursors.Cursor.decode(text, KEY) == _cursor()


def test_the_cache_is_bounded_by_bytes() -> None:
    small = pl.DataFrame({"x": [1] * 10})  # 80 bytes
    big = pl.DataFrame({"x": list(range(1000))})  # 8,000 bytes
    cache: ResultCache[pl.DataFrame] = ResultCache(
        ttl_seconds=60,
        max_rows=1_000_000,
        rows=lambda f: f.height,
        max_bytes=1000,
        size=lambda f: int(f.estimated_size()),
    )
    cache.get_or_compute("a", lambda: small)
    cache.get_or_compute("big", lambda: big)  # too big for the cache: not kept
    assert len(cache) == 1
    for key in "bcdefghijklm":  # 13 x 80 bytes > 1000: the least recently used go
        cache.get_or_compute(key, lambda: small)
    assert cache.bytes <= 1000
    assert cache.get_or_compute("m", lambda: big) == (small, True)
    assert cache.get_or_compute("a", lambda: big)[1] is False
