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


def unreadable(exc: OSError | UnicodeDecodeError) -> str:
    """Why a configuration file could not be read, in a few words.

    >>> unreadable(FileNotFoundError(2, "No such file or directory"))
    'No such file or directory'
    >>> unreadable(UnicodeDecodeError("utf-8", bytes([255]), 0, 1, "invalid start byte"))
    'not UTF-8 text'
    """
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(exc.strerror or exc)
