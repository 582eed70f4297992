"""Memory stays bounded: every Streamlit cache in the dashboard has max_entries (and a ttl)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(ROOT / "src" / "journey_ui").glob("*.py"), *(ROOT / "app_pages").glob("*.py")])


def caches() -> list[tuple[str, str, set[str]]]:
    """(function, st.cache_data | st.cache_resource, keyword names) for each cached function."""
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                call = deco if isinstance(deco, ast.Call) else None
                target = call.func if call else deco
                if isinstance(target, ast.Attribute) and target.attr.startswith("cache_"):
                    keywords = {k.arg for k in call.keywords if k.arg} if call else set()
                    found.append((f"{path.name}:{node.name}", target.attr, keywords))
    return found


def test_there_are_caches() -> None:
    assert len(caches()) >= 8


@pytest.mark.parametrize(("name", "kind", "keywords"), caches(), ids=lambda v: str(v))
def test_cache_is_bounded(name: str, kind: str, keywords: set[str]) -> None:
    assert "max_entries" in keywords, name
    if kind == "cache_data":
        assert "ttl" in keywords, name
