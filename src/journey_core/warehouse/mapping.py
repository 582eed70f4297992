"""Where the canonical ``events`` and ``identities`` live in a warehouse.

A :class:`SchemaMapping` lists the warehouse tables that feed each canonical table and, per
table, the column (or the COALESCE of columns, or a constant) that plays each canonical role.
:meth:`SchemaMapping.events_source` and :meth:`SchemaMapping.identities_source` return
SQLAlchemy subqueries that speak canonical column names: a ``UNION ALL`` when several tables
feed one canonical table (Segment's ``pages`` and ``tracks``). The warehouse reader selects
through them and never sees the user's names.

Mappings come from built-in presets (:mod:`journey_core.warehouse.presets`) or a TOML file; the
format is documented in the README and in :func:`parse_mapping`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa

from journey_core import columns as c
from journey_core.config import ENV_MAPPING
from journey_core.errors import ConfigError, InputError, WarehouseError, unreadable
from journey_core.rules.query import MAX_EMAIL_LENGTH, has_control, parse_email, trim_input
from journey_core.warehouse.sqltypes import Timestamp

_TEXT: sa.types.TypeEngine[Any] = sa.String()
_TS: sa.types.TypeEngine[Any] = Timestamp()
_NUM: sa.types.TypeEngine[Any] = sa.Float()

EVENT_TYPES: Mapping[str, sa.types.TypeEngine[Any]] = MappingProxyType(
    {
        **{name: _TEXT for name in c.TEXT_EVENT_COLUMNS},
        c.OCCURRED_AT: _TS,
        c.REVENUE: _NUM,
    }
)
IDENTITY_TYPES: Mapping[str, sa.types.TypeEngine[Any]] = MappingProxyType(
    {c.ANONYMOUS_ID: _TEXT, c.EMAIL: _TEXT, c.IDENTIFIED_AT: _TS}
)
# Columns without which no rule can run; the rest may be absent and then read as null.
# An events table needs an anonymous id or an email (or both) besides these.
REQUIRED_EVENT_COLUMNS: tuple[str, ...] = (c.EVENT_ID, c.OCCURRED_AT)
REQUIRED_IDENTITY_COLUMNS: tuple[str, ...] = (c.ANONYMOUS_ID, c.EMAIL, c.IDENTIFIED_AT)
# Roles that may be a constant (e.g. Segment's ``pages`` are all page views).
CONSTANT_ROLES: frozenset[str] = frozenset(
    {
        c.EVENT_TYPE,
        c.PAGE_URL,
        c.REFERRER,
        c.UTM_SOURCE,
        c.UTM_MEDIUM,
        c.UTM_CAMPAIGN,
        c.UTM_CONTENT,
        c.UTM_TERM,
        c.REVENUE,
    }
)


class Kind(StrEnum):
    """What a warehouse column holds, as far as the rules care."""

    TEXT = "text"
    TIMESTAMP = "timestamp"
    NUMBER = "number"


def role_kind(role: str) -> Kind:
    """The kind of value the canonical column ``role`` holds."""
    if role in (c.OCCURRED_AT, c.IDENTIFIED_AT):
        return Kind.TIMESTAMP
    if role == c.REVENUE:
        return Kind.NUMBER
    return Kind.TEXT


def column_kind(type_: sa.types.TypeEngine[Any]) -> Kind | str | None:
    """The kind of a reflected column type: a :class:`Kind`, another type's name, or
    ``None`` when the database does not say (SQLite columns declared without a type).

    >>> column_kind(sa.TIMESTAMP()), column_kind(sa.Integer()), column_kind(sa.Boolean())
    (<Kind.TIMESTAMP: 'timestamp'>, <Kind.NUMBER: 'number'>, 'BOOLEAN')
    """
    if isinstance(type_, sa.types.NullType):
        return None
    if isinstance(type_, sa.Boolean):
        return _type_name(type_)
    if isinstance(type_, sa.DateTime | sa.Date):
        return Kind.TIMESTAMP
    if isinstance(type_, sa.Numeric | sa.Float | sa.Integer):
        return Kind.NUMBER
    if isinstance(type_, sa.String | sa.Enum):
        return Kind.TEXT
    name = _type_name(type_)
    # Third-party types that say what they are only by name, e.g. PyHive's HiveTimestamp (a
    # String-based TypeDecorator that reflects Spark's TIMESTAMP columns).
    return _NAMED_KINDS.get(name.split("(")[0].strip().upper(), name)


_NAMED_KINDS: Mapping[str, Kind] = MappingProxyType(
    {
        **dict.fromkeys(
            ("TIMESTAMP", "TIMESTAMP_NTZ", "TIMESTAMP_LTZ", "DATETIME", "DATE"), Kind.TIMESTAMP
        ),
        **dict.fromkeys(
            (
                "DECIMAL",
                "NUMERIC",
                "DOUBLE",
                "FLOAT",
                "REAL",
                "INT",
                "INTEGER",
                "BIGINT",
                "SMALLINT",
                "TINYINT",
            ),
            Kind.NUMBER,
        ),
        **dict.fromkeys(("STRING", "VARCHAR", "CHAR", "TEXT"), Kind.TEXT),
    }
)


def _type_name(type_: sa.types.TypeEngine[Any]) -> str:
    try:
        return str(type_.compile())
    except Exception:  # types of third-party dialects may not compile on the default one
        return type(type_).__name__.upper()


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """How one canonical column is read from one warehouse table.

    ``columns``: the source columns, COALESCEd in order (one column is the usual case).
    ``value``: a constant, when ``columns`` is empty. ``cast``: CAST to the canonical type
    in SQL (for a text timestamp or a numeric id). ``optional``: source columns missing
    from the table are left out, and if none is left the column reads as null (presets
    use it for columns a tracking tool only creates once some event carries them).
    """

    columns: tuple[str, ...] = ()
    value: str | float | None = None
    cast: bool = False
    optional: bool = False

    def expression(
        self, table: sa.TableClause, type_: sa.types.TypeEngine[Any]
    ) -> sa.ColumnElement[Any]:
        """The SQL expression over ``table`` (which must have ``self.columns``)."""
        if not self.columns:
            if self.value is None:
                return sa.cast(sa.null(), type_)
            return sa.cast(sa.literal(self.value), type_)
        cols = [table.c[name] for name in self.columns]
        expr: sa.ColumnElement[Any] = cols[0] if len(cols) == 1 else sa.func.coalesce(*cols)
        return sa.cast(expr, type_) if self.cast else expr

    def describe(self) -> str:
        """The spec as a user wrote it in TOML."""
        if not self.columns:
            return "null" if self.value is None else f"{{ value = {self.value!r} }}"
        names = f'"{self.columns[0]}"' if len(self.columns) == 1 else str(list(self.columns))
        return f"{{ column = {names}, cast = true }}" if self.cast else names


def _as_spec(value: ColumnSpec | str | Sequence[str] | None) -> ColumnSpec:
    if value is None:
        return ColumnSpec()
    if isinstance(value, ColumnSpec):
        return value
    if isinstance(value, str):
        return ColumnSpec((value,))
    return ColumnSpec(tuple(value))


@dataclass(frozen=True, slots=True)
class TableMapping:
    """One warehouse table and, per canonical column, how to read it.

    ``columns`` maps a canonical name to a :class:`ColumnSpec` (a plain column name or a
    list of names is accepted too); a canonical column that is not mapped reads as null.
    ``key`` names this entry in the mapping file, for error messages.
    """

    table: str
    columns: Mapping[str, ColumnSpec]
    schema: str | None = None
    key: str = ""

    def __post_init__(self) -> None:
        raw: Mapping[str, Any] = self.columns
        # A plain dict (not a proxy) keeps mappings picklable, e.g. for Streamlit's cache.
        object.__setattr__(self, "columns", {name: _as_spec(v) for name, v in raw.items()})

    def __hash__(self) -> int:
        return hash((self.table, self.schema, self.key, tuple(self.columns.items())))

    def qualified(self) -> str:
        """``schema.table`` as a user would write it."""
        return f"{self.schema}.{self.table}" if self.schema else self.table

    def source_columns(self) -> list[str]:
        """Every warehouse column this entry reads, in mapping order, once each."""
        seen: dict[str, None] = {}
        for spec in self.columns.values():
            seen.update(dict.fromkeys(spec.columns))
        return list(seen)

    def select(self, types: Mapping[str, sa.types.TypeEngine[Any]]) -> sa.Select[Any]:
        """A SELECT exposing every canonical column (labelled) of this table."""
        table = sa.table(
            self.table, *(sa.column(name) for name in self.source_columns()), schema=self.schema
        )
        cols = [
            self.columns.get(canon, ColumnSpec()).expression(table, type_).label(canon)
            for canon, type_ in types.items()
        ]
        return sa.select(*cols)

    def resolve(
        self,
        present: Mapping[str, tuple[str, sa.types.TypeEngine[Any]]],
        *,
        required: Sequence[str] = (),
        text_timestamps: bool = False,
    ) -> TableMapping:
        """Check this entry against the table's reflected columns and fit it to them.

        ``present`` maps each lower-cased column name to its real name and type; the
        ``required`` canonical columns must end up with a column; ``text_timestamps``
        accepts text columns as timestamps (SQLite stores them as text). Returns
        the entry with real column names and without missing optional columns; raises
        :class:`WarehouseError` naming the table, the column and the mapping key to fix
        when a column is missing or of the wrong kind.
        """
        fitted: dict[str, ColumnSpec] = {}
        for canon, spec in self.columns.items():
            names: list[str] = []
            for name in spec.columns:
                found = present.get(name.lower())
                if found is None:
                    if spec.optional:
                        continue
                    msg = (
                        f"Table {self.qualified()!r} has no column {name!r}, needed for "
                        f"{canon!r} (mapping key {self.key}.columns.{canon}). Map the key "
                        f"to one of the table's columns: {_listing(present)}."
                    )
                    raise WarehouseError(msg)
                real, type_ = found
                kind = column_kind(type_)
                wanted = role_kind(canon)
                lenient = text_timestamps and wanted is Kind.TIMESTAMP and kind is Kind.TEXT
                if not spec.cast and kind is not None and kind != wanted and not lenient:
                    msg = (
                        f"Column {real!r} of table {self.qualified()!r} holds {kind} values, "
                        f"but {canon!r} (mapping key {self.key}.columns.{canon}) needs "
                        f"{wanted} values. Map the key to a {wanted} column, or convert in "
                        f'SQL with {canon} = {{ column = "{real}", cast = true }}.'
                    )
                    raise WarehouseError(msg)
                names.append(real)
            if not names and spec.columns and canon in required:
                msg = (
                    f"Table {self.qualified()!r} has none of the columns "
                    f"{', '.join(spec.columns)}, needed for {canon!r} (mapping key "
                    f"{self.key}.columns.{canon}). Map the key to one of the table's "
                    f"columns: {_listing(present)}."
                )
                raise WarehouseError(msg)
            fitted[canon] = replace(spec, columns=tuple(names))
        return replace(self, columns=fitted)


def _listing(present: Mapping[str, tuple[str, Any]], limit: int = 40) -> str:
    names = sorted(real for real, _ in present.values())
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _canonical_events() -> tuple[TableMapping, ...]:
    return (TableMapping(c.EVENTS, {n: ColumnSpec((n,)) for n in EVENT_TYPES}, key="events"),)


def _canonical_identities() -> tuple[TableMapping, ...]:
    return (
        TableMapping(c.IDENTITIES, {n: ColumnSpec((n,)) for n in IDENTITY_TYPES}, key="identities"),
    )


def _union(selects: list[sa.Select[Any]], name: str) -> sa.Subquery:
    if len(selects) == 1:
        return selects[0].subquery(name)
    return sa.union_all(*selects).subquery(name)


@dataclass(frozen=True, slots=True)
class SchemaMapping:
    """The warehouse tables that feed the canonical ``events`` and ``identities``.

    Several tables feeding one canonical table are read as a ``UNION ALL``; there may be
    no identities table at all (then only email-carrying events identify people).
    """

    events: tuple[TableMapping, ...] = field(default_factory=_canonical_events)
    identities: tuple[TableMapping, ...] = field(default_factory=_canonical_identities)
    name: str = "canonical"
    identifier: str = "email"
    """What the canonical ``email`` column holds: ``email`` (malformed values identify
    nobody) or ``id`` (any non-blank user id identifies someone, e.g. Snowplow's user_id)."""

    def __post_init__(self) -> None:
        for attr in ("events", "identities"):
            value: Any = getattr(self, attr)
            if value is None:
                value = ()
            elif isinstance(value, TableMapping):
                value = (value,)
            object.__setattr__(self, attr, tuple(value))

    def parse_identifier(self, value: str | None) -> str | None:
        """Validate a looked-up individual: an email, or with ``identifier = "id"`` any id.

        >>> load_mapping("snowplow").parse_identifier("  Long Session ")
        'long session'
        """
        if self.identifier == "email":
            return parse_email(value)
        ident = "" if value is None else trim_input(value).lower()
        if not ident:
            return None
        if len(ident) > MAX_EMAIL_LENGTH or has_control(ident) or any(ch < " " for ch in ident):
            shown = ident if len(ident) <= 60 else ident[:57] + "..."
            msg = (
                f"{shown!r} is not a valid user id: use at most {MAX_EMAIL_LENGTH} "
                "characters and no control characters."
            )
            raise InputError("email", msg)
        return ident

    def tables(self) -> Iterator[tuple[TableMapping, Mapping[str, sa.types.TypeEngine[Any]]]]:
        """Every entry with the canonical column types it provides."""
        for table in self.events:
            yield table, EVENT_TYPES
        for table in self.identities:
            yield table, IDENTITY_TYPES

    def events_source(self) -> sa.Subquery:
        """The events table(s) as one subquery with canonical columns."""
        return _union([t.select(EVENT_TYPES) for t in self.events], c.EVENTS)

    def identities_source(self) -> sa.Subquery | None:
        """The identities table(s) as one subquery with canonical columns, if any."""
        if not self.identities:
            return None
        return _union([t.select(IDENTITY_TYPES) for t in self.identities], c.IDENTITIES)


CANONICAL = SchemaMapping()


# --------------------------------------------------------------------------- TOML
_TOP_KEYS = ("name", "preset", "schema", "identifier", "events", "identities")
_IDENTIFIERS = ("email", "id")
_ENTRY_KEYS = ("table", "schema", "columns")
_SPEC_KEYS = ("column", "columns", "value", "cast", "optional")


def _fail(origin: str, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{origin}: {key}: {problem}")


def _text(origin: str, key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        problem = f"must be a non-empty name in quotes; got {value!r}."
        raise _fail(origin, key, problem)
    return value.strip()


def _parse_spec(origin: str, key: str, role: str, value: object) -> ColumnSpec:
    if isinstance(value, str):
        return ColumnSpec((_text(origin, key, value),))
    if isinstance(value, list):
        if not value:
            raise _fail(origin, key, "a list of columns must name at least one column.")
        return ColumnSpec(tuple(_text(origin, key, v) for v in value))
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(_SPEC_KEYS))
        if unknown:
            allowed = ", ".join(_SPEC_KEYS)
            raise _fail(origin, key, f"unknown setting {unknown[0]!r}; use one of {allowed}.")
        if "value" in value:
            if role not in CONSTANT_ROLES:
                roles = ", ".join(sorted(CONSTANT_ROLES))
                problem = f"{role} cannot be a constant; only {roles} can."
                raise _fail(origin, key, problem)
            const = value["value"]
            ok = isinstance(const, int | float) if role == c.REVENUE else isinstance(const, str)
            if not ok or isinstance(const, bool):
                wanted = "a number" if role == c.REVENUE else "text in quotes"
                raise _fail(origin, key, f"value must be {wanted}; got {const!r}.")
            return ColumnSpec(value=const)
        names = value.get("columns", value.get("column"))
        base = _parse_spec(origin, key, role, names)
        flags = {}
        for flag in ("cast", "optional"):
            if flag in value:
                if not isinstance(value[flag], bool):
                    raise _fail(origin, f"{key}.{flag}", "must be true or false.")
                flags[flag] = value[flag]
        return replace(base, **flags)
    problem = (
        'must be a column name ("ts"), a list of columns to COALESCE (["a", "b"]), '
        '{ column = "ts", cast = true }, or { value = "page_view" }; '
        f"got {value!r}."
    )
    raise _fail(origin, key, problem)


def _parse_entry(
    origin: str,
    key: str,
    entry: object,
    types: Mapping[str, sa.types.TypeEngine[Any]],
    *,
    default_schema: str | None,
) -> TableMapping:
    if not isinstance(entry, dict):
        raise _fail(origin, key, "must be a table with `table` and `columns`.")
    unknown = sorted(set(entry) - set(_ENTRY_KEYS))
    if unknown:
        allowed = ", ".join(_ENTRY_KEYS)
        raise _fail(origin, key, f"unknown setting {unknown[0]!r}; use one of {allowed}.")
    table = _text(origin, f"{key}.table", entry.get("table"))
    schema = _schema(origin, f"{key}.schema", entry.get("schema", default_schema))
    cols = entry.get("columns", {})
    if not isinstance(cols, dict):
        raise _fail(origin, f"{key}.columns", "must be a table of canonical = source column.")
    specs: dict[str, ColumnSpec] = {}
    for role, value in cols.items():
        if role not in types:
            allowed = ", ".join(types)
            problem = f"{role!r} is not a canonical column here; use one of {allowed}."
            raise _fail(origin, f"{key}.columns", problem)
        specs[role] = _parse_spec(origin, f"{key}.columns.{role}", role, value)
    return TableMapping(table, specs, schema=schema, key=key)


def _schema(origin: str, key: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    return _text(origin, key, value)


def _entries(origin: str, name: str, raw: object) -> list[object]:
    if isinstance(raw, dict):
        return [raw]
    if isinstance(raw, list):
        return list(raw)
    raise _fail(origin, name, f"must be a [{name}] table or [[{name}]] tables.")


def _entry_key(name: str, index: int, count: int) -> str:
    return name if count == 1 else f"{name}[{index}]"


def _check_complete(origin: str, mapping: SchemaMapping) -> SchemaMapping:
    if not mapping.events:
        raise _fail(origin, "events", "at least one events table is needed.")
    for table in mapping.events:
        for role in REQUIRED_EVENT_COLUMNS:
            if not table.columns.get(role, ColumnSpec()).columns:
                problem = f"map {role} to a column of table {table.table!r}."
                raise _fail(origin, f"{table.key}.columns.{role}", problem)
        has_id = any(table.columns.get(r, ColumnSpec()).columns for r in (c.ANONYMOUS_ID, c.EMAIL))
        if not has_id:
            problem = f"table {table.table!r} needs anonymous_id or email (or both) mapped."
            raise _fail(origin, f"{table.key}.columns", problem)
    for table in mapping.identities:
        for role in REQUIRED_IDENTITY_COLUMNS:
            if not table.columns.get(role, ColumnSpec()).columns:
                problem = f"map {role} to a column of table {table.table!r}."
                raise _fail(origin, f"{table.key}.columns.{role}", problem)
    return mapping


def _override(
    origin: str,
    name: str,
    base: tuple[TableMapping, ...],
    raw: object,
    types: Mapping[str, sa.types.TypeEngine[Any]],
) -> tuple[TableMapping, ...]:
    """Entries of a preset with the file's ``columns`` merged in, matched by table name."""
    result = list(base)
    for i, item in enumerate(_entries(origin, name, raw)):
        key = _entry_key(name, i, 1)
        patch = _parse_entry(origin, key, item, types, default_schema=None)
        matches = [j for j, t in enumerate(result) if t.table == patch.table]
        if not matches:
            tables = ", ".join(sorted({t.table for t in base})) or "none"
            problem = (
                f"the preset has no {name} table {patch.table!r} to override (it has: "
                f"{tables}); to list your own tables, leave out `preset`."
            )
            raise _fail(origin, f"{key}.table", problem)
        for j in matches:
            old = result[j]
            merged = {**old.columns, **patch.columns}
            schema = patch.schema if isinstance(item, dict) and "schema" in item else old.schema
            result[j] = replace(old, columns=merged, schema=schema)
    return tuple(result)


def parse_mapping(data: Mapping[str, Any], *, origin: str = "mapping") -> SchemaMapping:
    """A :class:`SchemaMapping` from parsed TOML; :class:`ConfigError` names the bad key.

    Without ``preset`` the file lists every table: ``[[events]]`` (one or more) and
    ``[[identities]]`` (zero or more), each with ``table``, optional ``schema`` and a
    ``columns`` table of canonical name = source column. With ``preset = "segment"`` (or
    ``snowplow``, ``canonical``) the file only overrides: ``schema`` moves every table,
    and an ``[[events]]``/``[[identities]]`` entry naming one of the preset's tables
    replaces the columns it lists. ``identities = []`` drops the identities tables.

    >>> m = parse_mapping({"events": {"table": "hits", "columns": {
    ...     "event_id": "id", "occurred_at": "ts", "anonymous_id": "cookie"}}})
    >>> (m.events[0].table, m.events[0].columns["occurred_at"].columns, m.identities)
    ('hits', ('ts',), ())
    """
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        allowed = ", ".join(_TOP_KEYS)
        raise _fail(origin, unknown[0], f"unknown setting; use one of {allowed}.")
    schema = _schema(origin, "schema", data.get("schema"))
    preset_name = data.get("preset")
    if preset_name is not None:
        base = preset(_text(origin, "preset", preset_name), origin=origin)
        events, identities = base.events, base.identities
        if "schema" in data:
            events = tuple(replace(t, schema=schema) for t in events)
            identities = tuple(replace(t, schema=schema) for t in identities)
        if "events" in data:
            events = _override(origin, "events", events, data["events"], EVENT_TYPES)
        if "identities" in data:
            raw_ids = data["identities"]
            if raw_ids == []:
                identities = ()
            else:
                identities = _override(origin, "identities", identities, raw_ids, IDENTITY_TYPES)
        name = data.get("name", base.name)
        identifier = base.identifier
    else:
        if "events" not in data:
            raise _fail(origin, "events", "missing; add an [events] table (or set `preset`).")
        ev = _entries(origin, "events", data["events"])
        ids = _entries(origin, "identities", data.get("identities", []))
        events = tuple(
            _parse_entry(
                origin, _entry_key("events", i, len(ev)), e, EVENT_TYPES, default_schema=schema
            )
            for i, e in enumerate(ev)
        )
        identities = tuple(
            _parse_entry(
                origin,
                _entry_key("identities", i, len(ids)),
                e,
                IDENTITY_TYPES,
                default_schema=schema,
            )
            for i, e in enumerate(ids)
        )
        name = data.get("name", origin)
        identifier = "email"
    if "identifier" in data:
        identifier = data["identifier"]
        if identifier not in _IDENTIFIERS:
            problem = (
                f'must be "email" or "id" (a user id that is not an email); got {identifier!r}.'
            )
            raise _fail(origin, "identifier", problem)
    mapping = SchemaMapping(events, identities, name=str(name), identifier=identifier)
    return _check_complete(origin, mapping)


def preset(name: str, *, origin: str = "mapping") -> SchemaMapping:
    """The built-in mapping ``name`` (``canonical``, ``segment`` or ``snowplow``)."""
    from journey_core.warehouse.presets import PRESETS

    text = PRESETS.get(name.strip().lower())
    if text is None:
        names = ", ".join(PRESETS)
        problem = f"{name!r} is not a built-in preset; use one of {names}, or a TOML file."
        raise _fail(origin, "preset", problem)
    return parse_mapping(tomllib.loads(text), origin=f"preset {name.strip().lower()}")


def load_mapping(spec: str | Path | None) -> SchemaMapping:
    """The mapping named by ``--mapping`` / ``JOURNEY_MAPPING``: a preset name or a TOML path.

    ``None`` or blank means the canonical schema.

    >>> load_mapping("segment").events_source().c.keys() == list(EVENT_TYPES)
    True
    """
    if spec is None or not str(spec).strip():
        return CANONICAL
    text = str(spec).strip()
    from journey_core.warehouse.presets import PRESETS

    if text.lower() in PRESETS:
        return preset(text)
    path = Path(text).expanduser()
    if not path.is_file():
        names = ", ".join(PRESETS)
        msg = (
            f"mapping {text!r} is neither a built-in preset ({names}) nor a readable TOML "
            f"file; fix --mapping or {ENV_MAPPING}."
        )
        raise ConfigError(msg)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        why = unreadable(exc)
        msg = f"cannot read the mapping file {path}: {why}; fix --mapping or {ENV_MAPPING}."
        raise ConfigError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path} is not valid TOML: {exc}"
        raise ConfigError(msg) from None
    return parse_mapping(data, origin=str(path))


__all__ = [
    "CANONICAL",
    "EVENT_TYPES",
    "IDENTITY_TYPES",
    "REQUIRED_EVENT_COLUMNS",
    "ColumnSpec",
    "Kind",
    "SchemaMapping",
    "TableMapping",
    "load_mapping",
    "parse_mapping",
    "preset",
]
