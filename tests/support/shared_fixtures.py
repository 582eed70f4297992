"""Where the shared third-party fixtures live (``../shared/fixtures`` beside the repo).

Order: ``$JOURNEY_FIXTURES``, ``<repo>/../shared/fixtures``, ``/work/shared/fixtures``.
Each fixture folder keeps its upstream licence file; read the data in place.
"""

from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]


def fixtures_dir() -> Path:
    """The shared fixtures directory (it may not exist; tests then fail loudly)."""
    env = os.environ.get("JOURNEY_FIXTURES")
    if env:
        return Path(env)
    beside = _REPO.parent / "shared" / "fixtures"
    return beside if beside.is_dir() else Path("/work/shared/fixtures")
