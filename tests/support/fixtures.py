"""Third-party test data vendored under ``tests/fixtures/`` (Apache-2.0, licences beside it).

Each folder keeps its upstream licence file; see ``tests/fixtures/README.md`` for provenance.
Tests read these files only from here, never from outside the repository.

>>> fixture_dir("dbt-snowplow-web").name
'dbt-snowplow-web'
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["FIXTURES", "fixture_dir"]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture_dir(name: str) -> Path:
    """The vendored folder ``tests/fixtures/<name>``; fails loudly without its licence."""
    path = FIXTURES / name
    if not any(path.glob("LICENSE*")):
        msg = f"vendored fixture {path} is missing or has no LICENSE file"
        raise FileNotFoundError(msg)
    return path
