"""The README and the documentation site agree with each other and with the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from journey_core.config import Settings
from journey_core.rules.query import Rule

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MKDOCS = ROOT / "mkdocs.yml"


def nav_pages() -> list[str]:
    """The pages of mkdocs.yml's nav (read as text: the file holds a !!python/name tag)."""
    text = MKDOCS.read_text(encoding="utf-8")
    nav = text.split("\nnav:\n", 1)[1]
    return re.findall(r"^\s+- [^:\n]+: (\S+\.md)\s*$", nav, flags=re.MULTILINE)


def readme_section(name: str) -> str:
    """A section the docs include from the README with ``--8<-- "README.md:name"``."""
    text = README.read_text(encoding="utf-8")
    match = re.search(
        rf"<!-- --8<-- \[start:{name}\] -->\n(.*?)<!-- --8<-- \[end:{name}\] -->",
        text,
        flags=re.DOTALL,
    )
    assert match, f"README.md has no section {name!r}"
    return match.group(1)


def test_nav_pages_exist() -> None:
    pages = nav_pages()
    assert len(pages) == len(set(pages))
    missing = [p for p in pages if not (DOCS / p).is_file()]
    assert missing == []


def test_every_docs_page_is_in_the_nav() -> None:
    on_disk = {p.name for p in DOCS.glob("*.md")}
    assert on_disk <= set(nav_pages())


def test_readme_links_every_page_of_the_nav() -> None:
    linked = re.findall(r"\]\(docs/(\S+?\.md)\)", README.read_text(encoding="utf-8"))
    assert set(linked) == set(nav_pages()) - {"index.md"}


@pytest.mark.parametrize(
    ("page", "section"),
    [
        pytest.param("index.md", "intro", id="overview: intro"),
        pytest.param("index.md", "quick-start", id="overview: quick start"),
        pytest.param("rules.md", "rules", id="rules"),
        pytest.param("rules.md", "worked-example", id="worked example"),
    ],
)
def test_docs_include_the_readme_sections(page: str, section: str) -> None:
    assert readme_section(section).strip()
    assert f'--8<-- "README.md:{section}"' in (DOCS / page).read_text(encoding="utf-8")


def test_rules_table_names_every_rule() -> None:
    table = [line for line in readme_section("rules").splitlines() if line.startswith("|")]
    header, _, *rows = (line.split("|")[2].strip() for line in table)
    assert header == "rule"
    assert sorted(rows) == sorted(rule.value for rule in Rule)


def test_rules_table_windows_are_the_default_settings() -> None:
    settings = Settings.from_env({})
    table = readme_section("rules")
    assert f"as_of - {settings.lookback_days:g}d" in table
    assert f"as_of - {settings.recent_hours:g}h" in table


def test_worked_example_names_its_test() -> None:
    text = readme_section("worked-example")
    path, name = re.findall(r"`(tests/\S+\.py)::(\w+)`", text)[0]
    assert re.search(rf"^def {name}\(", (ROOT / path).read_text(encoding="utf-8"), re.MULTILINE)


def tree_paths(heading: str) -> set[str]:
    """The file paths drawn in the ``text`` block under ``heading`` of docs/architecture.md.

    Each line is ``name   description``; four spaces of indentation per folder level; a name
    ending in ``/`` is a folder; a line indented to the description column continues the one
    above.
    """
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    block = text.split(f"## {heading}\n", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    paths: set[str] = set()
    folders: list[str] = []
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        if not line.strip() or indent >= 32:
            continue
        name = line.split()[0]
        level = indent // 4
        folders = folders[:level]
        if name.endswith("/"):
            folders.append(name)
        else:
            paths.add("".join(folders) + name)
    return paths


def test_the_architecture_page_draws_the_source_tree() -> None:
    """Every module in the repository is on the architecture page, and nothing else is."""
    drawn = {p for p in tree_paths("The source tree") if p.endswith(".py")}
    actual = {
        p.relative_to(ROOT).as_posix()
        for p in [ROOT / "app.py", *(ROOT / "app_pages").glob("*.py"), *ROOT.glob("src/**/*.py")]
    }
    assert drawn - actual == set(), "drawn on docs/architecture.md but not in the repository"
    modules = {p for p in actual if not p.endswith("__init__.py")}
    assert modules - drawn == set(), "in the repository but not on docs/architecture.md"
