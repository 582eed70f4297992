"""The journey query: validated parameters and the rule they select."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

from journey_core.errors import InputError

# Re-exported: callers long imported these from here.
from journey_core.timeutil import parse_timezone as parse_timezone
from journey_core.timeutil import to_utc as to_utc

DEFAULT_LOOKBACK = dt.timedelta(days=90)
DEFAULT_RECENT_WINDOW = dt.timedelta(hours=24)
DEFAULT_TIMEZONE = "UTC"
MAX_EMAIL_LENGTH = 254
MIN_YEAR = 1971  # earlier dates predate any tracking data and overflow the windows

# What counts as an email address, in queries and in the data (a Rust- and Python-compatible regex).
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f.]+$"
_EMAIL_RE = re.compile(EMAIL_PATTERN)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Rule(StrEnum):
    """Which retrieval rule a query selects."""

    EMAIL = "email"
    EVENT_DATE = "event_date"
    EMAIL_AND_EVENT_DATE = "email_and_event_date"
    RECENT = "recent"


def normalize_email(value: str) -> str:
    """Trim and lower-case an email, as every comparison does.

    >>> normalize_email("  Ann@Example.COM ")
    'ann@example.com'
    """
    return value.strip().lower()


def parse_email(value: str | None) -> str | None:
    """Validate and normalise an email parameter; ``None`` or blank means "not given".

    >>> parse_email(" Ann@Example.com ")
    'ann@example.com'
    """
    if value is None or not value.strip():
        return None
    email = normalize_email(value)
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL_RE.fullmatch(email):
        shown = email if len(email) <= 60 else email[:57] + "..."
        msg = f"{shown!r} is not a valid email address; enter one like name@example.com."
        raise InputError("email", msg)
    return email


def parse_event_date(value: str | dt.date | None) -> dt.date | None:
    """Validate an ``event_date`` parameter in ``YYYY-MM-DD`` form; ``None`` means "not given".

    >>> parse_event_date("2022-07-01")
    datetime.date(2022, 7, 1)
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = value.strip()
    if not text:
        return None
    shown = text if len(text) <= 40 else text[:37] + "..."
    if not _DATE_RE.fullmatch(text):
        msg = f"{shown!r} is not a date in YYYY-MM-DD form; use e.g. 2022-07-01."
        raise InputError("event_date", msg)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        msg = f"{shown!r} is not a real calendar date; use e.g. 2022-07-01."
        raise InputError("event_date", msg) from None


def parse_as_of(value: str | dt.datetime | None, *, now: dt.datetime) -> dt.datetime:
    """Validate an ``as_of`` timestamp (ISO-8601; naive values are UTC); ``None`` gives ``now``.

    >>> now = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    >>> parse_as_of("2025-12-31T12:00", now=now).isoformat()
    '2025-12-31T12:00:00+00:00'
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return to_utc(now)
    if isinstance(value, dt.datetime):
        return to_utc(value)
    text = value.strip()
    shown = text if len(text) <= 40 else text[:37] + "..."
    if len(text) == 10 and _DATE_RE.fullmatch(text):
        text = text + "T23:59:59.999999"
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        msg = f"{shown!r} is not an ISO-8601 timestamp; use e.g. 2022-08-31T23:59:59Z."
        raise InputError("as_of", msg) from None
    return to_utc(parsed)


@dataclass(frozen=True, slots=True)
class JourneyQuery:
    """Validated parameters of one journey retrieval.

    >>> now = dt.datetime.now(dt.UTC)
    >>> q = JourneyQuery.build(email="A@b.co", as_of="2022-08-31T00:00Z", now=now)
    >>> q.rule, q.email
    (<Rule.EMAIL: 'email'>, 'a@b.co')
    """

    as_of: dt.datetime
    email: str | None = None
    event_date: dt.date | None = None
    lookback: dt.timedelta = DEFAULT_LOOKBACK
    recent_window: dt.timedelta = DEFAULT_RECENT_WINDOW
    timezone: str = DEFAULT_TIMEZONE
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "as_of", to_utc(self.as_of))
        if self.as_of.year < MIN_YEAR:
            msg = f"{self.as_of.isoformat()} is too early; use a time after {MIN_YEAR}-01-01."
            raise InputError("as_of", msg)
        if self.event_date is not None and self.event_date.year < MIN_YEAR:
            msg = f"{self.event_date.isoformat()} is too early; use a date after {MIN_YEAR}-01-01."
            raise InputError("event_date", msg)
        object.__setattr__(self, "_tz", parse_timezone(self.timezone))
        if self.lookback <= dt.timedelta(0):
            raise InputError("lookback", "must be a positive duration, e.g. 90 days.")
        if self.recent_window <= dt.timedelta(0):
            raise InputError("recent_window", "must be a positive duration, e.g. 24 hours.")
        if self.event_date is not None:
            as_of_date = self.as_of.astimezone(self._tz).date()
            if self.event_date > as_of_date:
                msg = (
                    f"{self.event_date.isoformat()} is after the as-of date "
                    f"{as_of_date.isoformat()}; pick a date on or before it."
                )
                raise InputError("event_date", msg)

    @classmethod
    def build(
        cls,
        *,
        now: dt.datetime,
        email: str | None = None,
        event_date: str | dt.date | None = None,
        as_of: str | dt.datetime | None = None,
        lookback_days: float = 90,
        recent_hours: float = 24,
        timezone: str = DEFAULT_TIMEZONE,
    ) -> JourneyQuery:
        """Validate raw user input (strings) into a query; ``now`` is the default ``as_of``."""
        parsed_as_of = parse_as_of(as_of, now=now)
        if parsed_as_of > to_utc(now) + dt.timedelta(minutes=5):
            msg = (
                f"{parsed_as_of.isoformat()} is in the future; "
                "use a time at or before now, or leave it empty for now."
            )
            raise InputError("as_of", msg)
        return cls(
            as_of=parsed_as_of,
            email=parse_email(email),
            event_date=parse_event_date(event_date),
            lookback=dt.timedelta(days=lookback_days),
            recent_window=dt.timedelta(hours=recent_hours),
            timezone=timezone,
        )

    @property
    def rule(self) -> Rule:
        """The rule these parameters select."""
        if self.email is not None and self.event_date is not None:
            return Rule.EMAIL_AND_EVENT_DATE
        if self.email is not None:
            return Rule.EMAIL
        if self.event_date is not None:
            return Rule.EVENT_DATE
        return Rule.RECENT

    @property
    def tz(self) -> ZoneInfo:
        """The timezone in which ``event_date`` starts."""
        return self._tz

    @property
    def start(self) -> dt.datetime | None:
        """``event_date`` at 00:00 in the configured timezone, as UTC."""
        if self.event_date is None:
            return None
        local = dt.datetime.combine(self.event_date, dt.time(0), tzinfo=self._tz)
        return local.astimezone(dt.UTC)

    @property
    def lookback_start(self) -> dt.datetime:
        """``as_of - lookback``."""
        return self.as_of - self.lookback

    @property
    def window_start(self) -> dt.datetime:
        """The earliest ``occurred_at`` any row of this query can have."""
        if self.rule is Rule.RECENT:
            return self.as_of - self.recent_window
        if self.start is None:
            return self.lookback_start
        return min(self.start, self.lookback_start)
