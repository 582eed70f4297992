"""A deliberately naive, row-by-row reading of the rules, to check the Polars core against."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from journey_core.rules.query import EMAIL_PATTERN, MAX_EMAIL_LENGTH, JourneyQuery, Rule


def _norm(email: str | None) -> str | None:
    if email is None:
        return None
    email = email.strip().lower()
    return email if len(email) <= MAX_EMAIL_LENGTH and re.fullmatch(EMAIL_PATTERN, email) else None


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def reference_journeys(
    events: list[dict[str, Any]], identities: list[dict[str, Any]], query: JourneyQuery
) -> list[tuple[str, str, dt.datetime]]:
    """``(email, event_id, occurred_at)`` of every returned row, in result order."""
    as_of = query.as_of
    links: list[tuple[str | None, str, dt.datetime]] = []
    for row in identities:
        email, at = _norm(row["email"]), _utc(row["identified_at"])
        if email and at <= as_of:
            links.append((_anon(row["anonymous_id"]), email, at))
    for row in events:
        email, at = _norm(row["email"]), _utc(row["occurred_at"])
        if email and at <= as_of:
            links.append((_anon(row["anonymous_id"]), email, at))
    known_at: dict[str, dt.datetime] = {}
    for _, email, at in links:
        known_at[email] = min(at, known_at.get(email, at))
    owner: dict[str, tuple[dt.datetime, str]] = {}
    for anon, email, at in links:
        if anon is None:
            continue
        best = owner.get(anon)
        # latest link wins; on a tie the smallest email
        if best is None or at > best[0] or (at == best[0] and email < best[1]):
            owner[anon] = (at, email)
    rows = []
    for row in events:
        at = _utc(row["occurred_at"])
        anon = _anon(row["anonymous_id"])
        person = _norm(row["email"]) or (owner[anon][1] if anon in owner else None)
        if person is None or person not in known_at:
            continue
        if _admits(query, person, at, known_at[person]):
            rows.append((person, row["event_id"], at, row.get("event_type"), anon))
    rows.sort(
        key=lambda r: (r[0], r[1 + 1], r[1], r[3] is None, r[3] or "", r[4] is None, r[4] or "")
    )
    seen: set[str] = set()
    out = []
    for person, event_id, at, *_ in rows:
        if event_id not in seen:
            seen.add(event_id)
            out.append((person, event_id, at))
    return out


def _anon(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


def _admits(q: JourneyQuery, person: str, at: dt.datetime, known_at: dt.datetime) -> bool:
    if at > q.as_of:
        return False
    if q.rule is Rule.RECENT:
        return at >= q.as_of - q.recent_window
    if q.rule is Rule.EMAIL:
        return person == q.email and at >= q.as_of - q.lookback
    assert q.start is not None
    if q.rule is Rule.EMAIL_AND_EVENT_DATE and person != q.email:
        return False
    return at >= q.start or (known_at >= q.start and at >= q.as_of - q.lookback)
