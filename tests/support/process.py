"""One way to run a test server: a free port, its own process group, wait until healthy, stop.

Used by :mod:`tests.support.api_server` (``journey serve``), :mod:`tests.support.browser`
(``streamlit run``) and :mod:`tests.support.postgres` (a cluster started by ``pg_ctl``).

Usage::

    server = ServerProcess([sys.executable, "-m", "http.server", str(port)], name="http")
    server.start()
    try:
        server.wait_healthy(http_probe(f"http://127.0.0.1:{port}/"), timeout=30)
        ...
    finally:
        server.stop()
        server.close_logs()

>>> probe = http_probe("http://127.0.0.1:9/")  # nothing listens on the discard port
>>> wait_until(probe, timeout=0.3, what="nothing")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
tests.support.process.ServerError: nothing not ready after 0.3 s (...)
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

__all__ = [
    "Probe",
    "ServerError",
    "ServerProcess",
    "environment",
    "free_port",
    "held_file",
    "http_probe",
    "wait_until",
]

# Returns None once the server is ready, else a short reason why it is not (yet).
Probe = Callable[[], str | None]


class ServerError(RuntimeError):
    """A test server could not be started, did not become healthy, or died."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago (callers retry on the tiny race).

    >>> 0 < free_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def environment(extra: Mapping[str, str | None]) -> dict[str, str]:
    """``os.environ`` plus ``extra`` (a value of ``None`` removes the variable), unbuffered.

    >>> env = environment({"JOURNEY_X": "1", "HOME": None})
    >>> env["JOURNEY_X"], "HOME" in env, env["PYTHONUNBUFFERED"]
    ('1', False, '1')
    """
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@contextlib.contextmanager
def held_file(path: Path, *, read_only: bool = False) -> Iterator[int]:
    """Another process with the DuckDB file ``path`` open (writing, or ``read_only`` as the
    dashboard reads), so DuckDB's lock turns this one away; its PID. Stopped at the end."""
    hold = (
        "import duckdb, sys, time\n"
        f"c = duckdb.connect(sys.argv[1], read_only={read_only})\n"
        "print('held', flush=True)\n"
        "time.sleep(120)"
    )
    other = subprocess.Popen([sys.executable, "-c", hold, str(path)], stdout=subprocess.PIPE)
    try:
        assert other.stdout is not None
        if other.stdout.readline().strip() != b"held":
            msg = f"the process holding {path} did not start"
            raise ServerError(msg)
        yield other.pid
    finally:
        other.kill()
        other.wait(timeout=30)
        if other.stdout is not None:
            other.stdout.close()


def http_probe(url: str, *, body: str | None = None) -> Probe:
    """A probe that is ready when ``url`` answers HTTP 200 (and, if given, exactly ``body``)."""

    def probe() -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                status = resp.status
                text = resp.read().decode(errors="replace").strip()
        except (urllib.error.URLError, OSError) as exc:
            return str(exc)
        if status == 200 and (body is None or text == body):
            return None
        return f"HTTP {status}: {text[:200]!r}"

    return probe


def wait_until(
    probe: Probe,
    *,
    timeout: float,
    what: str,
    exit_code: Callable[[], int | None] | None = None,
    log_tail: Callable[[], str] | None = None,
    interval: float = 0.2,
    error: type[ServerError] = ServerError,
) -> None:
    """Call ``probe`` until it reports ready; raise ``error`` with the log tail otherwise.

    ``exit_code`` (e.g. ``Popen.poll``) makes a server that died fail at once instead of
    after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    reason = "no answer yet"
    while True:
        code = exit_code() if exit_code is not None else None
        if code is not None:
            problem = f"{what} exited with code {code} before it was ready"
            break
        answer = probe()
        if answer is None:
            return
        reason = answer
        if time.monotonic() >= deadline:
            problem = f"{what} not ready after {timeout} s ({reason})"
            break
        time.sleep(interval)
    tail = log_tail() if log_tail is not None else ""
    msg = f"{problem}\n{tail}" if tail else problem
    raise error(msg)


class ServerProcess:
    """A command run in its own process group, its stdout/stderr in temp files.

    The output goes to files, not pipes, so a chatty server never blocks; it stays readable
    after :meth:`stop` until :meth:`close_logs`.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        name: str,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> None:
        self.command = list(command)
        self.name = name
        self.cwd = Path(cwd) if cwd is not None else None
        self.env = dict(env or {})
        self.popen: subprocess.Popen[bytes] | None = None
        self._stdout: IO[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self.popen is not None

    def start(self) -> None:
        """Start the command in a new session (its own process group)."""
        if self.popen is not None:
            msg = f"{self.name} already started"
            raise ServerError(msg)
        self.close_logs()
        # Kept open for the server's lifetime; closed in close_logs().
        self._stdout = tempfile.TemporaryFile()  # noqa: SIM115
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.popen = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=environment(self.env),
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
            start_new_session=True,  # own process group: stop() reaches every child
        )

    def poll(self) -> int | None:
        """The exit code if the process has ended, else None (also None when not started)."""
        return self.popen.poll() if self.popen is not None else None

    def wait_healthy(self, probe: Probe, *, timeout: float, interval: float = 0.2) -> None:
        """Wait until ``probe`` is ready; on failure stop the process and raise with its logs."""
        try:
            wait_until(
                probe,
                timeout=timeout,
                what=self.name,
                exit_code=self.poll,
                log_tail=self.log_tail,
                interval=interval,
            )
        except BaseException:
            self.stop()
            raise

    def output(self) -> tuple[str, str]:
        """(stdout, stderr) captured so far."""

        def read(f: IO[bytes] | None) -> str:
            if f is None:
                return ""
            f.flush()
            f.seek(0)
            return f.read().decode(errors="replace")

        return read(self._stdout), read(self._stderr)

    def log_tail(self, chars: int = 6000) -> str:
        """The command, working directory and the end of stderr and stdout."""
        stdout, stderr = self.output()
        return (
            f"command: {' '.join(self.command)}\ncwd: {self.cwd or Path.cwd()}\n"
            f"--- stderr ---\n{stderr[-chars:]}\n--- stdout ---\n{stdout[-chars // 2 :]}"
        )

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the process group, SIGKILL after ``timeout`` s; the exit code (None if idle).

        Safe to call repeatedly. Children that outlive the leader are killed with the group.
        """
        proc, self.popen = self.popen, None
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
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.returncode

    def close_logs(self) -> None:
        """Close (and so delete) the captured output."""
        for f in (self._stdout, self._stderr):
            if f is not None:
                f.close()
        self._stdout = self._stderr = None
