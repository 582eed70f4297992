"""The warehouse-native statement is ONE portable SELECT for every dialect and preset."""

from __future__ import annotations

import datetime as dt
import pathlib
import re
from collections.abc import Callable
from typing import Any

import duckdb
import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Dialect

from journey_core.rules import normalized_email
from journey_core.rules.query import EMAIL_PATTERN, JourneyQuery
from journey_core.warehouse import create_engine
from journey_core.warehouse.constructs import (
    CLEAN_EMAIL_PATTERN,
    blank_to_null,
    bucket_of,
    trim_space,
    valid_email,
)
from journey_core.warehouse.engine import memory_limit_bytes
from journey_core.warehouse.mapping import load_mapping
from journey_core.warehouse.native import UNICODE_SPACE, email_pattern, journey_statement
from tests.unit.test_dialects import DIALECTS, _dialect

AS_OF = dt.datetime(2022, 8, 31, 12, tzinfo=dt.UTC)
EMAIL = "o'brien;--@example.com"
ALL_DIALECTS = {**DIALECTS, "hive": _dialect("pyhive.sqlalchemy_hive", "HiveDialect")}
QUERIES = {
    "recent": JourneyQuery(as_of=AS_OF),
    "email": JourneyQuery(as_of=AS_OF, email=EMAIL),
    "event_date": JourneyQuery(as_of=AS_OF, event_date=dt.date(2022, 7, 1)),
    "both": JourneyQuery(as_of=AS_OF, email=EMAIL, event_date=dt.date(2022, 7, 1)),
}


def _compile(dialect: Dialect, query: JourneyQuery, preset: str) -> tuple[str, dict[str, object]]:
    compiled = journey_statement(query, load_mapping(preset)).compile(dialect=dialect)
    return str(compiled), dict(compiled.params)


@pytest.mark.parametrize("preset", ["canonical", "segment", "snowplow"])
@pytest.mark.parametrize("rule", list(QUERIES))
@pytest.mark.parametrize("dialect_name", list(ALL_DIALECTS))
def test_one_portable_statement(dialect_name: str, rule: str, preset: str) -> None:
    text, params = _compile(ALL_DIALECTS[dialect_name](), QUERIES[rule], preset)
    assert text.lstrip().upper().startswith(("WITH", "SELECT"))
    assert ";" not in text
    assert "brien" not in text  # user input is bound, never inlined
    if QUERIES[rule].email:
        assert params["email"] == EMAIL
    # Time bounds are computed in Python and bound: no interval arithmetic, no clock.
    for word in ("INTERVAL", "NOW()", "CURRENT_TIMESTAMP", "DATEADD", "DATE_SUB"):
        assert word not in text.upper(), word
    assert all(isinstance(v, dt.datetime) for k, v in params.items() if k.endswith("start"))
    # Every row_number() is ordered.
    windows = re.findall(r"row_number\(\) OVER \(([^)]*)\)", text, flags=re.IGNORECASE)
    assert len(windows) == 2
    assert all("ORDER BY" in w.upper() for w in windows)


def _as_python(match: re.Match[str]) -> str:
    return f"\\U{int(match[1] or match[2], 16):08x}"


@pytest.mark.parametrize("flavour", ["re2", "java", "ars"])
def test_email_pattern_flavours_spell_the_same_set(flavour: str) -> None:
    # Each flavour escapes the same code points (PostgreSQL text holds no NUL: from U+0001).
    pattern = email_pattern(flavour)
    assert "\\s" not in pattern  # spelled out: \s is ASCII-only in RE2 and Java
    as_python = re.sub(r"\\x\{([0-9a-f]+)\}|\\u([0-9a-f]{4})", _as_python, pattern)
    expected = email_pattern("python")
    if flavour == "ars":
        expected = expected.replace("\\U00000000-", "\\U00000001-")
    assert as_python == expected


def test_python_flavour_agrees_with_the_rules() -> None:
    samples = [
        "ann@x.io",
        "a b@x.io",
        "a\xa0b@x.io",
        "a\u2003b@x.io",
        "a\x01b@x.io",
        "a@b",
        "a@@b.io",
        "ann@x.io.",
        "@x.io",
        f"{'a' * 64}@x.io",
        f"{'a' * 65}@x.io",
        "ann@x\u3000y.io",
    ]
    rules = pl.DataFrame({"email": samples}).select(normalized_email())["email"].to_list()
    ours = re.compile(email_pattern("python"))
    assert [s if ours.search(s) else None for s in samples] == rules
    assert UNICODE_SPACE.strip() == ""
    assert re.compile(EMAIL_PATTERN).search("a\x85b@x.io") is None  # the rules' own \s


def _on_duckdb(
    values: list[str | None],
    expressions: Callable[[sa.ColumnElement[Any]], list[sa.ColumnElement[Any]]],
    spelling: str = "",
) -> list[tuple[Any, ...]]:
    """``expressions`` of each of ``values`` (a VARCHAR column), as DuckDB computes them in
    order; the compiled SQL must contain ``spelling`` (the construct under test)."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, v VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    t = sa.table("t", sa.column("i"), sa.column("v", sa.String()))
    compiled = sa.select(*expressions(t.c.v)).order_by(t.c.i).compile(dialect=DIALECTS["duckdb"]())
    assert spelling in str(compiled)
    sql = re.sub(r"%\((\w+)\)s", r"$\1", str(compiled))
    return con.execute(sql, compiled.params).fetchall()


_EDGES = ["", " ", "\t", "\u3000", "\xa0", "\u2028", "\u205f"]


@settings(max_examples=60, deadline=None)
@example(values=["a ", " b", "c\u3000", "\u2028", None, "x y", "", " \xa0d e\t"])
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.builds(
                lambda a, core, b: a + core + b,
                st.sampled_from(_EDGES),
                st.text(alphabet=st.sampled_from([*"ab@.x é", *UNICODE_SPACE]), max_size=6),
                st.sampled_from(_EDGES),
            ),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_duckdb_trim_agrees_with_polars(values: list[str | None]) -> None:
    # DuckDB trims only values with whitespace at an end (constructs._trim_duckdb): the
    # result must be Polars' strip_chars() for any value, spaces inside left alone.
    got = _on_duckdb(values, lambda v: [trim_space(v), blank_to_null(v)])
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    trimmed = frame["v"].str.strip_chars().to_list()
    blank = [v if t else None for v, t in zip(values, trimmed, strict=True)]
    assert got == list(zip(trimmed, blank, strict=True))


_EMAIL_PARTS = ["ann", "Ann", "a.b", "a+b", "x-y", "É", "é", "1", "%", "_", " ", "\u3000", "@", "."]


@settings(max_examples=80, deadline=None)
@example(values=["ann@x.io", "Ann@x.io", " ann@x.io", "ann@x.io.", "a@b", "a@x..io", None])
@example(
    values=[
        "a" * 64 + "@x.io",
        "a" * 65 + "@x.io",
        "a@" + "b" * 249 + ".io",
        "a@" + "b" * 250 + ".io",
    ]
)
@example(values=["ann@x-y.io", "ann@x_y.io", "a@b@x.io", "-@-.-", "ann@é.io", "ann@x.io\n"])
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.lists(st.sampled_from(_EMAIL_PARTS), max_size=8).map("".join),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_duckdb_valid_email_agrees_with_polars(values: list[str | None]) -> None:
    # DuckDB takes clean emails as they are (CLEAN_EMAIL_PATTERN, constructs._valid_email_duckdb)
    # and normalizes the others: the result must be the rules' normalized_email for any value.
    got = [row[0] for row in _on_duckdb(values, lambda v: [valid_email(v)], "regexp_full_match")]
    frame = pl.DataFrame({"email": values}, schema={"email": pl.String})
    assert got == frame.select(normalized_email())["email"].to_list()


def test_clean_emails_are_valid_and_already_normalized() -> None:
    # Every value the clean pattern takes must be one the rules keep exactly as it is.
    clean = re.compile(CLEAN_EMAIL_PATTERN)
    samples = ["ann@x.io", "a.b+c@x-y.z.io", "_%@1.2", "Ann@x.io", "ann@x", "ann@x.io.", "a@@b.c"]
    taken = [s for s in samples if clean.fullmatch(s)]
    assert taken == ["ann@x.io", "a.b+c@x-y.z.io", "_%@1.2"]
    frame = pl.DataFrame({"email": taken})
    assert frame.select(normalized_email())["email"].to_list() == taken


@pytest.mark.parametrize("dialect_name", [name for name in DIALECTS if name != "duckdb"])
def test_buckets_are_compiled_for_duckdb_only(dialect_name: str) -> None:
    """The cohort store's buckets are a DuckDB hash; another engine is never sent one, and
    compiling one for it is an error, not a statement with another meaning."""
    stmt = sa.select(bucket_of(sa.column("email"), 4))
    with pytest.raises(sa.exc.CompileError, match="DuckDB only"):
        stmt.compile(dialect=DIALECTS[dialect_name]())


def test_buckets_share_equal_values_and_cover_every_bucket() -> None:
    values = [f"person{n}@example.com" for n in range(200)] + [None, ""]
    table = pl.DataFrame({"email": values * 2})
    email = sa.column("email", sa.String())
    stmt = sa.select(email, bucket_of(email, 7).label("bucket"))
    compiled = stmt.select_from(sa.table("t")).compile(
        dialect=DIALECTS["duckdb"](), compile_kwargs={"literal_binds": True}
    )
    con = duckdb.connect()
    con.register("t", table.to_arrow())
    got = con.sql(str(compiled)).pl()
    assert isinstance(got, pl.DataFrame)
    per_value = got.group_by("email").agg(pl.col("bucket").n_unique())
    assert per_value["bucket"].max() == 1, "a value's rows share one bucket"
    assert sorted(got["bucket"].unique().to_list()) == list(range(7))
    nulls = got.filter(pl.col("email").is_null() | (pl.col("email") == ""))
    assert nulls["bucket"].n_unique() == 1, "NULL shares the empty string's bucket"


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        pytest.param("256MB", 256_000_000, id="MB"),
        pytest.param("192MB", 192_000_000, id="stream"),
        pytest.param("1GiB", 1024**3, id="GiB"),
        pytest.param("512 KB", 512_000, id="space"),
    ],
)
def test_memory_limit_bytes_reads_duckdb_units(
    limit: str, expected: int, tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    engine = create_engine(f"duckdb:///{path}", duckdb_memory=limit)
    try:
        assert memory_limit_bytes(engine) == expected
    finally:
        engine.dispose()
