"""Time in one place: the UTC timestamp dtype, UTC literals and IANA zones.

Every timestamp column of the rules and the analytics is :data:`TS` (microseconds, UTC);
a Python datetime becomes a column literal through :func:`utc_lit`, and a zone name becomes
a zone through :func:`parse_timezone`.

>>> import datetime as dt
>>> pl.select(utc_lit(dt.datetime(2022, 7, 1, 12))).dtypes
[Datetime(time_unit='us', time_zone='UTC')]
>>> parse_timezone("Europe/Berlin").key
'Europe/Berlin'
"""

from __future__ import annotations

import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from journey_core.errors import InputError

__all__ = ["TS", "local_day", "parse_timezone", "to_utc", "utc_lit"]

#: The dtype of every timestamp column: ``Datetime("us", "UTC")``.
TS: Final = pl.Datetime("us", "UTC")


def to_utc(value: dt.datetime) -> dt.datetime:
    """Return an aware UTC datetime; naive values are taken as UTC.

    >>> to_utc(dt.datetime(2022, 7, 1, 12)).isoformat()
    '2022-07-01T12:00:00+00:00'
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def utc_lit(value: dt.datetime) -> pl.Expr:
    """``value`` as a :data:`TS` literal (naive values are taken as UTC)."""
    return pl.lit(to_utc(value), dtype=TS)


def parse_timezone(name: str) -> ZoneInfo:
    """Return the IANA timezone ``name`` or raise an :class:`InputError` naming ``timezone``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America" is a folder
        msg = f"{name!r} is not an IANA timezone; use e.g. UTC or Europe/Berlin."
        raise InputError("timezone", msg) from None


def local_day(at: dt.datetime, tz: str) -> dt.date:
    """The calendar day of the moment ``at`` in the timezone ``tz``.

    >>> local_day(dt.datetime(2022, 7, 1, 23, 30, tzinfo=dt.UTC), "Europe/Berlin")
    datetime.date(2022, 7, 2)
    """
    return at.astimezone(parse_timezone(tz)).date()
