"""``journey serve``: run the API on uvicorn, refusing to expose it without API keys."""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
import warnings
from collections.abc import Mapping, Sequence

from journey_api.app import (
    DEFAULT_CACHE_ROWS,
    DEFAULT_CACHE_SECONDS,
    DEFAULT_READ_SLOTS,
    ENV_API_KEYS,
    PATH,
    create_app,
    parse_api_keys,
)
from journey_api.logs import configure
from journey_core.config import Settings
from journey_core.errors import ConfigError
from journey_core.warehouse import safe_url
from journey_core.warehouse.mapping import CANONICAL, SchemaMapping

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
ENV_CACHE_SECONDS = "JOURNEY_API_CACHE_SECONDS"
ENV_CACHE_ROWS = "JOURNEY_API_CACHE_ROWS"
ENV_READ_SLOTS = "JOURNEY_API_READ_SLOTS"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine.

    >>> [is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "example.com")]
    [True, True, True, False, False]
    """
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def api_keys(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The API keys from ``JOURNEY_API_KEYS`` (comma-separated)."""
    env = os.environ if env is None else env
    return parse_api_keys(env.get(ENV_API_KEYS))


def cache_settings(env: Mapping[str, str] | None = None) -> tuple[float, int]:
    """``(seconds, rows)`` of the result cache from ``JOURNEY_API_CACHE_SECONDS``/``_ROWS``.

    >>> cache_settings({"JOURNEY_API_CACHE_SECONDS": "0"})
    (0.0, 1000000)
    """
    env = os.environ if env is None else env
    seconds = _number(env, ENV_CACHE_SECONDS, DEFAULT_CACHE_SECONDS)
    rows = _number(env, ENV_CACHE_ROWS, DEFAULT_CACHE_ROWS)
    if rows != int(rows):
        msg = f"{ENV_CACHE_ROWS}={env[ENV_CACHE_ROWS]!r} is not a whole number; use e.g. 1000000."
        raise ConfigError(msg)
    return seconds, int(rows)


def read_slots(env: Mapping[str, str] | None = None) -> int:
    """How many warehouse reads may run at once, from ``JOURNEY_API_READ_SLOTS``.

    >>> read_slots({"JOURNEY_API_READ_SLOTS": "3"})
    3
    """
    env = os.environ if env is None else env
    value = _number(env, ENV_READ_SLOTS, DEFAULT_READ_SLOTS)
    if value < 1 or value != int(value):
        msg = f"{ENV_READ_SLOTS}={env[ENV_READ_SLOTS]!r} is not a whole number of at least 1."
        raise ConfigError(msg)
    return int(value)


def _number(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw is None or not raw.strip():
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        msg = f"{key}={raw!r} is not a number of at least 0; unset it or use e.g. {default:g}."
        raise ConfigError(msg)
    return value


def check_exposure(host: str, keys: Sequence[str]) -> None:
    """Raise :class:`ConfigError` when ``host`` is reachable from elsewhere and no key is set."""
    if keys or is_loopback(host):
        return
    msg = (
        f"refusing to serve on {host} without API keys: anyone who can reach it could read "
        f"every journey. Set {ENV_API_KEYS}=key1,key2 (clients send the X-API-Key header), "
        f"or serve on loopback only with --host {DEFAULT_HOST}."
    )
    raise ConfigError(msg)


def serve(
    *,
    url: str,
    host: str,
    port: int,
    settings: Settings,
    keys: Sequence[str],
    mapping: SchemaMapping = CANONICAL,
) -> int:
    """Serve the API until interrupted; returns the exit status."""
    import uvicorn

    check_exposure(host, keys)
    cache_seconds, cache_rows = cache_settings()
    slots = read_slots()
    configure()
    # journey_core silences this with warnings.catch_warnings(), which concurrent reads defeat.
    warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
    app = create_app(
        url=url,
        settings=settings,
        api_keys=keys,
        cache_seconds=cache_seconds,
        cache_rows=cache_rows,
        read_slots=slots,
        mapping=mapping,
    )
    shown = f"[{host}]" if ":" in host else host
    auth = f"on ({len(keys)} key{'s' if len(keys) != 1 else ''})" if keys else "off (loopback)"
    print(
        f"Serving http://{shown}:{port}{PATH} (docs at /docs) from {safe_url(url)} "
        f"(mapping {mapping.name}); API keys {auth}.",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,  # the request log in journey_api.logs masks emails; this would not
        server_header=False,
        log_level=logging.INFO,
    )
    return 0
