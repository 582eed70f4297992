"""Writing journey rows as CSV, JSON or Parquet, safe to open in a spreadsheet.

Every writer also takes the rows as chunks (an iterable of frames, as
:func:`journey_core.warehouse.native.stream_journeys` reads them) and writes each chunk as it
comes: the bytes equal those of the whole frame (Parquet: the same rows), and memory holds
one chunk at a time.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, Literal

import polars as pl

Format = Literal["csv", "json", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "json", "parquet")

# OWASP CSV injection: a cell starting with one of these is read as a formula.
_FORMULA_START = r"^[=+\-@\t\r]"


def neutralize_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with a single quote.

    >>> neutralize_formulas(pl.DataFrame({"a": ["=1+1", "ok", None]}))["a"].to_list()
    ["'=1+1", 'ok', None]
    """
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_FORMULA_START))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text
    )


def for_output(frame: pl.DataFrame) -> pl.DataFrame:
    """Timestamps as ISO-8601 strings with offset, the form every export uses."""
    return frame.with_columns(
        pl.col(name).dt.strftime("%Y-%m-%dT%H:%M:%S%.6f%:z")
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime)
    )


def to_csv_bytes(frame: pl.DataFrame) -> bytes:
    """CSV bytes of journey rows: ISO timestamps, spreadsheet formulas neutralised."""
    return neutralize_formulas(for_output(frame)).write_csv().encode("utf-8")


def csv_pieces(chunks: Iterable[pl.DataFrame]) -> Iterator[bytes]:
    """:func:`to_csv_bytes` of the chunks' rows, chunk by chunk: one header, then rows.

    >>> frame = pl.DataFrame({"a": ["=1", "b", "c"]})
    >>> b"".join(csv_pieces([frame[:1], frame[1:]])) == to_csv_bytes(frame)
    True
    """
    first = True
    for chunk in chunks:
        if first or chunk.height:
            data = to_csv_bytes(chunk)
            yield data if first else data.split(b"\n", 1)[1]
            first = False


def ndjson_pieces(chunks: Iterable[pl.DataFrame]) -> Iterator[bytes]:
    """One JSON object per line (timestamps as :func:`for_output`), chunk by chunk."""
    for chunk in chunks:
        if chunk.height:
            yield for_output(chunk).write_ndjson().encode("utf-8")


def json_pieces(chunks: Iterable[pl.DataFrame]) -> Iterator[bytes]:
    """The JSON array of row objects that ``for_output(frame).write_json()`` writes, in pieces.

    >>> frame = pl.DataFrame({"a": [1, 2, 3]})
    >>> b"".join(json_pieces([frame[:2], frame[:0], frame[2:]])).decode()
    '[{"a":1},{"a":2},{"a":3}]'
    """
    yield b"["
    separator = b""
    for chunk in chunks:
        if chunk.height:
            rows = for_output(chunk).write_json().encode("utf-8")
            yield separator + rows[1:-1]  # the objects, without the array's brackets
            separator = b","
    yield b"]"


def write(frame: pl.DataFrame, out: BinaryIO, *, fmt: Format) -> None:
    """Write ``frame`` to a binary stream in ``fmt``."""
    if fmt == "csv":
        out.write(to_csv_bytes(frame))
    elif fmt == "json":
        buf = io.StringIO()
        for_output(frame).write_json(buf)
        out.write(buf.getvalue().encode("utf-8"))
    else:
        frame.write_parquet(out)


def write_chunks(chunks: Iterable[pl.DataFrame], out: BinaryIO, *, fmt: Format) -> None:
    """Write the chunks' rows to ``out`` in ``fmt``, each chunk as it comes.

    CSV and JSON are byte for byte :func:`write` of the whole frame; Parquet is one file
    of one row group per chunk (pyarrow's ``ParquetWriter``) holding the same rows.
    """
    if fmt == "parquet":
        _write_parquet(chunks, out)
        return
    pieces = csv_pieces(chunks) if fmt == "csv" else json_pieces(chunks)
    for piece in pieces:
        out.write(piece)


def _write_parquet(chunks: Iterable[pl.DataFrame], out: BinaryIO) -> None:
    import pyarrow.parquet as pq  # here: only Parquet exports need it

    writer: Any = None
    try:
        for chunk in chunks:
            table = chunk.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(out, table.schema, compression="zstd")
            elif chunk.height == 0:
                continue
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()
