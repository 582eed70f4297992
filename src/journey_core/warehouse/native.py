"""Warehouse-native rules: a whole journey query as ONE SQLAlchemy Core statement.

:func:`journey_statement` builds a single ``SELECT`` that returns exactly the rows of
:func:`journey_core.rules.journeys` (the oracle) for a :class:`~journey_core.rules.JourneyQuery`
over a :class:`~journey_core.warehouse.mapping.SchemaMapping`: identification links, each
email's ``known_at``, stitching, the rule's window, de-duplication of event ids and
``before_known``, sorted like the oracle. :func:`native_journeys` runs it.

Portable by construction: every time bound is computed in Python and bound as a parameter (no
interval arithmetic in SQL), every ``row_number()`` is fully ordered, NULL order is explicit,
and the few things engines spell differently are small ``@compiles`` constructs with a
portable default: trimming Unicode whitespace (:class:`trim_space`), the email regex
(:class:`matches_email`), bytewise text order (:class:`bytewise`) and SQLite's text
timestamps (:class:`sortable_time`).

Engine limits (the oracle is Polars, which lower-cases all of Unicode): SQLite's ``lower()``
and PostgreSQL's under the C collation fold ASCII letters only, so an email with upper-case
non-ASCII letters is spelled differently there. SQLite timestamps must be text in
``YYYY-MM-DD HH:MM:SS[.ffffff]`` form (the README's schema); a missing fraction is padded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from journey_core import columns as c
from journey_core.rules.identity import RESULT_SCHEMA, TS, as_utc
from journey_core.rules.query import MAX_EMAIL_LENGTH, JourneyQuery, Rule
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping
from journey_core.warehouse.sqltypes import Timestamp

__all__ = [
    "EMAIL_LOCAL_MAX",
    "UNICODE_SPACE",
    "bytewise",
    "email_pattern",
    "journey_statement",
    "matches_email",
    "native_journeys",
    "normalized_email",
    "result_frame",
    "sortable_time",
    "trim_space",
]

#: Unicode ``White_Space`` (what Polars' ``strip_chars()`` and Rust's ``\s`` mean).
UNICODE_SPACE: Final = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(chr(cp) for cp in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
EMAIL_LOCAL_MAX: Final = 64  # the {1,64} of rules.query.EMAIL_PATTERN

# Regex flavours: how a code point is escaped inside a bracket expression.
_FLAVOUR_ESCAPE: Final = {
    "re2": "\\x{{{:x}}}",  # DuckDB (RE2)
    "java": "\\x{{{:x}}}",  # Spark (java.util.regex), Trino, and the default
    "python": "\\U{:08x}",  # SQLite through SQLAlchemy's REGEXP (Python's re)
    "ars": "\\u{:04x}",  # PostgreSQL advanced regular expressions
}


def email_pattern(flavour: str) -> str:
    r"""``rules.query.EMAIL_PATTERN`` for one regex flavour, with ``\s`` spelled out.

    The rules' pattern uses Rust's ``\s`` (Unicode White_Space); RE2 and Java read ``\s`` as
    ASCII only, so every flavour gets the same explicit set. PostgreSQL text holds no NUL,
    so its control range starts at U+0001.

    >>> import re
    >>> from journey_core.rules.query import EMAIL_PATTERN
    >>> samples = ["a@b.co", "a b@c.de", "a\xa0b@c.de", "a@b", "a@@b.c", "x@y.z\u3000", "a@b.c."]
    >>> ours = re.compile(email_pattern("python"))
    >>> [bool(ours.search(s)) for s in samples] == [
    ...     bool(re.search(EMAIL_PATTERN.replace(r"\s", UNICODE_SPACE), s)) for s in samples]
    True
    """
    esc = _FLAVOUR_ESCAPE[flavour].format
    first = 1 if flavour == "ars" else 0
    banned = "@" + "".join(esc(ord(ch)) for ch in UNICODE_SPACE)
    banned += f"{esc(first)}-{esc(0x1F)}{esc(0x7F)}"
    part = f"[^{banned}]"
    return f"^{part}{{1,{EMAIL_LOCAL_MAX}}}@{part}+\\.[^{banned}.]+$"


# --------------------------------------------------------------------------- constructs
class trim_space(FunctionElement[str]):
    """``x`` without leading and trailing Unicode whitespace (:data:`UNICODE_SPACE`)."""

    type = sa.String()
    name = "trim_space"
    inherit_cache = True


def _space(compiler: SQLCompiler, **kw: Any) -> str:
    # A dialect-independent constant, bound as a parameter.
    return compiler.process(sa.literal(UNICODE_SPACE, sa.String()), **kw)


def _arg(compiler: SQLCompiler, element: FunctionElement[Any], index: int, **kw: Any) -> str:
    clauses = list(element.clauses)
    return compiler.process(clauses[index], **kw)


@compiles(trim_space)
def _trim_default(element: trim_space, compiler: SQLCompiler, **kw: Any) -> str:
    return f"TRIM(BOTH {_space(compiler, **kw)} FROM {_arg(compiler, element, 0, **kw)})"


@compiles(trim_space, "duckdb")
@compiles(trim_space, "sqlite")
def _trim_two_args(element: trim_space, compiler: SQLCompiler, **kw: Any) -> str:
    return f"trim({_arg(compiler, element, 0, **kw)}, {_space(compiler, **kw)})"


@compiles(trim_space, "postgresql")
def _trim_postgresql(element: trim_space, compiler: SQLCompiler, **kw: Any) -> str:
    return f"btrim({_arg(compiler, element, 0, **kw)}, {_space(compiler, **kw)})"


class matches_email(FunctionElement[bool]):
    """Whether ``x`` matches the rules' email pattern (:func:`email_pattern`)."""

    type = sa.Boolean()
    name = "matches_email"
    inherit_cache = True


def _pattern(compiler: SQLCompiler, flavour: str, **kw: Any) -> str:
    return compiler.process(sa.literal(email_pattern(flavour), sa.String()), **kw)


@compiles(matches_email)
def _matches_default(element: matches_email, compiler: SQLCompiler, **kw: Any) -> str:
    value, pattern = _arg(compiler, element, 0, **kw), _pattern(compiler, "java", **kw)
    return f"REGEXP_LIKE({value}, {pattern})"


@compiles(matches_email, "hive")
def _matches_hive(element: matches_email, compiler: SQLCompiler, **kw: Any) -> str:
    value, pattern = _arg(compiler, element, 0, **kw), _pattern(compiler, "java", **kw)
    return f"({value} RLIKE {pattern})"


@compiles(matches_email, "duckdb")
def _matches_duckdb(element: matches_email, compiler: SQLCompiler, **kw: Any) -> str:
    value, pattern = _arg(compiler, element, 0, **kw), _pattern(compiler, "re2", **kw)
    return f"regexp_matches({value}, {pattern})"


@compiles(matches_email, "postgresql")
def _matches_postgresql(element: matches_email, compiler: SQLCompiler, **kw: Any) -> str:
    value, pattern = _arg(compiler, element, 0, **kw), _pattern(compiler, "ars", **kw)
    return f"({value} ~ {pattern})"


@compiles(matches_email, "sqlite")
def _matches_sqlite(element: matches_email, compiler: SQLCompiler, **kw: Any) -> str:
    # REGEXP is the Python ``re.search`` that SQLAlchemy's pysqlite dialect registers.
    value, pattern = _arg(compiler, element, 0, **kw), _pattern(compiler, "python", **kw)
    return f"({value} REGEXP {pattern})"


class bytewise(FunctionElement[str]):
    """``x`` ordered by its bytes (as Polars orders strings), for ORDER BY."""

    type = sa.String()
    name = "bytewise"
    inherit_cache = True


@compiles(bytewise)
def _bytewise_default(element: bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return _arg(compiler, element, 0, **kw)


@compiles(bytewise, "postgresql")
def _bytewise_postgresql(element: bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({_arg(compiler, element, 0, **kw)} COLLATE "C")'


class sortable_time(FunctionElement[dt.datetime]):
    """A timestamp column as a value that orders as time: itself, except on SQLite.

    SQLite keeps timestamps as text; there ``YYYY-MM-DD HH:MM:SS`` gets the ``.000000`` that
    SQLAlchemy writes (and binds), so that text order is time order.
    """

    type = Timestamp()
    name = "sortable_time"
    inherit_cache = True


@compiles(sortable_time)
def _sortable_default(element: sortable_time, compiler: SQLCompiler, **kw: Any) -> str:
    return _arg(compiler, element, 0, **kw)


@compiles(sortable_time, "sqlite")
def _sortable_sqlite(element: sortable_time, compiler: SQLCompiler, **kw: Any) -> str:
    value = _arg(compiler, element, 0, **kw)
    pad = compiler.process(sa.literal(".000000", sa.String()), **kw)
    return f"({value} || substr({pad}, length({value}) - 18))"


def normalized_email(
    column: sa.ColumnElement[Any], *, any_identifier: bool = False
) -> sa.ColumnElement[str]:
    """SQL for :func:`journey_core.rules.normalized_email`: trimmed, lower-cased, validated.

    Blank or malformed values become NULL; with ``any_identifier`` any non-blank value counts.
    """
    key = sa.func.lower(trim_space(column))
    if any_identifier:
        valid = sa.func.length(key) > 0
    else:
        valid = sa.and_(sa.func.length(key) <= MAX_EMAIL_LENGTH, matches_email(key))
    return sa.case((valid, key), else_=sa.null())


def _blank_to_null(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.case((sa.func.length(trim_space(column)) > 0, column), else_=sa.null())


# --------------------------------------------------------------------------- statement
def _time(name: str, value: dt.datetime) -> sa.BindParameter[dt.datetime]:
    return sa.bindparam(name, value.astimezone(dt.UTC).replace(tzinfo=None), type_=Timestamp())


def _text(name: str, value: str) -> sa.BindParameter[str]:
    return sa.bindparam(name, value, type_=sa.String())


# Columns the statement derives from the mapped events (the rest pass through unchanged).
_DERIVED = frozenset({c.OCCURRED_AT, c.ANONYMOUS_ID, c.EMAIL})
# The keys of the result order, as in rules.windows.chosen_events.
_RESULT_ORDER = (*c.SORT_COLUMNS, c.EVENT_TYPE, c.ANONYMOUS_ID, c.PAGE_URL)


def _asc(column: sa.ColumnElement[Any], *, text: bool = True) -> sa.UnaryExpression[Any]:
    return (bytewise(column) if text else column).asc().nulls_last()


def journey_statement(query: JourneyQuery, mapping: SchemaMapping = CANONICAL) -> sa.Select[Any]:
    """ONE ``SELECT`` returning the rows of :func:`journey_core.rules.journeys` for ``query``.

    Columns are :data:`journey_core.columns.RESULT_COLUMNS`, rows sorted by email,
    occurred_at and event_id. ``mapping`` supplies the canonical events and identities.

    >>> q = JourneyQuery(as_of=dt.datetime(2022, 8, 31), event_date=dt.date(2022, 7, 1))
    >>> stmt = journey_statement(q)
    >>> [col.name for col in stmt.selected_columns] == list(c.RESULT_COLUMNS)
    True
    >>> {"as_of", "lookback_start", "start", "window_start"} <= set(stmt.compile().params)
    True
    """
    any_id = mapping.identifier != "email"
    as_of = _time("as_of", query.as_of)

    source = mapping.events_source()
    at = sortable_time(source.c[c.OCCURRED_AT])
    events = (
        sa.select(
            *(source.c[name] for name in c.EVENT_COLUMNS if name not in _DERIVED),
            at.label(c.OCCURRED_AT),
            _blank_to_null(source.c[c.ANONYMOUS_ID]).label(c.ANONYMOUS_ID),
            normalized_email(source.c[c.EMAIL], any_identifier=any_id).label(c.EMAIL),
        )
    ).cte("journey_events")
    ev = events.c

    # Identification links at or before as_of: identities rows and email-carrying events.
    link_selects = [
        sa.select(ev[c.ANONYMOUS_ID], ev[c.EMAIL], ev[c.OCCURRED_AT].label(c.LINKED_AT)).where(
            ev[c.EMAIL].is_not(None), ev[c.OCCURRED_AT] <= as_of
        )
    ]
    ids = mapping.identities_source()
    if ids is not None:
        email = normalized_email(ids.c[c.EMAIL], any_identifier=any_id)
        linked_at = sortable_time(ids.c[c.IDENTIFIED_AT])
        conformed = sa.select(
            _blank_to_null(ids.c[c.ANONYMOUS_ID]).label(c.ANONYMOUS_ID),
            email.label(c.EMAIL),
            linked_at.label(c.LINKED_AT),
        ).subquery("journey_identities")
        link_selects.append(
            sa.select(
                conformed.c[c.ANONYMOUS_ID], conformed.c[c.EMAIL], conformed.c[c.LINKED_AT]
            ).where(conformed.c[c.EMAIL].is_not(None), conformed.c[c.LINKED_AT] <= as_of)
        )
    links = sa.union_all(*link_selects).cte("journey_links")
    ln = links.c

    # known_at: the earliest link of each email.
    people = (
        sa.select(ln[c.EMAIL], sa.func.min(ln[c.LINKED_AT]).label(c.KNOWN_AT))
        .group_by(ln[c.EMAIL])
        .cte("journey_people")
    )
    # Each anonymous id's owner: its latest link; ties go to the smallest email.
    latest = sa.func.row_number().over(
        partition_by=ln[c.ANONYMOUS_ID],
        order_by=(ln[c.LINKED_AT].desc(), _asc(ln[c.EMAIL])),
    )
    ranked = (
        sa.select(ln[c.ANONYMOUS_ID], ln[c.EMAIL], latest.label("_latest"))
        .where(ln[c.ANONYMOUS_ID].is_not(None))
        .subquery("journey_ranked")
    )
    owners = (
        sa.select(ranked.c[c.ANONYMOUS_ID], ranked.c[c.EMAIL].label("_owner"))
        .where(ranked.c["_latest"] == 1)
        .cte("journey_owners")
    )

    # Stitching: an event's own email, else its anonymous id's owner; then the rule.
    person = sa.func.coalesce(ev[c.EMAIL], owners.c["_owner"])
    known_at = people.c[c.KNOWN_AT]
    window = [
        ev[c.OCCURRED_AT] >= _time("window_start", query.window_start),
        ev[c.OCCURRED_AT] <= as_of,
    ]
    stitched = (
        sa.select(
            person.label(c.EMAIL),
            known_at,
            *(ev[name] for name in c.EVENT_COLUMNS if name != c.EMAIL),
        )
        .select_from(
            events.outerjoin(owners, ev[c.ANONYMOUS_ID] == owners.c[c.ANONYMOUS_ID]).join(
                people, people.c[c.EMAIL] == person
            )
        )
        .where(*window, _admitted(query, person, ev[c.OCCURRED_AT], known_at))
        .subquery("journey_admitted")
    )
    st = stitched.c

    # One row per event id: the first in result order; the other columns only make the
    # choice among rows that tie on every key of the oracle deterministic.
    tie_breakers = [
        _asc(st[name], text=name != c.REVENUE)
        for name in c.EVENT_COLUMNS
        if name not in {c.EMAIL, *_RESULT_ORDER}
    ]
    first = sa.func.row_number().over(
        partition_by=st[c.EVENT_ID], order_by=[*_result_order(st), *tie_breakers]
    )
    deduplicated = sa.select(*st, first.label("_first")).subquery("journey_rows")
    rows = deduplicated.c
    outputs = [
        (rows[c.OCCURRED_AT] < rows[c.KNOWN_AT]).label(c.BEFORE_KNOWN)
        if name == c.BEFORE_KNOWN
        else rows[name]
        for name in c.RESULT_COLUMNS
    ]
    return sa.select(*outputs).where(rows["_first"] == 1).order_by(*_result_order(rows))


def _result_order(cols: sa.ColumnCollection[str, Any]) -> list[sa.UnaryExpression[Any]]:
    """The oracle's order (:func:`journey_core.rules.windows.chosen_events`), nulls last."""
    return [_asc(cols[name], text=name != c.OCCURRED_AT) for name in _RESULT_ORDER]


def _admitted(
    query: JourneyQuery,
    person: sa.ColumnElement[Any],
    at: sa.ColumnElement[Any],
    known_at: sa.ColumnElement[Any],
) -> sa.ColumnElement[bool]:
    """:func:`journey_core.rules.admitted` in SQL (the upper bound is in the window)."""
    rule = query.rule
    if rule is Rule.RECENT:
        return at >= _time("recent_start", query.as_of - query.recent_window)
    lookback = at >= _time("lookback_start", query.lookback_start)
    if rule is Rule.EMAIL:
        assert query.email is not None
        return sa.and_(lookback, person == _text("email", query.email))
    assert query.start is not None
    start = _time("start", query.start)
    predicate = sa.or_(at >= start, sa.and_(known_at >= start, lookback))
    if rule is Rule.EMAIL_AND_EVENT_DATE:
        assert query.email is not None
        predicate = sa.and_(predicate, person == _text("email", query.email))
    return predicate


# --------------------------------------------------------------------------- running
def native_journeys(
    engine: Engine, query: JourneyQuery, *, mapping: SchemaMapping = CANONICAL
) -> pl.DataFrame:
    """Run :func:`journey_statement` in the warehouse; a frame with ``RESULT_SCHEMA``.

    Times come back as UTC. Database errors become one
    :class:`~journey_core.errors.WarehouseError` (through :func:`journey_core.warehouse.reading`).
    """
    # Through the package face, imported here so that the package may import this module.
    from journey_core.warehouse import reading

    stmt = journey_statement(query, mapping)
    with reading(engine, mapping) as conn:
        rows = conn.execute(stmt).all()
    return result_frame([tuple(row) for row in rows])


def result_frame(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    """Rows of :func:`journey_statement` as a frame with ``RESULT_SCHEMA`` (times UTC)."""
    if not rows:
        return pl.DataFrame(schema=RESULT_SCHEMA)
    raw = pl.DataFrame(rows, schema=list(c.RESULT_COLUMNS), orient="row", infer_schema_length=None)
    exprs = []
    for name, dtype in RESULT_SCHEMA.items():
        if dtype == TS:
            exprs.append(as_utc(name, raw.schema[name]))
        else:
            exprs.append(pl.col(name).cast(dtype))
    return raw.select(exprs)
