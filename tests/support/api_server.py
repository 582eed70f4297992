"""Helpers for API tests and the API load test: a demo warehouse and a real ``journey serve``.

Usage::

    url = build_demo_warehouse(tmp_dir)
    with ApiServer(db=url, env={"JOURNEY_API_KEYS": None}) as api:
        urllib.request.urlopen(api.url + "/api/v1/customer-journey-details?as_of=...")
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from journey_core.io.demo import build_demo

__all__ = ["DEMO_END", "ApiServer", "build_demo_warehouse", "free_port"]

# The demo's last event; tests pass as_of explicitly so results never depend on the clock.
DEMO_END = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)
DEMO_AS_OF = "2022-08-31T00:00:00Z"


def build_demo_warehouse(directory: Path, *, individuals: int = 300, seed: int = 7) -> str:
    """Build the deterministic demo warehouse in ``directory``; return its SQLAlchemy URL."""
    url = f"duckdb:///{directory / 'demo.duckdb'}"
    build_demo(url, individuals=individuals, seed=seed, end=DEMO_END)
    return url


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        self.env = dict(env or {})
        self.host = host
        self.port = free_port()
        self.timeout = timeout
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen[bytes] | None = None
        self._stdout: IO[bytes] | None = None
        self._stderr: IO[bytes] | None = None

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

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        for key, value in self.env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def output(self) -> tuple[str, str]:
        """(stdout, stderr) captured from the server so far."""

        def read(f: IO[bytes] | None) -> str:
            if f is None:
                return ""
            f.flush()
            f.seek(0)
            return f.read().decode(errors="replace")

        return read(self._stdout), read(self._stderr)

    def start(self) -> ApiServer:
        if self.process is not None:
            msg = "ApiServer already started"
            raise RuntimeError(msg)
        self._stdout = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close_logs()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command(),
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                self._fail(f"journey serve exited with code {code} before answering")
            try:
                with urllib.request.urlopen(f"{self.url}/openapi.json", timeout=2) as resp:
                    if resp.status == 200:
                        return
                    last_error = f"HTTP {resp.status}"
            except (urllib.error.URLError, OSError) as exc:
                last_error = str(exc)
            time.sleep(0.2)
        self._fail(f"journey serve not answering after {self.timeout}s ({last_error})")

    def _fail(self, reason: str) -> None:
        stdout, stderr = self.output()
        msg = (
            f"{reason}\ncommand: {' '.join(self.command())}\n"
            f"--- stderr ---\n{stderr[-6000:]}\n--- stdout ---\n{stdout[-3000:]}"
        )
        raise RuntimeError(msg)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the server's process group, SIGKILL after ``timeout`` s; its exit code."""
        proc, self.process = self.process, None
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
        return proc.returncode

    def close_logs(self) -> None:
        for f in (self._stdout, self._stderr):
            if f is not None:
                f.close()
        self._stdout = self._stderr = None

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
