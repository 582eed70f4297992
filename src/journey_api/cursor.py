"""Opaque page cursors: the last row's sort key, the as-of time, and a hash of the query.

A cursor is a small JSON document, encrypted and authenticated under a key derived from the
server secret (:func:`seal`, standard library only: a synthetic nonce, an HMAC-SHA256
keystream, then an HMAC-SHA256 tag over nonce and ciphertext), so it reveals no email and
cannot be forged or altered. It pins ``as_of`` (so later pages of a query without ``as_of``
see the same data) and carries a hash of the query's parameters (so a cursor cannot be
reused with other parameters). Paging is by key, not offset: a page is the rows whose
``(email, occurred_at, event_id)`` sorts after the cursor's key, in the order the journey
core sorts them (``event_id`` nulls last), so every row appears exactly once while the data
is unchanged.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from journey_core import columns as c
from journey_core.errors import InputError
from journey_core.rules.query import JourneyQuery
from journey_core.timeutil import TS as _TS

VERSION = 2
_NONCE = 16
_TAG = 16
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_LENGTH = 4096

_NOT_OURS = (
    "not a cursor this API issued; pass the meta.next_cursor of the previous page "
    "unchanged, or leave cursor out to start from the first page."
)
_OTHER_QUERY = (
    "was issued for other parameters; repeat the email, event_date and as_of of "
    "the first page (as_of may be left out), or leave cursor out to start from the first page."
)


def _micros(value: dt.datetime) -> int:
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_micros(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=value)


def _subkey(key: bytes, purpose: bytes) -> bytes:
    return hmac.new(key, purpose, hashlib.sha256).digest()


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (
        hmac.new(key, nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        for counter in range(-(-length // 32))
    )
    return b"".join(blocks)[:length]


def seal(data: bytes, key: bytes) -> str:
    """``data`` encrypted and authenticated under ``key``, as URL-safe text.

    >>> unseal(seal(b"page 2", b"k" * 32), b"k" * 32)
    b'page 2'
    """
    # A synthetic nonce (as in SIV): the same data gives the same text, other data another.
    nonce = hmac.new(_subkey(key, b"nonce"), data, hashlib.sha256).digest()[:_NONCE]
    stream = _keystream(_subkey(key, b"encrypt"), nonce, len(data))
    body = bytes([VERSION]) + nonce + bytes(a ^ b for a, b in zip(data, stream, strict=True))
    tag = hmac.new(_subkey(key, b"authenticate"), body, hashlib.sha256).digest()[:_TAG]
    return base64.urlsafe_b64encode(body + tag).decode().rstrip("=")


def unseal(text: str, key: bytes) -> bytes:
    """The data :func:`seal` sealed under ``key``; :class:`ValueError` if ``text`` is not that."""
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    body, tag = raw[:-_TAG], raw[-_TAG:]
    if len(body) < 1 + _NONCE or body[0] != VERSION:
        raise ValueError
    expected = hmac.new(_subkey(key, b"authenticate"), body, hashlib.sha256).digest()[:_TAG]
    if not hmac.compare_digest(tag, expected):
        raise ValueError
    nonce, sealed = body[1 : 1 + _NONCE], body[1 + _NONCE :]
    stream = _keystream(_subkey(key, b"encrypt"), nonce, len(sealed))
    return bytes(a ^ b for a, b in zip(sealed, stream, strict=True))


def query_hash(query: JourneyQuery) -> str:
    """A short hash of everything that decides which rows ``query`` returns."""
    params = [
        query.email,
        query.event_date.isoformat() if query.event_date else None,
        _micros(query.as_of),
        query.lookback.total_seconds(),
        query.recent_window.total_seconds(),
        query.timezone,
    ]
    digest = hashlib.sha256(json.dumps(params, separators=(",", ":")).encode())
    return digest.hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class Cursor:
    """A decoded cursor: where the previous page ended, for which query."""

    email: str
    occurred_at: dt.datetime
    event_id: str | None
    as_of: dt.datetime
    query_hash: str

    def encode(self, key: bytes) -> str:
        """The opaque text form handed to clients, sealed under ``key``."""
        payload = {
            "k": [self.email, _micros(self.occurred_at), self.event_id],
            "a": _micros(self.as_of),
            "q": self.query_hash,
        }
        return seal(json.dumps(payload, separators=(",", ":")).encode(), key)

    @classmethod
    def decode(cls, text: str, key: bytes) -> Cursor:
        """Open a cursor sealed under ``key``; raise :class:`InputError` naming ``cursor`` if
        it is not one this server issued (forged, altered, truncated or from another key)."""
        try:
            if len(text) > _MAX_LENGTH:
                raise ValueError
            payload: Any = json.loads(unseal(text, key))
            email, occurred, event_id = payload["k"]
            cursor = cls(
                email=_str(email),
                occurred_at=_from_micros(_int(occurred)),
                event_id=None if event_id is None else _str(event_id),
                as_of=_from_micros(_int(payload["a"])),
                query_hash=_str(payload["q"]),
            )
        except (
            ValueError,
            TypeError,
            KeyError,
            OverflowError,
            RecursionError,
            binascii.Error,
        ):
            raise InputError("cursor", _NOT_OURS) from None
        return cursor

    def check(self, query: JourneyQuery) -> None:
        """Raise :class:`InputError` naming ``cursor`` unless it was issued for ``query``."""
        if self.query_hash != query_hash(query):
            raise InputError("cursor", _OTHER_QUERY)


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError
    return value


def after(frame: pl.DataFrame, cursor: Cursor) -> pl.DataFrame:
    """The rows of a sorted journey ``frame`` that sort after ``cursor``'s key.

    A binary search finds the cursor's email; only that person's rows are compared.
    """
    emails = frame.get_column(c.EMAIL)
    lo = int(emails.search_sorted(cursor.email, side="left"))
    hi = int(emails.search_sorted(cursor.email, side="right"))
    same_email = frame.slice(lo, hi - lo)
    occurred = pl.col(c.OCCURRED_AT)
    at = pl.lit(cursor.occurred_at, dtype=_TS)
    if cursor.event_id is None:  # nulls sort last: nothing at the same time follows
        at_or_before = occurred <= at
    else:
        event_id = pl.col(c.EVENT_ID)
        at_or_before = (occurred < at) | (
            (occurred == at) & event_id.is_not_null() & (event_id <= cursor.event_id)
        )
    done = int(same_email.select(at_or_before.sum()).item())
    return frame.slice(lo + done)


def after_expr(cursor: Cursor) -> pl.Expr:
    """True for the rows that sort after ``cursor``'s key (:func:`after` as a filter).

    Its first term, ``email >= cursor.email``, lets a Parquet scan skip the row groups
    whose statistics end before the cursor's person.
    """
    email, occurred = pl.col(c.EMAIL), pl.col(c.OCCURRED_AT)
    at = pl.lit(cursor.occurred_at, dtype=_TS)
    later = occurred > at
    if cursor.event_id is not None:  # nulls sort last: they follow any id at the same time
        event_id = pl.col(c.EVENT_ID)
        later = later | ((occurred == at) & (event_id.is_null() | (event_id > cursor.event_id)))
    return (email >= cursor.email) & ((email > cursor.email) | later)


def page(
    frame: pl.DataFrame, query: JourneyQuery, *, limit: int, cursor: Cursor | None
) -> tuple[pl.DataFrame, Cursor | None]:
    """One page of at most ``limit`` rows after ``cursor``, and the cursor of the next."""
    rest = frame if cursor is None else after(frame, cursor)
    rows = rest.head(limit)
    if rest.height <= limit or rows.is_empty():
        return rows, None
    last = rows.row(rows.height - 1, named=True)
    following = Cursor(
        email=last[c.EMAIL],
        occurred_at=last[c.OCCURRED_AT],
        event_id=last[c.EVENT_ID],
        as_of=query.as_of,
        query_hash=query_hash(query),
    )
    return rows, following
