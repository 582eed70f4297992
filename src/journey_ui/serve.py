"""Start the dashboard: ``python -m journey_ui.serve [streamlit run options]`` (``scripts/run.sh``).

Who can reach it, unless the options say otherwise (:func:`server_options`):

- It listens on 127.0.0.1 only, unless sign-in is configured (``JOURNEY_PASSWORD_HASH`` or
  ``[auth]`` in ``.streamlit/secrets.toml``) or ``JOURNEY_DASHBOARD_PUBLIC=1``; then on every
  interface. ``--server.address`` always wins.
- Its websocket answers only the host names of ``JOURNEY_DASHBOARD_ALLOWED_HOSTS``; unset, only
  the loopback names (``localhost``, ``127.0.0.1``, ``::1``), or on every interface any name
  (with a warning to set it). ``--server.allowedHosts`` always wins.

``.streamlit/config.toml`` has the same loopback defaults for a bare ``streamlit run app.py``.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from journey_core.config import ENV_DASHBOARD_ALLOWED_HOSTS, LOOPBACK_HOSTS, Settings
from journey_core.errors import ConfigError

__all__ = ["LOOPBACK", "PUBLIC", "main", "server_options", "sign_in_configured"]

LOOPBACK = "127.0.0.1"
PUBLIC = "0.0.0.0"  # only with sign-in configured or JOURNEY_DASHBOARD_PUBLIC=1
SECRETS_FILES = (Path(".streamlit") / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml")


def _given(args: Sequence[str], option: str) -> bool:
    """Whether ``--<option>`` is among ``args``."""
    flag = f"--{option}"
    return any(a == flag or a.startswith(flag + "=") for a in args)


def _auth_section(files: Sequence[Path]) -> Mapping[str, Any]:
    """``[auth]`` of the first readable secrets file (Streamlit reads the same files)."""
    for path in files:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        section = data.get("auth")
        if isinstance(section, Mapping):
            return section
    return {}


def sign_in_configured(settings: Settings, auth: Mapping[str, Any]) -> bool:
    """Whether the dashboard asks for a password or an OIDC sign-in (``journey_ui.access``)."""
    from journey_ui.access import config  # Streamlit is imported only when needed

    return config(settings.password_hash, auth).mode != "open"


def server_options(
    settings: Settings,
    args: Sequence[str],
    *,
    sign_in: bool,
) -> tuple[list[str], list[str]]:
    """(``streamlit run`` options to add, warnings) for ``settings`` and the user's ``args``.

    >>> server_options(Settings(), [], sign_in=False)[0]
    ['--server.address', '127.0.0.1', '--server.allowedHosts', 'localhost', \
'--server.allowedHosts', '127.0.0.1', '--server.allowedHosts', '::1']
    >>> server_options(Settings(), ["--server.address=10.0.0.5"], sign_in=False)[0][:1]
    ['--server.allowedHosts']
    """
    options: list[str] = []
    warnings: list[str] = []
    public = sign_in or settings.dashboard_public
    if not _given(args, "server.address"):
        options += ["--server.address", PUBLIC if public else LOOPBACK]
    if not _given(args, "server.allowedHosts"):
        hosts = settings.dashboard_allowed_hosts
        if not hosts and public:
            hosts = ("*",)
            warnings.append(
                f"serve: listening on every interface and answering any host name; set "
                f"{ENV_DASHBOARD_ALLOWED_HOSTS} to the names users type (DNS-rebinding defence)."
            )
        for host in hosts or LOOPBACK_HOSTS:
            options += ["--server.allowedHosts", host]
    return options, warnings


def main(argv: Sequence[str] | None = None) -> int:
    """Exec ``streamlit run app.py`` with :func:`server_options` and ``argv``.

    Returns (2) only when the settings are invalid.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 2
    sign_in = sign_in_configured(settings, _auth_section(SECRETS_FILES))
    options, warnings = server_options(settings, args, sign_in=sign_in)
    for line in warnings:
        print(line, file=sys.stderr)
    command = [sys.executable, "-m", "streamlit", "run", "app.py", *options, *args]
    os.execv(sys.executable, command)


if __name__ == "__main__":
    raise SystemExit(main())
