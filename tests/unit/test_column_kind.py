"""Reflected column types map to the kinds a mapping needs, third-party dialects included."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from pyhive.sqlalchemy_hive import HiveDate, HiveDecimal, HiveTimestamp

from journey_core.warehouse.mapping import Kind, column_kind


@pytest.mark.parametrize(
    ("type_", "kind"),
    [
        pytest.param(sa.TIMESTAMP(), Kind.TIMESTAMP, id="timestamp"),
        pytest.param(sa.Date(), Kind.TIMESTAMP, id="date"),
        pytest.param(sa.Float(), Kind.NUMBER, id="float"),
        pytest.param(sa.String(), Kind.TEXT, id="text"),
        pytest.param(sa.types.NullType(), None, id="untyped"),
        pytest.param(sa.Boolean(), "BOOLEAN", id="boolean-is-named"),
        pytest.param(HiveTimestamp(), Kind.TIMESTAMP, id="spark-timestamp"),
        pytest.param(HiveDate(), Kind.TIMESTAMP, id="spark-date"),
        pytest.param(HiveDecimal(), Kind.NUMBER, id="spark-decimal"),
    ],
)
def test_column_kind(type_: sa.types.TypeEngine[Any], kind: Kind | str | None) -> None:
    assert column_kind(type_) == kind
