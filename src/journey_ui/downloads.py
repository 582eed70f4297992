"""CSV downloads only for a session that may see data, made on click and short-lived.

Streamlit serves download files from ``/media/<id>.csv`` to anyone who asks, without a session.
So no CSV sits in the media store before a click: every download button gets a callable
(:func:`deferred`) that Streamlit runs when the button is clicked. The callable refuses once
its session signed out (:func:`revoke`, called by the sign-out button), and the file it made
is dropped from the media store :data:`LIFETIME_SECONDS` after the click.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st
from streamlit import runtime

__all__ = ["LIFETIME_SECONDS", "Revoked", "deferred", "revoke"]

log = logging.getLogger("journey_ui.downloads")

#: Seconds a made download stays at its ``/media`` address (the browser fetches it at once).
LIFETIME_SECONDS = 5.0
_GRANT = "journey.download_grant"


class Revoked(RuntimeError):
    """The session that drew the download button has signed out since."""


@dataclass
class _Grant:
    """One session's right to make downloads (shared by its callables, revoked on sign-out)."""

    active: bool = True


def _grant() -> _Grant:
    grant = st.session_state.get(_GRANT)
    if not isinstance(grant, _Grant) or not grant.active:
        grant = _Grant()
        st.session_state[_GRANT] = grant
    return grant


def _sweep() -> None:
    """Drop the download files no session references (twice: Streamlit marks, then deletes)."""
    if not runtime.exists():
        return
    manager = runtime.get_instance().media_file_mgr
    manager.remove_orphaned_files()
    manager.remove_orphaned_files()


def _expire_later(seconds: float) -> None:
    timer = threading.Timer(seconds, _sweep)
    timer.daemon = True
    timer.start()


def deferred(make: Callable[[], bytes | io.RawIOBase]) -> Callable[[], bytes | io.RawIOBase]:
    """The ``data=`` of a download button: ``make()`` run on click, while the session may.

    ``make`` returns the bytes, or a file to read them from (a CSV written as it was read).
    """
    grant = _grant()

    def run() -> bytes | io.RawIOBase:
        if not grant.active:
            raise Revoked("this session signed out; sign in again to download")
        data = make()
        _expire_later(LIFETIME_SECONDS)
        return data

    return run


def revoke() -> None:
    """Sign-out: this session's download buttons stop working and its media files go."""
    grant = st.session_state.pop(_GRANT, None)
    if isinstance(grant, _Grant):
        grant.active = False
    if runtime.exists():
        runtime.get_instance().media_file_mgr.clear_session_refs()
        _sweep()
