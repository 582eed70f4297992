"""Writing journey rows as CSV, JSON or Parquet, safe to open in a spreadsheet."""

from __future__ import annotations

import io
from typing import BinaryIO, Literal

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
