"""Helpers for end-to-end tests: headless Chromium (Playwright) + a Streamlit server.

Playwright's own browser download is not used: we drive the system Chromium
(``$JOURNEY_CHROMIUM``, default ``/usr/bin/chromium``).

Usage::

    from playwright.sync_api import sync_playwright

    with StreamlitServer(cwd=repo_root, env={"JOURNEY_DATABASE_URL": url}) as app, \\
            sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page()
        page.goto(app.url)
"""

from __future__ import annotations

import contextlib
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
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

__all__ = ["CHROMIUM_ARGS", "StreamlitServer", "chromium_path", "launch_browser"]

DEFAULT_CHROMIUM = "/usr/bin/chromium"

# Flags for running Debian's Chromium headless in containers/CI, without any
# background traffic (only PyPI/apt/npm are reachable on CI machines).
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
)


def chromium_path() -> str:
    """Chromium executable: ``$JOURNEY_CHROMIUM`` or ``/usr/bin/chromium``."""
    return os.environ.get("JOURNEY_CHROMIUM") or DEFAULT_CHROMIUM


def launch_browser(playwright: Playwright, *, timeout_ms: float = 30_000) -> Browser:
    """Launch the system Chromium headless through Playwright.

    The caller closes the browser (``browser.close()``), or lets the
    ``sync_playwright()`` context manager do it.
    """
    path = chromium_path()
    if not os.access(path, os.X_OK):
        msg = (
            f"Chromium not found at {path!r}; install the 'chromium' package "
            "(bash scripts/test-deps.sh) or set JOURNEY_CHROMIUM"
        )
        raise RuntimeError(msg)
    return playwright.chromium.launch(
        executable_path=path,
        headless=True,
        args=list(CHROMIUM_ARGS),
        timeout=timeout_ms,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StreamlitServer:
    """Runs ``streamlit run <app>`` in a subprocess on 127.0.0.1:<free port>.

    :param app: script to run, relative to *cwd* (default ``app.py``).
    :param cwd: working directory (default: the current one).
    :param env: extra environment variables (e.g. ``JOURNEY_DATABASE_URL``),
        added on top of ``os.environ``; a value of ``None`` removes the variable.
    :param port: TCP port (default: a free one).
    :param timeout: seconds to wait for ``/_stcore/health`` to answer ``ok``.
    :param extra_args: more ``streamlit run`` options.

    The server's stdout/stderr go to temp files (see :attr:`output`) so a
    chatty server can never block on a full pipe.
    """

    def __init__(
        self,
        app: str | os.PathLike[str] = "app.py",
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str | None] | None = None,
        port: int | None = None,
        timeout: float = 60.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.app = str(app)
        self.cwd = Path(cwd) if cwd is not None else Path.cwd()
        self.env = dict(env or {})
        self.port = port or _free_port()
        self.timeout = timeout
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen[bytes] | None = None
        self._stdout: IO[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.url}/_stcore/health"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            self.app,
            "--server.headless",
            "true",
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
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

    def start(self) -> StreamlitServer:
        if self.process is not None:
            msg = "StreamlitServer already started"
            raise RuntimeError(msg)
        # Kept open for the server's lifetime; closed in close_logs()/__exit__.
        self._stdout = tempfile.TemporaryFile()  # noqa: SIM115
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.cwd,
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
            start_new_session=True,  # own process group: stop() kills all children
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                self._fail(f"Streamlit exited with code {code} before becoming healthy")
            try:
                with urllib.request.urlopen(self.health_url, timeout=2) as resp:
                    body = resp.read().decode(errors="replace").strip()
                if resp.status == 200 and body == "ok":
                    return
                last_error = f"HTTP {resp.status}: {body!r}"
            except (urllib.error.URLError, OSError) as exc:
                last_error = str(exc)
            time.sleep(0.25)
        self._fail(f"Streamlit not healthy after {self.timeout}s ({last_error})")

    def _fail(self, reason: str) -> None:
        stdout, stderr = self.output()
        msg = (
            f"{reason}\ncommand: {' '.join(self.command())}\ncwd: {self.cwd}\n"
            f"--- stderr ---\n{stderr[-6000:]}\n--- stdout ---\n{stdout[-3000:]}"
        )
        raise RuntimeError(msg)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole process group, SIGKILL after *timeout* seconds."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
        # Children may outlive the leader briefly; make sure the group is gone.
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    def close_logs(self) -> None:
        for f in (self._stdout, self._stderr):
            if f is not None:
                f.close()
        self._stdout = self._stderr = None

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self.close_logs()
