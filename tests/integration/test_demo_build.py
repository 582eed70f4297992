"""``journey demo`` in bounded memory: written block by block, the same rows, peak RSS flat."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.io import demo
from journey_core.io.demo import build_demo, generate
from tests.support.scenario import stored

END = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
PEAK_MB_BOUND = 800  # the whole demo used to be in memory: 1.4 GB at 2M events


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 40 people, slices of 60 sessions and time buckets of about 1,000 events
    (held 500 at a time): many chunks from a small demo."""
    monkeypatch.setattr(demo, "BLOCK", 40)
    monkeypatch.setattr(demo, "_SESSION_SLICE", 60)
    monkeypatch.setattr(demo, "BUCKET_EVENTS", 1_000)
    monkeypatch.setattr(demo, "_SPILL_EVENTS", 500)


@pytest.mark.usefixtures("small_blocks")
def test_duckdb_demo_written_in_chunks_holds_the_generated_rows_in_time_order(
    tmp_path: Path,
) -> None:
    url = f"duckdb:///{tmp_path / 'chunks.duckdb'}"
    steps: list[tuple[str, float]] = []
    stats = build_demo(url, individuals=130, seed=3, end=END, progress=lambda *s: steps.append(s))
    events, identities = generate(individuals=130, seed=3, end=END)
    # Stored in time order (no ORDER BY): DuckDB's zone maps rely on it.
    assert_frame_equal(stored(url, c.EVENTS), events)
    assert_frame_equal(stored(url, c.IDENTITIES), identities)
    assert (stats.events, stats.identities) == (events.height, identities.height)
    fractions = [f for _, f in steps]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert len([s for s, _ in steps if s.endswith("events written")]) > 4
    assert f"{events.height:,} events written" in [s for s, _ in steps]


@pytest.mark.usefixtures("small_blocks")
def test_sqlite_demo_written_in_chunks_holds_the_generated_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chunks.sqlite'}"
    build_demo(url, individuals=130, seed=3, end=END)
    events, identities = generate(individuals=130, seed=3, end=END)
    written = stored(url, c.EVENTS).with_columns(
        pl.col(c.OCCURRED_AT).str.to_datetime(time_unit="us")
    )
    assert_frame_equal(written.sort(c.OCCURRED_AT, c.EVENT_ID), events)
    assert stored(url, c.IDENTITIES).height == identities.height


def _peak_mb(tmp_path: Path, events: str) -> float:
    """Peak RSS of a process that runs ``journey demo --events <events>`` into DuckDB."""
    code = (
        # VmHWM is this process's own peak: ru_maxrss would also count the parent's (pytest's)
        # resident memory when the child was forked from a large pytest process.
        "import sys\n"
        "from journey_cli.commands import main\n"
        "code = main(sys.argv[1:])\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "print(status.split()[0])\n"
        "sys.exit(code)\n"
    )
    db = tmp_path / f"demo-{events}.duckdb"
    args = ["demo", "--db", f"duckdb:///{db}", "--events", events, "--end", "2022-08-31"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEY_")}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert b"events written" in proc.stderr  # rows ...
    assert b"left)" in proc.stderr  # ... and the time left
    db.unlink()
    return int(proc.stdout.split()[-1]) / 1024  # VmHWM is in KiB


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status (Linux)")
def test_demo_peak_memory_does_not_grow_with_size(tmp_path: Path) -> None:
    small = _peak_mb(tmp_path, "200k")
    large = _peak_mb(tmp_path, "2M")  # two blocks of people, ten times the rows
    assert large < PEAK_MB_BOUND, (small, large)
    assert large < small + 300, (small, large)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--events", "1M", "--individuals", "5"], "not allowed with", id="both"),
        pytest.param(["--events", "lots"], "is not a count", id="not-a-count"),
        pytest.param(["--events", "0"], "at least 1", id="zero"),
    ],
)
def test_demo_size_options_are_checked(tmp_path: Path, args: list[str], message: str) -> None:
    db = ["--db", f"duckdb:///{tmp_path}/x.duckdb"]
    proc = subprocess.run(
        [sys.executable, "-m", "journey_cli", "demo", *db, *args],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert message in proc.stderr.decode()
    assert not (tmp_path / "x.duckdb").exists()
