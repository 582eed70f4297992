"""Validation of user input: every bad value gets a one-line message naming the field."""

from __future__ import annotations

import datetime as dt

import pytest

from journey_core.errors import InputError
from journey_core.rules.query import JourneyQuery, parse_as_of, parse_email, parse_event_date

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("ann", id="no at"),
        pytest.param("ann@", id="no domain"),
        pytest.param("@x.io", id="no local part"),
        pytest.param("ann@x", id="no dot in domain"),
        pytest.param("a nn@x.io", id="space"),
        pytest.param("ann@@x.io", id="two ats"),
        pytest.param("ann@x.io'; DROP TABLE events;--", id="sql"),
        pytest.param("ann\x00@x.io", id="nul"),
        pytest.param("a" * 300 + "@x.io", id="too long"),
    ],
)
def test_malformed_email(value: str) -> None:
    with pytest.raises(InputError, match=r"^email: .* enter one like name@example\.com\.$") as err:
        parse_email(value)
    assert err.value.field == "email"
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(" Ann@Example.COM ", "ann@example.com", id="trim and lower"),
        pytest.param("o'brien+tag@x.co.uk", "o'brien+tag@x.co.uk", id="quote and plus"),
        pytest.param("", None, id="blank is not given"),
        pytest.param(None, None, id="none"),
    ],
)
def test_valid_email(value: str | None, expected: str | None) -> None:
    assert parse_email(value) == expected


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        pytest.param("2022/07/01", "not a date in YYYY-MM-DD form", id="slashes"),
        pytest.param("07-01-2022", "not a date in YYYY-MM-DD form", id="US order"),
        pytest.param("2022-7-1", "not a date in YYYY-MM-DD form", id="no padding"),
        pytest.param("2022-02-30", "not a real calendar date", id="Feb 30"),
        pytest.param("2022-13-01", "not a real calendar date", id="month 13"),
        pytest.param("2022-07-01'--", "not a date in YYYY-MM-DD form", id="sql"),
        pytest.param("yesterday", "not a date in YYYY-MM-DD form", id="word"),
    ],
)
def test_malformed_event_date(value: str, pattern: str) -> None:
    with pytest.raises(InputError, match=f"^event_date: .*{pattern}") as err:
        parse_event_date(value)
    assert err.value.field == "event_date"


def test_event_date_after_as_of_date() -> None:
    with pytest.raises(
        InputError, match=r"^event_date: 2026-11-27 is after the as-of date 2026-11-26"
    ):
        JourneyQuery.build(now=NOW, event_date="2026-11-27")
    # the as-of date itself is fine
    assert JourneyQuery.build(now=NOW, event_date="2026-11-26").event_date == dt.date(2026, 11, 26)


def test_event_date_after_as_of_date_in_configured_timezone() -> None:
    # 2026-11-26 20:00 UTC is already 2026-11-27 in Tokyo.
    late = dt.datetime(2026, 11, 26, 20, 0, tzinfo=dt.UTC)
    q = JourneyQuery.build(now=late, event_date="2026-11-27", timezone="Asia/Tokyo")
    assert q.start == dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)
    with pytest.raises(InputError, match=r"^event_date: "):
        JourneyQuery.build(now=late, event_date="2026-11-27")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2022-08-31T12:00:00Z", dt.datetime(2022, 8, 31, 12, tzinfo=dt.UTC), id="Z"),
        pytest.param(
            "2022-08-31T14:00:00+02:00", dt.datetime(2022, 8, 31, 12, tzinfo=dt.UTC), id="offset"
        ),
        pytest.param(
            "2022-08-31 12:00", dt.datetime(2022, 8, 31, 12, tzinfo=dt.UTC), id="naive is UTC"
        ),
        pytest.param(
            "2022-08-31",
            dt.datetime(2022, 8, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
            id="a date means its end",
        ),
        pytest.param(None, NOW, id="default now"),
    ],
)
def test_as_of(value: str | None, expected: dt.datetime) -> None:
    assert parse_as_of(value, now=NOW) == expected


@pytest.mark.parametrize("value", ["31/08/2022", "noon", "2022-08-31T25:00"])
def test_malformed_as_of(value: str) -> None:
    with pytest.raises(InputError, match=r"^as_of: .*ISO-8601"):
        parse_as_of(value, now=NOW)


def test_future_as_of() -> None:
    with pytest.raises(InputError, match=r"^as_of: .* is in the future"):
        JourneyQuery.build(now=NOW, as_of="2027-01-01T00:00Z")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Mars/Base", id="unknown"),
        pytest.param("America", id="a-region-folder"),  # IsADirectoryError from zoneinfo
        pytest.param("x" * 300, id="too-long"),  # OSError: file name too long
        pytest.param("zone1970.tab", id="a-data-file"),
        pytest.param("", id="empty"),
    ],
)
def test_unknown_timezone(name: str) -> None:
    with pytest.raises(InputError, match=r"^timezone: '.*' is not an IANA timezone"):
        JourneyQuery.build(now=NOW, timezone=name)


def test_windows() -> None:
    q = JourneyQuery.build(now=NOW, event_date="2026-11-01", lookback_days=30)
    assert q.start == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert q.lookback_start == NOW - dt.timedelta(days=30)
    assert q.window_start == dt.datetime(2026, 10, 27, 12, tzinfo=dt.UTC)
    recent = JourneyQuery.build(now=NOW, recent_hours=6)
    assert recent.window_start == NOW - dt.timedelta(hours=6)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"as_of": "0001-01-01T00:00:00Z"}, "as_of", id="as_of year 1"),
        pytest.param({"event_date": "0001-01-01"}, "event_date", id="event_date year 1"),
        pytest.param(
            {"event_date": "1900-01-01", "timezone": "Asia/Tokyo"}, "event_date", id="1900"
        ),
    ],
)
def test_ancient_dates_are_rejected_cleanly(kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(InputError, match=f"^{field}: .* is too early; use a"):
        JourneyQuery.build(now=NOW, **kwargs)  # type: ignore[arg-type]


# Control characters (NUL, other C0/C1 codes) are never silently dropped or trimmed away:
# Python's fromisoformat stops at a NUL, and str.strip() trims \x1c-\x1f and \x85.
CONTROL_SUFFIXES = [
    pytest.param("\x00", id="NUL"),
    pytest.param("\x1f", id="unit separator"),
    pytest.param("\x1c", id="file separator"),
    pytest.param("\x7f", id="DEL"),
    pytest.param("\x85", id="C1 next line"),
]


@pytest.mark.parametrize("suffix", CONTROL_SUFFIXES)
@pytest.mark.parametrize("base", ["2022-08-31T00:00", "2022-08-31T00:00Z", "2022-08-31"])
def test_as_of_with_a_control_character_is_rejected(base: str, suffix: str) -> None:
    with pytest.raises(InputError, match=r"^as_of: .*ISO-8601") as err:
        parse_as_of(base + suffix, now=NOW)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match=r"^as_of: "):
        JourneyQuery.build(now=NOW, as_of=base + suffix)


@pytest.mark.parametrize("suffix", CONTROL_SUFFIXES)
def test_event_date_with_a_control_character_is_rejected(suffix: str) -> None:
    with pytest.raises(InputError, match=r"^event_date: .*not a date in YYYY-MM-DD form"):
        parse_event_date("2022-08-01" + suffix)
    with pytest.raises(InputError, match=r"^event_date: "):
        parse_event_date(suffix + "2022-08-01")


@pytest.mark.parametrize("suffix", CONTROL_SUFFIXES)
def test_email_with_a_control_character_is_rejected(suffix: str) -> None:
    with pytest.raises(InputError, match=r"^email: .* enter one like name@example\.com\.$"):
        parse_email("ann@example.com" + suffix)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(" 2022-08-31T00:00 ", "2022-08-31T00:00:00+00:00", id="spaces"),
        pytest.param("\t2022-08-31T00:00\r\n", "2022-08-31T00:00:00+00:00", id="tab and newline"),
    ],
)
def test_surrounding_whitespace_is_still_trimmed(value: str, expected: str) -> None:
    assert parse_as_of(value, now=NOW).isoformat() == expected
    assert parse_email(value.replace("2022-08-31T00:00", "Ann@x.io")) == "ann@x.io"
    assert parse_event_date(value.replace("2022-08-31T00:00", "2022-08-01")) == dt.date(2022, 8, 1)


@pytest.mark.parametrize("suffix", CONTROL_SUFFIXES)
def test_user_id_with_a_control_character_is_rejected(suffix: str) -> None:
    from journey_core.warehouse.mapping import load_mapping

    with pytest.raises(InputError, match=r"^email: .* is not a valid user id"):
        load_mapping("snowplow").parse_identifier("u-42" + suffix)
