"""The SQL constructs both routes share: each engine difference spelled once, with a default.

Every statement of :mod:`~journey_core.warehouse.statements` builds on these, so the pushed-down
route and the one-statement rules trim, lower-case, validate and compare times alike:

- :class:`trim_space` trims Unicode whitespace (what Polars' ``strip_chars()`` trims);
- :class:`unicode_lower` lower-cases all of Unicode, as Polars does: SQLite's own ``lower()``
  folds ASCII only, so there it is the ``journey_lower`` function that
  :func:`~journey_core.warehouse.engine.create_engine` registers on every connection;
- :class:`matches_email` is the rules' email pattern in each engine's regex flavour;
- :func:`normalized_email` is :func:`journey_core.rules.normalized_email` in SQL (for an
  email, :class:`valid_email`: on PostgreSQL with a fast path for short ASCII values);
- :class:`email_matches` is one person's lookup, index-friendly (``lower(trim(email))``);
- :class:`bytewise` orders text by its bytes, as Polars orders strings;
- :class:`epoch_micros` is a timestamp as whole microseconds since 1970 (time differences
  compared as integers, never as SQL intervals);
- :class:`sortable_time` and :func:`time_bound` keep SQLite's text timestamps in time order:
  values are padded to six fraction digits, bounds spelled for their side
  (:class:`~journey_core.warehouse.sqltypes.Timestamp`);
- :class:`micros_between` is the microseconds from one timestamp to another, and
  :class:`gap_exceeded` whether they are more than a gap apart;
- :class:`regex_search` and :class:`regex_group` search text with a regular expression and
  extract its first group;
- :class:`ordered_join` joins a group's strings in a given order (one aggregate);
- :class:`running_max` and :class:`running_max_before`: a running ``max`` in a window, up
  to the current row or the one before;
- :class:`bucket_of` spreads values over a number of buckets by their hash (DuckDB's
  cohort tables are built a bucket at a time under a memory limit);
- :class:`temp_table_as` creates a TEMP table from a SELECT whose values stay bound
  (SQLAlchemy's own ``Select.into`` renders them into the DDL as literals), and
  :class:`analyze_table` gives PostgreSQL the statistics of one.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import sys
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.functions import FunctionElement

from journey_core.rules.query import MAX_EMAIL_LENGTH
from journey_core.warehouse.engine import SQLITE_LOWER, SQLITE_REGEXP_GROUP
from journey_core.warehouse.sqltypes import Timestamp

__all__ = [
    "CLEAN_EMAIL_PATTERN",
    "EMAIL_LOCAL_MAX",
    "MAX_SPELLINGS",
    "UNICODE_SPACE",
    "analyze_table",
    "blank_to_null",
    "bucket_of",
    "bytewise",
    "edge_space_pattern",
    "email_key",
    "email_matches",
    "email_pattern",
    "epoch_micros",
    "gap_exceeded",
    "inlined",
    "loose_email_pattern",
    "matches_email",
    "materialized",
    "micros_between",
    "naive_utc",
    "non_blank",
    "normalized_email",
    "ordered_join",
    "regex_group",
    "regex_search",
    "running_max",
    "running_max_before",
    "sortable_time",
    "sqlite_micros",
    "sqlite_spellings",
    "temp_table_as",
    "time_bound",
    "trim_space",
    "unicode_lower",
    "valid_email",
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


def _escaped_space(flavour: str) -> str:
    """Every character of :data:`UNICODE_SPACE`, escaped for a bracket expression of ``flavour``."""
    esc = _FLAVOUR_ESCAPE[flavour].format
    return "".join(esc(ord(ch)) for ch in UNICODE_SPACE)


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
    banned = "@" + _escaped_space(flavour)
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


@compiles(trim_space, "sqlite")
def _trim_two_args(element: trim_space, compiler: SQLCompiler, **kw: Any) -> str:
    return f"trim({_arg(compiler, element, 0, **kw)}, {_space(compiler, **kw)})"


def edge_space_pattern(flavour: str) -> str:
    r"""A regex matching text that starts or ends with Unicode whitespace, in ``flavour``.

    >>> import re
    >>> edge = re.compile(edge_space_pattern("python"))
    >>> [bool(edge.search(s)) for s in ["a", " a", "a\u3000", "a b", ""]]
    [False, True, True, False, False]
    """
    space = f"[{_escaped_space(flavour)}]"
    return f"^{space}|{space}$"


@compiles(trim_space, "duckdb")
def _trim_duckdb(element: trim_space, compiler: SQLCompiler, **kw: Any) -> str:
    # DuckDB's trim() with a set of characters costs ~4 us a value (2.9 s for 641,675 emails
    # against 0.57 s this way); most values have no space at either end, and a regex that
    # looks only at the ends tells which do. bench/RESULTS.md, "trim".
    value = _arg(compiler, element, 0, **kw)
    edge = compiler.process(sa.literal(edge_space_pattern("re2"), sa.String()), **kw)
    trimmed = f"trim({value}, {_space(compiler, **kw)})"
    return f"CASE WHEN regexp_matches({value}, {edge}) THEN {trimmed} ELSE {value} END"


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


class unicode_lower(FunctionElement[str]):
    """``lower(x)`` over all of Unicode, as Polars' ``to_lowercase()``.

    SQLite's ``lower()`` folds ASCII letters only: there this calls ``journey_lower``, the
    Python ``str.lower`` that :func:`~journey_core.warehouse.engine.create_engine` registers
    on every SQLite connection. DuckDB, Spark, Trino, Snowflake and BigQuery fold Unicode;
    PostgreSQL does under the database's ``LC_CTYPE`` (not under ``C``).
    """

    type = sa.String()
    name = "unicode_lower"
    inherit_cache = True


@compiles(unicode_lower)
def _lower_default(element: unicode_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({_arg(compiler, element, 0, **kw)})"


@compiles(unicode_lower, "sqlite")
def _lower_sqlite(element: unicode_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_LOWER}({_arg(compiler, element, 0, **kw)})"


class epoch_micros(FunctionElement[int]):
    """A (naive UTC) timestamp as whole microseconds since 1970-01-01, a BIGINT.

    Differences of two are exact durations, compared with bound integers: the portable
    spelling of window arithmetic (no SQL interval arithmetic in shared statements).
    """

    type = sa.BigInteger()
    name = "epoch_micros"
    inherit_cache = True


@compiles(epoch_micros)
def _epoch_default(element: epoch_micros, compiler: SQLCompiler, **kw: Any) -> str:
    # Trino: to_unixtime gives seconds as a double (exact to the microsecond until 2255).
    return f"CAST(round(to_unixtime({_arg(compiler, element, 0, **kw)}) * 1000000) AS BIGINT)"


@compiles(epoch_micros, "duckdb")
def _epoch_duckdb(element: epoch_micros, compiler: SQLCompiler, **kw: Any) -> str:
    return f"epoch_us({_arg(compiler, element, 0, **kw)})"


@compiles(epoch_micros, "postgresql")
def _epoch_postgresql(element: epoch_micros, compiler: SQLCompiler, **kw: Any) -> str:
    # EXTRACT(EPOCH ...) is numeric (exact) since PostgreSQL 14.
    return f"CAST(EXTRACT(EPOCH FROM {_arg(compiler, element, 0, **kw)}) * 1000000 AS BIGINT)"


@compiles(epoch_micros, "sqlite")
def _epoch_sqlite(element: epoch_micros, compiler: SQLCompiler, **kw: Any) -> str:
    # Text 'YYYY-MM-DD HH:MM:SS.ffffff' (sortable_time pads the fraction).
    value = _arg(compiler, element, 0, **kw)
    fmt = compiler.process(sa.literal("%s", sa.String()), **kw)
    seconds = f"CAST(strftime({fmt}, substr({value}, 1, 19)) AS INTEGER)"
    return f"({seconds} * 1000000 + CAST(substr({value}, 21, 6) AS INTEGER))"


@compiles(epoch_micros, "hive")
@compiles(epoch_micros, "bigquery")
def _epoch_unix_micros(element: epoch_micros, compiler: SQLCompiler, **kw: Any) -> str:
    return f"UNIX_MICROS({_arg(compiler, element, 0, **kw)})"


@compiles(epoch_micros, "snowflake")
def _epoch_snowflake(element: epoch_micros, compiler: SQLCompiler, **kw: Any) -> str:
    return f"DATE_PART(epoch_microsecond, {_arg(compiler, element, 0, **kw)})"


def normalized_email(
    column: sa.ColumnElement[Any], *, any_identifier: bool = False
) -> sa.ColumnElement[str]:
    """SQL for :func:`journey_core.rules.normalized_email`: trimmed, lower-cased, validated.

    Blank or malformed values become NULL; with ``any_identifier`` any non-blank value counts.
    """
    if not any_identifier:
        return valid_email(column)
    key = unicode_lower(trim_space(column))
    return sa.case((sa.func.length(key) > 0, key), else_=sa.null())


class valid_email(FunctionElement[str]):
    """``x`` trimmed and lower-cased when that is a valid email (:func:`email_pattern`, at
    most ``MAX_EMAIL_LENGTH`` characters), else NULL: :func:`normalized_email` of an email."""

    type = sa.String()
    name = "valid_email"
    inherit_cache = True


def _checked_email(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    key = unicode_lower(trim_space(column))
    valid = sa.and_(sa.func.length(key) <= MAX_EMAIL_LENGTH, matches_email(key))
    return sa.case((valid, key), else_=sa.null())


@compiles(valid_email)
def _valid_email_default(element: valid_email, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(_checked_email(next(iter(element.clauses))), **kw)


def loose_email_pattern(flavour: str) -> str:
    r""":func:`email_pattern` without the bound on the local part's length (``+``, not
    ``{1,64}``).

    >>> email_pattern("ars").replace("{1,64}", "+") == loose_email_pattern("ars")
    True
    """
    return email_pattern(flavour).replace(f"{{1,{EMAIL_LOCAL_MAX}}}", "+", 1)


@compiles(valid_email, "postgresql")
def _valid_email_postgresql(element: valid_email, compiler: SQLCompiler, **kw: Any) -> str:
    # PostgreSQL evaluates lower(btrim()) once per use and runs a bounded repetition like
    # {1,64} through a slow path: 5.5 us a value, against 1.8 us this way (3M demo events).
    # The fast branch is taken only for ASCII values (lower() keeps their length, in every
    # locale and provider) of at most MAX_EMAIL_LENGTH bytes whose first "@" leaves at most
    # EMAIL_LOCAL_MAX characters before it: there the length checks cannot fail, and the
    # regex without its bound decides alone. Everything else takes the exact spelling.
    raw = next(iter(element.clauses))
    key = unicode_lower(trim_space(raw))
    size = sa.func.octet_length(raw)
    fast = sa.and_(
        size <= MAX_EMAIL_LENGTH,
        size == sa.func.length(raw),
        sa.func.strpos(raw, sa.literal("@", sa.String())) <= EMAIL_LOCAL_MAX + 1,
    )
    loose = key.regexp_match(sa.literal(loose_email_pattern("ars"), sa.String()))
    checked = sa.case((loose, key), else_=sa.null())
    return compiler.process(sa.case((fast, checked), else_=_checked_email(raw)), **kw)


#: Lower-case ASCII emails with no space at either end and a dotted domain: a subset of
#: what :func:`email_pattern` accepts, which trimming and lower-casing leave unchanged.
CLEAN_EMAIL_PATTERN: Final = (
    f"[a-z0-9._%+-]{{1,{EMAIL_LOCAL_MAX}}}@[a-z0-9-]+(?:\\.[a-z0-9-]+)*\\.[a-z0-9-]+"
)


@compiles(valid_email, "duckdb")
def _valid_email_duckdb(element: valid_email, compiler: SQLCompiler, **kw: Any) -> str:
    # Most stored emails are already clean: one anchored regex over a small ASCII class
    # tells so, and they are their own normalized form. The exact spelling (an ends-regex
    # per trim, lower() twice and the pattern) runs for the rest.
    raw = next(iter(element.clauses))
    clean = sa.and_(
        sa.func.regexp_full_match(raw, sa.literal(CLEAN_EMAIL_PATTERN, sa.String())),
        sa.func.length(raw) <= MAX_EMAIL_LENGTH,
    )
    return compiler.process(sa.case((clean, raw), else_=_checked_email(raw)), **kw)


def blank_to_null(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """``column``, NULL where it is empty or only whitespace (:data:`UNICODE_SPACE`)."""
    return non_blank(column)


class non_blank(FunctionElement[Any]):
    """``x`` itself, NULL where it is empty or only whitespace: :func:`blank_to_null`."""

    name = "non_blank"
    inherit_cache = True

    def __init__(self, column: sa.ColumnElement[Any]) -> None:
        super().__init__(column)
        self.type = column.type


def _checked_blank(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.case((sa.func.length(trim_space(column)) > 0, column), else_=sa.null())


@compiles(non_blank)
def _non_blank_default(element: non_blank, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(_checked_blank(next(iter(element.clauses))), **kw)


@compiles(non_blank, "postgresql")
@compiles(non_blank, "duckdb")
def _non_blank_fast(element: non_blank, compiler: SQLCompiler, **kw: Any) -> str:
    # A value starting with a printable ASCII character other than space is not blank; only
    # the others are trimmed (every event's anonymous id: PostgreSQL's btrim() with a set of
    # characters costs ~0.2 us a value; on DuckDB the trim's ends-regex took 3.3 s for the
    # 67.8M anonymous ids of the 100M demo's window, ascii() 0.9 s).
    column = next(iter(element.clauses))
    first = sa.func.ascii(column)
    printable = sa.and_(first >= _FIRST_PRINTABLE, first <= _LAST_PRINTABLE)
    return compiler.process(sa.case((printable, column), else_=_checked_blank(column)), **kw)


_FIRST_PRINTABLE: Final = 0x21  # "!"
_LAST_PRINTABLE: Final = 0x7E  # "~"


def inlined(cte: sa.CTE) -> sa.CTE:
    """``cte`` read where it is referenced, not evaluated once into a copy: for a CTE that
    only selects a table's columns, which PostgreSQL otherwise copies when it is referenced
    twice (a held cohort's figures at 10M events: 7.5 s to 6.7 s; the filter options 8.4 s
    to 7.4 s). A hint on PostgreSQL only: DuckDB copies such a CTE too, but its 10M page took
    as long and peaked as high with the hint (bench/RESULTS.md).

    >>> cte = inlined(sa.select(sa.literal(1).label("x")).cte("one"))
    >>> from sqlalchemy.dialects import postgresql
    >>> "one AS NOT MATERIALIZED" in str(sa.select(cte.c.x).compile(dialect=postgresql.dialect()))
    True
    """
    return cte.prefix_with("NOT MATERIALIZED", dialect="postgresql")


def materialized(cte: sa.CTE) -> sa.CTE:
    """``cte`` evaluated once per statement however often it is referenced (a hint where
    the engine takes one: others evaluate a CTE once anyway or ignore the question).

    >>> cte = materialized(sa.select(sa.literal(1).label("x")).cte("one"))
    >>> from sqlalchemy.dialects import postgresql
    >>> "one AS MATERIALIZED" in str(sa.select(cte.c.x).compile(dialect=postgresql.dialect()))
    True
    """
    for dialect in ("postgresql", "sqlite", "duckdb"):
        cte = cte.prefix_with("MATERIALIZED", dialect=dialect)
    return cte


# --------------------------------------------------------------------------- times
def naive_utc(value: dt.datetime) -> dt.datetime:
    """``value`` in UTC without its time zone, as warehouses store timestamps.

    >>> naive_utc(dt.datetime(2022, 7, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    datetime.datetime(2022, 7, 1, 0, 0)
    """
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def time_bound(name: str, value: dt.datetime, *, lower: bool = False) -> sa.BindParameter[Any]:
    """A time bound as the parameter ``name``: naive UTC, spelled for its side on SQLite.

    ``lower`` marks a lower bound (compared with ``>=`` or ``<``): on SQLite it is bound as
    the shortest text of its instant, which compares right with every stored spelling of
    that instant, whole seconds included (:class:`~journey_core.warehouse.sqltypes.Timestamp`).

    >>> time_bound("start", dt.datetime(2022, 7, 1, tzinfo=dt.UTC), lower=True).value
    datetime.datetime(2022, 7, 1, 0, 0)
    """
    return sa.bindparam(name, naive_utc(value), type_=Timestamp(lower_bound=lower))


# --------------------------------------------------------------------------- lookups
def email_key(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """``lower(trim(column))``: the key one person's lookup matches (and the demo indexes)."""
    return sa.func.lower(sa.func.trim(column))


MAX_SPELLINGS = 256
"""At most this many ASCII-folded spellings narrow a SQLite email lookup through its index."""


@functools.cache
def _upper_forms() -> dict[str, frozenset[str]]:
    """Each lower-case character and the other characters whose ``lower()`` it is."""
    forms: dict[str, set[str]] = {}
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        low = char.lower()
        if low != char and len(low) == 1:
            forms.setdefault(low, set()).add(char)
    forms.setdefault("\u03c2", set()).add("\u03a3")  # a final sigma lowers from a capital sigma
    return {low: frozenset(chars) for low, chars in forms.items()}


def sqlite_spellings(email: str, limit: int = MAX_SPELLINGS) -> list[str] | None:
    """What SQLite's ``lower()`` (ASCII letters only) gives for every value whose full
    ``lower()`` is ``email``; ``None`` when there are more than ``limit`` or they cannot be told.

    >>> sqlite_spellings("ann@x.io"), sqlite_spellings("élo@x.io")
    (['ann@x.io'], ['Élo@x.io', 'élo@x.io'])
    """
    if "\u0307" in email:  # U+0130 (I with dot) lowers to two characters: i + U+0307
        return None
    choices: list[list[str]] = []
    count = 1
    for char in email:
        options = {char} | {c.lower() if c.isascii() else c for c in _upper_forms().get(char, ())}
        choices.append(sorted(options))
        count *= len(options)
        if count > limit:
            return None
    return sorted("".join(combo) for combo in itertools.product(*choices))


class email_matches(FunctionElement[bool]):
    """``lower(trim(column)) = email`` with the full Unicode ``lower()`` Polars uses.

    SQLite's own ``lower()`` folds ASCII letters only, so there the comparison calls the
    Python function :func:`~journey_core.warehouse.engine.create_engine` registers on every
    connection, after narrowing the rows through an index on ``lower(trim(column))`` to the
    spellings :func:`sqlite_spellings` lists. Elsewhere it is the warehouse's ``lower``.
    """

    type = sa.Boolean()
    name = "email_matches"
    inherit_cache = False  # the SQLite form depends on the email's spellings

    def __init__(self, column: sa.ColumnElement[Any], email: str) -> None:
        self.email = email
        super().__init__(column, sa.bindparam("email", email, type_=sa.String()))

    def self_group(self, against: Any = None) -> email_matches:
        """Itself: it compiles to a parenthesised comparison, never to ``... = 1``."""
        return self


@compiles(email_matches)
def _email_matches(element: email_matches, compiler: SQLCompiler, **kw: Any) -> str:
    column, email = element.clauses
    return f"({compiler.process(email_key(column) == email, **kw)})"


@compiles(email_matches, "sqlite")
def _email_matches_sqlite(element: email_matches, compiler: SQLCompiler, **kw: Any) -> str:
    column, email = element.clauses
    exact = unicode_lower(sa.func.trim(column)) == email
    spellings = sqlite_spellings(element.email)
    if spellings is None:
        return f"({compiler.process(exact, **kw)})"
    listed: sa.BindParameter[list[str]] = sa.bindparam("email_spellings", spellings, expanding=True)
    return f"({compiler.process(sa.and_(email_key(column).in_(listed), exact), **kw)})"


# --------------------------------------------------------------------------- durations
class micros_between(FunctionElement[int]):
    """Whole microseconds from ``earlier`` to ``later`` (arguments in that order).

    Exact everywhere but Trino, whose ``date_diff`` counts whole milliseconds.
    """

    type = sa.BigInteger()
    name = "micros_between"
    inherit_cache = True


def _two(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    return _arg(compiler, element, 0, **kw), _arg(compiler, element, 1, **kw)


@compiles(micros_between)
def _micros_default(element: micros_between, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = _two(element, compiler, **kw)
    return f"(date_diff('millisecond', {earlier}, {later}) * 1000)"


@compiles(micros_between, "duckdb")
def _micros_duckdb(element: micros_between, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = _two(element, compiler, **kw)
    return f"(epoch_us({later}) - epoch_us({earlier}))"


@compiles(micros_between, "postgresql")
def _micros_postgresql(element: micros_between, compiler: SQLCompiler, **kw: Any) -> str:
    # EXTRACT gives numeric (exact) since PostgreSQL 14.
    earlier, later = _two(element, compiler, **kw)
    return f"CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) * 1000000 AS BIGINT)"


def sqlite_micros(value: str, compiler: SQLCompiler, **kw: Any) -> str:
    """SQLite SQL for the microseconds since the epoch of the text timestamp ``value``
    (``YYYY-MM-DD HH:MM:SS.ffffff``, as :class:`sortable_time` pads it)."""
    fmt = compiler.process(sa.literal("%s", sa.String()), **kw)
    seconds = f"CAST(strftime({fmt}, substr({value}, 1, 19)) AS INTEGER)"
    return f"({seconds} * 1000000 + CAST(substr({value}, 21, 6) AS INTEGER))"


@compiles(micros_between, "sqlite")
def _micros_sqlite(element: micros_between, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = _two(element, compiler, **kw)
    return f"({sqlite_micros(later, compiler, **kw)} - {sqlite_micros(earlier, compiler, **kw)})"


@compiles(micros_between, "hive")
def _micros_hive(element: micros_between, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = _two(element, compiler, **kw)
    return f"(unix_micros({later}) - unix_micros({earlier}))"


@compiles(micros_between, "snowflake")
def _micros_snowflake(element: micros_between, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = _two(element, compiler, **kw)
    return f"DATEDIFF(microsecond, {earlier}, {later})"


@compiles(micros_between, "bigquery")
def _micros_bigquery(element: micros_between, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = _two(element, compiler, **kw)
    return f"TIMESTAMP_DIFF({later}, {earlier}, MICROSECOND)"


# --------------------------------------------------------------------------- regular expressions
class regex_search(FunctionElement[bool]):
    """Whether ``value`` contains a match of ``pattern``, ignoring case.

    Arguments: the value, the pattern with a leading ``(?i)`` and the bare pattern (for
    engines that take the flag apart).
    """

    type = sa.Boolean()
    name = "regex_search"
    inherit_cache = True


@compiles(regex_search)
def _search_default(element: regex_search, compiler: SQLCompiler, **kw: Any) -> str:
    return f"REGEXP_LIKE({_arg(compiler, element, 0, **kw)}, {_arg(compiler, element, 1, **kw)})"


@compiles(regex_search, "duckdb")
def _search_duckdb(element: regex_search, compiler: SQLCompiler, **kw: Any) -> str:
    value, pattern = _two(element, compiler, **kw)
    return f"regexp_matches({value}, {pattern})"


@compiles(regex_search, "postgresql")
def _search_postgresql(element: regex_search, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({_arg(compiler, element, 0, **kw)} ~ {_arg(compiler, element, 1, **kw)})"


@compiles(regex_search, "sqlite")
def _search_sqlite(element: regex_search, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({_arg(compiler, element, 0, **kw)} REGEXP {_arg(compiler, element, 1, **kw)})"


@compiles(regex_search, "hive")
def _search_hive(element: regex_search, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({_arg(compiler, element, 0, **kw)} RLIKE {_arg(compiler, element, 1, **kw)})"


@compiles(regex_search, "snowflake")
def _search_snowflake(element: regex_search, compiler: SQLCompiler, **kw: Any) -> str:
    # REGEXP_LIKE matches the whole value there; REGEXP_INSTR searches, 'i' ignores case.
    value, pattern = (
        _arg(compiler, element, 0, **kw),
        _arg(compiler, element, 2, **kw),
    )
    return f"(REGEXP_INSTR({value}, {pattern}, 1, 1, 0, 'i') > 0)"


@compiles(regex_search, "bigquery")
def _search_bigquery(element: regex_search, compiler: SQLCompiler, **kw: Any) -> str:
    value, pattern = _two(element, compiler, **kw)
    return f"REGEXP_CONTAINS({value}, {pattern})"


class regex_group(FunctionElement[str]):
    """Group 1 of the first match of ``pattern`` in ``value``; null without a match.

    Only for patterns whose group cannot match empty text (some engines return ``''``).
    """

    type = sa.String()
    name = "regex_group"
    inherit_cache = True


@compiles(regex_group)
def _group_default(element: regex_group, compiler: SQLCompiler, **kw: Any) -> str:
    value, pattern = _two(element, compiler, **kw)
    return f"regexp_extract({value}, {pattern}, 1)"


@compiles(regex_group, "duckdb")
@compiles(regex_group, "hive")
def _group_empty_string(element: regex_group, compiler: SQLCompiler, **kw: Any) -> str:
    # regexp_extract gives '' without a match there.
    value, pattern = _two(element, compiler, **kw)
    empty = compiler.process(sa.literal(""), **kw)
    return f"nullif(regexp_extract({value}, {pattern}, 1), {empty})"


@compiles(regex_group, "postgresql")
def _group_postgresql(element: regex_group, compiler: SQLCompiler, **kw: Any) -> str:
    value, pattern = _two(element, compiler, **kw)
    return f"substring({value} FROM {pattern})"


@compiles(regex_group, "sqlite")
def _group_sqlite(element: regex_group, compiler: SQLCompiler, **kw: Any) -> str:
    value, pattern = _two(element, compiler, **kw)
    return f"{SQLITE_REGEXP_GROUP}({value}, {pattern})"


@compiles(regex_group, "snowflake")
def _group_snowflake(element: regex_group, compiler: SQLCompiler, **kw: Any) -> str:
    value, pattern = _two(element, compiler, **kw)
    return f"REGEXP_SUBSTR({value}, {pattern}, 1, 1, 'e', 1)"


@compiles(regex_group, "bigquery")
def _group_bigquery(element: regex_group, compiler: SQLCompiler, **kw: Any) -> str:
    value, pattern = _two(element, compiler, **kw)
    return f"REGEXP_EXTRACT({value}, {pattern})"


class gap_exceeded(FunctionElement[bool]):
    """Whether more than ``micros`` microseconds pass from ``earlier`` to ``later``
    (arguments earlier, later, micros: a bound integer): :class:`micros_between` compared
    with ``micros``, except on Trino, whose ``date_diff`` counts whole milliseconds."""

    type = sa.Boolean()
    name = "gap_exceeded"
    inherit_cache = True


@compiles(gap_exceeded)
def _gap_default(element: gap_exceeded, compiler: SQLCompiler, **kw: Any) -> str:
    # Trino: date_add counts whole milliseconds, so the gap goes in as microseconds / 1000.
    earlier, later, micros = (_arg(compiler, element, i, **kw) for i in range(3))
    return f"({later} > date_add('millisecond', {micros} / 1000, {earlier}))"


@compiles(gap_exceeded, "duckdb")
@compiles(gap_exceeded, "postgresql")
@compiles(gap_exceeded, "sqlite")
@compiles(gap_exceeded, "hive")
@compiles(gap_exceeded, "snowflake")
@compiles(gap_exceeded, "bigquery")
def _gap_micros(element: gap_exceeded, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later, micros = element.clauses
    return f"({compiler.process(micros_between(earlier, later) > micros, **kw)})"


# --------------------------------------------------------------------------- ordered text
class ordered_join(FunctionElement[str]):
    """An aggregate: the group's ``value`` strings ordered by ``order``, joined by
    ``separator`` (arguments in that order; ``order`` unique within a group).

    SQLite 3.40 has no ordered ``group_concat``: there the rows must reach the aggregate in
    order, which :meth:`sqlite_ordered` arranges for the statement that feeds it.
    """

    type = sa.String()
    name = "ordered_join"
    inherit_cache = True

    @staticmethod
    def sqlite_ordered(stmt: sa.Select[Any], *keys: str) -> sa.Select[Any]:
        """``stmt`` ordered by its columns ``keys`` on SQLite only (elsewhere unordered).

        ``keys`` are the statement's own column labels (fixed names, never values).
        """
        return stmt.suffix_with("ORDER BY " + ", ".join(keys), dialect="sqlite")


def _three(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> tuple[str, ...]:
    return tuple(_arg(compiler, element, i, **kw) for i in range(3))


@compiles(ordered_join)
def _join_default(element: ordered_join, compiler: SQLCompiler, **kw: Any) -> str:
    value, order, sep = _three(element, compiler, **kw)
    return f"array_join(array_agg({value} ORDER BY {order}), {sep})"


@compiles(ordered_join, "postgresql")
@compiles(ordered_join, "duckdb")
@compiles(ordered_join, "bigquery")
def _join_string_agg(element: ordered_join, compiler: SQLCompiler, **kw: Any) -> str:
    value, order, sep = _three(element, compiler, **kw)
    return f"string_agg({value}, {sep} ORDER BY {order})"


@compiles(ordered_join, "sqlite")
def _join_sqlite(element: ordered_join, compiler: SQLCompiler, **kw: Any) -> str:
    value, _, sep = _three(element, compiler, **kw)
    return f"group_concat({value}, {sep})"


@compiles(ordered_join, "hive")
def _join_hive(element: ordered_join, compiler: SQLCompiler, **kw: Any) -> str:
    # Spark: collect_list has no order; array_sort orders the (order, value) structs.
    value, order, sep = _three(element, compiler, **kw)
    pairs = f"array_sort(collect_list(named_struct('k', {order}, 'v', {value})))"
    return f"concat_ws({sep}, transform({pairs}, x -> x.v))"


@compiles(ordered_join, "snowflake")
def _join_snowflake(element: ordered_join, compiler: SQLCompiler, **kw: Any) -> str:
    value, order, sep = _three(element, compiler, **kw)
    return f"LISTAGG({value}, {sep}) WITHIN GROUP (ORDER BY {order})"


# --------------------------------------------------------------------------- running max
class running_max(FunctionElement[int]):
    """A window: the largest ``value`` of the ``partition`` in ``seq`` order up to and including
    the current row (arguments value, partition, seq).

    ``max(value) OVER (... ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)``, spelled out:
    SQLAlchemy binds a frame offset other than the current row as a parameter, which not every
    engine and driver accepts there.

    >>> t = sa.table("t", sa.column("v"), sa.column("p"), sa.column("s"))
    >>> print(sa.select(running_max_before(t.c.v, t.c.p, t.c.s)))  # doctest: +NORMALIZE_WHITESPACE
    SELECT max(t.v) OVER (PARTITION BY t.p ORDER BY t.s
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS running_max_before_1
    FROM t
    """

    type = sa.BigInteger()
    name = "running_max"
    inherit_cache = True
    frame_end = "CURRENT ROW"


class running_max_before(running_max):
    """:class:`running_max` up to the previous row."""

    name = "running_max_before"
    inherit_cache = True
    frame_end = "1 PRECEDING"


@compiles(running_max)
def _running_max(element: running_max, compiler: SQLCompiler, **kw: Any) -> str:
    value, partition, seq = _three(element, compiler, **kw)
    frame = f"ROWS BETWEEN UNBOUNDED PRECEDING AND {element.frame_end}"
    return f"max({value}) OVER (PARTITION BY {partition} ORDER BY {seq} {frame})"


class bucket_of(FunctionElement[int]):
    """``bucket_of(value, buckets)``: ``value``'s bucket, 0 to ``buckets - 1`` by its hash (a
    NULL in the bucket of the empty string); equal values share a bucket. DuckDB only: the
    cohort store (:mod:`~journey_core.warehouse.cohort`) builds its tables a bucket at a time
    there, and no other engine is sent it.

    >>> engine = sa.create_engine("duckdb://")
    >>> stmt = sa.select(bucket_of(sa.literal("a@example.com"), 4).label("bucket"))
    >>> str(stmt.compile(engine)).startswith("SELECT hash(coalesce($1, '')) % $2")
    True
    >>> with engine.connect() as conn:
    ...     0 <= conn.execute(stmt).scalar_one() < 4
    True
    """

    type = sa.BigInteger()
    inherit_cache = True

    def __init__(self, value: sa.ColumnElement[Any], buckets: int) -> None:
        if buckets < 1:
            msg = f"buckets must be at least 1, got {buckets}"
            raise ValueError(msg)
        super().__init__(value, sa.literal(buckets, sa.BigInteger()))


@compiles(bucket_of)
def _bucket_default(element: bucket_of, compiler: SQLCompiler, **kw: Any) -> str:
    msg = f"bucket_of is compiled for DuckDB only, not {compiler.dialect.name}"
    raise sa.exc.CompileError(msg)


@compiles(bucket_of, "duckdb")
def _bucket_duckdb(element: bucket_of, compiler: SQLCompiler, **kw: Any) -> str:
    value, buckets = _arg(compiler, element, 0, **kw), _arg(compiler, element, 1, **kw)
    return f"hash(coalesce({value}, '')) % {buckets}"


class temp_table_as(Executable, ClauseElement):
    """``CREATE TEMPORARY TABLE name AS select``: compiled by the statement compiler, so the
    SELECT's values stay bound parameters.

    >>> from sqlalchemy.dialects import postgresql
    >>> stmt = temp_table_as("t", sa.select(sa.literal(1).label("x")))
    >>> str(stmt.compile(dialect=postgresql.dialect()))
    'CREATE TEMPORARY TABLE t AS SELECT %(param_1)s::INTEGER AS x'
    """

    inherit_cache = False

    def __init__(self, name: str, select: sa.Select[Any]) -> None:
        self.name = name
        self.select = select


@compiles(temp_table_as)
def _temp_table_as(element: temp_table_as, compiler: SQLCompiler, **kw: Any) -> str:
    name = compiler.preparer.quote(element.name)
    return f"CREATE TEMPORARY TABLE {name} AS {compiler.process(element.select, **kw)}"


class analyze_table(Executable, ClauseElement):
    """``ANALYZE name``: fresh planner statistics for a TEMP table (PostgreSQL's autovacuum
    never visits one).

    >>> from sqlalchemy.dialects import postgresql
    >>> str(analyze_table("journey_cohort_1").compile(dialect=postgresql.dialect()))
    'ANALYZE journey_cohort_1'
    """

    inherit_cache = False

    def __init__(self, name: str) -> None:
        self.name = name


@compiles(analyze_table)
def _analyze_table(element: analyze_table, compiler: SQLCompiler, **kw: Any) -> str:
    return f"ANALYZE {compiler.preparer.quote(element.name)}"
