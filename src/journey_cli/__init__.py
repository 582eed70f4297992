"""The ``journey`` command: build the demo, export journeys, serve the API, hash a password.

It sits above the core and the API (it may start either); nothing below imports it.
"""

from journey_cli.commands import main

__all__ = ["main"]
