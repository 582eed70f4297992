"""Warehouse messages never show the URL's password, and stay readable (warehouse.diagnose)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from journey_core.warehouse.diagnose import scrub


@pytest.mark.parametrize(
    ("password", "text", "expected"),
    [
        pytest.param(
            "p",
            'connection to server at "h" (127.0.0.1), port 5433 failed',
            'connection to server at "h" (127.0.0.1), port 5433 failed',
            id="short-inside-words",
        ),
        pytest.param(
            "p", "postgresql://a:p@h/d refused", "postgresql://a:***@h/d refused", id="short"
        ),
        pytest.param("p", "password p, p.", "password ***, ***.", id="short-alone"),
        pytest.param("x_1", "pw x_1 and ax_1b", "pw *** and ax_1b", id="short-with-underscore"),
        pytest.param("s3cr/t", "login s3cr/t or s3cr%2Ft", "login *** or ***", id="encoded"),
        pytest.param(
            "longsecret", "auth xlongsecretx failed", "auth x***x failed", id="long-anywhere"
        ),
    ],
)
def test_scrub_blanks_the_password_not_the_words_around_it(
    password: str, text: str, expected: str
) -> None:
    url = sa.URL.create("postgresql", username="a", password=password, host="h", database="d")
    assert scrub(text, url) == expected


def test_scrub_without_a_password_changes_nothing() -> None:
    assert scrub("port 5433", sa.make_url("duckdb:///p.duckdb")) == "port 5433"
