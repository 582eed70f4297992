"""Who may see the dashboard: a password (scrypt hash), an OIDC provider, or nobody checks.

``app.py`` calls :func:`gate` before the navigation runs. Until the user is signed in, the only
thing rendered is a sign-in form (no navigation, no data). Configuration, in this order:

- OIDC: ``st.secrets["auth"]`` holds Streamlit's ``st.login`` keys (``client_id``,
  ``server_metadata_url``... directly or in a ``[auth.<provider>]`` section).
- Password: env ``JOURNEY_PASSWORD_HASH`` or ``st.secrets["auth"]["password_hash"]``, a hash
  from ``journey hash-password``. Failed attempts slow down per client address, across browser
  sessions and reloads (:func:`throttle_of`); every attempt is logged with the client address.
- Neither: every page says that the dashboard is open to anyone who can reach it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import streamlit as st

from journey_core.auth import Throttle, check_hash, verify_password
from journey_core.config import ENV_PASSWORD_HASH, Settings
from journey_core.errors import ConfigError
from journey_ui import downloads
from journey_ui.shell import PAGE_PATHS

log = logging.getLogger("journey_ui.access")

_SIGNED_IN = "journey.auth.signed_in"
#: Most client addresses whose failed sign-ins are remembered (least recent forgotten first).
MAX_CLIENTS = 10_000
_THROTTLES: OrderedDict[str, Throttle] = OrderedDict()
_THROTTLES_LOCK = threading.Lock()
LOCAL_CLIENT = "local"
_OIDC_KEYS = ("client_id", "server_metadata_url")
OPEN_NOTICE = (
    ":material/lock_open: This dashboard is open to anyone who can reach it. "
    f"Set `{ENV_PASSWORD_HASH}` or configure sign-in (README, *Security model*)."
)


@dataclass(frozen=True)
class AccessConfig:
    """How users sign in: ``oidc`` (with its provider name), ``password`` (a hash) or ``open``."""

    mode: Literal["open", "password", "oidc"]
    password_hash: str = ""
    provider: str | None = None


def _auth_secrets() -> Mapping[str, Any]:
    """``st.secrets["auth"]`` or an empty mapping (no secrets file is not an error)."""
    try:
        section = st.secrets.get("auth")
    except (FileNotFoundError, OSError, ValueError, KeyError):
        return {}
    except Exception:  # StreamlitSecretNotFoundError and parse errors of secrets.toml
        log.warning("cannot read .streamlit/secrets.toml; treating sign-in as unconfigured")
        return {}
    return section if isinstance(section, Mapping) else {}


def config(password_hash: str = "", auth: Mapping[str, Any] | None = None) -> AccessConfig:
    """The sign-in configuration from ``Settings.password_hash`` and ``st.secrets["auth"]``."""
    auth = _auth_secrets() if auth is None else auth
    if any(key in auth for key in _OIDC_KEYS):
        return AccessConfig("oidc")
    for name, value in auth.items():
        if isinstance(value, Mapping) and any(key in value for key in _OIDC_KEYS):
            return AccessConfig("oidc", provider=str(name))
    password_hash = (password_hash or str(auth.get("password_hash") or "")).strip()
    if password_hash:
        return AccessConfig("password", password_hash=password_hash)
    return AccessConfig("open")


def gate(settings: Settings) -> bool:
    """True when the pages may run; otherwise the sign-in page has been rendered."""
    cfg = config(settings.password_hash)
    if cfg.mode == "open":
        st.sidebar.caption(OPEN_NOTICE)
        return True
    if cfg.mode == "oidc":
        return _oidc(cfg)
    return _password(cfg)


def signed_in(settings: Settings) -> bool:
    """Whether this session may see data (always, when no sign-in is configured)."""
    cfg = config(settings.password_hash)
    if cfg.mode == "open":
        return True
    if cfg.mode == "oidc":
        return bool(st.user.get("is_logged_in"))
    return bool(st.session_state.get(_SIGNED_IN) == cfg.password_hash)


def _sign_in_page(body: Any) -> None:
    """Render ``body`` on every page's address (hidden navigation: no links to the pages).

    Answering on the pages' paths keeps a deep link (``/customer?email=...``) in the address
    bar: after signing in, the user lands on the page they asked for.
    """
    pages = [st.Page(body, title="Sign in", icon=":material/lock:", default=True)]
    pages += [st.Page(body, title="Sign in", url_path=path) for path in PAGE_PATHS]
    st.navigation(pages, position="hidden").run()


def _header() -> None:
    st.title("Journey Explorer")
    st.write("Customer journeys are personal data: sign in to continue.")


# --------------------------------------------------------------------------- password


def _password(cfg: AccessConfig) -> bool:
    if st.session_state.get(_SIGNED_IN) == cfg.password_hash:
        with st.sidebar:
            st.button("Sign out", icon=":material/logout:", key="auth.sign_out", on_click=_sign_out)
        return True
    _sign_in_page(lambda: _password_form(cfg))
    return False


def client_id() -> str:
    """Who is signing in: the connection's address (``local`` for loopback and tests)."""
    try:
        address = st.context.ip_address
    except Exception:  # no client context (bare mode)
        address = None
    return address if isinstance(address, str) and address else LOCAL_CLIENT


def throttle_of(client: str) -> Throttle:
    """The failed-sign-in throttle of ``client``, shared by all its sessions (bounded store)."""
    with _THROTTLES_LOCK:
        throttle = _THROTTLES.get(client)
        if throttle is None:
            throttle = _THROTTLES[client] = Throttle()
        _THROTTLES.move_to_end(client)
        while len(_THROTTLES) > MAX_CLIENTS:
            _THROTTLES.popitem(last=False)
        return throttle


def _sign_out() -> None:
    st.session_state.pop(_SIGNED_IN, None)
    downloads.revoke()
    log.info("sign_out client=%s", client_id())


def _password_form(cfg: AccessConfig) -> None:
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        _header()
        try:  # secrets.toml's hash is not one of Settings: say so before anyone types
            check_hash(cfg.password_hash)
        except ConfigError as exc:
            st.error(f"**Sign-in is misconfigured**: {exc}")
            return
        with st.form("auth.form", enter_to_submit=True):
            password = st.text_input("Password", type="password", key="auth.password")
            submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
        if not submitted:
            return
        client = client_id()
        throttle = throttle_of(client)
        now = time.monotonic()
        with _THROTTLES_LOCK:  # one check-and-count per attempt, across sessions
            wait = throttle.wait_seconds(now=now)
            if wait <= 0:
                throttle.record_failure(now=now)  # until the password proves right
        if wait > 0:
            log.warning("sign_in throttled client=%s wait_s=%d", client, math.ceil(wait))
            st.warning(f"Too many failed attempts: wait {math.ceil(wait)} s, then try again.")
            return
        try:
            ok = verify_password(password, cfg.password_hash)
        except ConfigError as exc:
            st.error(f"**Sign-in is misconfigured**: {exc}")
            return
        if ok:
            with _THROTTLES_LOCK:
                throttle.reset()
            st.session_state[_SIGNED_IN] = cfg.password_hash
            log.info("sign_in ok client=%s", client)
            st.rerun()
        log.warning("sign_in failed client=%s failures=%d", client, throttle.failures)
        st.error("Wrong password.")
        wait = throttle.wait_seconds(now=now)
        if wait > 0:
            st.warning(f"Too many failed attempts: wait {math.ceil(wait)} s, then try again.")


# --------------------------------------------------------------------------- OIDC


def _oidc(cfg: AccessConfig) -> bool:
    if st.user.get("is_logged_in"):  # absent when Streamlit sees no [auth] section
        with st.sidebar:
            st.button("Sign out", icon=":material/logout:", key="auth.sign_out", on_click=st.logout)
        return True

    def form() -> None:
        _, middle, _ = st.columns([1, 2, 1])
        with middle:
            _header()
            label = f"Sign in with {cfg.provider}" if cfg.provider else "Sign in"
            st.button(
                label,
                type="primary",
                icon=":material/login:",
                key="auth.oidc",
                on_click=st.login,
                args=(cfg.provider,) if cfg.provider else (),
            )

    _sign_in_page(form)
    return False
