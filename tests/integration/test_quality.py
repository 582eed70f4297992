"""A deliberately dirty warehouse: bad rows are counted per kind and never break a result."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.rules.identity import normalized_email
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys, write_tables
from journey_core.warehouse.quality import KIND, ROWS, data_quality
from tests.conftest import WarehouseFactory
from tests.support.frames import events_frame, identities_frame
from tests.support.postgres import PostgresServer

AS_OF = dt.datetime(2022, 8, 31, 12, tzinfo=dt.UTC)
LONG = "https://shop.example.com/?" + "x" * 5000


@pytest.fixture
def dirty_url(tmp_path: Path) -> str:
    db = tmp_path / "dirty.sqlite"
    cols = ", ".join(f"{name} text" for name in c.EVENT_COLUMNS)
    rows = [
        # event_id, occurred_at, anonymous_id, email, event_type, page_url
        ("ok-1", "2022-08-31 08:00:00.000000", "a1", None, "page_view", None),
        ("ok-2", "2022-08-31 09:00:00.000000", "a1", None, "page_view", LONG),  # oversized
        ("dup", "2022-08-31 09:30:00.000000", "a1", None, "page_view", None),
        ("dup", "2022-08-31 09:30:00.000000", "a1", None, "page_view", None),  # duplicate
        ("no-time", None, "a1", None, "page_view", None),  # null timestamp
        ("bad-time", "2022-08-31 garbage", "a1", None, "page_view", None),  # unparseable
        ("future", "2030-01-01 00:00:00.000000", "a1", None, "page_view", None),  # future
        ("bad-mail", "2022-08-31 10:00:00.000000", "z9", "not-an-email", "signup", None),
    ]
    with sqlite3.connect(db) as con:
        con.execute(f"create table events ({cols})")
        con.executemany(
            "insert into events (event_id, occurred_at, anonymous_id, email, event_type, page_url)"
            " values (?, ?, ?, ?, ?, ?)",
            rows,
        )
        con.execute("create table identities (anonymous_id text, email text, identified_at text)")
        con.executemany(
            "insert into identities values (?, ?, ?)",
            [
                ("a1", "ann@x.io", "2022-08-01 00:00:00.000000"),
                (None, "solo@x.io", "2022-08-02 00:00:00.000000"),  # no anonymous id
                ("a2", "bad@@x.io", "2022-08-03 00:00:00.000000"),  # malformed email
            ],
        )
    return f"sqlite:///{db}"


def test_each_kind_is_counted(dirty_url: str) -> None:
    report = data_quality(create_engine(dirty_url), as_of=AS_OF)
    expected = pl.DataFrame(
        {
            KIND: [
                "null_timestamp",
                "unparseable_timestamp",
                "future_event",
                "duplicate_event_id",
                "identity_without_anonymous_id",
                "malformed_email",
                "oversized_value",
            ],
            ROWS: [1, 1, 1, 1, 1, 2, 1],
        }
    )
    assert_frame_equal(report.select(KIND, ROWS), expected)
    assert report.select(pl.col("treatment").str.len_chars().min()).item() > 20


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="recent"),
        pytest.param({"event_date": dt.date(2022, 8, 1)}, id="event_date"),
        pytest.param({"email": "ann@x.io"}, id="email"),
    ],
)
def test_results_leave_bad_rows_out(dirty_url: str, kwargs: dict[str, object]) -> None:
    result = fetch_journeys(create_engine(dirty_url), JourneyQuery(as_of=AS_OF, **kwargs))  # type: ignore[arg-type]
    assert result.frame.get_column(c.EVENT_ID).to_list() == ["ok-1", "ok-2", "dup"]
    assert result.frame.get_column(c.EMAIL).unique().to_list() == ["ann@x.io"]


def test_email_only_identity_is_known(dirty_url: str) -> None:
    result = fetch_journeys(create_engine(dirty_url), JourneyQuery(as_of=AS_OF, email="solo@x.io"))
    assert result.frame.is_empty()
    assert result.message is not None
    assert result.message.startswith("solo@x.io is known")


def test_user_id_mappings_have_no_malformed_emails(tmp_path: Path) -> None:
    from journey_core.warehouse.mapping import load_mapping
    from tests.support.snowplow import load_snowplow

    url = f"duckdb:///{tmp_path / 'sp.duckdb'}"
    load_snowplow(url)
    report = data_quality(
        create_engine(url),
        as_of=dt.datetime(2021, 3, 31, tzinfo=dt.UTC),
        mapping=load_mapping("snowplow"),
    )
    counts = dict(report.select(KIND, ROWS).iter_rows())
    assert counts["malformed_email"] == 0  # user ids are the identity here, not emails
    assert counts["duplicate_event_id"] > 0  # the upstream fixture has duplicate event ids


# Values a tracking plan writes into the email field: valid ones in any case and spacing,
# blanks (no email: not malformed), and malformed ones, some only by a character or a length.
EMAIL_VALUES = [
    "ann@x.io",
    "  Ann@X.IO ",
    "\u00a0bob@x.io\u2003",
    "",
    "   ",
    "\u2003",
    "\t\n",
    "bad@@x.io",
    "not-an-email",
    "a@b",
    "no spaces@x.io",
    "zoë@x.io",
    "x" * 250 + "@x.io",
    "ann@x.io.",
    "@x.io",
]


def _email_tables() -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Every value of :data:`EMAIL_VALUES` in both tables, and how many the rules call malformed
    (the Polars oracle, value by value; a blank value is no email, not a malformed one)."""
    judged = pl.DataFrame({"v": EMAIL_VALUES}).select(
        (normalized_email("v").is_null() & (pl.col("v").str.strip_chars() != "")).sum()
    )
    events = events_frame(
        [
            {"event_id": f"e{i}", "occurred_at": dt.datetime(2022, 8, 1), "email": value}
            for i, value in enumerate(EMAIL_VALUES)
        ]
    )
    identities = identities_frame(
        [(f"a{i}", v, "2022-08-01 00:00:00") for i, v in enumerate(EMAIL_VALUES)]
    )
    return events, identities, 2 * int(judged.item())


def _malformed(url: str) -> int:
    report = data_quality(create_engine(url), as_of=AS_OF)
    return int(dict(report.select(KIND, ROWS).iter_rows())["malformed_email"])


def test_malformed_emails_are_counted_by_the_warehouse_as_the_rules_judge_them(
    warehouse: WarehouseFactory,
) -> None:
    events, identities, expected = _email_tables()
    assert expected > 0
    assert _malformed(warehouse(events, identities)) == expected


@pytest.mark.postgres
def test_malformed_emails_on_postgres() -> None:
    events, identities, expected = _email_tables()
    with PostgresServer() as pg:
        write_tables(pg.url(), events=events, identities=identities)
        assert _malformed(pg.url()) == expected
