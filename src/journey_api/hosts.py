"""Trusted ``Host`` headers: a guard against DNS rebinding.

A keyless API on loopback trusts whoever can connect; a web page on ``evil.example`` whose
name is rebound to 127.0.0.1 can connect too, but its requests carry ``Host: evil.example``.
:class:`TrustedHosts` answers such requests with a 400 before anything else runs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from journey_api.logs import STATE_LOG, STATE_REQUEST_ID, ASGIApp, Receive, Scope, Send, send_json
from journey_core.config import ENV_API_ALLOWED_HOSTS, Settings

LOOPBACK_NAMES = ("localhost",)


def host_name(header: str) -> str:
    """The name of a ``Host`` header, without port or IPv6 brackets, lower case.

    >>> [host_name(h) for h in ("API.example.com:8000", "[::1]:80", "127.0.0.1")]
    ['api.example.com', '::1', '127.0.0.1']
    """
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def is_loopback_name(name: str) -> bool:
    """Whether ``name`` (from :func:`host_name`) is this machine.

    >>> [is_loopback_name(n) for n in ("localhost", "127.0.0.2", "::1", "evil.example")]
    [True, True, True, False]
    """
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allowed_hosts(settings: Settings) -> tuple[str, ...] | None:
    """The host names the API answers (``None``: any): ``JOURNEY_API_ALLOWED_HOSTS`` if set,
    else loopback names only when no key is set, else any."""
    if settings.api_allowed_hosts:
        return settings.api_allowed_hosts
    return None if settings.api_keys else ()


def host_allowed(header: str | None, allowed: Sequence[str] | None) -> bool:
    """Whether a request with ``Host: header`` may be answered (``allowed=()``: loopback only).

    >>> host_allowed("localhost:8000", ()), host_allowed("evil.example", ())
    (True, False)
    >>> host_allowed("a.corp.io", ("*.corp.io",)), host_allowed("corp.io.evil", ("*.corp.io",))
    (True, False)
    """
    if allowed is None:
        return True
    if not header:
        return False
    name = host_name(header)
    if not allowed:
        return is_loopback_name(name)
    for pattern in allowed:
        if pattern.startswith("*."):
            if name.endswith(pattern[1:]) and len(name) > len(pattern) - 1:
                return True
        elif name == pattern:
            return True
    return False


class TrustedHosts:
    """ASGI middleware: a 400 for a request whose ``Host`` header is not allowed."""

    def __init__(self, app: ASGIApp, *, allowed: Sequence[str] | None) -> None:
        self.app = app
        self.allowed = None if allowed is None else tuple(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.allowed is None:
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        host = next((v.decode("latin-1") for k, v in headers if k == b"host"), None)
        if host_allowed(host, self.allowed):
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state.setdefault(STATE_LOG, {})["error"] = "Host"
        shown = "loopback names (localhost, 127.0.0.1, ::1)" if not self.allowed else "its names"
        message = (
            f"Host: this server only answers requests addressed to {shown}; "
            f"an operator can list more in {ENV_API_ALLOWED_HOSTS}."
        )
        body = {
            "status": 400,
            "message": message,
            "parameter": "Host",
            "expected": f"a host name listed in {ENV_API_ALLOWED_HOSTS}",
            "request_id": state.get(STATE_REQUEST_ID),
        }
        await send_json(send, 400, {"error": body})


__all__ = ["TrustedHosts", "allowed_hosts", "host_allowed", "host_name", "is_loopback_name"]
