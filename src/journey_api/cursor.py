"""Opaque page cursors: the last row's sort key, the as-of time, and a hash of the query.

A cursor is URL-safe base64 of a small JSON document. It pins ``as_of`` (so later pages of
a query without ``as_of`` see the same data) and carries a hash of the query's parameters
(so a cursor cannot be reused with other parameters). Paging is by key, not offset: a page
is the rows whose ``(email, occurred_at, event_id)`` sorts after the cursor's key, in the
order the journey core sorts them (``event_id`` nulls last), so every row appears exactly
once while the data is unchanged.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from journey_core import columns as c
from journey_core.errors import InputError
from journey_core.rules.query import JourneyQuery
from journey_core.timeutil import TS as _TS

VERSION = 1
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

    def encode(self) -> str:
        """The opaque text form handed to clients."""
        payload = {
            "v": VERSION,
            "k": [self.email, _micros(self.occurred_at), self.event_id],
            "a": _micros(self.as_of),
            "q": self.query_hash,
        }
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse a cursor; raise :class:`InputError` naming ``cursor`` if it is not ours."""
        try:
            if len(text) > _MAX_LENGTH:
                raise ValueError
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            payload: Any = json.loads(raw)
            email, occurred, event_id = payload["k"]
            cursor = cls(
                email=_str(email),
                occurred_at=_from_micros(_int(occurred)),
                event_id=None if event_id is None else _str(event_id),
                as_of=_from_micros(_int(payload["a"])),
                query_hash=_str(payload["q"]),
            )
            if payload["v"] != VERSION:
                raise ValueError
        except (ValueError, TypeError, KeyError, OverflowError, binascii.Error):
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
