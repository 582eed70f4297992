"""Smoke tests for the test infrastructure in tests/support (real PostgreSQL, real Chromium)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.support.browser import StreamlitServer, launch_browser
from tests.support.postgres import PostgresServer

SCREENSHOTS = Path(__file__).parent / "screenshots"


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
def test_postgres_server_password_auth_rejects_bad_password() -> None:
    with PostgresServer(password_auth=True) as pg:
        assert pg.password
        assert pg.execute_admin("SELECT current_user") == [("postgres",)]
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            pg.connect(password="wrong").close()


@pytest.mark.e2e
def test_chromium_renders_page() -> None:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = launch_browser(pw)
        try:
            page = browser.new_page()
            page.goto("data:text/html,<h1>hi</h1>")
            page.screenshot(path=str(SCREENSHOTS / "smoke.png"))
            assert page.inner_text("h1") == "hi"
        finally:
            browser.close()
    assert (SCREENSHOTS / "smoke.png").stat().st_size > 0


@pytest.mark.e2e
def test_streamlit_server_serves_app(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    (tmp_path / "app.py").write_text(
        textwrap.dedent(
            """
            import os
            import streamlit as st

            st.title("Support smoke")
            st.write("value=" + os.environ.get("JOURNEY_SMOKE_VALUE", "missing"))
            """
        )
    )
    with (
        StreamlitServer(cwd=tmp_path, env={"JOURNEY_SMOKE_VALUE": "42"}) as app,
        sync_playwright() as pw,
    ):
        browser = launch_browser(pw)
        try:
            page = browser.new_page()
            page.goto(app.url, timeout=30_000)
            expect(page.get_by_text("value=42")).to_be_visible(timeout=30_000)
            expect(page.get_by_role("heading", name="Support smoke")).to_be_visible()
        finally:
            browser.close()
    assert app.process is None  # stopped on exit
