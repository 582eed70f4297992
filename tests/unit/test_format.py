"""The one rounding rule (journey_ui.format): counts, credits, days, percentages, money."""

from __future__ import annotations

import math

import pytest

from journey_ui import format as fmt


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(0, "0", id="zero"),
        pytest.param(1234567, "1,234,567", id="thousands"),
        pytest.param(12.6, "13", id="rounded"),
        pytest.param(None, "—", id="unknown"),
        pytest.param(math.nan, "—", id="nan"),
    ],
)
def test_counts_are_whole_with_thousands_separators(value: float | None, expected: str) -> None:
    assert fmt.fmt_int(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(1467.0, "1,467.0", id="whole"),
        pytest.param(0.333333, "0.3", id="fraction"),
        pytest.param(118238.02, "118,238.0", id="large"),
        pytest.param(None, "—", id="unknown"),
    ],
)
def test_credits_have_one_decimal(value: float | None, expected: str) -> None:
    assert fmt.fmt_credit(value) == expected


@pytest.mark.parametrize(
    ("ratio", "percent", "change"),
    [
        pytest.param(0.2604, "26.0%", "+26.0%", id="rate"),
        pytest.param(0.0, "0.0%", "+0.0%", id="zero"),
        pytest.param(-0.1234, "-12.3%", "-12.3%", id="negative"),
        pytest.param(12.5, "1,250.0%", "+1,250.0%", id="large"),
        pytest.param(None, "—", "—", id="unknown"),
    ],
)
def test_percentages_have_one_decimal(ratio: float | None, percent: str, change: str) -> None:
    assert fmt.fmt_percent(ratio) == percent
    assert fmt.fmt_change(ratio) == change


@pytest.mark.parametrize(
    ("value", "currency", "compact", "expected"),
    [
        pytest.param(118238.02, "USD", False, "USD 118,238.02", id="two-decimals"),
        pytest.param(118238.02, "EUR", True, "EUR 118,238", id="compact-large"),
        pytest.param(9999.5, "EUR", True, "EUR 9,999.50", id="compact-small"),
        pytest.param(0.005, "JPY", False, "JPY 0.01", id="rounded"),
        pytest.param(None, "USD", False, "—", id="unknown"),
    ],
)
def test_money_has_two_decimals_and_the_currency(
    value: float | None, currency: str, compact: bool, expected: str
) -> None:
    assert fmt.fmt_money(value, currency, compact=compact) == expected


def test_days_and_column_formats_follow_the_same_rule() -> None:
    assert fmt.fmt_days(12.46) == "12.5 days"
    assert fmt.fmt_days(1.0) == "1.0 day"
    assert fmt.money_format("EUR") == "EUR %,.2f"
    assert fmt.money_title("Revenue", "EUR") == "Revenue (EUR)"
    assert (fmt.COUNT_FORMAT, fmt.CREDIT_FORMAT, fmt.DAYS_FORMAT) == ("%,d", "%,.1f", "%,.1f")
