"""Analytics: what the pages show, computed from journey rows.

One definition of a visit, a touch and a conversion serves every page:
:mod:`~journey_core.analytics.sessions` defines them,
:mod:`~journey_core.analytics.channels` names each touch's channel,
:mod:`~journey_core.analytics.campaign` gives the campaign and recent-activity figures, and
:mod:`~journey_core.analytics.attribution` credits conversions to the touches before them, and
:mod:`~journey_core.analytics.person` reads one person's visits newest first.
"""

from journey_core.analytics import attribution, campaign, channels, person, sessions

__all__ = ["attribution", "campaign", "channels", "person", "sessions"]
