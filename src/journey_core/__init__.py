"""Journey Explorer's core: identity stitching and the journey retrieval rules.

Pure Polars rules (:mod:`journey_core.rules`), validated queries (:mod:`journey_core.rules.query`)
and warehouse reads pushed down through SQLAlchemy Core (:mod:`journey_core.warehouse`).
This package never imports Streamlit.
"""

from journey_core.errors import ConfigError, InputError, JourneyError, WarehouseError
from journey_core.rules.query import JourneyQuery, Rule

__all__ = [
    "ConfigError",
    "InputError",
    "JourneyError",
    "JourneyQuery",
    "Rule",
    "WarehouseError",
]
__version__ = "0.1.0"
