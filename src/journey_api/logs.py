"""Request logging: one line per request with status and duration, never an email in clear.

The request log is written by a pure ASGI middleware (so streamed responses are timed to
their last byte), and every record of the ``journey_api`` logger passes through
:class:`ScrubEmails`, which replaces anything that looks like an email address with the
core's :func:`journey_core.io.privacy.fingerprint` (as the dashboard logs them).
"""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from journey_core.io.privacy import fingerprint
from journey_core.rules.query import normalize_email

LOGGER_NAME = "journey_api"
logger = logging.getLogger(LOGGER_NAME)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Deliberately broad: local@domain.tld, also percent-encoded, also with an empty or odd
# local part. Delimiters that usually surround a value (quotes, '=', brackets) end the match,
# so a log key such as ``email=`` survives; whatever is matched is replaced.
_STOP = r"\s@'\"<>(),;:/?&=%\[\]"
_EMAIL_LIKE = re.compile(rf"[^{_STOP}]*(?:@|%40)[^{_STOP}]+\.[^{_STOP}.]+")

STATE_LOG = "journey_log"
STATE_REQUEST_ID = "request_id"


def log_email(value: str) -> str:
    """How an email appears in the log: the core's fingerprint of its normalised form.

    >>> log_email(" Ann@Example.com") == log_email("ann%40example.com")
    True
    >>> log_email("ann@example.com") == fingerprint("ann@example.com")
    True
    """
    return fingerprint(normalize_email(value.replace("%40", "@")))


def scrub(text: str) -> str:
    """``text`` with every email-like substring replaced by its fingerprint.

    >>> scrub("email: 'Ann@Example.com' is not known") == (
    ...     f"email: '{fingerprint('ann@example.com')}' is not known"
    ... )
    True
    """
    return _EMAIL_LIKE.sub(lambda m: log_email(m.group(0)), text)


class ScrubEmails(logging.Filter):
    """Rewrite each record's message (and any traceback) with emails fingerprinted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


logger.addFilter(ScrubEmails())


def configure(level: int = logging.INFO) -> None:
    """Send the ``journey_api`` log to stderr, one line per record (idempotent)."""
    if any(getattr(h, "_journey", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler._journey = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def _fields(info: MutableMapping[str, Any]) -> str:
    parts = []
    for key, value in info.items():
        if value is None:
            continue
        text = str(value)
        parts.append(f"{key}={json.dumps(text) if (' ' in text or not text) else text}")
    return " ".join(parts)


_ERROR_BODY = {
    "error": {
        "status": 500,
        "message": "Internal error: the request could not be completed. The server log has "
        "the details under this request id.",
    }
}


class RequestLog:
    """ASGI middleware: request id, one log line per request, and a last-resort 500.

    An exception that escapes the app becomes a JSON 500 (if no response has started) and a
    scrubbed log record; it is not re-raised, so no server prints a raw traceback.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        state = scope.setdefault("state", {})
        state[STATE_REQUEST_ID] = request_id
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            logger.exception("request_id=%s unhandled error", request_id)
            if status == 0:
                body = dict(_ERROR_BODY["error"], request_id=request_id)
                await send_json(send_wrapper, 500, {"error": body})
            else:
                status = status or 500
                state.setdefault(STATE_LOG, {})["aborted"] = "true"
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            client = scope.get("client")
            info: dict[str, Any] = {
                "request_id": request_id,
                "method": scope.get("method"),
                "path": scope.get("path"),  # never the query string: it may carry an email
                "status": status,
                "duration_ms": f"{duration_ms:.1f}",
                "client": client[0] if client else None,
            }
            info.update(state.get(STATE_LOG, {}))
            logger.info(_fields(info))


async def send_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
