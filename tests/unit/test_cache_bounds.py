"""Memory stays bounded: every Streamlit cache in the dashboard has max_entries (and a ttl);
the heavy loaders share one cache bounded by bytes (journey_ui.cache.ByteCache)."""

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


def byte_cached() -> list[str]:
    """The loaders kept in ``journey_ui.data.CACHE`` (decorated with ``@_cached``)."""
    return [
        f"{path.name}:{node.name}"
        for path in SOURCES
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(d, ast.Name) and d.id == "_cached" for d in node.decorator_list)
    ]


def test_there_are_caches() -> None:
    assert len(caches()) + len(byte_cached()) >= 8


def test_heavy_loaders_are_bounded_by_bytes() -> None:
    from journey_ui import data

    assert {"data.py:rows", "data.py:attribution", "data.py:campaign"} <= set(byte_cached())
    assert 0 < data.CACHE.max_bytes < 2**40
    assert data.CACHE.ttl_seconds == data.TTL.total_seconds()


@pytest.mark.parametrize(("name", "kind", "keywords"), caches(), ids=lambda v: str(v))
def test_cache_is_bounded(name: str, kind: str, keywords: set[str]) -> None:
    assert "max_entries" in keywords, name
    if kind == "cache_data":
        assert "ttl" in keywords, name
