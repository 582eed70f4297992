"""The ``journey`` command: build a demo warehouse, export journeys.

``journey export`` reads the rules' one statement
(:func:`~journey_core.warehouse.native.stream_journeys`) in bounded batches and writes each
batch as it comes, masked (``--mask-pii``) and formula-safe, so its memory does not grow
with the export.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import polars as pl

from journey_core import columns as c
from journey_core.config import (
    ENV_DATABASE_URL,
    ENV_MAPPING,
    ENV_MASK_PII,
    ENV_PASSWORD_HASH,
    Settings,
)
from journey_core.errors import ConfigError, InputError, JourneyError
from journey_core.io import export
from journey_core.io.demo import DEFAULT_INDIVIDUALS, build_demo, individuals_for_events
from journey_core.io.privacy import mask_frame, use_secret
from journey_core.rules.query import JourneyQuery, parse_as_of
from journey_core.warehouse import (
    create_engine,
    local_file,
    safe_url,
    url_problem,
    verify_schema,
)
from journey_core.warehouse.fetch import empty_message
from journey_core.warehouse.mapping import load_mapping
from journey_core.warehouse.native import stream_journeys
from journey_core.warehouse.read import STREAM_DUCKDB_MEMORY

EXIT_INPUT = 2
EXIT_WAREHOUSE = 1
MAX_INDIVIDUALS = 50_000_000
"""The largest demo ``journey demo`` builds: about 2.4 billion events, made in blocks."""


def _progress(step: str, fraction: float) -> None:
    print(f"[{fraction:4.0%}] {step}", file=sys.stderr, flush=True)


class _Eta:
    """Progress lines on stderr with the time elapsed and, once measurable, the time left."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, step: str, fraction: float) -> None:
        elapsed = time.monotonic() - self.start
        eta = ""
        if 0.01 <= fraction < 1:
            eta = f", about {_duration(elapsed * (1 - fraction) / fraction)} left"
        print(f"[{fraction:4.0%}] {step} ({_duration(elapsed)}{eta})", file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    """``"1h02m"``, ``"3m05s"`` or ``"12s"``.

    >>> _duration(3725), _duration(185), _duration(12.4)
    ('1h02m', '3m05s', '12s')
    """
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _count(text: str) -> int:
    """A count such as ``100M``, ``2.5M``, ``250k`` or ``1000000`` (argparse type).

    >>> _count("100M"), _count("2.5m"), _count("250k"), _count("1_000")
    (100000000, 2500000, 250000, 1000)
    """
    scale = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}.get(text[-1:].lower(), 1)
    digits = text[:-1] if scale > 1 else text
    try:
        value = float(digits.replace("_", "")) * scale
    except ValueError:
        msg = f"{text!r} is not a count such as 1000000, 250k or 100M"
        raise argparse.ArgumentTypeError(msg) from None
    if not 1 <= value < 1e12:
        msg = f"{text!r}: must be at least 1 and below 1000G"
        raise argparse.ArgumentTypeError(msg)
    return round(value)


def _whole(low: int, high: int, example: str) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``.

    >>> _whole(1, 65535, "8000")("8080")
    8080
    """

    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            msg = f"{text!r} is not a whole number from {low:,} to {high:,}, e.g. {example}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


def _database_url(text: str) -> str:
    """A database URL (argparse type for ``--db``): a file path gets the URL it meant.

    >>> _database_url(" duckdb:///shop.duckdb ")
    'duckdb:///shop.duckdb'
    """
    url = text.strip()
    problem = url_problem(url)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return url


def warehouse_url(args: argparse.Namespace, settings: Settings) -> str:
    """``--db`` (checked as it was parsed), else ``$JOURNEY_DATABASE_URL``, checked here so
    that a command refuses it before any work, naming the variable."""
    if args.db:
        return str(args.db)
    problem = url_problem(settings.database_url)
    if problem is not None:
        msg = f"{ENV_DATABASE_URL}: {problem}"
        raise ConfigError(msg)
    return settings.database_url


def ensure_warehouse(settings: Settings, *, db_given: bool) -> None:
    """Create the embedded demo warehouse on first use of the default URL."""
    if db_given or settings.url_from_user:
        return
    path = local_file(settings.database_url)
    if path is not None and not path.exists():
        print(f"First run: building the demo warehouse at {path} ...", file=sys.stderr)
        build_demo(settings.database_url, end=dt.datetime.now(dt.UTC), progress=_progress)


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    url = warehouse_url(args, settings)
    path = local_file(url)
    if args.if_missing and path is not None and path.exists():
        print(f"Demo warehouse {path} already exists; leaving it as it is.", file=sys.stderr)
        return 0
    if args.events is not None:  # --events: about that many, as whole people
        args.individuals = individuals_for_events(args.events)
    if not 1 <= args.individuals <= MAX_INDIVIDUALS:
        msg = (
            f"must be a whole number of at least 1 and at most {MAX_INDIVIDUALS:,}, e.g. 20000; "
            f"got {args.individuals:,}."
        )
        raise InputError("--individuals", msg)
    now = dt.datetime.now(dt.UTC)
    try:
        end = parse_as_of(args.end, now=now) if args.end else now
    except InputError as exc:  # the rules call it as_of; here it is the last event's time
        raise InputError("--end", exc.detail) from None
    print(f"Building the demo warehouse at {safe_url(url)} ...", file=sys.stderr)
    stats = build_demo(url, individuals=args.individuals, seed=args.seed, end=end, progress=_Eta())
    print(
        f"Wrote {stats.events:,} events and {stats.identities:,} identities "
        f"for {stats.individuals:,} people to {stats.url}.",
        file=sys.stderr,
    )
    return 0


def _cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    mapping = load_mapping(args.mapping or settings.mapping)
    by_email = mapping.identifier == "email"
    query = JourneyQuery.build(
        now=dt.datetime.now(dt.UTC),
        email=args.email if by_email else None,
        event_date=args.event_date,
        as_of=args.as_of,
        lookback_days=settings.lookback_days,
        recent_hours=settings.recent_hours,
        timezone=settings.timezone,
    )
    if not by_email:  # the mapping's individuals are user ids (e.g. Snowplow's user_id)
        query = replace(query, email=mapping.parse_identifier(args.email))
    url = warehouse_url(args, settings)
    out = output_path(args.output, url)
    ensure_warehouse(settings, db_given=bool(args.db))
    mask = args.mask_pii or settings.mask_pii
    engine = create_engine(url, duckdb_memory=STREAM_DUCKDB_MEMORY)
    try:
        mapping = verify_schema(engine, mapping)
        # The one statement, read in bounded batches and written as they come.
        batches = stream_journeys(engine, query, mapping=mapping)
        try:
            first = next(batches)  # a failing statement fails here, before output is opened
            tally = _Tally()
            chunks = tally.count(itertools.chain([first], batches))
            if mask:
                chunks = (mask_frame(chunk) for chunk in chunks)
            if out is None:
                _write_stdout(chunks, args.format)
            else:
                _write_file(chunks, out, args.format)
        finally:
            batches.close()  # the warehouse's result and connection, also after a failed write
        message = empty_message(engine, query, mapping=mapping) if tally.rows == 0 else None
    finally:
        engine.dispose()
    if message:
        print(message, file=sys.stderr)
    if out is not None:
        print(
            f"Wrote {tally.rows:,} rows for {tally.individuals:,} people to {out}.",
            file=sys.stderr,
        )
    return 0


class _Tally:
    """Counts the rows and the people of journey chunks as they pass (rows sorted by email)."""

    def __init__(self) -> None:
        self.rows = 0
        self.individuals = 0
        self._last: str | None = None

    def count(self, chunks: Iterable[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        """Each chunk unchanged, counted on its way through."""
        for chunk in chunks:
            if chunk.height:
                emails = chunk.get_column(c.EMAIL)
                self.rows += chunk.height
                self.individuals += emails.n_unique() - (emails[0] == self._last)
                self._last = emails[-1]
            yield chunk


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from journey_api import server  # the web stack loads only for this command

    server.check_exposure(args.host, settings.api_keys)
    warehouse_url(args, settings)
    mapping = load_mapping(args.mapping or settings.mapping)
    ensure_warehouse(settings, db_given=bool(args.db))
    if args.db:
        settings = replace(settings, database_url=args.db, url_from_user=True)
    return server.serve(settings=settings, host=args.host, port=args.port, mapping=mapping)


def output_path(output: str, url: str) -> Path | None:
    """The file ``--output`` names (``None`` for ``-``, standard output), checked before reading.

    Raises :class:`InputError` naming ``--output`` when the path is a folder, its folder is
    missing, or it is the warehouse file itself (writing there would destroy the warehouse).
    """
    if output == "-":
        return None
    out = Path(output).expanduser()
    if out.is_dir():
        msg = f"{out} is a folder; name a file in it, e.g. --output {out / 'journeys.csv'}."
        raise InputError("--output", msg)
    if not out.parent.is_dir():
        msg = f"the folder {out.parent} does not exist; create it or choose another file."
        raise InputError("--output", msg)
    warehouse = local_file(url)
    if warehouse is not None and _same_file(out, warehouse):
        msg = (
            f"{out} is the warehouse file of --db {safe_url(url)}; writing there would "
            "destroy it. Choose another file, e.g. --output journeys.csv."
        )
        raise InputError("--output", msg)
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _write_file(chunks: Iterable[pl.DataFrame], out: Path, fmt: export.Format) -> None:
    """Write the export to ``out``; a failed write or read leaves no partial regular file."""
    try:
        with out.open("wb") as fh:
            _write(chunks, fh, fmt)
    except OSError as exc:
        if out.is_file():
            out.unlink(missing_ok=True)
        reason = exc.strerror or type(exc).__name__
        msg = f"cannot write {out}: {reason}; free some space or choose another file."
        raise InputError("--output", msg) from None
    except BaseException:  # the warehouse failed mid-read, or the user interrupted
        if out.is_file():
            out.unlink(missing_ok=True)
        raise


def _write_stdout(chunks: Iterable[pl.DataFrame], fmt: export.Format) -> None:
    """Write the export to standard output; a closed pipe ends quietly, a full disk clearly."""
    try:
        _write(chunks, sys.stdout.buffer, fmt)
    except BrokenPipeError:  # e.g. `journey export | head`: the reader has all it wants
        _silence_stdout()
    except OSError as exc:
        _silence_stdout()
        reason = exc.strerror or type(exc).__name__
        msg = f"cannot write to standard output: {reason}; redirect it or use --output FILE."
        raise InputError("--output", msg) from None


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that Python's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _write(chunks: Iterable[pl.DataFrame], out: BinaryIO, fmt: export.Format) -> None:
    export.write_chunks(chunks, out, fmt=fmt)
    out.flush()


def _cmd_hash_password(args: argparse.Namespace, _settings: Settings) -> int:
    from journey_core.auth import hash_password

    if args.stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        password = getpass.getpass("Dashboard password: ")
        if getpass.getpass("Again: ") != password:
            raise InputError("password", "the two entries differ; run the command again.")
    if len(password) < 12:
        raise InputError("password", "use at least 12 characters.")
    print(hash_password(password))
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_INPUT, f"journey: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``journey`` argument parser."""
    parser = _Parser(
        prog="journey", description="Journey Explorer: customer journeys from your warehouse."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    db_help = (
        f"SQLAlchemy URL of the warehouse (default: ${ENV_DATABASE_URL}, else data/demo.duckdb)"
    )

    demo = sub.add_parser("demo", help="build a deterministic demo warehouse")
    demo.add_argument("--db", type=_database_url, help=db_help)
    size = demo.add_mutually_exclusive_group()
    size.add_argument(
        "--individuals",
        type=int,
        default=DEFAULT_INDIVIDUALS,
        help="people to simulate (default %(default)s)",
    )
    size.add_argument(
        "--events",
        type=_count,
        help="about how many events to write instead, e.g. 10M (about 48 a person)",
    )
    demo.add_argument(
        "--seed",
        type=_whole(0, 2**32 - 1, "7"),
        default=7,
        help="random seed (default %(default)s)",
    )
    demo.add_argument("--end", help="ISO-8601 time of the last event (default: now)")
    demo.add_argument(
        "--if-missing", action="store_true", help="do nothing if the file already exists"
    )
    demo.set_defaults(func=_cmd_demo)

    exp = sub.add_parser("export", help="write journey rows (CSV by default) for one rule")
    exp.add_argument("--db", type=_database_url, help=db_help)
    exp.add_argument("--email", help="one person's last 90 days")
    exp.add_argument("--event-date", help="campaign start, YYYY-MM-DD")
    exp.add_argument("--as-of", help="ISO-8601 time to look from (default: now)")
    exp.add_argument(
        "--mapping",
        help=(
            "schema mapping: a preset (canonical, segment, snowplow) or a TOML file "
            f"(default: ${ENV_MAPPING}, else canonical)"
        ),
    )
    exp.add_argument("--format", choices=export.FORMATS, default="csv")
    exp.add_argument(
        "--mask-pii",
        action="store_true",
        help=f"mask emails as j***@example.com (default: ${ENV_MASK_PII})",
    )
    exp.add_argument("--output", default="-", help="file path, or - for stdout (default)")
    exp.set_defaults(func=_cmd_export)

    pw = sub.add_parser("hash-password", help=f"print a salted scrypt hash for {ENV_PASSWORD_HASH}")
    pw.add_argument("--stdin", action="store_true", help="read the password from standard input")
    pw.set_defaults(func=_cmd_hash_password)

    srv = sub.add_parser("serve", help="serve GET /api/v1/customer-journey-details over HTTP")
    srv.add_argument("--db", type=_database_url, help=db_help)
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    srv.add_argument(
        "--port", type=_whole(1, 65535, "8000"), default=8000, help="port (default %(default)s)"
    )
    srv.add_argument("--mapping", help=f"schema mapping, as for export (default: ${ENV_MAPPING})")
    srv.set_defaults(func=_cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``journey`` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        use_secret(settings.secret_key)  # keyed fingerprints, as the API's
        return int(args.func(args, settings))
    except InputError as exc:
        print(f"journey: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except ConfigError as exc:
        print(f"journey: configuration error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except JourneyError as exc:
        print(f"journey: error: {exc}", file=sys.stderr)
        return EXIT_WAREHOUSE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
