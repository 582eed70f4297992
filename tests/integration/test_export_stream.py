"""Exports stream the rules' one statement: the rows equal the oracle, memory stays flat.

``journey export`` reads :func:`journey_core.warehouse.native.stream_journeys` in bounded
batches and writes each as it comes. Checked on DuckDB and SQLite files and on PostgreSQL
(marker ``postgres``); Spark's is in test_spark.py. The memory test runs two exports of demo
warehouses of different sizes in subprocesses and compares their peak RSS.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from journey_cli import commands
from journey_cli.commands import main as journey_main
from journey_core.io import export
from journey_core.io.demo import build_demo
from journey_core.io.privacy import mask_frame
from journey_core.rules import journeys
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, write_tables
from journey_core.warehouse.native import stream_journeys
from journey_core.warehouse.read import BATCH_ROWS, STREAM_DUCKDB_MEMORY
from tests.conftest import WarehouseFactory
from tests.support.postgres import PostgresServer
from tests.support.scenario import END, queries, scenario
from tests.unit.test_rules import AS_OF, CAMPAIGN_EVENTS, CAMPAIGN_IDS

CAMPAIGN = "2022-07-01"
EXPORTS = [
    pytest.param({"event_date": CAMPAIGN}, id="event_date"),
    pytest.param({"email": "ben@example.com"}, id="email"),
    pytest.param({"email": "ben@example.com", "event_date": CAMPAIGN}, id="both"),
    pytest.param({}, id="recent"),
    pytest.param({"email": "cara@example.com"}, id="not-known-yet"),
]


def _query(params: dict[str, str], as_of: dt.datetime = AS_OF) -> JourneyQuery:
    event_date = params.get("event_date")
    return JourneyQuery(
        as_of=as_of,
        email=params.get("email"),
        event_date=dt.date.fromisoformat(event_date) if event_date else None,
    )


def _export(url: str, out: Path, params: dict[str, str], fmt: str, *extra: str) -> bytes:
    argv = ["export", "--db", url, "--as-of", AS_OF.isoformat(), "--format", fmt]
    for name, value in params.items():
        argv += [f"--{name.replace('_', '-')}", value]
    assert journey_main([*argv, *extra, "--output", str(out)]) == 0
    return out.read_bytes()


def _streamed(url: str, query: JourneyQuery, rows: int) -> list[pl.DataFrame]:
    engine = create_engine(url)
    try:
        return list(stream_journeys(engine, query, rows=rows))
    finally:
        engine.dispose()


@pytest.mark.parametrize("params", EXPORTS)
def test_journey_export_equals_the_oracle(
    warehouse: WarehouseFactory, tmp_path: Path, params: dict[str, str]
) -> None:
    url = warehouse(CAMPAIGN_EVENTS, CAMPAIGN_IDS)
    expected = journeys(CAMPAIGN_EVENTS, CAMPAIGN_IDS, query=_query(params))
    assert _export(url, tmp_path / "j.csv", params, "csv") == export.to_csv_bytes(expected)
    got = json.loads(_export(url, tmp_path / "j.json", params, "json"))
    assert got == json.loads(export.for_output(expected).write_json())
    parquet = _export(url, tmp_path / "j.parquet", params, "parquet")
    assert_frame_equal(pl.read_parquet(io.BytesIO(parquet)), expected)
    masked = _export(url, tmp_path / "m.csv", params, "csv", "--mask-pii")
    assert masked == export.to_csv_bytes(mask_frame(expected))


def test_batches_are_bounded_and_in_order(warehouse: WarehouseFactory) -> None:
    events, identities = scenario(individuals=40)
    url = warehouse(events, identities)
    for query in queries(identities):
        expected = journeys(events, identities, query=query)
        batches = _streamed(url, query, rows=7)
        assert all(b.height <= 7 for b in batches)
        assert len(batches) == max(1, -(-expected.height // 7))
        assert_frame_equal(pl.concat(batches), expected)


def test_a_failed_write_exits_2_and_closes_the_result(tmp_path: Path) -> None:
    events, identities = scenario(individuals=40)
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    write_tables(url, events=events, identities=identities)
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("no /dev/full here")
    argv = ["export", "--db", url, "--as-of", END.isoformat(), "--output", str(full)]
    assert journey_main(argv) == 2  # and the warehouse's result is closed (no error at exit)


# --------------------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with PostgresServer() as pg:
        pg.execute_admin("CREATE DATABASE exports")
        yield pg.url(dbname="exports")


@pytest.mark.postgres
def test_streamed_rows_equal_the_oracle_on_postgres(pg_url: str, tmp_path: Path) -> None:
    events, identities = scenario(individuals=40)
    write_tables(pg_url, events=events, identities=identities)
    for query in queries(identities):
        expected = journeys(events, identities, query=query)
        batches = _streamed(pg_url, query, rows=7)
        assert all(b.height <= 7 for b in batches)
        assert_frame_equal(pl.concat(batches), expected)
    write_tables(pg_url, events=CAMPAIGN_EVENTS, identities=CAMPAIGN_IDS)
    params = {"event_date": CAMPAIGN}
    expected = journeys(CAMPAIGN_EVENTS, CAMPAIGN_IDS, query=_query(params))
    assert _export(pg_url, tmp_path / "j.csv", params, "csv") == export.to_csv_bytes(expected)


# --------------------------------------------------------------------------- memory
_MEASURE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, check=False)
sys.stderr.buffer.write(proc.stderr)
print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_rss_kb(url: str, out: Path) -> tuple[int, str]:
    """Peak RSS of one ``journey export`` run in its own process (through a parent that
    reads ``RUSAGE_CHILDREN``, so each measurement is of that export alone)."""
    export_cmd = [sys.executable, "-m", "journey_cli", "export", "--db", url]
    export_cmd += ["--as-of", "2022-08-31T00:00:00Z", "--event-date", "2022-06-01"]
    export_cmd += ["--output", str(out)]
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *export_cmd],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    code, peak = proc.stdout.split()
    assert code == "0", proc.stderr
    return int(peak), proc.stderr


def test_export_memory_does_not_grow_with_the_result(tmp_path: Path) -> None:
    # SQLite runs in the exporting process with a bounded page cache (sorts and temporary
    # tables spill to disk), so the process's peak is the reader's and writer's own.
    end = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
    peaks = []
    for individuals in (1_000, 8_000):
        url = f"sqlite:///{tmp_path / f'demo{individuals}.sqlite'}"
        build_demo(url, individuals=individuals, seed=7, end=end)
        peak, err = _peak_rss_kb(url, tmp_path / f"out{individuals}.csv")
        rows = int(err.split("Wrote ")[1].split(" rows")[0].replace(",", ""))
        peaks.append((rows, peak))
    (small_rows, small), (large_rows, large) = peaks
    assert large_rows > 5 * small_rows > 0  # the results differ several-fold ...
    # ... the peaks do not: reading the whole result at once grew it by about 280 MB here.
    assert large - small < 80 * 1024, peaks


# --------------------------------------------------------------------------- DuckDB, bounded
def test_export_of_a_duckdb_file_is_read_in_bounded_batches_and_written_as_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not timed: counts what memory depends on. Every chunk the writer gets has at most
    # BATCH_ROWS rows, each is written before the next is read, and DuckDB runs the statement
    # under STREAM_DUCKDB_MEMORY (beyond it, it spills instead of growing with the data).
    url = f"duckdb:///{tmp_path / 'demo.duckdb'}"
    build_demo(url, individuals=2_000, seed=7, end=dt.datetime(2022, 8, 31, tzinfo=dt.UTC))
    engines: list[sa.Engine] = []
    real_engine = create_engine

    def engine_spy(*args: Any, **kwargs: Any) -> sa.Engine:
        engines.append(real_engine(*args, **kwargs))
        return engines[-1]

    heights: list[int] = []
    written_before_next: list[bool] = []
    real_write = export.write_chunks

    def write_spy(chunks: Iterable[pl.DataFrame], out: BinaryIO, *, fmt: export.Format) -> None:
        def watched() -> Iterator[pl.DataFrame]:
            for chunk in chunks:
                position = out.tell()
                heights.append(chunk.height)
                yield chunk  # the writer writes it, then asks for the next one
                written_before_next.append(out.tell() > position)

        real_write(watched(), out, fmt=fmt)

    monkeypatch.setattr(commands, "create_engine", engine_spy)
    monkeypatch.setattr(export, "write_chunks", write_spy)
    out = tmp_path / "j.csv"
    argv = ["export", "--db", url, "--as-of", "2022-08-31T00:00:00Z"]
    assert journey_main([*argv, "--event-date", "2022-06-01", "--output", str(out)]) == 0
    rows = len(out.read_bytes().splitlines()) - 1
    assert rows > 2 * BATCH_ROWS  # several batches ...
    assert sum(heights) == rows
    assert max(heights) <= BATCH_ROWS  # ... none larger than the bound
    assert len(heights) >= -(-rows // BATCH_ROWS)
    assert all(written_before_next)
    with engines[0].connect() as conn:
        limit = conn.exec_driver_sql("SELECT current_setting('memory_limit')").scalar_one()
    engines[0].dispose()
    expected = sa.create_engine("duckdb:///:memory:")
    with expected.connect() as conn:
        conn.exec_driver_sql(f"SET memory_limit = '{STREAM_DUCKDB_MEMORY}'")
        wanted = conn.exec_driver_sql("SELECT current_setting('memory_limit')").scalar_one()
    expected.dispose()
    assert limit == wanted
