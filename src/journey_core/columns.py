"""Column and table names of the canonical warehouse schema and of journey results.

Every module refers to columns through these constants, never through string literals.
"""

from __future__ import annotations

from typing import Final

# Canonical tables ("events" is also the event count of the summaries below)
EVENTS: Final = "events"
IDENTITIES: Final = "identities"

# events
EVENT_ID: Final = "event_id"
OCCURRED_AT: Final = "occurred_at"
ANONYMOUS_ID: Final = "anonymous_id"
EMAIL: Final = "email"
EVENT_TYPE: Final = "event_type"
PAGE_URL: Final = "page_url"
REFERRER: Final = "referrer"
UTM_SOURCE: Final = "utm_source"
UTM_MEDIUM: Final = "utm_medium"
UTM_CAMPAIGN: Final = "utm_campaign"
UTM_CONTENT: Final = "utm_content"
UTM_TERM: Final = "utm_term"
REVENUE: Final = "revenue"

# identities
IDENTIFIED_AT: Final = "identified_at"

# derived
LINKED_AT: Final = "linked_at"
KNOWN_AT: Final = "known_at"
FIRST_LINKED_AT: Final = "first_linked_at"
LAST_LINKED_AT: Final = "last_linked_at"
BEFORE_KNOWN: Final = "before_known"

EVENT_COLUMNS: Final[tuple[str, ...]] = (
    EVENT_ID,
    OCCURRED_AT,
    ANONYMOUS_ID,
    EMAIL,
    EVENT_TYPE,
    PAGE_URL,
    REFERRER,
    UTM_SOURCE,
    UTM_MEDIUM,
    UTM_CAMPAIGN,
    UTM_CONTENT,
    UTM_TERM,
    REVENUE,
)
IDENTITY_COLUMNS: Final[tuple[str, ...]] = (ANONYMOUS_ID, EMAIL, IDENTIFIED_AT)

# A journey result row: one event attributed to one known individual.
RESULT_COLUMNS: Final[tuple[str, ...]] = (
    EMAIL,
    KNOWN_AT,
    EVENT_ID,
    OCCURRED_AT,
    EVENT_TYPE,
    ANONYMOUS_ID,
    UTM_SOURCE,
    UTM_MEDIUM,
    UTM_CAMPAIGN,
    UTM_CONTENT,
    UTM_TERM,
    PAGE_URL,
    REFERRER,
    REVENUE,
    BEFORE_KNOWN,
)
SORT_COLUMNS: Final[tuple[str, ...]] = (EMAIL, OCCURRED_AT, EVENT_ID)

TEXT_EVENT_COLUMNS: Final[tuple[str, ...]] = (
    EVENT_ID,
    ANONYMOUS_ID,
    EMAIL,
    EVENT_TYPE,
    PAGE_URL,
    REFERRER,
    UTM_SOURCE,
    UTM_MEDIUM,
    UTM_CAMPAIGN,
    UTM_CONTENT,
    UTM_TERM,
)

# attribution (journey_core.analytics.channels, journey_core.analytics.attribution)
SESSION_ID: Final = "session_id"
CHANNEL: Final = "channel"
SOURCE: Final = "source"
MEDIUM: Final = "medium"
CAMPAIGN: Final = "campaign"
TOUCH_AT: Final = "touch_at"
CONVERSION_ID: Final = "conversion_id"
CONVERTED_AT: Final = "converted_at"
MODEL: Final = "model"
CREDIT: Final = "credit"
CONVERSIONS: Final = "conversions"
NON_CONVERSIONS: Final = "non_conversions"
PATH: Final = "path"
TRANSFORMED_PATH: Final = "transformed_path"

# visits and touches (journey_core.analytics.sessions)
SESSION: Final = "session"
SESSION_START: Final = "session_start"
SESSION_END: Final = "session_end"
IS_SESSION_START: Final = "is_session_start"
IS_TOUCH: Final = "is_touch"
SESSION_SOURCE: Final = "session_source"
SESSION_MEDIUM: Final = "session_medium"
SESSION_CAMPAIGN: Final = "session_campaign"
LANDING_PAGE: Final = "landing_page"
# campaign breakdowns and scoped conversions (journey_core.analytics.campaign)
SOURCE_MEDIUM: Final = "source_medium"
KNOWN_STATUS: Final = "known_status"
IN_SCOPE: Final = "in_scope"

# Summary columns of the analytics (campaign dashboard and attribution), each defined once.
PEOPLE: Final = "people"
SESSIONS: Final = "sessions"
TOUCHES: Final = "touches"
GROUP: Final = "group"
VALUE: Final = "value"
SHARE: Final = "share_of_people"
NEWLY_KNOWN_PEOPLE: Final = "newly_known"
IS_NEWLY_KNOWN: Final = "is_newly_known"
DAY: Final = "day"
HOUR: Final = "hour"
FIRST_EVENT: Final = "first_event"
LAST_EVENT: Final = "last_event"
CHANNELS_USED: Final = "channels"
# funnel
STEP: Final = "step"
DROP_OFF: Final = "drop_off"
# attribution: credits, paths, time to convert, Sankey links
TOUCH_INDEX: Final = "touch_index"
REVENUE_CREDIT: Final = "revenue_credit"
CONVERSION_RATE: Final = "conversion_rate"
LAST_TOUCH_AT: Final = "last_touch_at"
MEASURE: Final = "measure"
MEDIAN_DAYS: Final = "median_days"
P90_DAYS: Final = "p90_days"
FIRST_TOUCH_AT: Final = "first_touch_at"
FIRST_CONVERSION_AT: Final = "first_conversion_at"
FIRST_TOUCH_CHANNEL: Final = "first_touch_channel"
DAYS_FROM_FIRST_TOUCH: Final = "days_from_first_touch"
DAYS_FROM_KNOWN: Final = "days_from_known"
BIN: Final = "bin"
BIN_START: Final = "bin_start_days"
BIN_END: Final = "bin_end_days"
SOURCE_NODE: Final = "source_node"
TARGET_NODE: Final = "target_node"
