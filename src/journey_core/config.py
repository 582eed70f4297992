"""Settings from the environment, shared by the CLI, the API and the dashboard."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from journey_core.errors import ConfigError
from journey_core.rules.query import DEFAULT_TIMEZONE, parse_timezone
from journey_core.warehouse import ENV_URL, default_url
from journey_core.warehouse.mapping import ENV_MAPPING

ENV_TIMEZONE = "JOURNEY_TIMEZONE"
ENV_LOOKBACK_DAYS = "JOURNEY_LOOKBACK_DAYS"
ENV_RECENT_HOURS = "JOURNEY_RECENT_HOURS"
ENV_MASK_PII = "JOURNEY_MASK_PII"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the warehouse is and how the rules are tuned.

    >>> Settings.from_env({"JOURNEY_LOOKBACK_DAYS": "30"}).lookback_days
    30.0
    """

    database_url: str
    timezone: str = DEFAULT_TIMEZONE
    lookback_days: float = 90.0
    recent_hours: float = 24.0
    url_from_user: bool = False
    mapping: str = "canonical"
    """A preset name (canonical, segment, snowplow) or a mapping TOML path."""
    mask_pii: bool = False
    """Show emails masked (``j***@example.com``) in pages, CSV downloads and API responses."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``JOURNEY_*`` variables; anything unset takes its default."""
        env = os.environ if env is None else env
        tz = env.get(ENV_TIMEZONE) or DEFAULT_TIMEZONE
        try:
            parse_timezone(tz)
        except ValueError as exc:
            msg = f"{ENV_TIMEZONE}: {exc}"
            raise ConfigError(msg) from None
        url = env.get(ENV_URL)
        return cls(
            database_url=url or default_url(),
            timezone=tz,
            lookback_days=_positive(env, ENV_LOOKBACK_DAYS, 90.0),
            recent_hours=_positive(env, ENV_RECENT_HOURS, 24.0),
            url_from_user=bool(url),
            mapping=(env.get(ENV_MAPPING) or "").strip() or "canonical",
            mask_pii=_flag(env, ENV_MASK_PII),
        )


def _flag(env: Mapping[str, str], key: str) -> bool:
    raw = (env.get(key) or "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    msg = f"{key}={raw!r} is not a yes/no setting; use 1 to turn it on or 0 to turn it off."
    raise ConfigError(msg)


def _positive(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        msg = f"{key}={raw!r} is not a positive number; unset it or use e.g. {default:g}."
        raise ConfigError(msg)
    return value
