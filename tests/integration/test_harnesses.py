"""The test harnesses in tests/support: server processes (process.py) and real PostgreSQL.

The browser harness (Chromium, StreamlitServer in a page) is tests/e2e/test_browser_harness.py.
"""

from __future__ import annotations

import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.support.browser import StreamlitServer
from tests.support.postgres import PostgresError, PostgresServer
from tests.support.process import ServerError, ServerProcess, free_port, http_probe, wait_until

PY = sys.executable


def python(code: str) -> list[str]:
    """A command running ``code`` (dedented) in this interpreter."""
    return [PY, "-c", textwrap.dedent(code)]


def gone(pid: int, within: float = 10.0) -> bool:
    """True once ``pid`` no longer runs (absent or a zombie waiting for its reaper)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in {"Z", "X"}:
            return True
        time.sleep(0.05)
    return False


def printed(server: ServerProcess, text: str) -> str | None:
    """A probe: ready once ``text`` is on the server's stdout."""
    return None if text in server.output()[0] else "not printed yet"


def test_server_process_serves_until_stopped(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello")
    port = free_port()
    command = [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    server = ServerProcess(command, name="http.server", cwd=tmp_path)
    server.start()
    try:
        server.wait_healthy(http_probe(f"http://127.0.0.1:{port}/hello.txt"), timeout=30)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.txt", timeout=5) as resp:
            assert resp.read() == b"hello"
        assert server.popen is not None
        pid, running = server.popen.pid, [server.running]
        assert server.stop() is not None
        running.append(server.running)
        assert running == [True, False]
        assert server.stop() is None  # idempotent
        assert gone(pid)
        assert http_probe(f"http://127.0.0.1:{port}/")() is not None  # nobody answers
        assert "GET /hello.txt" in server.output()[1]  # logs readable after stop
    finally:
        server.stop()
        server.close_logs()


def test_a_server_that_dies_fails_at_once_with_its_log_tail() -> None:
    code = """
        import sys
        print("boom: no warehouse", file=sys.stderr)
        sys.exit(3)
    """
    server = ServerProcess(python(code), name="dying server")
    server.start()
    started = time.monotonic()
    with pytest.raises(ServerError, match="dying server exited with code 3") as info:
        server.wait_healthy(lambda: "never ready", timeout=60)
    assert time.monotonic() - started < 30
    assert "boom: no warehouse" in str(info.value)
    assert not server.running
    server.close_logs()


def test_a_server_that_never_gets_healthy_times_out_and_is_stopped() -> None:
    code = """
        import time
        print("still starting", flush=True)
        time.sleep(120)
    """
    server = ServerProcess(python(code), name="slow server")
    server.start()
    pid = server.popen.pid if server.popen else -1
    with pytest.raises(
        ServerError, match=r"slow server not ready after 1\.5 s \(waiting\)"
    ) as info:
        server.wait_healthy(lambda: "waiting", timeout=1.5)
    assert "still starting" in str(info.value)
    assert not server.running
    assert gone(pid)
    server.close_logs()


def test_stop_kills_the_whole_process_group_even_if_sigterm_is_ignored() -> None:
    code = """
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        print("child", child.pid, flush=True)
        time.sleep(120)
    """
    server = ServerProcess(python(code), name="stubborn server")
    server.start()
    try:
        server.wait_healthy(lambda: printed(server, "child "), timeout=30)
        child = int(server.output()[0].split()[1])
        started = time.monotonic()
        assert server.stop(timeout=0.5) == -9  # SIGTERM ignored, so SIGKILL
        assert time.monotonic() - started < 10
        assert gone(child)
    finally:
        server.stop()
        server.close_logs()


def test_wait_until_passes_once_ready() -> None:
    answers = iter(["starting", "starting", None])
    wait_until(lambda: next(answers), timeout=10, what="x", interval=0.01)


def test_streamlit_server_is_healthy_then_stopped(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import streamlit as st\n\nst.write('hi')\n")
    with StreamlitServer(cwd=tmp_path) as app:
        running = [app.running]
        assert http_probe(app.health_url, body="ok")() is None
    running.append(app.running)
    assert running == [True, False]
    assert http_probe(app.health_url)() is not None


def test_streamlit_server_that_fails_says_why(tmp_path: Path) -> None:
    with (
        pytest.raises(ServerError, match="Streamlit exited with code") as info,
        StreamlitServer("absent.py", cwd=tmp_path, timeout=60),
    ):
        pass
    assert "absent.py" in str(info.value)


@pytest.mark.postgres
def test_postgres_server_read_only_role() -> None:
    with PostgresServer() as pg:
        pg.execute_admin("CREATE TABLE events (id int PRIMARY KEY, kind text NOT NULL)")
        pg.execute_admin("INSERT INTO events VALUES (1, 'click'), (2, 'view')")
        pg.execute_admin("CREATE ROLE reader LOGIN PASSWORD 'reader-pw'")
        pg.execute_admin("GRANT SELECT ON events TO reader")

        engine = sa.create_engine(pg.url(user="reader", password="reader-pw"))
        try:
            with engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT kind FROM events ORDER BY id")).all()
                assert [r.kind for r in rows] == ["click", "view"]
                with pytest.raises(sa.exc.ProgrammingError) as info:
                    conn.execute(sa.text("INSERT INTO events VALUES (3, 'buy')"))
                assert isinstance(info.value.orig, psycopg.errors.InsufficientPrivilege)
        finally:
            engine.dispose()

        data_dir = pg.data_dir
        assert data_dir.exists()
    # stop() removed the cluster
    assert not data_dir.exists()
    assert pg.port is None


@pytest.mark.postgres
def test_postgres_not_ready_is_a_postgres_error_with_the_log(tmp_path: Path) -> None:
    with PostgresServer() as pg:
        pg.pause()
        with pytest.raises(PostgresError, match=r"PostgreSQL not ready after 0\.5 s") as info:
            pg._wait_ready(timeout=0.5)
        assert "server log (tail)" in str(info.value)
        assert isinstance(info.value, ServerError)
        pg.resume()
        assert pg.execute_admin("SELECT 1") == [(1,)]


@pytest.mark.postgres
def test_postgres_server_password_auth_rejects_bad_password() -> None:
    with PostgresServer(password_auth=True) as pg:
        assert pg.password
        assert pg.execute_admin("SELECT current_user") == [("postgres",)]
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            pg.connect(password="wrong").close()
