"""The rules: identity links, known individuals, stitching and the three windows, in pure Polars.

This layer is the specification of "Get Customer Journey Details" and the oracle every other
route is tested against. Nothing here reads a clock, the environment or a database: each
function takes LazyFrames and an explicit :class:`JourneyQuery` (with its ``as_of``).
:mod:`~journey_core.rules.query` validates inputs, :mod:`~journey_core.rules.identity` links
anonymous ids to emails, :mod:`~journey_core.rules.windows` picks each rule's rows.
"""

from journey_core.rules.identity import (
    EVENT_SCHEMA,
    IDENTITY_SCHEMA,
    LINK_SCHEMA,
    RESULT_SCHEMA,
    TS,
    anonymous_owners,
    build_links,
    conform_events,
    conform_identities,
    known_individuals,
    normalized_email,
    stitch,
    stitch_owners,
)
from journey_core.rules.query import JourneyQuery, Rule
from journey_core.rules.windows import admitted, before_known, journeys

__all__ = [
    "EVENT_SCHEMA",
    "IDENTITY_SCHEMA",
    "LINK_SCHEMA",
    "RESULT_SCHEMA",
    "TS",
    "JourneyQuery",
    "Rule",
    "admitted",
    "anonymous_owners",
    "before_known",
    "build_links",
    "conform_events",
    "conform_identities",
    "journeys",
    "known_individuals",
    "normalized_email",
    "stitch",
    "stitch_owners",
]
