"""Exports written chunk by chunk equal the export of the whole frame."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_core.io import export

FRAME = pl.DataFrame(
    {
        "email": ["ann@x.io", "ann@x.io", "=bob@x.io", "cy@x.io", "cy@x.io"],
        "occurred_at": [dt.datetime(2022, 7, d, tzinfo=dt.UTC) for d in range(1, 6)],
        "page_url": ["/a", None, "+1", '/c,"q"', "/d\n"],
        "revenue": [None, 1.5, None, 0.1, 2.0],
        "before_known": [True, False, None, False, False],
    }
)
CHUNKINGS = [
    pytest.param([5], id="one chunk"),
    pytest.param([2, 3], id="two chunks"),
    pytest.param([1, 0, 1, 3], id="an empty chunk between"),
    pytest.param([1, 1, 1, 1, 1], id="a row each"),
    pytest.param([0, 5], id="an empty chunk first"),
]


def _chunks(frame: pl.DataFrame, sizes: list[int]) -> list[pl.DataFrame]:
    assert sum(sizes) == frame.height
    out, offset = [], 0
    for size in sizes:
        out.append(frame.slice(offset, size))
        offset += size
    return out


def _written(chunks: list[pl.DataFrame], fmt: export.Format) -> bytes:
    buf = io.BytesIO()
    export.write_chunks(chunks, buf, fmt=fmt)
    return buf.getvalue()


def _whole(frame: pl.DataFrame, fmt: export.Format) -> bytes:
    buf = io.BytesIO()
    export.write(frame, buf, fmt=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize("sizes", CHUNKINGS)
def test_text_formats_are_byte_for_byte_the_whole_export(
    sizes: list[int], fmt: export.Format
) -> None:
    assert _written(_chunks(FRAME, sizes), fmt) == _whole(FRAME, fmt)


@pytest.mark.parametrize("sizes", CHUNKINGS)
def test_parquet_holds_the_same_rows(sizes: list[int]) -> None:
    data = _written(_chunks(FRAME, sizes), "parquet")
    assert_frame_equal(pl.read_parquet(io.BytesIO(data)), FRAME)


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_an_empty_result_keeps_its_columns(fmt: export.Format) -> None:
    empty = FRAME.clear()
    data = _written([empty], fmt)
    if fmt == "parquet":
        assert_frame_equal(pl.read_parquet(io.BytesIO(data)), empty)
    else:
        assert data == _whole(empty, fmt)
        assert data in {b"[]", b"email,occurred_at,page_url,revenue,before_known\n"}


@pytest.mark.parametrize("sizes", CHUNKINGS)
def test_ndjson_is_the_json_rows_one_a_line(sizes: list[int]) -> None:
    lines = b"".join(export.ndjson_pieces(_chunks(FRAME, sizes))).splitlines()
    assert b"[" + b",".join(lines) + b"]" == _whole(FRAME, "json")


def test_chunks_are_written_as_they_come() -> None:
    # The writer consumes one chunk, writes it, then asks for the next.
    out = io.BytesIO()
    seen: list[int] = []

    def chunks() -> Iterator[pl.DataFrame]:
        for chunk in _chunks(FRAME, [2, 3]):
            seen.append(len(out.getvalue()))
            yield chunk

    export.write_chunks(chunks(), out, fmt="csv")
    assert seen[0] == 0
    assert seen[1] > 0  # the first chunk was out before the second was read
