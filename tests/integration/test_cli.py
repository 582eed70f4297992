"""The ``journey`` command as a user runs it: a real process, real files, real exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys
from tests.support.frames import DEMO_END, T, events_frame, identities_frame
from tests.support.process import held_file
from tests.support.scenario import stored

AS_OF = DEMO_END


def journey(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEY_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "journey_cli", *args],
        capture_output=True,
        cwd=cwd,
        env=full_env,
        timeout=300,
        check=False,
    )


def test_export_csv_equals_core_result(demo_url: str) -> None:
    proc = journey("export", "--db", demo_url, "--event-date", "2022-07-01", "--as-of", AS_OF)
    assert proc.returncode == 0, proc.stderr
    exported = pl.read_csv(io.BytesIO(proc.stdout), infer_schema=False)
    query = JourneyQuery.build(now=T("2022-08-31 00:00"), event_date="2022-07-01", as_of=AS_OF)
    expected = fetch_journeys(create_engine(demo_url), query).frame
    assert exported.height == expected.height > 100
    assert exported.columns == list(c.RESULT_COLUMNS)
    assert exported.get_column(c.EVENT_ID).to_list() == expected.get_column(c.EVENT_ID).to_list()
    assert exported.get_column(c.OCCURRED_AT)[0].endswith("+00:00")


@pytest.mark.parametrize("fmt", ["json", "parquet"])
def test_export_formats_to_file(demo_url: str, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"rows.{fmt}"
    proc = journey(
        "export", "--db", demo_url, "--as-of", AS_OF, "--format", fmt, "--output", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert b"Wrote " in proc.stderr
    if fmt == "json":
        rows = json.loads(out.read_text())
        assert rows
        assert set(rows[0]) == set(c.RESULT_COLUMNS)
    else:
        frame = pl.read_parquet(out)
        assert frame.columns == list(c.RESULT_COLUMNS)
        assert frame.height > 0


def test_unknown_email_is_empty_with_a_message(demo_url: str) -> None:
    proc = journey("export", "--db", demo_url, "--email", "nobody@example.com", "--as-of", AS_OF)
    assert proc.returncode == 0
    assert proc.stdout.decode().splitlines() == [",".join(c.RESULT_COLUMNS)]
    assert b"No known individual has the email nobody@example.com" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--email", "not-an-email"], "email: 'not-an-email' is not a valid email", id="email"
        ),
        pytest.param(
            ["--event-date", "2022-02-30"], "event_date: '2022-02-30' is not a real", id="date"
        ),
        pytest.param(
            ["--event-date", "01/07/2022"], "event_date: '01/07/2022' is not a date in", id="form"
        ),
        pytest.param(
            ["--event-date", "2999-01-01"], "event_date: 2999-01-01 is after the as-of", id="future"
        ),
        pytest.param(["--as-of", "soon"], "as_of: 'soon' is not an ISO-8601", id="as_of"),
        pytest.param(["--format", "xlsx"], "invalid choice: 'xlsx'", id="format"),
    ],
)
def test_bad_input_exits_2_with_one_line(demo_url: str, args: list[str], message: str) -> None:
    proc = journey("export", "--db", demo_url, *args)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["demo", "--individuals", "50"], id="demo"),
        pytest.param(["export", "--email", "ann@example.com"], id="export"),
        pytest.param(["serve", "--port", "1"], id="serve"),
    ],
)
def test_a_file_path_for_db_names_the_url_it_meant(tmp_path: Path, args: list[str]) -> None:
    path = tmp_path / "shop.duckdb"
    proc = journey(*args, "--db", str(path))
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err == (
        f"journey: error: argument --db: {path} is a file path, not a database URL: "
        f"use duckdb:///{path}\n"
    )
    assert not path.exists()  # nothing built, nothing served


@pytest.mark.parametrize("command", ["demo", "export", "serve"])
def test_a_url_that_does_not_parse_is_one_line_without_the_password(command: str) -> None:
    proc = journey(command, "--db", "postgresql://ann:s3cret@db:port/shop")
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.startswith("journey: error: argument --db: the URL is not a valid SQLAlchemy URL")
    assert "s3cret" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["demo", "export", "serve"])
@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("{tmp}/shop.duckdb", "{tmp}/shop.duckdb is a file path", id="path"),
        pytest.param(
            "postgresql://ann:s3cret@db:port/shop",
            "the URL is not a valid SQLAlchemy URL",
            id="unparsed",
        ),
    ],
)
def test_a_bad_url_in_the_environment_names_the_variable(
    tmp_path: Path, command: str, url: str, message: str
) -> None:
    url, message = url.format(tmp=tmp_path), message.format(tmp=tmp_path)
    proc = journey(command, cwd=tmp_path, env={"JOURNEY_DATABASE_URL": url})
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.startswith(f"journey: configuration error: JOURNEY_DATABASE_URL: {message}")
    assert len(err.strip().splitlines()) == 1
    assert "s3cret" not in err
    assert list(tmp_path.iterdir()) == []  # nothing built, read or served


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["demo", "--seed", "-1"],
            "argument --seed: '-1' is not a whole number from 0 to 4,294,967,295, e.g. 7",
            id="seed-negative",
        ),
        pytest.param(
            ["demo", "--end", "yesterday"],
            "--end: 'yesterday' is not an ISO-8601 timestamp",
            id="end",
        ),
        pytest.param(
            ["serve", "--port", "99999"],
            "argument --port: '99999' is not a whole number from 1 to 65,535, e.g. 8000",
            id="port-too-high",
        ),
        pytest.param(
            ["serve", "--port", "http"],
            "argument --port: 'http' is not a whole number",
            id="port-word",
        ),
    ],
)
def test_bad_demo_and_serve_options_exit_2_naming_the_option(
    tmp_path: Path, args: list[str], message: str
) -> None:
    path = tmp_path / "shop.duckdb"
    proc = journey(*args, "--db", f"duckdb:///{path}")
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert message in err
    assert "Traceback" not in err
    assert not path.exists()


def test_missing_file_names_it(tmp_path: Path) -> None:
    proc = journey("export", "--db", f"duckdb:///{tmp_path / 'nope.duckdb'}")
    assert proc.returncode == 1
    assert "nope.duckdb does not exist" in proc.stderr.decode()
    assert not (tmp_path / "nope.duckdb").exists()  # reading never creates files


def test_unreachable_server_hides_password() -> None:
    proc = journey("export", "--db", "postgresql://ann:s3cret@127.0.0.1:9/warehouse")
    err = proc.stderr.decode()
    assert proc.returncode == 1
    assert "Cannot reach the warehouse at 127.0.0.1:9" in err
    assert "s3cret" not in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("read_only", "args", "said"),
    [
        pytest.param(
            False,  # a writer holds it (e.g. another `journey demo`)
            ["export", "--as-of", AS_OF],
            "is being written by another process (PID {pid}), e.g. `journey demo` still "
            "building it or a loading job",
            id="read-while-written",
        ),
        pytest.param(
            True,  # a reader holds it (e.g. the dashboard)
            ["demo", "--individuals", "20"],
            "is open in another process (PID {pid}): a running dashboard or API keeps it open "
            "while it reads and for 60 s after its last page or request",
            id="write-while-read",
        ),
    ],
)
def test_a_file_another_process_holds_says_which_and_what_to_do(
    tmp_path: Path, read_only: bool, args: list[str], said: str
) -> None:
    """DuckDB lets one process write a file or several read it: the one turned away is told
    which process has it and what to do, not "check --db" (the URL is right)."""
    path = tmp_path / "warehouse.duckdb"
    assert journey("demo", "--db", f"duckdb:///{path}", "--individuals", "20").returncode == 0
    with held_file(path, read_only=read_only) as pid:
        proc = journey(*args, "--db", f"duckdb:///{path}")
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert f"The DuckDB file {path} " in err
    assert said.format(pid=pid) in err
    assert "Check --db" not in err
    assert "Traceback" not in err
    assert journey(*args, "--db", f"duckdb:///{path}").returncode == 0, "free once let go"


def test_missing_table_and_column(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "partial.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("create table events (event_id text, occurred_at text, email text)")
    proc = journey("export", "--db", f"sqlite:///{db}")
    assert proc.returncode == 1
    assert "Table 'events' has no column 'anonymous_id'" in proc.stderr.decode()
    with sqlite3.connect(db) as con:
        con.execute("alter table events add column anonymous_id text")
    proc = journey("export", "--db", f"sqlite:///{db}")
    assert proc.returncode == 1
    assert "has no column 'event_type'" in proc.stderr.decode()


def test_csv_neutralises_spreadsheet_formulas(tmp_path: Path) -> None:
    from journey_core.warehouse import write_tables

    url = f"sqlite:///{tmp_path / 'evil.sqlite'}"
    events = events_frame(
        [
            {
                c.EVENT_ID: "1",
                c.OCCURRED_AT: T("2022-08-30 10:00"),
                c.EMAIL: "e@x.io",
                c.EVENT_TYPE: "page_view",
                c.UTM_CAMPAIGN: '=HYPERLINK("http://evil")',
                c.UTM_SOURCE: "+cmd",
                c.UTM_MEDIUM: "-2",
                c.UTM_TERM: "@SUM(A1)",
                c.PAGE_URL: "\tx",
            },
        ]
    )
    write_tables(url, events=events, identities=identities_frame([]))
    proc = journey("export", "--db", url, "--as-of", AS_OF)
    assert proc.returncode == 0, proc.stderr
    row = pl.read_csv(io.BytesIO(proc.stdout), infer_schema=False).row(0, named=True)
    assert row[c.UTM_CAMPAIGN] == '\'=HYPERLINK("http://evil")'
    assert row[c.UTM_SOURCE] == "'+cmd"
    assert row[c.UTM_MEDIUM] == "'-2"
    assert row[c.UTM_TERM] == "'@SUM(A1)"
    assert row[c.PAGE_URL] == "'\tx"


def test_demo_is_deterministic_per_seed_and_end(tmp_path: Path) -> None:
    urls = []
    for name in ("a", "b"):
        url = f"duckdb:///{tmp_path / name}.duckdb"
        proc = journey("demo", "--db", url, "--individuals", "40", "--seed", "3", "--end", AS_OF)
        assert proc.returncode == 0, proc.stderr
        assert b"generating events" in proc.stderr  # progress is shown
        urls.append(url)
    frames = [stored(u, c.EVENTS).sort(c.EVENT_ID) for u in urls]
    assert_frame_equal(frames[0], frames[1])
    assert frames[0].select(pl.col(c.OCCURRED_AT).max()).item() <= T("2022-08-31 00:00")


def test_demo_rejects_bad_size(tmp_path: Path) -> None:
    proc = journey("demo", "--db", f"duckdb:///{tmp_path / 'x.duckdb'}", "--individuals", "0")
    assert proc.returncode == 2
    assert "--individuals: must be a whole number of at least 1" in proc.stderr.decode()


def test_first_run_builds_the_embedded_demo(tmp_path: Path) -> None:
    proc = journey("export", "--event-date", "2026-01-01", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "data" / "demo.duckdb").exists()
    assert b"First run: building the demo warehouse" in proc.stderr
    assert len(proc.stdout.splitlines()) > 1000


def test_hash_password_command() -> None:
    from journey_core.auth import verify_password

    proc = subprocess.run(
        [sys.executable, "-m", "journey_cli", "hash-password", "--stdin"],
        input=b"a long enough secret\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert verify_password("a long enough secret", proc.stdout.decode().strip())
    short = subprocess.run(
        [sys.executable, "-m", "journey_cli", "hash-password", "--stdin"],
        input=b"short\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert short.returncode == 2
    assert b"password: use at least 12 characters" in short.stderr


@pytest.mark.parametrize(
    ("output", "message"),
    [
        pytest.param("missing/rows.csv", "the folder ", id="missing folder"),
        pytest.param(".", "is a folder", id="a folder"),
        pytest.param("/dev/full", "cannot write ", id="full device"),
    ],
)
def test_export_output_problems_exit_2_with_one_line(
    demo_url: str, tmp_path: Path, output: str, message: str
) -> None:
    if output == "/dev/full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    proc = journey("export", "--db", demo_url, "--as-of", AS_OF, "--output", output, cwd=tmp_path)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("journey: error: --output: ")
    assert message in err
    assert not (tmp_path / "missing").exists()


def test_export_refuses_to_overwrite_the_warehouse(tmp_path: Path) -> None:
    db = tmp_path / "w.sqlite"
    url = f"sqlite:///{db}"
    from journey_core.warehouse import write_tables

    write_tables(url, events=events_frame([]), identities=identities_frame([]))
    before = db.read_bytes()
    for output in (str(db), f"./{db.name}", f"../{tmp_path.name}/{db.name}"):
        proc = journey("export", "--db", url, "--as-of", AS_OF, "--output", output, cwd=tmp_path)
        err = proc.stderr.decode()
        assert proc.returncode == 2, err
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith("journey: error: --output: ")
        assert "is the warehouse file" in err
        assert db.read_bytes() == before


@pytest.mark.parametrize("size", ["99999999999999", "50000001", "-5"])
def test_demo_bounds_the_number_of_people(tmp_path: Path, size: str) -> None:
    proc = journey(
        "demo", "--db", f"duckdb:///{tmp_path / 'x.duckdb'}", "--individuals", size, "--end", AS_OF
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert "--individuals: " in err
    assert "at least 1 and at most 50,000,000" in err
    assert not (tmp_path / "x.duckdb").exists()


def test_as_of_with_a_nul_exits_2(demo_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from journey_cli.commands import main

    # A NUL cannot travel in a process's arguments, so the parser is called in-process.
    assert main(["export", "--db", demo_url, "--as-of", "2022-08-30T00:00\x00"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("journey: error: as_of: ")
    assert "ISO-8601" in err
    assert len(err.strip().splitlines()) == 1


def test_export_to_a_full_standard_output_exits_2(demo_url: str) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEY_")}
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "journey_cli", "export", "--db", demo_url, "--as-of", AS_OF],
            stdout=full,
            stderr=subprocess.PIPE,
            env=env,
            timeout=300,
            check=False,
        )
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.strip() == (
        "journey: error: --output: cannot write to standard output: No space left on device; "
        "redirect it or use --output FILE."
    )
