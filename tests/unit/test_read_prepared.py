"""read_prepared: a statement built and compiled once per key, run with new values."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from journey_core.warehouse import create_engine
from journey_core.warehouse.read import read_frame, read_prepared

PEOPLE = sa.table("people", sa.column("id", sa.String()), sa.column("name", sa.String()))


@pytest.fixture(params=["duckdb", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = f"{request.param}:///{tmp_path / f'p.{request.param}'}"
    _write_people(url)
    return url


def _write_people(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE people (id VARCHAR, name VARCHAR)"))
        conn.execute(sa.text("INSERT INTO people VALUES ('a', 'Ann'), ('b', 'Ben'), ('c', 'Cy')"))
    engine.dispose()


def _by_ids(values: Mapping[str, Any]) -> sa.Select[Any]:
    listed: sa.BindParameter[list[str]] = sa.bindparam("ids", list(values["ids"]), expanding=True)
    return sa.select(PEOPLE.c.id, PEOPLE.c.name).where(PEOPLE.c.id.in_(listed)).order_by("id")


@pytest.mark.parametrize(
    "ids",
    [
        pytest.param(["a"], id="one"),
        pytest.param(["c", "a"], id="two"),
        pytest.param(["z"], id="none"),
    ],
)
def test_same_rows_as_read_frame(url: str, ids: list[str]) -> None:
    engine = create_engine(url)
    schema: dict[str, pl.DataType] = {"id": pl.String(), "name": pl.String()}
    with engine.connect() as conn:
        # The first read compiles (with other values); this one only binds its own.
        read_prepared(conn, ("people", url), _by_ids, {"ids": ["b", "c", "a"]}, schema)
        got = read_prepared(conn, ("people", url), _by_ids, {"ids": ids}, schema)
        expected = read_frame(conn, _by_ids({"ids": ids}), schema)
    engine.dispose()
    assert_frame_equal(got, expected)
    assert got.height == len(set(ids) - {"z"})


def test_duckdb_builds_once_per_key(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'p.duckdb'}"
    _write_people(url)
    engine = create_engine(url)
    built: list[Mapping[str, Any]] = []

    def build(values: Mapping[str, Any]) -> sa.Select[Any]:
        built.append(values)
        return _by_ids(values)

    with engine.connect() as conn:
        names = [
            read_prepared(conn, ("once", url), build, {"ids": ids}, {})["name"].to_list()
            for ids in (["a"], ["b"], ["a", "b"])
        ]
    engine.dispose()
    assert names == [["Ann"], ["Ben"], ["Ann", "Ben"]]
    assert len(built) == 1
