"""DuckDB's memory in the reading processes (issue 12): a limit, and spills outside the file's
folder. The dashboard's engine takes ``JOURNEY_DUCKDB_MEMORY_MB``; ``journey export`` its own."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from journey_core.config import Settings
from journey_core.io.demo import build_demo
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, figures
from journey_core.warehouse.engine import memory_bounded, spill_directory
from journey_core.warehouse.read import read_rows
from journey_ui import shell


@pytest.fixture
def duck_file(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(50000)")
    con.close()
    return path


def _setting(conn: sa.Connection, name: str) -> str:
    return str(conn.exec_driver_sql(f"SELECT current_setting('{name}')").scalar_one())


def _as_duckdb_says(limit: str) -> str:
    con = duckdb.connect()
    con.execute("SET memory_limit = ?", [limit])
    (value,) = con.execute("SELECT current_setting('memory_limit')").fetchone() or ("",)
    con.close()
    return str(value)


def test_a_limited_engine_spills_to_a_folder_of_its_own_not_beside_the_file(
    duck_file: Path,
) -> None:
    engine = create_engine(f"duckdb:///{duck_file}", duckdb_memory="64MB")
    with engine.connect() as first, engine.connect() as second:  # one database, shared settings
        for conn in (first, second):
            assert _setting(conn, "memory_limit") == _as_duckdb_says("64MB")
            assert _setting(conn, "temp_directory") == str(spill_directory())
        rows = first.exec_driver_sql("SELECT count(*) FROM (SELECT * FROM t ORDER BY s)")
        assert rows.scalar_one() == 50_000
        assert second.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 50_000
    engine.dispose()
    assert not duck_file.with_name(duck_file.name + ".tmp").exists()
    assert spill_directory() == Path(tempfile.gettempdir()) / f"journey-duckdb-{os.getpid()}"


def test_a_new_process_removes_the_spill_files_a_killed_one_left(
    duck_file: Path, tmp_path: Path
) -> None:
    """DuckDB deletes its spill files on close, not when its process is killed (8 GB left at
    100M events): the next process that spills removes the folders of dead processes, quiet
    for a minute, only."""
    temp = tmp_path / "temp"
    temp.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], **_OUT)
    stale, alive = (temp / f"journey-duckdb-{pid}" for pid in (gone.stdout.strip(), os.getpid()))
    recent = temp / "journey-duckdb-999999999"  # no such process, but changed just now
    for folder in (stale, alive, recent):
        folder.mkdir()
        (folder / "duckdb_temp_storage_DEFAULT-0.tmp").write_bytes(b"x" * 4096)
    an_hour_ago = time.time() - 3600
    for folder in (stale, alive):
        os.utime(folder, (an_hour_ago, an_hour_ago))
    opened = (
        "import sys\nfrom journey_core.warehouse import create_engine\n"
        "engine = create_engine(sys.argv[1], duckdb_memory='64MB')\n"
        "with engine.connect() as conn:\n"
        "    print(conn.exec_driver_sql('SELECT count(*) FROM t').scalar_one())"
    )
    env = {**os.environ, "TMPDIR": str(temp)}
    proc = subprocess.run([sys.executable, "-c", opened, f"duckdb:///{duck_file}"], env=env, **_OUT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "50000"
    assert not stale.exists(), "a dead process's spill folder is removed"
    assert (alive / "duckdb_temp_storage_DEFAULT-0.tmp").exists(), "a running one's stays"
    assert recent.exists(), "a folder changed in the last minute stays (it may be in use)"


_OUT: dict[str, Any] = {"capture_output": True, "text": True, "check": False, "timeout": 120}


def test_an_unlimited_engine_keeps_duckdbs_defaults(duck_file: Path) -> None:
    engine = create_engine(f"duckdb:///{duck_file}")
    with engine.connect() as conn:
        assert _setting(conn, "temp_directory") != str(spill_directory())
    engine.dispose()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, "256MB", id="default"),
        pytest.param({"JOURNEY_DUCKDB_MEMORY_MB": "128"}, "128MB", id="set"),
    ],
)
def test_the_dashboards_engine_takes_the_setting(
    duck_file: Path, env: dict[str, str], expected: str
) -> None:
    settings = Settings.from_env(env)
    engine = shell._engine.__wrapped__(f"duckdb:///{duck_file}", settings.duckdb_memory_mb)  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert _setting(conn, "memory_limit") == _as_duckdb_says(expected)
    engine.dispose()


def test_zero_leaves_the_dashboards_duckdb_unlimited(duck_file: Path) -> None:
    settings = Settings.from_env({"JOURNEY_DUCKDB_MEMORY_MB": "0"})
    assert settings.duckdb_memory_mb == 0
    engine = shell._engine.__wrapped__(f"duckdb:///{duck_file}", 0)  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert _setting(conn, "temp_directory") != str(spill_directory())
    engine.dispose()


def test_only_a_limited_duckdb_engine_is_memory_bounded(duck_file: Path) -> None:
    assert memory_bounded(create_engine(f"duckdb:///{duck_file}", duckdb_memory="64MB"))
    assert not memory_bounded(create_engine(f"duckdb:///{duck_file}"))
    assert not memory_bounded(create_engine("sqlite://", duckdb_memory="64MB"))


def test_a_bounded_engine_runs_the_figures_part_by_part_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"duckdb:///{tmp_path / 'demo.duckdb'}"
    build_demo(url, individuals=300, seed=7, end=dt.datetime(2022, 8, 31, tzinfo=dt.UTC))
    query = JourneyQuery(
        as_of=dt.datetime(2022, 8, 31, tzinfo=dt.UTC), event_date=dt.date(2022, 8, 1)
    )
    statements: list[int] = []
    real_rows = read_rows

    def counted(*args: Any) -> list[tuple[Any, ...]]:
        statements.append(1)
        return real_rows(*args)

    monkeypatch.setattr(figures, "read_rows", counted)
    whole = figures.campaign_figures(create_engine(url), query)
    assert len(statements) == 1  # one combined statement
    bounded = figures.campaign_figures(create_engine(url, duckdb_memory="64MB"), query)
    assert len(statements) == 1 + 5  # each figure its own statement
    assert bounded.kpis.revenue == pytest.approx(whole.kpis.revenue)  # summed in another order
    assert replace(bounded.kpis, revenue=0.0) == replace(whole.kpis, revenue=0.0)
    for name in ("trend", "channels", "campaigns", "touchpoints"):
        assert_frame_equal(getattr(bounded, name), getattr(whole, name))
