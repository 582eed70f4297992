"""Issue 14's leak tests: a warehouse seeded with known emails (also inside URLs) and a finder
for those emails in anything a client can receive."""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from collections.abc import Iterable

import polars as pl

from journey_core import columns as c
from tests.support.frames import T, events_frame, identities_frame

__all__ = [
    "AS_OF",
    "CAMPAIGN_DATE",
    "EMAILS",
    "all_text",
    "b64_texts",
    "leaks",
    "seed_events",
    "seed_ids",
]

AS_OF = "2022-08-31T00:00:00Z"
CAMPAIGN_DATE = "2022-08-01"
#: The seeded people; matching ignores case, so Bob's mixed case is caught lower-cased too.
EMAILS = ("ann@leak.example", "Bob.Stone@Leak.Example", "carl+vip@leak.example")
ANN, BOB, CARL = EMAILS


def _forms(email: str) -> set[str]:
    """Every spelling of ``email`` a client could get (lower-cased): plain and URL-encoded."""
    email = email.lower()
    quoted = urllib.parse.quote(email, safe="")
    forms = {
        email,
        email.replace("@", "%40"),
        email.replace("@", "%2540"),
        quoted,
        urllib.parse.quote(quoted, safe=""),
        urllib.parse.quote_plus(email),
        email.replace("@", "\\u0040"),
    }
    return {form.lower() for form in forms}


FORMS = sorted({form for email in EMAILS for form in _forms(email)})


def leaks(where: str, text: str | bytes) -> list[str]:
    """``"where: form"`` for every seeded email form found in ``text`` (case-insensitive).

    >>> leaks("page", "hi a***@leak.example")
    []
    >>> leaks("csv", b"x,ANN%40leak.example")
    ['csv: ann%40leak.example']
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    low = text.lower()
    return [f"{where}: {form}" for form in FORMS if form in low]


_B64 = re.compile(r"[A-Za-z0-9_\-+/]{16,}={0,2}")


def b64_texts(text: str) -> list[str]:
    """The decoded text of every base64 run in ``text`` (cursors, tokens), for :func:`leaks`."""
    found = []
    for run in _B64.findall(text):
        padded = run.rstrip("=") + "=" * (-len(run.rstrip("=")) % 4)
        for decode in (base64.urlsafe_b64decode, base64.b64decode):
            try:
                found.append(decode(padded).decode("latin-1"))
            except (binascii.Error, ValueError):
                continue
    return found


def _event(n: int, anon: str, kind: str, at: str) -> dict[str, object]:
    return {c.EVENT_ID: f"e{n}", c.ANONYMOUS_ID: anon, c.EVENT_TYPE: kind, c.OCCURRED_AT: T(at)}


def seed_events() -> pl.DataFrame:
    """Touches before and after identification, with the emails in URLs and UTM values."""
    rows: list[dict[str, object]] = [
        {
            **_event(1, "a1", "page_view", "2022-07-25T09:00:00"),
            c.PAGE_URL: f"https://shop.example/welcome?email={ANN}&utm_source=news",
            c.REFERRER: f"https://mail.example/open?to={ANN.replace('@', '%40')}",
            c.UTM_SOURCE: "newsletter",
            c.UTM_MEDIUM: "email",
            c.UTM_CAMPAIGN: "summer",
        },
        {
            **_event(2, "a1", "signup", "2022-08-05T10:00:00"),
            c.EMAIL: ANN,
            c.PAGE_URL: f"https://shop.example/signup?e={urllib.parse.quote(ANN, safe='')}",
        },
        {
            **_event(3, "a1", "purchase", "2022-08-10T11:00:00"),
            c.PAGE_URL: "https://shop.example/checkout",
            c.REFERRER: f"https://shop.example/cart?email={ANN.replace('@', '%2540')}",
            c.REVENUE: 42.0,
        },
        {
            **_event(4, "b1", "page_view", "2022-07-28T08:00:00"),
            c.PAGE_URL: f"https://shop.example/?who={BOB.replace('@', '%40')}",
            c.REFERRER: f"mailto:{BOB}",
            c.UTM_SOURCE: "partner",
            c.UTM_MEDIUM: "referral",
            c.UTM_CAMPAIGN: f"invite-{BOB}",
            c.UTM_CONTENT: f"to {BOB.upper()}",
        },
        {
            **_event(5, "b1", "signup", "2022-08-02T08:30:00"),
            c.PAGE_URL: f"https://shop.example/signup?email={BOB}",
        },
        {
            **_event(6, "c1", "page_view", "2022-08-20T12:00:00"),
            c.PAGE_URL: f"https://shop.example/p?e={urllib.parse.quote(CARL, safe='')}",
            c.REFERRER: f"https://search.example/?q={urllib.parse.quote_plus(CARL)}",
            c.UTM_SOURCE: "google",
            c.UTM_MEDIUM: "cpc",
            c.UTM_TERM: CARL,
        },
        {
            **_event(7, "c1", "purchase", "2022-08-30T12:00:00"),
            c.EMAIL: CARL,
            c.PAGE_URL: f"https://shop.example/thanks?email={CARL}",
            c.REVENUE: 99.5,
        },
    ]
    return events_frame(rows)


def seed_ids() -> pl.DataFrame:
    """Ann and Bob identified after their first touches; Carl known since June."""
    return identities_frame(
        [
            ("a1", ANN, "2022-08-05T10:00:00"),
            ("b1", BOB, "2022-08-02T08:30:00"),
            ("c1", CARL, "2022-06-01T00:00:00"),
        ]
    )


def all_text(parts: Iterable[object]) -> str:
    """One string of ``parts`` for :func:`leaks`."""
    return "\n".join(str(p) for p in parts)
