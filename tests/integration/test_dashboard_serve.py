"""The dashboard's server: loopback only by default, foreign Host headers refused (real servers).

``python -m journey_ui.serve`` (what ``scripts/run.sh`` runs) and a bare ``streamlit run app.py``
(``.streamlit/config.toml``) both listen on 127.0.0.1 unless sign-in is configured, and their
websocket (``/_stcore/stream``) refuses a ``Host`` that is not a loopback name.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from journey_core.auth import hash_password
from tests.support.process import ServerProcess, free_port, http_probe

ROOT = Path(__file__).resolve().parents[2]
SERVE = [sys.executable, "-m", "journey_ui.serve"]
STREAMLIT = [sys.executable, "-m", "streamlit", "run", "app.py"]


@contextmanager
def dashboard(command: list[str], env: Mapping[str, str | None]) -> Iterator[int]:
    """Run ``command`` (plus a free port) from the repository root; yields the port."""
    port = free_port()
    args = [*command, "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    server = ServerProcess(args, name="dashboard", cwd=ROOT, env=dict(env))
    server.start()
    try:
        server.wait_healthy(http_probe(f"http://127.0.0.1:{port}/_stcore/health"), timeout=90)
        yield port
    finally:
        server.stop()
        server.close_logs()


def listening(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found: set[str] = set()
    for name, size in (("tcp", 8), ("tcp6", 32)):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A" and len(address) == size:
                found.add(_address(address))
    return found


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def websocket_status(port: int, host: str, origin: str | None = None) -> int:
    """The HTTP status of a websocket handshake on Streamlit's stream with ``Host: host``."""
    lines = [
        "GET /_stcore/stream HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Protocol: streamlit",
    ]
    if origin:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status = conn.recv(4096).split(b"\r\n", 1)[0].decode()
    return int(status.split()[1])


ENV = {"JOURNEY_PASSWORD_HASH": None, "JOURNEY_DASHBOARD_PUBLIC": None}


@pytest.mark.parametrize(
    "command",
    [pytest.param(SERVE, id="run.sh"), pytest.param(STREAMLIT, id="bare-streamlit-run")],
)
def test_default_is_loopback_and_foreign_hosts_are_refused(
    command: list[str], demo_url: str
) -> None:
    env = {**ENV, "JOURNEY_DATABASE_URL": demo_url, "JOURNEY_DASHBOARD_ALLOWED_HOSTS": None}
    with dashboard(command, env) as port:
        assert listening(port) == {"127.0.0.1"}
        assert websocket_status(port, f"127.0.0.1:{port}") == 101
        assert websocket_status(port, f"localhost:{port}") == 101
        assert websocket_status(port, "evil.example") != 101
        assert websocket_status(port, f"evil.example:{port}", f"http://evil.example:{port}") != 101


def test_sign_in_configured_listens_everywhere_for_the_allowed_hosts(demo_url: str) -> None:
    env = {
        **ENV,
        "JOURNEY_DATABASE_URL": demo_url,
        "JOURNEY_PASSWORD_HASH": hash_password("correct horse battery"),
        "JOURNEY_DASHBOARD_ALLOWED_HOSTS": "journeys.example.com",
    }
    with dashboard(SERVE, env) as port:
        assert listening(port) & {"0.0.0.0", "::"}
        assert websocket_status(port, "journeys.example.com") == 101
        assert websocket_status(port, "evil.example") != 101
