"""Typed errors. The CLI, API and dashboard turn them into one clear message each."""

from __future__ import annotations


class JourneyError(Exception):
    """Base class of every error the product reports to a user."""


class InputError(JourneyError, ValueError):
    """A user-supplied value is malformed; ``field`` names the parameter to fix.

    >>> str(InputError("email", "'x' is not an email address; use name@example.com."))
    "email: 'x' is not an email address; use name@example.com."
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.detail = message
        super().__init__(f"{field}: {message}")


class WarehouseError(JourneyError):
    """The warehouse cannot be reached or does not have the expected tables and columns."""


class ConfigError(JourneyError):
    """A configuration file or setting is invalid."""
