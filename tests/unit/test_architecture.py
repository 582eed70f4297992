"""Import contracts of the layers, checked with ``ast`` over ``src/``.

- ``journey_core`` imports neither ``journey_ui``, ``journey_api`` nor ``journey_cli``;
- only ``journey_core/warehouse/`` imports SQLAlchemy (or a database driver) or writes SQL;
- only ``journey_core/config.py`` reads the environment (``os.environ``, ``os.getenv``);
- the pure rules (``journey_core/rules/``) import no SQLAlchemy and read no clock;
- only ``journey_ui`` imports Streamlit and Plotly;
- no Python function runs inside Polars (``map_elements``, ``map_batches``...) but in
  ``channel_expr``, a documented helper no page, API route or command calls: Streamlit runs
  each session in a thread, and Polars deadlocked the dashboard when one ran a Python function
  on its thread pool while another converted a frame to pandas
  (tests/integration/test_threads.py).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

SQL_MODULES = ("sqlalchemy", "duckdb", "psycopg", "psycopg2", "sqlite3", "pyhive")
CLOCK_CALLS = ("now", "utcnow", "today")
TIME_CALLS = ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter")
# A SELECT/INSERT/... statement written as text, keywords in capitals as SQL is written
# ("Select a date from the picker" is prose).
SQL_TEXT = re.compile(
    r"^\s*(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE|"
    r"DROP\s+TABLE|WITH\s+\w+\s+AS\s*\()",
    re.DOTALL,
)


# io/demo.py still writes the demo tables with SQLAlchemy; the warehouse engineer moves that
# writer under journey_core/warehouse/. Drop this exception once that move is merged.
@dataclass(frozen=True)
class Module:
    """One source file: its path relative to ``src/`` and its syntax tree."""

    path: str
    tree: ast.Module

    @classmethod
    def parse(cls, path: str, source: str) -> Module:
        return cls(path, ast.parse(source, filename=path))


def modules() -> list[Module]:
    return [
        Module.parse(p.relative_to(SRC).as_posix(), p.read_text(encoding="utf-8"))
        for p in sorted(SRC.rglob("*.py"))
    ]


def imported(module: Module) -> Iterator[str]:
    """Every module name an ``import`` or ``from ... import`` names (absolute imports)."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def imports_any(module: Module, roots: tuple[str, ...]) -> list[str]:
    return sorted({name for name in imported(module) if any(_under(name, root) for root in roots)})


def _under(name: str, root: str) -> bool:
    return name == root or name.startswith(f"{root}.")


def environment_reads(module: Module) -> list[int]:
    """Lines that touch ``os.environ``/``os.getenv``/``os.putenv`` or import them from os."""
    names = {"environ", "environb", "getenv", "putenv"}
    return [
        node.lineno
        for node in ast.walk(module.tree)
        if (isinstance(node, ast.Attribute) and node.attr in names)
        or (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in names for alias in node.names)
        )
    ]


def _reads_clock(node: ast.AST) -> bool:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        receiver = node.func.value
        return node.func.attr in CLOCK_CALLS or (
            node.func.attr in TIME_CALLS
            and isinstance(receiver, ast.Name)
            and receiver.id == "time"
        )
    if isinstance(node, ast.Import):
        return any(alias.name == "time" for alias in node.names)
    return isinstance(node, ast.ImportFrom) and node.module == "time"


def clock_reads(module: Module) -> list[int]:
    """Lines calling ``x.now()``, ``x.today()``, ``time.time()``... or importing ``time``."""
    return [
        node.lineno
        for node in ast.walk(module.tree)
        if isinstance(node, ast.stmt | ast.expr) and _reads_clock(node)
    ]


def sql_text(module: Module) -> list[int]:
    """Lines of string constants (docstrings aside) that read as SQL statements."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.lineno
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and SQL_TEXT.match(node.value)
    ]


#: Polars methods, and ``pl.`` functions, that call a Python function from Polars' own
#: thread pool.
POLARS_UDFS = ("map_elements", "map_batches", "map_groups", "map_rows")
POLARS_FOLDS = ("fold", "reduce", "cum_fold", "cum_reduce")


def polars_udfs(module: Module) -> list[tuple[str, int]]:
    """``(enclosing function, line)`` of each call of a :data:`POLARS_UDFS` method or a
    :data:`POLARS_FOLDS` function of ``pl``."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef) else function
            call = child.func if isinstance(child, ast.Call) else None
            if isinstance(call, ast.Attribute) and (
                call.attr in POLARS_UDFS
                or (
                    call.attr in POLARS_FOLDS
                    and isinstance(call.value, ast.Name)
                    and call.value.id == "pl"
                )
            ):
                found.append((function, call.lineno))
            visit(child, inner)

    visit(module.tree, "")
    return found


def in_package(module: Module, package: str) -> bool:
    return module.path.startswith(f"{package}/")


# --------------------------------------------------------------------------- the contracts

ALL = modules()


def test_the_source_tree_is_found() -> None:
    paths = {m.path for m in ALL}
    assert {"journey_core/config.py", "journey_api/app.py", "journey_ui/shell.py"} <= paths


def test_core_imports_no_outer_layer() -> None:
    found = {
        m.path: names
        for m in ALL
        if in_package(m, "journey_core")
        and (names := imports_any(m, ("journey_ui", "journey_api", "journey_cli")))
    }
    assert found == {}


def test_only_the_warehouse_layer_speaks_sql() -> None:
    found = {
        m.path: [*imports_any(m, SQL_MODULES), *map(str, sql_text(m))]
        for m in ALL
        if not in_package(m, "journey_core/warehouse")
        and (imports_any(m, SQL_MODULES) or sql_text(m))
    }
    assert found == {}


def test_only_config_reads_the_environment() -> None:
    found = {
        m.path: lines
        for m in ALL
        if m.path != "journey_core/config.py" and (lines := environment_reads(m))
    }
    assert found == {}


def test_the_rules_are_pure() -> None:
    found = {
        m.path: [*imports_any(m, SQL_MODULES), *map(str, clock_reads(m))]
        for m in ALL
        if in_package(m, "journey_core/rules") and (imports_any(m, SQL_MODULES) or clock_reads(m))
    }
    assert found == {}


#: The one allowed: a public helper for notebooks, which no page, route or command calls.
CHANNEL_EXPR = ("journey_core/analytics/channels.py", "channel_expr")


def test_no_python_function_runs_inside_polars() -> None:
    found = {
        m.path: [f"{function}:{line}" for function, line in udfs]
        for m in ALL
        if (udfs := [u for u in polars_udfs(m) if (m.path, u[0]) != CHANNEL_EXPR])
    }
    assert found == {}


@pytest.mark.parametrize("library", ["streamlit", "plotly"])
def test_only_the_ui_imports(library: str) -> None:
    found = {
        m.path: names
        for m in ALL
        if not in_package(m, "journey_ui") and (names := imports_any(m, (library,)))
    }
    assert found == {}


# --------------------------------------------------------------------------- the checkers


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("import sqlalchemy as sa", ["sqlalchemy"], id="import"),
        pytest.param(
            "from sqlalchemy.engine import Engine",
            ["sqlalchemy.engine", "sqlalchemy.engine.Engine"],
            id="from",
        ),
        pytest.param("import sqlalchemy_utils", [], id="lookalike"),
        pytest.param("from . import sqlalchemy", [], id="relative"),
    ],
)
def test_imports_any(source: str, expected: list[str]) -> None:
    assert imports_any(Module.parse("m.py", source), ("sqlalchemy",)) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("import os\nx = os.environ['A']", [2], id="environ"),
        pytest.param("import os\nx = os.getenv('A')", [2], id="getenv"),
        pytest.param("from os import environ", [1], id="from-os"),
        pytest.param("import os\nx = os.getpid()", [], id="other"),
    ],
)
def test_environment_reads(source: str, expected: list[int]) -> None:
    assert environment_reads(Module.parse("m.py", source)) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("import datetime as dt\nx = dt.datetime.now(dt.UTC)", [2], id="now"),
        pytest.param("import datetime as dt\nx = dt.date.today()", [2], id="today"),
        pytest.param("import time\nx = time.monotonic()", [1, 2], id="time"),
        pytest.param("import datetime as dt\nx = dt.time(0)", [], id="time-of-day"),
        pytest.param('def f():\n    """>>> dt.datetime.now()"""', [], id="doctest"),
    ],
)
def test_clock_reads(source: str, expected: list[int]) -> None:
    assert clock_reads(Module.parse("m.py", source)) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("x = pl.col('a').map_elements(str)", [("", 1)], id="module"),
        pytest.param("def f():\n    return e.map_batches(g)", [("f", 2)], id="function"),
        pytest.param("def f():\n    return df.map_rows(g)", [("f", 2)], id="rows"),
        pytest.param("y = pl.fold(pl.lit(0), lambda a, b: a + b, [])", [("", 1)], id="fold"),
        pytest.param("y = functools.reduce(f, xs)", [], id="functools"),
        pytest.param("y = frame.select(pl.col('a').map_dict({}))", [], id="not-a-udf"),
    ],
)
def test_polars_udfs(source: str, expected: list[tuple[str, int]]) -> None:
    assert polars_udfs(Module.parse("m.py", source)) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("q = 'SELECT email FROM events'", [1], id="select"),
        pytest.param("q = f'SELECT * FROM {t}'", [1], id="f-string"),
        pytest.param("q = 'INSERT INTO events VALUES (1)'", [1], id="insert"),
        pytest.param('"""SELECT a FROM b is how the docs put it."""', [], id="docstring"),
        pytest.param("label = 'Select a date from the picker'", [], id="prose"),
    ],
)
def test_sql_text(source: str, expected: list[int]) -> None:
    assert sql_text(Module.parse("m.py", source)) == expected
