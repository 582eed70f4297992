"""``journey serve``: run the API on uvicorn, refusing to expose it without API keys."""

from __future__ import annotations

import ipaddress
import logging
import sys
import warnings
from collections.abc import Sequence

from journey_api.app import PATH, create_app
from journey_api.logs import configure
from journey_core.config import ENV_API_KEYS, Settings
from journey_core.errors import ConfigError
from journey_core.warehouse import SchemaMapping, safe_url

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


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


def serve(*, settings: Settings, host: str, port: int, mapping: SchemaMapping) -> int:
    """Serve the API over ``settings`` until interrupted; returns the exit status."""
    import uvicorn

    keys = settings.api_keys
    check_exposure(host, keys)
    configure()
    # journey_core silences this with warnings.catch_warnings(), which concurrent reads defeat.
    warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
    app = create_app(settings, mapping=mapping)
    shown = f"[{host}]" if ":" in host else host
    where = safe_url(settings.database_url)
    auth = f"on ({len(keys)} key{'s' if len(keys) != 1 else ''})" if keys else "off (loopback)"
    print(
        f"Serving http://{shown}:{port}{PATH} (docs at /docs) from {where} "
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
