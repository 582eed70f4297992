"""Presets against real warehouse column names from upstream packages (vendored fixtures)."""

from __future__ import annotations

import polars as pl

from journey_core.warehouse.mapping import load_mapping
from tests.support.fixtures import fixture_dir


def test_segment_preset_reads_only_columns_of_a_real_segment_pages_table() -> None:
    # dbt-labs/segment's example row of the `pages` table a Segment warehouse holds.
    header = pl.read_csv(
        fixture_dir("dbt-labs-segment") / "example_segment_pages.csv", n_rows=0
    ).columns
    (pages,) = (t for t in load_mapping("segment").events if t.table == "pages")
    wanted = {name for spec in pages.columns.values() for name in spec.columns}
    assert wanted, "the pages table maps no columns"
    assert sorted(wanted - set(header)) == []
