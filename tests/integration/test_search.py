"""People search runs in the warehouse: partial email, anonymous id, bounded and ordered.

:func:`journey_core.warehouse.search.search_people` on DuckDB and SQLite files and on
PostgreSQL (marker ``postgres``), over a small hand-made warehouse where each rule shows:
substring and case, LIKE wildcards taken literally, identities-table links, the stitched
owner of a shared device, links after as-of, the order (last activity, then email), the limit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_core.warehouse import create_engine, write_tables
from journey_core.warehouse.search import search_people, search_statement
from tests.conftest import WarehouseFactory
from tests.support.frames import U, events_frame, identities_frame
from tests.support.postgres import PostgresServer

AS_OF = U("2022-08-31 00:00:00")


def _event(i: int, at: str, *, anon: str | None, email: str | None = None) -> dict[str, object]:
    return {
        "event_id": f"e{i}",
        "occurred_at": dt.datetime.fromisoformat(at),
        "anonymous_id": anon,
        "email": email,
        "event_type": "page_view",
        "page_url": "https://shop.example.com/",
    }


EVENTS = events_frame(
    [
        _event(1, "2022-08-01 10:00:00", anon="a1", email=" Ann@Example.com "),
        _event(2, "2022-08-20 10:00:00", anon="a1"),  # ann's device: her last activity
        _event(3, "2022-08-25 09:00:00", anon="B2-DEV"),  # bob's device (identities table)
        _event(4, "2022-08-10 09:00:00", anon="u1", email="ann_b@x.io"),
        _event(5, "2022-08-11 09:00:00", anon="u2", email="annxb@x.io"),
        _event(6, "2022-08-12 09:00:00", anon="u3", email="100%club@x.io"),
        _event(7, "2022-08-13 09:00:00", anon="u4", email="100xclub@x.io"),
        _event(8, "2022-07-01 09:00:00", anon="s1-shared", email="carol@x.io"),
        _event(9, "2022-07-05 09:00:00", anon="s1-shared", email="dave@x.io"),
        _event(10, "2022-08-15 09:00:00", anon="s1-shared"),  # stitched to dave (latest link)
        _event(11, "2022-09-02 09:00:00", anon="z1", email="zed@x.io"),  # after as-of
    ]
)
IDENTITIES = identities_frame([("B2-DEV", "bob@example.com", "2022-07-10 08:00:00")])

CASES = [
    pytest.param(" ANN", 10, ["ann@example.com", "annxb@x.io", "ann_b@x.io"], id="substring-case"),
    pytest.param("ann_b", 10, ["ann_b@x.io"], id="underscore-literal"),
    pytest.param("100%", 10, ["100%club@x.io"], id="percent-literal"),
    pytest.param("b2-d", 10, ["bob@example.com"], id="anonymous-id-prefix"),
    pytest.param("s1-sh", 10, ["dave@x.io"], id="shared-device-owner"),
    pytest.param("zed", 10, [], id="linked-after-as-of"),
    pytest.param("xample", 10, ["bob@example.com", "ann@example.com"], id="by-last-activity"),
    pytest.param(
        "",
        4,
        ["bob@example.com", "ann@example.com", "dave@x.io", "100xclub@x.io"],
        id="empty-lists-recent",
    ),
]


def _check(url: str, text: str, limit: int, expected: list[str]) -> pl.DataFrame:
    engine = create_engine(url)
    try:
        found = search_people(engine, text, as_of=AS_OF, limit=limit)
    finally:
        engine.dispose()
    assert found.get_column("email").to_list() == expected
    return found


@pytest.mark.parametrize(("text", "limit", "expected"), CASES)
def test_search(warehouse: WarehouseFactory, text: str, limit: int, expected: list[str]) -> None:
    _check(warehouse(EVENTS, IDENTITIES), text, limit, expected)


def test_search_columns(warehouse: WarehouseFactory) -> None:
    found = _check(warehouse(EVENTS, IDENTITIES), "b2-dev", 10, ["bob@example.com"])
    assert found.row(0, named=True) == {
        "email": "bob@example.com",
        "known_at": U("2022-07-10 08:00:00"),
        "last_seen": U("2022-08-25 09:00:00"),
        "matched_id": "B2-DEV",
    }
    ann = _check(warehouse(EVENTS, IDENTITIES), "ann@", 10, ["ann@example.com"])
    assert ann.get_column("matched_id").to_list() == [None]
    assert ann.get_column("last_seen").to_list() == [U("2022-08-20 10:00:00")]


@pytest.mark.parametrize("text", ["", "a", "ann", "example.com", "anon-1"])
@pytest.mark.parametrize("limit", [1, 10, 200])
@pytest.mark.parametrize(
    "as_of",
    [
        pytest.param(AS_OF, id="at-the-end"),
        pytest.param(AS_OF - dt.timedelta(days=40, hours=3), id="earlier"),
        pytest.param(U("2030-01-01 00:00:00"), id="years-after"),
    ],
)
def test_windows_give_the_all_time_answer(
    demo_url: str, text: str, limit: int, as_of: dt.datetime
) -> None:
    # The windows end at the latest event up to as-of (years after: the demo's last one):
    # the first to hold `limit` people holds exactly the first `limit` of all time.
    engine = create_engine(demo_url)
    try:
        windowed = search_people(engine, text, as_of=as_of, limit=limit)
        whole = search_people(engine, text, as_of=as_of, limit=limit, windows=(None,))
    finally:
        engine.dispose()
    assert_frame_equal(windowed, whole)
    assert windowed.height > 0


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        pytest.param(
            U("2022-08-20 10:00:00"), ["bob@example.com", "ann@example.com"], id="own-device"
        ),
        pytest.param(U("2022-08-20 10:00:01"), ["bob@example.com"], id="a-microsecond-later"),
        pytest.param(U("2022-08-25 09:00:01"), [], id="after-everyone"),
    ],
)
def test_a_window_keeps_the_people_active_in_it(
    warehouse: WarehouseFactory, since: dt.datetime, expected: list[str]
) -> None:
    engine = create_engine(warehouse(EVENTS, IDENTITIES))
    try:
        with engine.connect() as conn:
            got = conn.execute(search_statement("", as_of=AS_OF, since=since)).all()
    finally:
        engine.dispose()
    assert [row[0] for row in got] == expected


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with PostgresServer() as pg:
        pg.execute_admin("CREATE DATABASE search")
        yield pg.url(dbname="search")


@pytest.mark.postgres
def test_search_on_postgres(pg_url: str) -> None:
    write_tables(pg_url, events=EVENTS, identities=IDENTITIES)
    for case in CASES:
        text, limit, expected = case.values
        _check(pg_url, str(text), int(str(limit)), list(expected))  # type: ignore[call-overload]
