"""Settings from the environment, shared by the CLI, the API and the dashboard.

This is the only module that reads ``os.environ``. Each edge (the ``journey`` command, the API
server, the dashboard's shell) builds one :class:`Settings` with :meth:`Settings.from_env` and
passes it down; every other module takes the values it needs as parameters.

``python -m journey_core.config --markdown`` prints the configuration reference
(``docs/configuration.md``), generated from :data:`VARIABLES`.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from journey_core.auth import NOT_A_HASH, check_hash
from journey_core.errors import ConfigError
from journey_core.rules.query import DEFAULT_TIMEZONE, parse_timezone

ENV_DATABASE_URL = "JOURNEY_DATABASE_URL"
ENV_MAPPING = "JOURNEY_MAPPING"
ENV_TIMEZONE = "JOURNEY_TIMEZONE"
ENV_LOOKBACK_DAYS = "JOURNEY_LOOKBACK_DAYS"
ENV_RECENT_HOURS = "JOURNEY_RECENT_HOURS"
ENV_MASK_PII = "JOURNEY_MASK_PII"
ENV_CHANNELS_FILE = "JOURNEY_CHANNELS_FILE"
ENV_PASSWORD_HASH = "JOURNEY_PASSWORD_HASH"
ENV_API_KEYS = "JOURNEY_API_KEYS"
ENV_API_CACHE_SECONDS = "JOURNEY_API_CACHE_SECONDS"
ENV_API_CACHE_ROWS = "JOURNEY_API_CACHE_ROWS"
ENV_API_READ_SLOTS = "JOURNEY_API_READ_SLOTS"
ENV_API_CACHE_MB = "JOURNEY_API_CACHE_MB"
ENV_API_LOOKUP_SLOTS = "JOURNEY_API_LOOKUP_SLOTS"
ENV_API_SPOOL_MB = "JOURNEY_API_SPOOL_MB"
ENV_API_COHORT_PROCESSES = "JOURNEY_API_COHORT_PROCESSES"
ENV_API_ALLOWED_HOSTS = "JOURNEY_API_ALLOWED_HOSTS"
ENV_SECRET_KEY = "JOURNEY_SECRET_KEY"
ENV_DASHBOARD_CACHE_MB = "JOURNEY_DASHBOARD_CACHE_MB"
ENV_DASHBOARD_PUBLIC = "JOURNEY_DASHBOARD_PUBLIC"
ENV_DASHBOARD_ALLOWED_HOSTS = "JOURNEY_DASHBOARD_ALLOWED_HOSTS"
ENV_CURRENCY = "JOURNEY_CURRENCY"
#: The currency of revenue when ``JOURNEY_CURRENCY`` is unset.
DEFAULT_CURRENCY = "USD"
ENV_FIGURES_ROUTE = "JOURNEY_FIGURES_ROUTE"
#: Where the dashboard computes its figures: chosen per engine, in the warehouse (SQL), or
#: from the cohort's rows with the Polars analytics (``journey_ui.data.choose_route``).
FIGURES_ROUTES: tuple[str, ...] = ("auto", "warehouse", "polars")
ENV_POLARS_ROUTE_MAX_MB = "JOURNEY_POLARS_ROUTE_MAX_MB"
#: The largest embedded file (MB) that ``auto`` reads with the Polars route (bench/RESULTS.md).
DEFAULT_POLARS_ROUTE_MAX_MB = 16.0
ENV_DUCKDB_MEMORY_MB = "JOURNEY_DUCKDB_MEMORY_MB"
#: Host names the dashboard answers by default (``server.allowedHosts``): loopback only.
LOOPBACK_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")

#: The embedded DuckDB demo warehouse, built on first use when no URL is configured.
DEFAULT_DB_PATH = Path("data") / "demo.duckdb"
DEFAULT_DATABASE_URL = f"duckdb:///{DEFAULT_DB_PATH.as_posix()}"
#: Longest journey windows accepted: a century back from "as of" stays inside the calendar.
MAX_LOOKBACK_DAYS = 36_500.0
MAX_RECENT_HOURS = MAX_LOOKBACK_DAYS * 24
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the warehouse is, how the rules are tuned, who may read.

    >>> Settings.from_env({"JOURNEY_LOOKBACK_DAYS": "30"}).lookback_days
    30.0
    >>> Settings.from_env({"JOURNEY_API_KEYS": " k1, ,k2 "}).api_keys
    ('k1', 'k2')
    """

    database_url: str = DEFAULT_DATABASE_URL
    url_from_user: bool = False
    """Whether ``database_url`` was configured (else the demo warehouse is built on first use)."""
    mapping: str = "canonical"
    timezone: str = DEFAULT_TIMEZONE
    lookback_days: float = 90.0
    recent_hours: float = 24.0
    mask_pii: bool = False
    channels_file: str = ""
    password_hash: str = ""
    api_keys: tuple[str, ...] = ()
    api_cache_seconds: float = 60.0
    api_cache_rows: int = 1_000_000
    api_read_slots: int = 2
    api_cache_mb: float = 256.0
    api_lookup_slots: int = 8
    api_spool_mb: float = 1024.0
    api_cohort_processes: bool = True
    api_allowed_hosts: tuple[str, ...] = ()
    secret_key: str = ""
    dashboard_cache_mb: int = 512
    dashboard_public: bool = False
    dashboard_allowed_hosts: tuple[str, ...] = ()
    currency: str = DEFAULT_CURRENCY
    figures_route: str = "auto"
    polars_route_max_mb: float = DEFAULT_POLARS_ROUTE_MAX_MB
    duckdb_memory_mb: int = 256

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every ``JOURNEY_*`` variable; unset or blank ones take their default.

        Raises :class:`ConfigError` (one line naming the variable and the fix) on a bad value.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for var in VARIABLES:
            raw = env.get(var.name)
            if raw is not None and raw.strip():
                values[var.field] = var.parse(var.name, raw)
        values["url_from_user"] = "database_url" in values
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Variable:
    """One ``JOURNEY_*`` variable: the :class:`Settings` field it sets, its form and meaning."""

    name: str
    field: str
    kind: str
    doc: str
    parse: Callable[[str, str], Any]
    shown_default: str | None = None
    """The default in words for the reference; ``None``: the field's default value."""


def _text(_name: str, raw: str) -> str:
    return raw.strip()


_SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
_DUCKDB_SUFFIXES = (".duckdb", ".ddb")


NOT_A_URL = (
    "the URL is not a valid SQLAlchemy URL (a password with @ / : or % must be "
    "percent-encoded); use e.g. duckdb:///data/demo.duckdb or postgresql+psycopg://user@host/db."
)
"""What is wrong with a database URL that does not parse. It never echoes the URL, which may
hold a password (to encode one: ``urllib.parse.quote(password, safe="")``)."""


def database_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a database URL, with the fix; ``None`` when it has a URL's form.

    A database file's path gets the URL it meant (DuckDB for ``.duckdb``/``.ddb``, SQLite for
    ``.sqlite``/``.sqlite3``/``.db``); the rest of a URL's form is checked where it is parsed
    (``create_engine``).

    >>> database_url_problem("duckdb:///data/demo.duckdb") is None
    True
    >>> print(database_url_problem("/srv/shop.duckdb"))
    /srv/shop.duckdb is a file path, not a database URL: use duckdb:////srv/shop.duckdb
    >>> print(database_url_problem("shop.sqlite"))
    shop.sqlite is a file path, not a database URL: use sqlite:///shop.sqlite
    """
    text = url.strip()
    if "://" in text:
        return None
    suffix = Path(text).suffix.lower()
    if "@" not in text and suffix in _SQLITE_SUFFIXES + _DUCKDB_SUFFIXES:  # no credentials
        scheme = "sqlite" if suffix in _SQLITE_SUFFIXES else "duckdb"
        return f"{text} is a file path, not a database URL: use {scheme}:///{text}"
    return NOT_A_URL


def _database_url(name: str, raw: str) -> str:
    url = raw.strip()
    problem = database_url_problem(url)
    if problem is not None:
        msg = f"{name}: {problem}"
        raise ConfigError(msg)
    return url


def _timezone(name: str, raw: str) -> str:
    tz = raw.strip()
    try:
        parse_timezone(tz)
    except ValueError:
        msg = f"{name}={raw!r} is not an IANA timezone; use e.g. UTC or Europe/Berlin."
        raise ConfigError(msg) from None
    return tz


def _currency(name: str, raw: str) -> str:
    """An ISO 4217 code (three letters, any case): ``eur`` -> ``EUR``."""
    code = raw.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        msg = (
            f"{name}={raw!r} is not an ISO 4217 currency code; use three letters, e.g. USD or EUR."
        )
        raise ConfigError(msg)
    return code


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    msg = f"{name}={raw!r} is not a yes/no setting; use 1 to turn it on or 0 to turn it off."
    raise ConfigError(msg)


def _route(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value in FIGURES_ROUTES:
        return value
    msg = f"{name}={raw!r} is not a figures route; use one of {', '.join(FIGURES_ROUTES)}."
    raise ConfigError(msg)


def _password_hash(name: str, raw: str) -> str:
    """A hash of ``journey hash-password``'s form (its value is never echoed: it may be the
    password itself, set by mistake)."""
    value = raw.strip()
    try:
        check_hash(value)
    except ConfigError:
        msg = f"{name} (its value not shown) {NOT_A_HASH}"
        raise ConfigError(msg) from None
    return value


def _number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        return math.nan


def _window(maximum: float, example: str) -> Callable[[str, str], float]:
    """A parser of a positive, finite length up to ``maximum`` (days or hours)."""

    def parse(name: str, raw: str) -> float:
        value = _number(raw)
        if not 0 < value <= maximum:  # also refuses nan and inf
            msg = (
                f"{name}={raw!r} is not a number above 0 and at most {maximum:g}; "
                f"unset it or use e.g. {example}."
            )
            raise ConfigError(msg)
        return value

    return parse


def _at_least_zero(example: str) -> Callable[[str, str], float]:
    """A parser of a finite number of at least 0 (seconds, megabytes)."""

    def parse(name: str, raw: str) -> float:
        value = _number(raw)
        if not 0 <= value < math.inf:
            msg = f"{name}={raw!r} is not a number of at least 0; unset it or use e.g. {example}."
            raise ConfigError(msg)
        return value

    return parse


def _whole(minimum: int, example: str, maximum: int | None = None) -> Callable[[str, str], int]:
    """A parser of a whole number of at least ``minimum`` (and at most ``maximum``)."""
    bound = math.inf if maximum is None else maximum
    span = f"of at least {minimum}" if maximum is None else f"from {minimum} to {maximum}"

    def parse(name: str, raw: str) -> int:
        value = _number(raw)
        if not (minimum <= value <= bound and value < math.inf and value == int(value)):
            msg = f"{name}={raw!r} is not a whole number {span}; unset it or use e.g. {example}."
            raise ConfigError(msg)
        return int(value)

    return parse


#: The most API slots of one kind: each is a thread or a worker process.
MAX_SLOTS = 256
#: The most megabytes a memory setting takes (16 TB), beyond any machine and what DuckDB
#: accepts as a ``memory_limit`` ("Memory value out of range" above about 9 * 10**12 MB).
MAX_MEMORY_MB = 16 * 1024 * 1024


def _hosts(name: str, raw: str) -> tuple[str, ...]:
    hosts = tuple(host.strip().lower() for host in raw.split(",") if host.strip())
    for host in hosts:
        bare = host.removeprefix("*.")
        if host == "*" or not bare or any(ch in bare for ch in "*/@ \t"):
            msg = (
                f"{name}={raw!r} is not a list of host names ({host!r} is not one); "
                "use e.g. api.example.com,*.example.com."
            )
            raise ConfigError(msg)
    return hosts


def parse_hosts(raw: str | None) -> tuple[str, ...]:
    """The host names of a comma-separated ``JOURNEY_DASHBOARD_ALLOWED_HOSTS`` value.

    >>> parse_hosts(" journeys.example.com, *.corp.example ,")
    ('journeys.example.com', '*.corp.example')
    """
    return parse_api_keys(raw)


def parse_api_keys(raw: str | None) -> tuple[str, ...]:
    """The keys of a comma-separated ``JOURNEY_API_KEYS`` value; blanks are ignored.

    >>> parse_api_keys(" k1, ,k2 ")
    ('k1', 'k2')
    """
    if not raw:
        return ()
    return tuple(key.strip() for key in raw.split(",") if key.strip())


VARIABLES: tuple[Variable, ...] = (
    Variable(
        ENV_DATABASE_URL,
        "database_url",
        "SQLAlchemy URL",
        "The warehouse, e.g. `postgresql://user:pw@host/db`; unset: the embedded demo, "
        "built on first use.",
        _database_url,
    ),
    Variable(
        ENV_MAPPING,
        "mapping",
        "preset or path",
        "Schema mapping: a preset (canonical, segment, snowplow) or a mapping TOML file.",
        _text,
    ),
    Variable(
        ENV_TIMEZONE,
        "timezone",
        "IANA timezone",
        "Timezone in which `event_date` starts, and of the days and hours the pages show.",
        _timezone,
    ),
    Variable(
        ENV_LOOKBACK_DAYS,
        "lookback_days",
        f"number, 0 < x <= {MAX_LOOKBACK_DAYS:g}",
        "The lookback of the email and newly-known rules (a person's last N days).",
        _window(MAX_LOOKBACK_DAYS, "90"),
    ),
    Variable(
        ENV_RECENT_HOURS,
        "recent_hours",
        f"number, 0 < x <= {MAX_RECENT_HOURS:g}",
        "The window when neither email nor event date is given (the last N hours).",
        _window(MAX_RECENT_HOURS, "24"),
    ),
    Variable(
        ENV_MASK_PII,
        "mask_pii",
        "yes/no (1/0)",
        "Show emails masked (`j***@example.com`) in pages, CSV downloads, exports and API "
        "responses.",
        _flag,
    ),
    Variable(
        ENV_CHANNELS_FILE,
        "channels_file",
        "path",
        "A channel grouping TOML file that extends or replaces the built-in GA4-style rules.",
        _text,
        shown_default="built-in rules",
    ),
    Variable(
        ENV_PASSWORD_HASH,
        "password_hash",
        "scrypt hash",
        "Dashboard sign-in: the password's hash from `journey hash-password`; unset (and no "
        "OIDC in secrets.toml): the dashboard is open.",
        _password_hash,
        shown_default="open",
    ),
    Variable(
        ENV_API_KEYS,
        "api_keys",
        "comma-separated keys",
        "Keys the API accepts in the `X-API-Key` header; unset: no key, and `journey serve` "
        "listens on loopback only.",
        lambda _name, raw: parse_api_keys(raw),
        shown_default="none",
    ),
    Variable(
        ENV_API_CACHE_SECONDS,
        "api_cache_seconds",
        "number >= 0",
        "Seconds the API keeps a result for the next pages and repeats; 0 turns the cache off.",
        _at_least_zero("60"),
    ),
    Variable(
        ENV_API_CACHE_ROWS,
        "api_cache_rows",
        "whole number >= 0",
        "Most rows the API's result cache holds; the least recently used results go first.",
        _whole(0, "1000000"),
    ),
    Variable(
        ENV_API_READ_SLOTS,
        "api_read_slots",
        f"whole number 1-{MAX_SLOTS}",
        "Most cohort and campaign warehouse reads the API runs at once (each in a worker "
        "process when `JOURNEY_API_COHORT_PROCESSES` is on); other requests wait their turn.",
        _whole(1, "2", MAX_SLOTS),
    ),
    Variable(
        ENV_API_LOOKUP_SLOTS,
        "api_lookup_slots",
        f"whole number 1-{MAX_SLOTS}",
        "Most person (email) lookups the API runs at once, in slots of their own so they never "
        "wait behind cohort reads.",
        _whole(1, "8", MAX_SLOTS),
    ),
    Variable(
        ENV_API_CACHE_MB,
        "api_cache_mb",
        "number >= 0",
        "Most megabytes (estimated in memory) the API's result cache holds; the least recently "
        "used results go first.",
        _at_least_zero("256"),
    ),
    Variable(
        ENV_API_SPOOL_MB,
        "api_spool_mb",
        "number >= 0",
        "Most megabytes of disk (a private temporary folder) the API uses to keep results too "
        "large for its memory cache, so their pages are not read again; 0: not kept.",
        _at_least_zero("1024"),
    ),
    Variable(
        ENV_API_COHORT_PROCESSES,
        "api_cohort_processes",
        "yes/no (1/0)",
        "Run the API's cohort and campaign reads in worker processes of lower CPU priority, "
        "so person lookups keep their speed meanwhile; 0: in threads of the API process.",
        _flag,
    ),
    Variable(
        ENV_API_ALLOWED_HOSTS,
        "api_allowed_hosts",
        "comma-separated host names",
        "`Host` header names the API answers (`*.example.com` matches subdomains); others get "
        "a 400. Unset: loopback names only when no key is set, any host with keys.",
        _hosts,
        shown_default="loopback when keyless",
    ),
    Variable(
        ENV_SECRET_KEY,
        "secret_key",
        "text",
        "Server secret that signs and encrypts the API's paging cursors and keys the emails' "
        "log fingerprints; unset: a random key per process, so cursors do not survive a "
        "restart and fingerprints differ between processes.",
        _text,
        shown_default="random per process",
    ),
    Variable(
        ENV_DASHBOARD_CACHE_MB,
        "dashboard_cache_mb",
        f"whole number 0-{MAX_MEMORY_MB}",
        "Megabytes of journey rows and page results the dashboard keeps for its sessions; the "
        "least recently used go first; 0 keeps none.",
        _whole(0, "512", MAX_MEMORY_MB),
    ),
    Variable(
        ENV_DASHBOARD_PUBLIC,
        "dashboard_public",
        "yes/no (1/0)",
        "Serve the dashboard on every network interface even without sign-in; unset: only "
        "on 127.0.0.1 unless sign-in is configured (or `--server.address` is given).",
        _flag,
    ),
    Variable(
        ENV_DASHBOARD_ALLOWED_HOSTS,
        "dashboard_allowed_hosts",
        "comma-separated host names",
        "Host names the dashboard answers (Streamlit `server.allowedHosts`, `*.` wildcards); "
        "other `Host` headers are refused.",
        lambda _name, raw: parse_hosts(raw),
        shown_default="localhost, 127.0.0.1, ::1",
    ),
    Variable(
        ENV_CURRENCY,
        "currency",
        "ISO 4217 code",
        "The currency of the warehouse's revenue (e.g. `EUR`), shown with every revenue figure "
        "on every page; it labels amounts, it does not convert them.",
        _currency,
    ),
    Variable(
        ENV_FIGURES_ROUTE,
        "figures_route",
        "auto, warehouse or polars",
        "Where the dashboard computes its figures: `warehouse` runs them as SQL in the "
        "warehouse; `polars` reads the cohort's rows once and computes them with the Polars "
        "analytics; `auto` takes `polars` for the embedded DuckDB and SQLite files (measured "
        "faster there) and `warehouse` for every server warehouse. Both give the same figures.",
        _route,
    ),
    Variable(
        ENV_POLARS_ROUTE_MAX_MB,
        "polars_route_max_mb",
        "number >= 0",
        "The largest embedded DuckDB or SQLite file (megabytes) for which `auto` takes the "
        "`polars` route; a larger file takes `warehouse`, so the dashboard's memory stays "
        "bounded as the data grows. The 1M-event demo file (57 MB) takes `warehouse`: its "
        "Campaign page peaked at 808 MB on `polars` against 535 MB on `warehouse`, whose "
        "cohort is computed once per page (about 5.6 against 3.1 CPU seconds cold).",
        _at_least_zero("16"),
    ),
    Variable(
        ENV_DUCKDB_MEMORY_MB,
        "duckdb_memory_mb",
        f"whole number 0-{MAX_MEMORY_MB}",
        "DuckDB's `memory_limit` (megabytes) in the dashboard's process for a DuckDB file: "
        "beyond it its joins, windows and sorts spill to a temporary folder instead of "
        "growing (`journey-duckdb-<pid>` in the system's temporary directory, `TMPDIR`: "
        "gigabytes at 100M events; DuckDB removes it when it closes, and the next process "
        "that spills removes those of killed processes); 0: DuckDB's own default (80% of the "
        "machine's memory).",
        _whole(0, "256", MAX_MEMORY_MB),
    ),
)


def _default_of(var: Variable) -> str:
    """The default as the reference shows it: a value in code style, or words in italics."""
    if var.shown_default is not None:
        return f"*{var.shown_default}*"
    value = next(f.default for f in fields(Settings) if f.name == var.field)
    if isinstance(value, bool):
        return "`1`" if value else "`0`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


INTRO = """\
# Configuration

Journey Explorer is configured with environment variables, read once when the `journey`
command, the API server (`journey serve`) or the dashboard starts. Unset or blank variables
take their default; a bad value stops the program with one line that names the variable and
the fix. Command-line options (`--db`, `--mapping`, `--mask-pii`) override the variables.

The test suite also reads `JOURNEY_PG_BIN`, `JOURNEY_CHROMIUM` and `JOURNEY_FIXTURES`
(`tests/support/`); they do not configure the product.

<!-- Generated from journey_core.config.VARIABLES:
     python -m journey_core.config --markdown > docs/configuration.md -->
"""


def render_markdown() -> str:
    """The configuration reference, one table row per variable.

    >>> "| `JOURNEY_LOOKBACK_DAYS` | `90` |" in render_markdown()
    True
    """
    rows = [
        "| Variable | Default | Type | Meaning |",
        "| --- | --- | --- | --- |",
        *(f"| `{var.name}` | {_default_of(var)} | {var.kind} | {var.doc} |" for var in VARIABLES),
    ]
    return INTRO + "\n" + "\n".join(rows) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m journey_core.config --markdown``: print the reference."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["--markdown"]:
        print("usage: python -m journey_core.config --markdown", file=sys.stderr)
        return 2
    sys.stdout.write(render_markdown())
    return 0


__all__ = [
    "DEFAULT_CURRENCY",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_DB_PATH",
    "DEFAULT_POLARS_ROUTE_MAX_MB",
    "ENV_API_ALLOWED_HOSTS",
    "ENV_API_CACHE_MB",
    "ENV_API_CACHE_ROWS",
    "ENV_API_CACHE_SECONDS",
    "ENV_API_COHORT_PROCESSES",
    "ENV_API_KEYS",
    "ENV_API_LOOKUP_SLOTS",
    "ENV_API_READ_SLOTS",
    "ENV_API_SPOOL_MB",
    "ENV_CHANNELS_FILE",
    "ENV_CURRENCY",
    "ENV_DASHBOARD_ALLOWED_HOSTS",
    "ENV_DASHBOARD_CACHE_MB",
    "ENV_DASHBOARD_PUBLIC",
    "ENV_DATABASE_URL",
    "ENV_DUCKDB_MEMORY_MB",
    "ENV_FIGURES_ROUTE",
    "ENV_LOOKBACK_DAYS",
    "ENV_MAPPING",
    "ENV_MASK_PII",
    "ENV_PASSWORD_HASH",
    "ENV_POLARS_ROUTE_MAX_MB",
    "ENV_RECENT_HOURS",
    "ENV_SECRET_KEY",
    "ENV_TIMEZONE",
    "FIGURES_ROUTES",
    "LOOPBACK_HOSTS",
    "MAX_LOOKBACK_DAYS",
    "MAX_RECENT_HOURS",
    "NOT_A_URL",
    "VARIABLES",
    "Settings",
    "Variable",
    "database_url_problem",
    "main",
    "parse_api_keys",
    "parse_hosts",
    "render_markdown",
]


if __name__ == "__main__":
    raise SystemExit(main())
