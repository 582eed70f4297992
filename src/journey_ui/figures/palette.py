"""One palette and one set of labels for every figure: a channel looks the same everywhere.

Channel colours (:data:`CHANNEL_COLORS`, :func:`channel_color`), outcome and series colours,
fonts and greys, and the human labels of columns (:data:`LABELS`, :func:`label`) and event
types (:data:`EVENT_LABELS`, :func:`event_label`). Pure data, no Streamlit, no Plotly.

>>> channel_color("Email") == CHANNEL_COLORS["Email"]
True
>>> label("utm_source"), event_label("add_to_cart")
('UTM source', 'Add to cart')
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from journey_core import columns as c
from journey_core.analytics.attribution import (
    CONVERTED,
    FROM_FIRST_TOUCH,
    FROM_KNOWN,
    NO_TOUCH,
    NOT_CONVERTED,
)

__all__ = [
    "ACTIVE",
    "CHANNEL_COLORS",
    "COHORT_PEOPLE",
    "EVENTS_COLOR",
    "EVENT_LABELS",
    "EVENT_ORDER",
    "EXTRA_COLORS",
    "FONT",
    "GRID",
    "KNOWN_ACTIVE",
    "KNOWN_LINE",
    "LABELS",
    "MEASURE_COLORS",
    "MEASURE_LABELS",
    "MUTED",
    "NEWLY_COLOR",
    "NO_TOUCH_COLOR",
    "OUTCOME_COLORS",
    "PREVIOUSLY_COLOR",
    "SERIES_COLORS",
    "SURFACE",
    "SURFACE_ALT",
    "channel_color",
    "event_label",
    "fade",
    "label",
    "ordered_channels",
]

FONT: Final = (
    "Source Sans Pro, Source Sans 3, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"
)
MUTED: Final = "#6B7280"
GRID: Final = "#E5E7EB"
KNOWN_LINE: Final = "#DC2626"
NEWLY_COLOR: Final = "#2563EB"
PREVIOUSLY_COLOR: Final = "#64748B"
EVENTS_COLOR: Final = "#94A3B8"
#: Light greys: shaded bands and buttons (alternating SURFACE/SURFACE_ALT, ACTIVE when chosen).
SURFACE: Final = "#F1F5F9"
SURFACE_ALT: Final = "#E2E8F0"
ACTIVE: Final = "#CBD5E1"

#: A fixed colour for each channel of the default grouping (analytics/data/channels.toml).
CHANNEL_COLORS: Final[dict[str, str]] = {
    "Paid Search": "#2563EB",
    "Paid Social": "#DB2777",
    "Paid Shopping": "#0EA5E9",
    "Paid Video": "#BE123C",
    "Paid Other": "#6366F1",
    "Cross-network": "#0F766E",
    "Display": "#CA8A04",
    "Email": "#16A34A",
    "Affiliates": "#9333EA",
    "Organic Search": "#0891B2",
    "Organic Social": "#F97316",
    "Organic Shopping": "#65A30D",
    "Organic Video": "#E11D48",
    "Referral": "#7C3AED",
    "Audio": "#A16207",
    "SMS": "#059669",
    "Mobile Push Notifications": "#4F46E5",
    "Direct": "#475569",
    "Unassigned": "#D6D3D1",
}
#: Colours for channels a custom grouping adds (picked by name, so they stay stable).
EXTRA_COLORS: Final[tuple[str, ...]] = (
    "#B45309",
    "#0369A1",
    "#7E22CE",
    "#15803D",
    "#C2410C",
    "#1D4ED8",
    "#A21CAF",
    "#4D7C0F",
)

#: Friendly names of result and summary columns, for tables, axes and hover text.
LABELS: Final[dict[str, str]] = {
    c.EMAIL: "Email",
    c.KNOWN_AT: "Known since",
    c.EVENT_ID: "Event ID",
    c.OCCURRED_AT: "Time",
    c.EVENT_TYPE: "Event",
    c.ANONYMOUS_ID: "Device (anonymous ID)",
    c.UTM_SOURCE: "UTM source",
    c.UTM_MEDIUM: "UTM medium",
    c.UTM_CAMPAIGN: "UTM campaign",
    c.UTM_CONTENT: "UTM content",
    c.UTM_TERM: "UTM term",
    c.PAGE_URL: "Page",
    c.REFERRER: "Referrer",
    c.REVENUE: "Revenue",
    c.BEFORE_KNOWN: "Before known",
    c.CHANNEL: "Channel",
    c.SESSION: "Visit",
    c.SESSION_START: "Visit start",
    c.SESSION_SOURCE: "Source",
    c.SESSION_MEDIUM: "Medium",
    c.SESSION_CAMPAIGN: "Campaign",
    c.IS_TOUCH: "Touch",
    c.SOURCE_MEDIUM: "Source / medium",
    c.LANDING_PAGE: "Landing page",
    c.KNOWN_STATUS: "Newly or previously known",
    c.PEOPLE: "People",
    c.EVENTS: "Events",
    c.SESSIONS: "Visits",
    c.CONVERSIONS: "Conversions",
    c.NEWLY_KNOWN_PEOPLE: "Newly known",
    c.DAY: "Day",
    c.HOUR: "Hour",
    c.STEP: "Step",
    c.GROUP: "Group",
    c.DROP_OFF: "Drop-off",
    c.TOUCHES: "Touches",
    c.SHARE: "Share of people",
    c.FIRST_EVENT: "First event",
    c.LAST_EVENT: "Last event",
    c.CHANNELS_USED: "Channels",
    c.IS_NEWLY_KNOWN: "Newly known",
    # attribution
    c.SOURCE: "Source",
    c.MEDIUM: "Medium",
    c.CAMPAIGN: "Campaign",
    c.MODEL: "Model",
    c.CREDIT: "Credit",
    c.TOUCH_AT: "Touch time",
    c.CONVERTED_AT: "Converted at",
    c.NON_CONVERSIONS: "Non-conversions",
    c.PATH: "Path",
    c.TRANSFORMED_PATH: "Path (repeats collapsed)",
    c.CONVERSION_RATE: "Conversion rate",
    c.REVENUE_CREDIT: "Revenue credit",
    c.MEDIAN_DAYS: "Median (days)",
    c.P90_DAYS: "90th percentile (days)",
    c.FIRST_TOUCH_AT: "First touch",
    c.FIRST_CONVERSION_AT: "First conversion",
    c.FIRST_TOUCH_CHANNEL: "First-touch channel",
    c.DAYS_FROM_FIRST_TOUCH: "Days from first touch",
    c.DAYS_FROM_KNOWN: "Days from becoming known",
    c.MEASURE: "Measured from",
    c.BIN: "Days to convert",
    c.BIN_START: "From day",
    c.BIN_END: "Before day",
    c.TOUCH_INDEX: "Touch number",
}
KNOWN_ACTIVE: Final = "Known people active"
"""The key figure of the known people a page's window reaches (Recent activity's last hours,
Campaign influence's cohort)."""
COHORT_PEOPLE: Final = "People in the cohort"
"""The Attribution page's key figure of its people: the Campaign influence page's
:data:`KNOWN_ACTIVE` (the same cohort)."""

#: The time-to-convert measures as people read them (what the time is measured from).
MEASURE_LABELS: Final[dict[str, str]] = {
    FROM_FIRST_TOUCH: "From first touch",
    FROM_KNOWN: "From becoming known",
}

EVENT_LABELS: Final[dict[str, str]] = {
    "page_view": "Page view",
    "signup": "Sign-up",
    "add_to_cart": "Add to cart",
    "purchase": "Purchase",
    "ad_click": "Ad click",
    "email_open": "Email open",
    "email_click": "Email click",
}
#: Lanes top to bottom: acquisition first, then the funnel.
EVENT_ORDER: Final[tuple[str, ...]] = (
    "ad_click",
    "email_open",
    "email_click",
    "page_view",
    "signup",
    "add_to_cart",
    "purchase",
)
#: Outcomes at the end of a path (attribution Sankey).
OUTCOME_COLORS: Final[dict[str, str]] = {CONVERTED: "#2CA02C", NOT_CONVERTED: "#BBBBBB"}
#: Series that are not channels (attribution models, ...): colour-blind-safe (Okabe-Ito).
SERIES_COLORS: Final[tuple[str, ...]] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#999999",
    "#8C564B",
    "#17BECF",
    "#BCBD22",
    "#7F7F7F",
)
#: The two time-to-convert measures.
MEASURE_COLORS: Final[dict[str, str]] = {
    FROM_FIRST_TOUCH: SERIES_COLORS[0],
    FROM_KNOWN: SERIES_COLORS[1],
}
#: Conversions without any touch in the lookback (attribution): a neutral grey.
NO_TOUCH_COLOR: Final = "#A8A29E"


def label(column: str) -> str:
    """The friendly name of a column (``utm_source`` → ``UTM source``)."""
    return LABELS.get(column, column.replace("_", " ").capitalize())


def event_label(event_type: str | None) -> str:
    """The friendly name of an event type (``add_to_cart`` → ``Add to cart``)."""
    if event_type is None:
        return "(unknown)"
    return EVENT_LABELS.get(event_type, event_type.replace("_", " ").capitalize())


def channel_color(channel: str) -> str:
    """The fixed colour of a channel; other names get a stable colour of their own."""
    if channel in CHANNEL_COLORS:
        return CHANNEL_COLORS[channel]
    if channel == NO_TOUCH:
        return NO_TOUCH_COLOR
    index = int(hashlib.sha1(channel.encode("utf-8")).hexdigest(), 16) % len(EXTRA_COLORS)
    return EXTRA_COLORS[index]


def ordered_channels(values: Sequence[str]) -> list[str]:
    """Paid first, then organic and the rest, as the default grouping lists them."""
    order = [name for name in CHANNEL_COLORS if name in values]
    return order + sorted(set(values) - set(order))


def fade(hex_color: str, alpha: float = 0.35) -> str:
    """``#RRGGBB`` as a translucent ``rgba()``.

    >>> fade("#FF8000", 0.5)
    'rgba(255,128,0,0.5)'
    """
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"
