"""SQLite keeps timestamps and emails as text: bounds and case folding must still be exact.

Issue 14, finding 10: the documented text form ``YYYY-MM-DD HH:MM:SS`` (no fraction) at a
window's lower bound, fractions of any length, and non-ASCII upper-case emails. Both routes:
the pushed-down one (``fetch_journeys``) and the one statement (``native_journeys``).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.rules import journeys
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import Engine, create_engine, fetch_journeys, write_tables
from journey_core.warehouse.mapping import CANONICAL
from journey_core.warehouse.native import native_journeys
from journey_core.warehouse.statements import lookup_events_query, sqlite_spellings
from tests.support.frames import events_frame, identities_frame

US = dt.timedelta(microseconds=1)
SECOND = dt.timedelta(seconds=1)


def _pushdown(engine: Engine, query: JourneyQuery) -> pl.DataFrame:
    return fetch_journeys(engine, query).frame


ROUTES = [
    pytest.param(_pushdown, id="pushdown"),
    pytest.param(native_journeys, id="native"),
]
Route = Callable[[Engine, JourneyQuery], pl.DataFrame]


def _texts(at: dt.datetime) -> list[str]:
    """Every way SQLite text may hold ``at``: whole seconds, short and full fractions."""
    whole = at.strftime("%Y-%m-%d %H:%M:%S")
    if at.microsecond == 0:
        return [whole, whole + ".000000", whole + ".0"]
    full = at.strftime("%Y-%m-%d %H:%M:%S.%f")
    return sorted({full, full.rstrip("0")})


def _sqlite(path: Path, rows: Sequence[tuple[str, str, str | None, str | None]]) -> str:
    """A SQLite warehouse of text columns; ``rows`` are (event_id, occurred_at, email, anon)."""
    with sqlite3.connect(path) as con:
        names = ", ".join(f"{n} real" if n == c.REVENUE else f"{n} text" for n in c.EVENT_COLUMNS)
        con.execute(f"create table events ({names})")
        con.execute("create table identities (anonymous_id text, email text, identified_at text)")
        con.executemany(
            "insert into events (event_id, occurred_at, email, anonymous_id, event_type) "
            "values (?, ?, ?, ?, 'page_view')",
            rows,
        )
    return f"sqlite:///{path}"


def _oracle_events(rows: Sequence[tuple[str, str, str | None, str | None]]) -> pl.DataFrame:
    return events_frame(
        [
            {
                c.EVENT_ID: event_id,
                c.OCCURRED_AT: dt.datetime.fromisoformat(at),
                c.EMAIL: email,
                c.ANONYMOUS_ID: anon,
                c.EVENT_TYPE: "page_view",
            }
            for event_id, at, email, anon in rows
        ]
    )


AS_OF_WHOLE = dt.datetime(2022, 8, 31, 12, 0, 0, tzinfo=dt.UTC)
AS_OF_FRACTION = dt.datetime(2022, 8, 31, 12, 0, 0, 500000, tzinfo=dt.UTC)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("as_of", [AS_OF_WHOLE, AS_OF_FRACTION], ids=["whole", "fraction"])
@pytest.mark.parametrize("rule", ["recent", "email", "event_date", "both"])
def test_text_timestamps_at_every_bound(
    tmp_path: Path, rule: str, as_of: dt.datetime, route: Route
) -> None:
    query = JourneyQuery(
        as_of=as_of,
        email="ann@example.com" if rule in {"email", "both"} else None,
        event_date=dt.date(2022, 5, 1) if rule in {"event_date", "both"} else None,
    )
    lower = query.window_start if query.start is None else query.start
    assert lower is not None
    naive = [b.replace(tzinfo=None) for b in (lower, query.as_of)]
    instants = [b + d for b in naive for d in (-SECOND, -US, dt.timedelta(0), US, SECOND)]
    rows: list[tuple[str, str, str | None, str | None]] = []
    for at in instants:
        for text in _texts(at):
            n = len(rows)
            email = "ann@example.com" if rule != "recent" else f"p{n}@example.com"
            rows.append((f"e{n}", text, email, f"a{n}"))
    url = _sqlite(tmp_path / "text.sqlite", rows)
    expected = journeys(_oracle_events(rows), identities_frame([]), query=query)
    on_bound = {f"e{i}" for i, r in enumerate(rows) if dt.datetime.fromisoformat(r[1]) in naive}
    assert on_bound <= set(expected.get_column(c.EVENT_ID))  # the bounds are inclusive
    engine = create_engine(url)
    assert_frame_equal(route(engine, query), expected)
    engine.dispose()


@pytest.mark.parametrize(
    ("stored", "looked_up"),
    [
        pytest.param("ÉLODIE@EXAMPLE.COM", "élodie@example.com", id="accented upper"),
        pytest.param(" Élodie@Example.com ", "élodie@example.com", id="mixed and spaces"),
        pytest.param("ΣΩΚΡΑΤΗΣ@EXAMPLE.GR", "σωκρατης@example.gr", id="greek"),
        pytest.param("ann@example.com", "ann@example.com", id="ascii"),
        pytest.param("\u212aATE@example.com", "kate@example.com", id="kelvin sign"),
        pytest.param("\u0130STANBUL@example.com", "i\u0307stanbul@example.com", id="dotted I"),
    ],
)
def test_email_lookup_folds_unicode_case(tmp_path: Path, stored: str, looked_up: str) -> None:
    as_of = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
    rows = [
        ("e1", "2022-08-30 10:00:00", stored, "dev-1"),
        ("e2", "2022-08-30 11:00:00", None, "dev-1"),
        ("e3", "2022-08-30 12:00:00", "other@example.com", "dev-2"),
    ]
    url = _sqlite(tmp_path / "unicode.sqlite", rows)
    query = JourneyQuery.build(now=as_of, as_of=as_of, email=looked_up)
    expected = journeys(_oracle_events(rows), identities_frame([]), query=query)
    assert expected.get_column(c.EVENT_ID).to_list() == ["e1", "e2"]
    engine = create_engine(url)
    result = fetch_journeys(engine, query)
    assert result.message is None
    assert_frame_equal(result.frame, expected)
    engine.dispose()


@pytest.mark.parametrize("event_date", [None, dt.date(2022, 8, 1)], ids=["email", "both"])
@pytest.mark.parametrize(
    ("stored", "looked_up"),
    [
        pytest.param("ÉLODIE@EXAMPLE.COM", "élodie@example.com", id="accented upper"),
        pytest.param("\u3000Élodie@Example.com\xa0", "élodie@example.com", id="unicode spaces"),
        pytest.param("ΣΩΚΡΑΤΗΣ@EXAMPLE.GR", "σωκρατης@example.gr", id="greek"),
    ],
)
def test_one_statement_folds_unicode_case_on_sqlite(
    tmp_path: Path, stored: str, looked_up: str, event_date: dt.date | None
) -> None:
    # The statement lower-cases with the connection's journey_lower, as Polars does.
    as_of = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
    rows = [
        ("e1", "2022-08-30 10:00:00", stored, "dev-1"),
        ("e2", "2022-08-30 11:00:00", None, "dev-1"),
        ("e3", "2022-08-30 12:00:00", "other@example.com", "dev-2"),
    ]
    url = _sqlite(tmp_path / "unicode.sqlite", rows)
    query = JourneyQuery.build(now=as_of, as_of=as_of, email=looked_up)
    query = JourneyQuery(as_of=query.as_of, email=query.email, event_date=event_date)
    cohort = JourneyQuery(as_of=as_of, event_date=event_date)
    engine = create_engine(url)
    for q in (query, cohort):
        expected = journeys(_oracle_events(rows), identities_frame([]), query=q)
        assert looked_up in expected.get_column(c.EMAIL).to_list()
        assert_frame_equal(native_journeys(engine, q), expected)
    engine.dispose()


def test_email_lookup_still_uses_the_demo_index(tmp_path: Path) -> None:

    url = f"sqlite:///{tmp_path / 'indexed.sqlite'}"
    write_tables(url, events=events_frame([]), identities=identities_frame([]))
    engine = create_engine(url)
    stmt = lookup_events_query(CANONICAL, email="élodie@example.com")
    compiled = stmt.compile(engine, compile_kwargs={"render_postcompile": True})
    assert compiled.positiontup is not None
    params = tuple(compiled.params[name] for name in compiled.positiontup)
    with engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params).all()
        assert conn.execute(stmt).all() == []
    assert any("USING INDEX ix_events_email_key" in str(row[-1]) for row in plan), plan
    engine.dispose()


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        pytest.param("ann@x.io", ["ann@x.io"], id="ascii"),
        pytest.param("élo@x.io", ["Élo@x.io", "élo@x.io"], id="accent"),
        pytest.param("k@x.io", ["k@x.io", "\u212a@x.io"], id="kelvin"),
        pytest.param("σς@x.gr", ["ΣΣ@x.gr", "Σς@x.gr", "σΣ@x.gr", "σς@x.gr"], id="sigmas"),
        pytest.param("i\u0307@x.io", None, id="two-character lower"),
        pytest.param("é" * 9 + "@x.io", None, id="too many"),
    ],
)
def test_sqlite_spellings(email: str, expected: list[str] | None) -> None:
    assert sqlite_spellings(email) == expected
