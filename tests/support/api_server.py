"""Helpers for API tests and the API load test: a demo warehouse and a real ``journey serve``.

Usage::

    url = build_demo_warehouse(tmp_dir)
    with ApiServer(db=url, env={"JOURNEY_API_KEYS": None}) as api:
        urllib.request.urlopen(api.url + "/api/v1/customer-journey-details?as_of=...")
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from journey_core.io.demo import build_demo
from tests.support.process import ServerProcess, free_port, http_probe

__all__ = ["DEMO_AS_OF", "DEMO_END", "ApiServer", "build_demo_warehouse"]

# The demo's last event; tests pass as_of explicitly so results never depend on the clock.
DEMO_END = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
DEMO_AS_OF = "2022-08-31T00:00:00Z"


def build_demo_warehouse(directory: Path, *, individuals: int = 300, seed: int = 7) -> str:
    """Build the deterministic demo warehouse in ``directory``; return its SQLAlchemy URL."""
    url = f"duckdb:///{directory / 'demo.duckdb'}"
    build_demo(url, individuals=individuals, seed=seed, end=DEMO_END)
    return url


class ApiServer:
    """Runs ``journey serve`` in a subprocess on 127.0.0.1:<free port>, stops it on exit.

    :param db: the ``--db`` URL.
    :param env: extra environment variables; a value of ``None`` removes the variable.
    :param timeout: seconds to wait for ``/openapi.json`` to answer.
    :param extra_args: more ``journey serve`` options.
    """

    def __init__(
        self,
        *,
        db: str,
        env: Mapping[str, str | None] | None = None,
        host: str = "127.0.0.1",
        timeout: float = 60.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.db = db
        self.host = host
        self.port = free_port()
        self.timeout = timeout
        self.extra_args = list(extra_args)
        self.server = ServerProcess(self.command(), name="journey serve", env=env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        script = Path(sys.executable).with_name("journey")  # the installed console script
        return [
            str(script),
            "serve",
            "--db",
            self.db,
            "--host",
            self.host,
            "--port",
            str(self.port),
            *self.extra_args,
        ]

    def output(self) -> tuple[str, str]:
        """(stdout, stderr) captured from the server so far."""
        return self.server.output()

    def start(self) -> ApiServer:
        self.server.start()
        self.server.wait_healthy(http_probe(f"{self.url}/openapi.json"), timeout=self.timeout)
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the server's process group, SIGKILL after ``timeout`` s; its exit code."""
        return self.server.stop(timeout)

    def close_logs(self) -> None:
        self.server.close_logs()

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self.close_logs()
