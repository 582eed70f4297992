"""One rounding rule for every number the dashboard shows (KPIs, tables, hover text, captions).

The rule (also in docs/dashboard.md, "Numbers and currency"):

- **counts** (people, events, conversions, paths): whole numbers with thousands separators,
  ``12,345``;
- **credits** (fractional conversions of an attribution model) and **days**: one decimal,
  ``1,234.5``;
- **percentages** (rates, shares, changes): one decimal, ``26.0%``, changes signed ``+12.3%``;
- **money**: two decimals with the currency's ISO code (``JOURNEY_CURRENCY``), ``USD 1,234.57``;
  a KPI tile names the currency in its label (``Revenue (USD)``, :func:`money_title`) and may
  drop the cents from 10,000 up (``compact``): ``254,298``.

Unknown values are an em dash. The ``*_FORMAT`` constants are the same rule as
``st.column_config.NumberColumn`` formats (printf style, ``,`` for thousands). Streamlit-free.

>>> fmt_int(12345), fmt_credit(1234.56), fmt_percent(0.2604), fmt_money(1234.567, "EUR")
('12,345', '1,234.6', '26.0%', 'EUR 1,234.57')
>>> fmt_change(0.1234), fmt_days(12.46)
('+12.3%', '12.5 days')
"""

from __future__ import annotations

import math
from typing import Final

from journey_core.config import DEFAULT_CURRENCY

__all__ = [
    "COUNT_FORMAT",
    "CREDIT_FORMAT",
    "DAYS_FORMAT",
    "DEFAULT_CURRENCY",
    "MISSING",
    "PERCENT_FORMAT",
    "fmt_amount",
    "fmt_change",
    "fmt_credit",
    "fmt_days",
    "fmt_int",
    "fmt_money",
    "fmt_percent",
    "money_format",
    "money_title",
]

MISSING: Final = "—"
#: Column formats (``st.column_config.NumberColumn(format=...)``) of the same rule.
COUNT_FORMAT: Final = "%,d"
CREDIT_FORMAT: Final = "%,.1f"
DAYS_FORMAT: Final = "%,.1f"
#: For columns holding percentage points (a ratio times 100).
PERCENT_FORMAT: Final = "%,.1f%%"


def _unknown(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_int(value: float | None) -> str:
    """``12,345`` (rounded to a whole number); an em dash for unknown."""
    return MISSING if _unknown(value) else f"{round(value or 0):,}"


def fmt_credit(value: float | None) -> str:
    """A fractional count (attribution credit) to one decimal: ``1,234.5``."""
    return MISSING if _unknown(value) else f"{value:,.1f}"


def fmt_days(value: float | None) -> str:
    """A duration in days to one decimal: ``12.5 days`` (``1.0 day``)."""
    if _unknown(value):
        return MISSING
    return f"{value:,.1f} {'day' if value == 1 else 'days'}"


def fmt_percent(ratio: float | None) -> str:
    """A ratio as a percentage to one decimal: ``0.2604`` → ``26.0%``."""
    return MISSING if _unknown(ratio) else f"{(ratio or 0.0) * 100:,.1f}%"


def fmt_change(ratio: float | None) -> str:
    """A relative change, signed, to one decimal: ``0.1234`` → ``+12.3%``."""
    return MISSING if _unknown(ratio) else f"{(ratio or 0.0) * 100:+,.1f}%"


def fmt_money(
    value: float | None, currency: str = DEFAULT_CURRENCY, *, compact: bool = False
) -> str:
    """``USD 12,345.67``; ``compact`` drops the cents from 10,000 up (KPI tiles).

    >>> fmt_money(254298.4, "USD", compact=True), fmt_money(None)
    ('USD 254,298', '—')
    """
    return MISSING if _unknown(value) else f"{currency} {fmt_amount(value, compact=compact)}"


def fmt_amount(value: float | None, *, compact: bool = False) -> str:
    """Money without its currency, for a KPI tile whose label names it (``Revenue (USD)``).

    >>> fmt_amount(3684.5), fmt_amount(254298.4, compact=True)
    ('3,684.50', '254,298')
    """
    if _unknown(value):
        return MISSING
    amount = value or 0.0
    if compact and abs(amount) >= 10_000:
        return f"{amount:,.0f}"
    return f"{amount:,.2f}"


def money_format(currency: str = DEFAULT_CURRENCY) -> str:
    """The column format of money: ``USD %,.2f``."""
    return f"{currency} %,.2f"


def money_title(title: str, currency: str = DEFAULT_CURRENCY) -> str:
    """A money column's header with its currency: ``Revenue (USD)``."""
    return f"{title} ({currency})"
