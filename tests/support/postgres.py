"""Throwaway PostgreSQL clusters for tests.

Usage::

    with PostgresServer() as pg:
        pg.execute_admin("CREATE ROLE reader LOGIN PASSWORD 'pw'")
        engine = sqlalchemy.create_engine(pg.url(user="reader", password="pw"))

Each server lives in its own temporary directory (data dir, log file and unix
socket) and listens on a free TCP port on 127.0.0.1 only.  When the test
process runs as root (CI), PostgreSQL refuses to run as root, so the cluster
is owned by and run as the OS user ``postgres`` (via ``runuser``).

The server binaries (``initdb``, ``pg_ctl``) are taken from ``$JOURNEY_PG_BIN``
or auto-detected (see :func:`find_pg_bin`).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql as pg_sql

from tests.support.process import ServerError, free_port, wait_until

__all__ = ["AdminQuery", "PostgresError", "PostgresServer", "find_pg_bin"]

# A statement for execute_admin: plain text or one composed with psycopg.sql.
AdminQuery = str | pg_sql.SQL | pg_sql.Composed

OS_USER = "postgres"  # OS account used to run the cluster when we are root
SUPERUSER = "postgres"  # database superuser created by initdb
STARTUP_TIMEOUT = 60  # seconds, for initdb / pg_ctl start / readiness
COMMAND_TIMEOUT = 120  # hard cap for any single subprocess


class PostgresError(ServerError):
    """The throwaway server could not be set up, started or stopped."""


def _version_key(path: str) -> tuple[int, ...]:
    """Sort key for /usr/lib/postgresql/<version>/bin (numeric, so 9.6 < 15)."""
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def _has_server_bins(directory: str | os.PathLike[str]) -> bool:
    d = Path(directory)
    return all(os.access(d / name, os.X_OK) for name in ("initdb", "pg_ctl"))


def find_pg_bin() -> Path:
    """Directory holding ``initdb`` and ``pg_ctl``.

    Order: ``$JOURNEY_PG_BIN``, newest ``/usr/lib/postgresql/*/bin`` (Debian
    layout), ``pg_config --bindir``, then ``$PATH``.
    """
    env = os.environ.get("JOURNEY_PG_BIN")
    if env:
        if not _has_server_bins(env):
            msg = f"JOURNEY_PG_BIN={env!r} does not contain executable initdb and pg_ctl"
            raise PostgresError(msg)
        return Path(env)

    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if _has_server_bins(d):
            return Path(d)

    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out and _has_server_bins(out):
                return Path(out)

    initdb = shutil.which("initdb")
    if initdb and _has_server_bins(Path(initdb).parent):
        return Path(initdb).parent

    msg = (
        "PostgreSQL server binaries (initdb, pg_ctl) not found; install the 'postgresql' "
        "package (bash scripts/test-deps.sh) or set JOURNEY_PG_BIN"
    )
    raise PostgresError(msg)


def _traversable_by_others(path: Path) -> bool:
    """True if every ancestor of *path* is world-executable (another user can reach it)."""
    for p in [path, *path.parents]:
        try:
            if not p.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


class PostgresServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1:<free port>.

    :param password_auth: if true, the cluster uses ``scram-sha-256`` for all
        connections and the superuser gets the password :attr:`password`
        (so tests can check bad-password errors); otherwise ``trust`` auth.
    :param password: superuser password for ``password_auth`` (random if omitted).
    :param bin_dir: directory with initdb/pg_ctl (default: :func:`find_pg_bin`).
    """

    def __init__(
        self,
        *,
        password_auth: bool = False,
        password: str | None = None,
        bin_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.password_auth = password_auth
        self.password: str | None = (
            (password or secrets.token_urlsafe(16)) if password_auth else None
        )
        self.bin_dir = Path(bin_dir) if bin_dir is not None else find_pg_bin()
        self.port: int | None = None
        self.host = "127.0.0.1"
        self.base_dir: Path | None = None  # temp dir: data/, postgres.log, socket
        self._as_root = hasattr(os, "geteuid") and os.geteuid() == 0

    # ------------------------------------------------------------------ paths
    @property
    def data_dir(self) -> Path:
        return self._base / "data"

    @property
    def log_file(self) -> Path:
        return self._base / "postgres.log"

    @property
    def _base(self) -> Path:
        if self.base_dir is None:
            msg = "PostgresServer is not started"
            raise PostgresError(msg)
        return self.base_dir

    # --------------------------------------------------------------- commands
    def _cmd(self, *args: str) -> list[str]:
        """Command line, wrapped in ``runuser -u postgres --`` when we are root."""
        if self._as_root:
            return ["runuser", "-u", OS_USER, "--", *args]
        return list(args)

    def _run(
        self, *args: str, timeout: float = COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        cmd = self._cmd(*args)
        try:
            # cwd=base dir: the postgres user may not be allowed into our cwd.
            # stdin/stdout/stderr never stay attached to the postmaster because
            # pg_ctl start always gets -l <logfile>.
            return subprocess.run(
                cmd,
                cwd=self._base,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=True,
            )
        except subprocess.CalledProcessError as exc:
            msg = (
                f"command failed ({exc.returncode}): {' '.join(cmd)}\n"
                f"stdout:\n{exc.stdout}\nstderr:\n{exc.stderr}\n{self._log_tail()}"
            )
            raise PostgresError(msg) from exc
        except subprocess.TimeoutExpired as exc:
            msg = f"command timed out after {timeout}s: {' '.join(cmd)}\n{self._log_tail()}"
            raise PostgresError(msg) from exc

    def _log_tail(self, chars: int = 4000) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except (OSError, PostgresError):
            return ""
        return f"server log (tail):\n{text[-chars:]}"

    def _ensure_os_user(self) -> None:
        """As root, make sure the unprivileged OS user ``postgres`` exists."""
        try:
            subprocess.run(["id", "-u", OS_USER], capture_output=True, check=True, timeout=10)
        except subprocess.CalledProcessError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/bin/false", OS_USER],
                capture_output=True,
                check=True,
                timeout=30,
            )

    def _make_base_dir(self) -> Path:
        parent = Path(tempfile.gettempdir())
        if self._as_root and not _traversable_by_others(parent):
            parent = Path("/tmp")  # the postgres user must be able to reach the dir
        # Short prefix: the unix socket path must stay below ~100 characters.
        base = Path(tempfile.mkdtemp(prefix="jpg-", dir=parent))
        if self._as_root:
            shutil.chown(base, user=OS_USER, group=None)
        return base

    # -------------------------------------------------------------- lifecycle
    def start(self) -> PostgresServer:
        """initdb + pg_ctl start; returns self once the server accepts connections."""
        if self.base_dir is not None:
            msg = "PostgresServer already started"
            raise PostgresError(msg)
        if self._as_root:
            self._ensure_os_user()
        self.base_dir = self._make_base_dir()
        atexit.register(self.stop)  # never leak a postmaster if a test run aborts
        try:
            self._initdb()
            self._start_server()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _initdb(self) -> None:
        args = [
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--encoding=UTF8",
            "--locale=C",  # independent of the machine's installed locales
            "--no-sync",  # throwaway cluster: speed over durability
        ]
        if self.password_auth:
            assert self.password is not None
            pwfile = self._base / "pwfile"
            pwfile.write_text(self.password + "\n")
            pwfile.chmod(0o600)
            if self._as_root:
                shutil.chown(pwfile, user=OS_USER, group=None)
            args += ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
        else:
            args += ["--auth=trust"]
        try:
            self._run(*args)
        finally:
            with contextlib.suppress(OSError):
                (self._base / "pwfile").unlink(missing_ok=True)

    def _options(self) -> str:
        """Server options: our port and socket dir, durability off (a throwaway cluster)."""
        return (
            f"-c listen_addresses={self.host} -p {self.port} -k '{self._base}' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )

    def _start_server(self, attempts: int = 3) -> None:
        """pg_ctl start on a free port; retries with a new port if it got taken."""
        last: PostgresError | None = None
        for _ in range(attempts):
            self.port = free_port(self.host)
            try:
                self._run(
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-o",
                    self._options(),
                    "-t",
                    str(STARTUP_TIMEOUT),
                    "-w",
                    "start",
                    timeout=STARTUP_TIMEOUT + 15,
                )
                return
            except PostgresError as exc:
                last = exc
                if "already in use" not in self._log_tail():
                    raise
        assert last is not None
        raise last

    def _wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        def probe() -> str | None:
            try:
                self.execute_admin("SELECT 1")
            except psycopg.OperationalError as exc:
                return str(exc).strip()
            return None

        wait_until(
            probe, timeout=timeout, what="PostgreSQL", log_tail=self._log_tail, error=PostgresError
        )

    def stop(self) -> None:
        """pg_ctl stop -m fast and remove the temp dir. Safe to call repeatedly."""
        atexit.unregister(self.stop)
        if self.base_dir is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                try:
                    self._run(
                        str(self.bin_dir / "pg_ctl"),
                        "-D",
                        str(self.data_dir),
                        "-m",
                        "fast",
                        "-t",
                        "30",
                        "-w",
                        "stop",
                        timeout=45,
                    )
                except PostgresError:
                    self._kill_postmaster()
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None
            self.port = None

    def pause(self) -> None:
        """Stop the server but keep its data and port (a warehouse outage); see :meth:`resume`."""
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-m",
            "fast",
            "-t",
            "30",
            "-w",
            "stop",
            timeout=45,
        )

    def resume(self) -> None:
        r"""Start a :meth:`pause`\ d server again on the same port."""
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            self._options(),
            "-t",
            str(STARTUP_TIMEOUT),
            "-w",
            "start",
            timeout=STARTUP_TIMEOUT + 15,
        )
        self._wait_ready()

    def _kill_postmaster(self) -> None:
        """Last resort if pg_ctl stop failed: SIGKILL the postmaster by pid."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, 9)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------ connecting
    def url(
        self, user: str = SUPERUSER, password: str | None = None, dbname: str = "postgres"
    ) -> str:
        """SQLAlchemy URL ``postgresql+psycopg://user[:password]@127.0.0.1:PORT/dbname``."""
        if self.port is None:
            msg = "PostgresServer is not started"
            raise PostgresError(msg)
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        return f"postgresql+psycopg://{auth}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def admin_url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL for the superuser (with its password when password_auth)."""
        return self.url(SUPERUSER, self.password, dbname)

    def conninfo(
        self, user: str = SUPERUSER, password: str | None = None, dbname: str = "postgres"
    ) -> str:
        """libpq/psycopg URL (``postgresql://...``) for the same connection as :meth:`url`."""
        return self.url(user, password, dbname).replace("postgresql+psycopg://", "postgresql://", 1)

    def connect(
        self, user: str = SUPERUSER, password: str | None = None, dbname: str = "postgres"
    ) -> psycopg.Connection[Any]:
        """A plain psycopg connection (caller closes it)."""
        return psycopg.connect(self.conninfo(user, password, dbname), connect_timeout=10)

    def execute_admin(
        self, sql: AdminQuery, params: Any = None, *, dbname: str = "postgres"
    ) -> list[tuple[Any, ...]]:
        """Run one statement as superuser with autocommit (CREATE DATABASE works).

        Returns the result rows, or ``[]`` for statements without a result.
        """
        conn = psycopg.connect(
            self.conninfo(SUPERUSER, self.password, dbname), autocommit=True, connect_timeout=10
        )
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description is not None else []

    psql = execute_admin  # alias

    def __repr__(self) -> str:
        state = f"port={self.port}" if self.port else "stopped"
        return f"<PostgresServer {state} bin_dir={self.bin_dir}>"
