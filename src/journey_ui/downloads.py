"""CSV downloads only for a session that may see data, made on click and short-lived.

Streamlit serves download files from ``/media/<id>.csv`` to anyone who asks, without a session.
So no CSV sits in the media store before a click: every download button gets a callable
(:func:`deferred`) that Streamlit runs when the button is clicked. The callable refuses once
its session signed out (:func:`revoke`, called by the sign-out button). The file it made is
served for one download only (:func:`serve_once`: the browser of the session that clicked
fetches it at once, and the address answers 404 from then on, to that browser and to anyone
else) and is dropped from the media store :data:`LIFETIME_SECONDS` after the click if it was
never fetched.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit import runtime
from streamlit.runtime.media_file_storage import MediaFileKind

__all__ = ["LIFETIME_SECONDS", "READS_PER_DOWNLOAD", "Revoked", "deferred", "revoke", "serve_once"]

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


_ONCE = "_journey_served_once"
#: Reads of a download file the clicking browser makes: Streamlit's download button checks
#: the address (``checkSourceUrlResponse``, a fetch) and then follows it (the download).
READS_PER_DOWNLOAD = 2


def serve_once(storage: Any) -> None:
    """Make ``storage`` (Streamlit's in-memory media store) forget a download file once the
    ``/media/<id>.<ext>`` route has read it :data:`READS_PER_DOWNLOAD` times.

    The route asks for ``<id>.<ext>``; Streamlit itself asks for the bare id (to build the
    address), which does not count. Other media (images) are untouched.
    """
    if getattr(storage, _ONCE, False):
        return
    read = storage.get_file
    reads: dict[str, int] = {}
    lock = threading.Lock()

    def get_file(filename: str) -> Any:
        found = read(filename)
        file_id, extension = os.path.splitext(filename)
        if extension and getattr(found, "kind", None) == MediaFileKind.DOWNLOADABLE:
            with lock:
                reads[file_id] = reads.get(file_id, 0) + 1
                if reads[file_id] >= READS_PER_DOWNLOAD:
                    del reads[file_id]
                    storage.delete_file(file_id)
        return found

    storage.get_file = get_file
    setattr(storage, _ONCE, True)


def _serve_once() -> None:
    if runtime.exists():
        storage = getattr(runtime.get_instance().media_file_mgr, "_storage", None)
        if storage is not None and hasattr(storage, "delete_file"):
            serve_once(storage)


def deferred(make: Callable[[], bytes | io.RawIOBase]) -> Callable[[], bytes | io.RawIOBase]:
    """The ``data=`` of a download button: ``make()`` run on click, while the session may.

    ``make`` returns the bytes, or a file to read them from (a CSV written as it was read).
    """
    grant = _grant()
    _serve_once()

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
