"""Input and output around the rules: exports (CSV, JSON, Parquet), privacy and the demo data.

:mod:`~journey_core.io.export` writes results safely for spreadsheets,
:mod:`~journey_core.io.privacy` masks and fingerprints emails, and
:mod:`~journey_core.io.demo` generates the seeded demo warehouse.
"""

from journey_core.io import export, privacy

__all__ = ["export", "privacy"]
