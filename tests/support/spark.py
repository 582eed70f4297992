"""A throwaway local Apache Spark Thrift server for tests, reached through ``hive://``.

Usage::

    with SparkThriftServer() as spark:
        load_canonical(spark, events, identities)
        engine = sqlalchemy.create_engine(spark.url())

The server is the ``pyspark`` package's own Spark (``spark-submit --class
org.apache.spark.sql.hive.thriftserver.HiveThriftServer2``) in ``local[2]`` mode, bound to
127.0.0.1 on a free port, with the session time zone UTC, two shuffle partitions, no web UI
and its own temporary warehouse and metastore. It runs as a
:class:`tests.support.process.ServerProcess` (its own process group, killed by
:meth:`SparkThriftServer.stop`, also at interpreter exit); where util-linux ``setpriv`` exists
the kernel also kills the JVM if the test process dies first (``--pdeathsig KILL``).

Java 17+ must be on ``PATH`` (``bash scripts/test-deps.sh`` installs it); ``$JAVA_HOME`` is
honoured as Spark does.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import polars as pl
import pytest

from journey_core import columns as c
from journey_core.rules.identity import EVENT_SCHEMA, IDENTITY_SCHEMA, TS, as_utc
from tests.support.process import ServerProcess, free_port

__all__ = [
    "SparkError",
    "SparkThriftServer",
    "find_spark_home",
    "load_canonical",
    "spark_server",
]

STARTUP_TIMEOUT = 180  # seconds until the server must accept a query

# Fixed table definitions: the canonical schema, TIMESTAMP (not timestamp_ntz, which
# PyHive reflects as NullType) holding UTC in the UTC session time zone.
_DDL = {
    c.EVENTS: (
        "event_id STRING, occurred_at TIMESTAMP, anonymous_id STRING, email STRING, "
        "event_type STRING, page_url STRING, referrer STRING, utm_source STRING, "
        "utm_medium STRING, utm_campaign STRING, utm_content STRING, utm_term STRING, "
        "revenue DOUBLE"
    ),
    c.IDENTITIES: "anonymous_id STRING, email STRING, identified_at TIMESTAMP",
}


class SparkError(RuntimeError):
    """The throwaway Spark server could not be found, started or stopped."""


def find_spark_home() -> Path:
    """The Spark distribution inside the installed ``pyspark`` package (or ``$SPARK_HOME``)."""
    env = os.environ.get("SPARK_HOME")
    if env and (Path(env) / "bin" / "spark-submit").exists():
        return Path(env)
    try:
        import pyspark
    except ImportError as exc:
        msg = "pyspark is not installed; pip install -e '.[spark]'"
        raise SparkError(msg) from exc
    home = Path(pyspark.__file__).parent
    if not (home / "bin" / "spark-submit").exists():
        msg = f"no bin/spark-submit in the pyspark package at {home}"
        raise SparkError(msg)
    return home


class SparkThriftServer:
    """A local Spark Thrift server (HiveServer2 protocol) on 127.0.0.1:<free port>."""

    def __init__(self, *, spark_home: Path | None = None, cores: int = 2) -> None:
        self.spark_home = spark_home or find_spark_home()
        self.cores = cores
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.base_dir: Path | None = None
        self.startup_seconds: float | None = None
        self._server: ServerProcess | None = None

    def _command(self, base: Path) -> list[str]:
        metastore = base / "metastore_db"
        confs = {
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.sql.warehouse.dir": str(base / "warehouse"),
            "spark.sql.catalogImplementation": "hive",
            "spark.hadoop.javax.jdo.option.ConnectionURL": (
                f"jdbc:derby:;databaseName={metastore};create=true"
            ),
            "spark.driver.memory": "1g",
            "spark.driver.extraJavaOptions": (
                f"-Dderby.system.home={base} -Duser.timezone=UTC -Djava.io.tmpdir={base} "
                # short-lived and small: quick JIT warm-up over peak speed, one GC thread
                "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
            ),
            # tiny tables: no adaptive re-planning, no whole-stage code generation per query
            "spark.sql.adaptive.enabled": "false",
            "spark.sql.codegen.wholeStage": "false",
            "spark.local.dir": str(base / "local"),
        }
        hive = {
            "hive.server2.thrift.bind.host": self.host,
            "hive.server2.thrift.port": str(self.port),
            "hive.server2.transport.mode": "binary",
            "hive.server2.enable.doAs": "false",
        }
        cmd = [
            str(self.spark_home / "bin" / "spark-submit"),
            "--class",
            "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
            "--master",
            f"local[{self.cores}]",
            "--name",
            "journey-tests-thriftserver",
        ]
        for key, value in confs.items():
            cmd += ["--conf", f"{key}={value}"]
        cmd.append("spark-internal")
        for key, value in hive.items():
            cmd += ["--hiveconf", f"{key}={value}"]
        return cmd

    def start(self) -> SparkThriftServer:
        """Start the server and return once it answers a query (or raise with the log tail)."""
        if self._server is not None:
            msg = "SparkThriftServer already started"
            raise SparkError(msg)
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            msg = "java is not installed; run bash scripts/test-deps.sh (openjdk-17-jre-headless)"
            raise SparkError(msg)
        began = time.monotonic()
        self.base_dir = Path(tempfile.mkdtemp(prefix="jspark-"))
        self.port = free_port(self.host)
        command = self._command(self.base_dir)
        setpriv = shutil.which("setpriv")
        if setpriv is not None:  # the JVM dies with the test process, even on SIGKILL
            command = [setpriv, "--pdeathsig", "KILL", "--", *command]
        self._server = ServerProcess(
            command,
            name="Spark Thrift server",
            cwd=self.base_dir,  # derby.log and the metastore stay in the temp dir
            env={"SPARK_HOME": str(self.spark_home), "TZ": "UTC", "PYSPARK_SUBMIT_ARGS": None},
        )
        atexit.register(self.stop)
        try:
            self._server.start()
            self._server.wait_healthy(self._answers, timeout=STARTUP_TIMEOUT, interval=0.5)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _answers(self) -> str | None:
        """None once the server answers ``SELECT 1``, else why not (a :data:`Probe`)."""
        try:
            with socket.create_connection((self.host, self.port or 0), timeout=1):
                pass
            self.execute("SELECT 1")
        except Exception as exc:
            return repr(exc)[:300]
        return None

    def stop(self) -> None:
        """Kill the server's process group and remove its temp dir. Safe to call repeatedly."""
        atexit.unregister(self.stop)
        server, self._server = self._server, None
        if server is not None:
            server.stop(timeout=15)
            server.close_logs()
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None
        self.port = None

    def __enter__(self) -> SparkThriftServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def url(self, database: str = "default") -> str:
        """The SQLAlchemy URL ``hive://journey@127.0.0.1:PORT/<database>``."""
        if self.port is None:
            msg = "SparkThriftServer is not started"
            raise SparkError(msg)
        return f"hive://journey@{self.host}:{self.port}/{database}"

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement through PyHive (``%(name)s`` parameters); rows if any."""
        from pyhive import hive

        conn = hive.connect(host=self.host, port=self.port, username="journey")
        try:
            cur = conn.cursor()
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()


def _typed(frame: pl.LazyFrame, schema: dict[str, pl.DataType]) -> pl.LazyFrame:
    """The canonical dtypes, times as UTC instants (naive values are UTC); values unchanged."""
    have = frame.collect_schema()
    return frame.select(
        as_utc(name, have[name]) if dtype == TS else pl.col(name).cast(dtype)
        for name, dtype in schema.items()
    )


def _events_frame(frame: pl.LazyFrame) -> pl.LazyFrame:
    return _typed(frame, EVENT_SCHEMA)


def _identities_frame(frame: pl.LazyFrame) -> pl.LazyFrame:
    return _typed(frame, IDENTITY_SCHEMA)


def load_canonical(
    server: SparkThriftServer,
    events: pl.DataFrame,
    identities: pl.DataFrame,
    *,
    database: str = "default",
) -> None:
    """Replace the canonical ``events`` and ``identities`` tables in ``database``.

    Polars writes each frame as Parquet (timestamps as UTC instants) into the server's temp
    dir; a ``CREATE TABLE ... USING parquet LOCATION`` over it makes the table. The path is a
    bound parameter; the table and column names are the fixed canonical ones.
    """
    if server.base_dir is None:
        msg = "SparkThriftServer is not started"
        raise SparkError(msg)
    frames = {
        c.EVENTS: (events, c.EVENT_COLUMNS, _events_frame),
        c.IDENTITIES: (identities, c.IDENTITY_COLUMNS, _identities_frame),
    }
    stamp = time.time_ns()
    server.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    for name, (frame, columns, conform) in frames.items():
        folder = server.base_dir / "data" / f"{name}-{stamp}"
        folder.mkdir(parents=True)
        utc = conform(frame.lazy()).select(columns).collect()
        utc.write_parquet(folder / "part-0.parquet")
        server.execute(f"DROP TABLE IF EXISTS {database}.{name}")
        server.execute(
            f"CREATE TABLE {database}.{name} ({_DDL[name]}) USING parquet LOCATION %(path)s",
            {"path": str(folder)},
        )


@pytest.fixture(scope="session")
def spark_server() -> Iterator[SparkThriftServer]:
    """One local Spark Thrift server for the whole test session, killed at its end."""
    with SparkThriftServer() as server:
        yield server
