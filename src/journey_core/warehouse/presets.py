"""Built-in schema mappings, written in the mapping file format (see the README).

Each preset is the TOML a user would write for that warehouse; ``--mapping NAME`` uses
it as it is, and a mapping file with ``preset = "NAME"`` overrides parts of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

CANONICAL_TOML = """\
# The canonical schema: tables `events` and `identities` as the README describes them.
name = "canonical"

[events]
table = "events"

[events.columns]
event_id = "event_id"
occurred_at = "occurred_at"
anonymous_id = "anonymous_id"
email = "email"
event_type = "event_type"
page_url = "page_url"
referrer = "referrer"
utm_source = "utm_source"
utm_medium = "utm_medium"
utm_campaign = "utm_campaign"
utm_content = "utm_content"
utm_term = "utm_term"
revenue = "revenue"

[identities]
table = "identities"

[identities.columns]
anonymous_id = "anonymous_id"
email = "email"
identified_at = "identified_at"
"""

SEGMENT_TOML = """\
# Segment and RudderStack warehouses: `pages` and `tracks` are the events (UNION ALL), and
# `identifies` links anonymous ids and user ids to the email in the identify call's traits.
# Events without an anonymous id (server-side calls) are stitched through their user_id.
# Segment creates a column once some call carries it, so the optional ones read as null
# until then. Set `schema` to the source's schema (e.g. schema = "website_prod").
name = "segment"

[[events]]
table = "pages"

[events.columns]
event_id = "id"
occurred_at = "timestamp"
anonymous_id = ["anonymous_id", "user_id"]
event_type = { value = "page_view" }
page_url = { columns = ["url", "path"], optional = true }
referrer = { column = "referrer", optional = true }
utm_source = { column = "context_campaign_source", optional = true }
utm_medium = { column = "context_campaign_medium", optional = true }
utm_campaign = { column = "context_campaign_name", optional = true }
utm_content = { column = "context_campaign_content", optional = true }
utm_term = { column = "context_campaign_term", optional = true }

[[events]]
table = "tracks"

[events.columns]
event_id = "id"
occurred_at = "timestamp"
anonymous_id = ["anonymous_id", "user_id"]
event_type = "event"
page_url = { column = "context_page_url", optional = true }
referrer = { column = "context_page_referrer", optional = true }
utm_source = { column = "context_campaign_source", optional = true }
utm_medium = { column = "context_campaign_medium", optional = true }
utm_campaign = { column = "context_campaign_name", optional = true }
utm_content = { column = "context_campaign_content", optional = true }
utm_term = { column = "context_campaign_term", optional = true }

[[identities]]
table = "identifies"

[identities.columns]
anonymous_id = "anonymous_id"
email = { columns = ["email", "context_traits_email"], optional = true }
identified_at = "timestamp"

[[identities]]
table = "identifies"

[identities.columns]
anonymous_id = "user_id"
email = { columns = ["email", "context_traits_email"], optional = true }
identified_at = "timestamp"
"""

SNOWPLOW_TOML = """\
# Snowplow `atomic.events`: the cookie id domain_userid is the anonymous id and the
# identifier column (user_id, as set by setUserId) plays the role of the email; any
# non-blank user_id identifies a person, whether or not it is an email address. Switch
# occurred_at to "derived_tstamp" for device-corrected times.
name = "snowplow"
schema = "atomic"
identifier = "id"  # user_id need not be an email; set "email" if it always is

[events]
table = "events"

[events.columns]
event_id = "event_id"
occurred_at = "collector_tstamp"
anonymous_id = "domain_userid"
email = "user_id"
event_type = { columns = ["event_name", "event"], optional = true }
page_url = "page_url"
referrer = "page_referrer"
utm_source = "mkt_source"
utm_medium = "mkt_medium"
utm_campaign = "mkt_campaign"
utm_content = "mkt_content"
utm_term = "mkt_term"
revenue = "tr_total"
"""

PRESETS: Mapping[str, str] = MappingProxyType(
    {"canonical": CANONICAL_TOML, "segment": SEGMENT_TOML, "snowplow": SNOWPLOW_TOML}
)
"""Preset name -> mapping file text."""
