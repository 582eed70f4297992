"""Schema mappings: the TOML format, the presets, fitting to a warehouse, and the CLI flag."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import journey_cli.commands as cli
from journey_core import columns as c
from journey_core.config import Settings
from journey_core.errors import ConfigError, InputError, WarehouseError
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys, verify_schema
from journey_core.warehouse.mapping import (
    CANONICAL,
    EVENT_TYPES,
    IDENTITY_TYPES,
    ColumnSpec,
    TableMapping,
    load_mapping,
    parse_mapping,
)
from journey_core.warehouse.presets import PRESETS
from tests.support.scenario import END, load, queries, scenario

DOCS = Path(__file__).resolve().parents[2] / "docs" / "warehouses.md"

HITS: dict[str, Any] = {
    "events": {
        "table": "hits",
        "columns": {"event_id": "id", "occurred_at": "ts", "anonymous_id": "cookie"},
    }
}


# --------------------------------------------------------------------- presets


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_speak_canonical_columns(name: str) -> None:
    mapping = load_mapping(name)
    assert mapping.name == name
    assert mapping.events_source().c.keys() == list(EVENT_TYPES)
    ids = mapping.identities_source()
    assert ids is None or ids.c.keys() == list(IDENTITY_TYPES)


def test_canonical_preset_is_the_default_mapping() -> None:
    assert load_mapping("canonical") == CANONICAL
    assert load_mapping(None) is CANONICAL
    assert load_mapping("  ") is CANONICAL


def test_segment_preset_shape() -> None:
    seg = load_mapping("Segment")
    assert [t.table for t in seg.events] == ["pages", "tracks"]
    assert [t.columns[c.ANONYMOUS_ID].columns for t in seg.identities] == [
        ("anonymous_id",),
        ("user_id",),
    ]
    assert seg.events[0].columns[c.EVENT_TYPE] == ColumnSpec(value="page_view")


def test_snowplow_preset_shape() -> None:
    sp = load_mapping("snowplow")
    (events,) = sp.events
    assert events.qualified() == "atomic.events"
    assert sp.identities == ()
    assert {role: spec.columns for role, spec in events.columns.items()} == {
        c.EVENT_ID: ("event_id",),
        c.OCCURRED_AT: ("collector_tstamp",),
        c.ANONYMOUS_ID: ("domain_userid",),
        c.EMAIL: ("user_id",),
        c.EVENT_TYPE: ("event_name", "event"),
        c.PAGE_URL: ("page_url",),
        c.REFERRER: ("page_referrer",),
        c.UTM_SOURCE: ("mkt_source",),
        c.UTM_MEDIUM: ("mkt_medium",),
        c.UTM_CAMPAIGN: ("mkt_campaign",),
        c.UTM_CONTENT: ("mkt_content",),
        c.UTM_TERM: ("mkt_term",),
        c.REVENUE: ("tr_total",),
    }


def test_preset_overrides_merge_by_table() -> None:
    mapping = parse_mapping(
        {
            "preset": "snowplow",
            "schema": "rt_pipeline",
            "events": {"table": "events", "columns": {"occurred_at": "derived_tstamp"}},
        }
    )
    (events,) = mapping.events
    assert events.qualified() == "rt_pipeline.events"
    assert events.columns[c.OCCURRED_AT].columns == ("derived_tstamp",)
    assert events.columns[c.ANONYMOUS_ID].columns == ("domain_userid",)
    seg = parse_mapping(
        {
            "preset": "segment",
            "identities": [{"table": "identifies", "columns": {"email": "context_traits_email"}}],
        }
    )
    assert {t.columns[c.EMAIL].columns for t in seg.identities} == {("context_traits_email",)}
    assert parse_mapping({"preset": "canonical", "identities": []}).identities == ()


def test_identifier_kind() -> None:
    assert CANONICAL.identifier == "email"
    assert load_mapping("snowplow").identifier == "id"
    assert parse_mapping({"preset": "snowplow", "identifier": "email"}).identifier == "email"
    with pytest.raises(ConfigError, match='identifier: must be "email" or "id"'):
        parse_mapping({**HITS, "identifier": "user"})
    with pytest.raises(InputError) as info:
        CANONICAL.parse_identifier("long session")
    assert info.value.field == "email"
    assert load_mapping("snowplow").parse_identifier(" U-42 ") == "u-42"
    assert load_mapping("snowplow").parse_identifier("  ") is None
    with pytest.raises(InputError, match="not a valid user id"):
        load_mapping("snowplow").parse_identifier("x" * 300)


# ---------------------------------------------------------------------- format


def test_full_mapping_without_preset() -> None:
    mapping = parse_mapping(
        tomllib.loads(
            """
            name = "shop"
            schema = "analytics"

            [[events]]
            table = "web_hits"
            [events.columns]
            event_id = "hit_id"
            occurred_at = { column = "hit_time", cast = true }
            anonymous_id = ["cookie_id", "device_id"]
            event_type = { value = "page_view" }
            revenue = { value = 0 }

            [[events]]
            table = "orders"
            schema = "sales"
            [events.columns]
            event_id = "order_id"
            occurred_at = "ordered_at"
            email = "customer_email"
            event_type = { value = "purchase" }
            revenue = "total"
            """
        ),
        origin="shop.toml",
    )
    hits, orders = mapping.events
    assert (mapping.name, hits.qualified(), orders.qualified()) == (
        "shop",
        "analytics.web_hits",
        "sales.orders",
    )
    assert (hits.key, orders.key) == ("events[0]", "events[1]")
    assert hits.columns[c.OCCURRED_AT] == ColumnSpec(("hit_time",), cast=True)
    assert hits.columns[c.ANONYMOUS_ID].columns == ("cookie_id", "device_id")
    assert mapping.identities_source() is None
    sql = str(sa.select(mapping.events_source()).compile())
    assert "coalesce(analytics.web_hits.cookie_id, analytics.web_hits.device_id)" in sql
    assert "CAST(analytics.web_hits.hit_time AS DATETIME)" in sql
    assert "UNION ALL" in sql


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"evnts": {}}, "m.toml: evnts: unknown setting", id="unknown-top-key"),
        pytest.param({}, "m.toml: events: missing", id="no-events"),
        pytest.param(
            {"events": {"table": "hits", "columns": {"event_id": "id", "when": "ts"}}},
            "'when' is not a canonical column here",
            id="unknown-canonical",
        ),
        pytest.param(
            {"events": {"table": "hits", "columns": {"occurred_at": "ts", "email": "e"}}},
            "m.toml: events.columns.event_id: map event_id to a column of table 'hits'",
            id="missing-event-id",
        ),
        pytest.param(
            {"events": {"table": "hits", "columns": {"event_id": "id", "occurred_at": "ts"}}},
            "needs anonymous_id or email (or both) mapped",
            id="no-identity",
        ),
        pytest.param(
            {**HITS, "identities": {"table": "ids", "columns": {"email": "e"}}},
            "identities.columns.anonymous_id: map anonymous_id",
            id="identities-incomplete",
        ),
        pytest.param(
            {
                "events": {
                    **HITS["events"],
                    "columns": {**HITS["events"]["columns"], "email": {"value": "x"}},
                }
            },
            "email cannot be a constant",
            id="constant-email",
        ),
        pytest.param(
            {
                "events": {
                    **HITS["events"],
                    "columns": {**HITS["events"]["columns"], "revenue": {"value": "9"}},
                }
            },
            "value must be a number",
            id="text-revenue-constant",
        ),
        pytest.param(
            {"events": {**HITS["events"], "columns": {**HITS["events"]["columns"], "page_url": 3}}},
            "events.columns.page_url: must be a column name",
            id="number-as-column",
        ),
        pytest.param(
            {
                "events": {
                    **HITS["events"],
                    "columns": {**HITS["events"]["columns"], "page_url": []},
                }
            },
            "must name at least one column",
            id="empty-list",
        ),
        pytest.param(
            {
                "events": {
                    **HITS["events"],
                    "columns": {
                        **HITS["events"]["columns"],
                        "page_url": {"column": "u", "cast": "yes"},
                    },
                }
            },
            "events.columns.page_url.cast: must be true or false",
            id="cast-not-bool",
        ),
        pytest.param(
            {"events": {**HITS["events"], "table": ""}},
            "events.table: must be a non-empty name",
            id="empty-table",
        ),
        pytest.param(
            {"events": {**HITS["events"], "table": "hits\x00"}},
            "events.table: must be a non-empty name",
            id="nul-in-name",
        ),
        pytest.param({"preset": "mixpanel"}, "'mixpanel' is not a built-in preset", id="preset"),
        pytest.param(
            {"preset": "segment", "events": {"table": "screens", "columns": {}}},
            "the preset has no events table 'screens' to override (it has: pages, tracks)",
            id="override-unknown-table",
        ),
    ],
)
def test_bad_mapping_names_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_mapping(data, origin="m.toml")
    assert message in str(info.value)


def test_load_mapping_from_file(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('preset = "snowplow"\nschema = "sp"\n')
    assert load_mapping(str(path)).events[0].qualified() == "sp.events"
    path.write_text("preset = snowplow")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_mapping(path)
    with pytest.raises(ConfigError, match=r"neither a built-in preset .* nor a readable TOML"):
        load_mapping(tmp_path / "missing.toml")
    path.write_bytes(b"\xff\xfepreset")  # e.g. saved as UTF-16
    with pytest.raises(ConfigError, match=r"m\.toml: not UTF-8 text; fix --mapping or JOURNEY_"):
        load_mapping(path)


def test_settings_read_journey_mapping() -> None:
    assert Settings.from_env({}).mapping == "canonical"
    assert Settings.from_env({"JOURNEY_MAPPING": " segment "}).mapping == "segment"


# ----------------------------------------------------------- fitting to tables


def _present(**types: sa.types.TypeEngine[Any]) -> dict[str, tuple[str, Any]]:
    return {name.lower(): (name, type_) for name, type_ in types.items()}


def test_resolve_uses_real_names_and_drops_missing_optional_columns() -> None:
    pages = load_mapping("segment").events[0]
    fitted = pages.resolve(
        _present(
            ID=sa.String(),
            Timestamp=sa.DateTime(),
            anonymous_id=sa.String(),
            user_id=sa.String(),
            path=sa.String(),
        ),
        required=(c.EVENT_ID, c.OCCURRED_AT),
    )
    assert fitted.columns[c.EVENT_ID].columns == ("ID",)
    assert fitted.columns[c.OCCURRED_AT].columns == ("Timestamp",)
    assert fitted.columns[c.PAGE_URL].columns == ("path",)  # url is absent
    assert fitted.columns[c.UTM_SOURCE].columns == ()  # reads as null
    assert fitted.columns[c.EVENT_TYPE].value == "page_view"


@pytest.mark.parametrize(
    ("types", "message"),
    [
        pytest.param(
            {"id": sa.String(), "cookie": sa.String()},
            "Table 'hits' has no column 'ts', needed for 'occurred_at' "
            "(mapping key events.columns.occurred_at). Map the key to one of the table's "
            "columns: cookie, id.",
            id="missing",
        ),
        pytest.param(
            {"id": sa.String(), "ts": sa.String(), "cookie": sa.String()},
            "Column 'ts' of table 'hits' holds text values, but 'occurred_at' (mapping key "
            "events.columns.occurred_at) needs timestamp values. Map the key to a timestamp "
            'column, or convert in SQL with occurred_at = { column = "ts", cast = true }.',
            id="text-timestamp",
        ),
        pytest.param(
            {"id": sa.Integer(), "ts": sa.DateTime(), "cookie": sa.String()},
            "Column 'id' of table 'hits' holds number values, but 'event_id'",
            id="numeric-id",
        ),
        pytest.param(
            {"id": sa.String(), "ts": sa.DateTime(), "cookie": sa.Boolean()},
            "Column 'cookie' of table 'hits' holds BOOLEAN values",
            id="boolean",
        ),
    ],
)
def test_resolve_names_table_column_and_key(
    types: dict[str, sa.types.TypeEngine[Any]], message: str
) -> None:
    (hits,) = parse_mapping(HITS).events
    with pytest.raises(WarehouseError) as info:
        hits.resolve(_present(**types))
    assert message in str(info.value)


def test_resolve_accepts_casts_and_untyped_columns() -> None:
    hits = TableMapping(
        "hits",
        {
            c.EVENT_ID: ColumnSpec(("id",), cast=True),
            # Plain column names are accepted (and documented) but typed as ColumnSpec.
            c.OCCURRED_AT: "ts",  # type: ignore[dict-item]
            c.ANONYMOUS_ID: "cookie",  # type: ignore[dict-item]
        },
        key="events",
    )
    fitted = hits.resolve(_present(id=sa.Integer(), ts=sa.types.NullType(), cookie=sa.String()))
    assert fitted.columns[c.EVENT_ID] == ColumnSpec(("id",), cast=True)


_PAGES = load_mapping("segment").events[0]
_PAGE_COLUMNS = sorted(set(_PAGES.source_columns()))


@given(st.sets(st.sampled_from(_PAGE_COLUMNS)))
def test_resolve_fails_exactly_when_a_needed_column_is_missing(present: set[str]) -> None:
    needed = {
        name for spec in _PAGES.columns.values() if not spec.optional for name in spec.columns
    }
    reflected = _present(**{n: sa.DateTime() if n == "timestamp" else sa.String() for n in present})
    if needed <= present:
        fitted = _PAGES.resolve(reflected, required=(c.EVENT_ID, c.OCCURRED_AT))
        kept = set(fitted.source_columns())
        assert kept <= present
        assert kept == {n for n in _PAGE_COLUMNS if n in present}
        assert [col.name for col in fitted.select(EVENT_TYPES).selected_columns] == list(
            EVENT_TYPES
        )
    else:
        with pytest.raises(WarehouseError, match=r"mapping key events\[0\]\.columns\."):
            _PAGES.resolve(reflected, required=(c.EVENT_ID, c.OCCURRED_AT))


# ------------------------------------------------------------ on real engines


def _renamed(url: str, frames: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """The scenario under other table and column names, as a user's warehouse might be."""
    events, identities = frames
    hits = events.rename(
        {
            c.EVENT_ID: "HitId",
            c.OCCURRED_AT: "hit_time",
            c.ANONYMOUS_ID: "cookie",
            c.EMAIL: "user_email",
            c.EVENT_TYPE: "kind",
            c.PAGE_URL: "url",
            c.REVENUE: "amount",
        }
    )
    logins = identities.rename({c.ANONYMOUS_ID: "cookie", c.IDENTIFIED_AT: "seen_at"})
    engine = create_engine(url, read_only=False)
    try:
        with engine.begin() as conn:
            for name, frame in (("hits", hits), ("logins", logins)):
                frame.write_database(name, conn, if_table_exists="replace")
    finally:
        engine.dispose()


RENAMED_TOML = """
name = "renamed"

[events]
table = "hits"
[events.columns]
event_id = "HitId"
occurred_at = "hit_time"
anonymous_id = "cookie"
email = "user_email"
event_type = "kind"
page_url = "url"
referrer = "referrer"
utm_source = "utm_source"
utm_medium = "utm_medium"
utm_campaign = "utm_campaign"
utm_content = "utm_content"
utm_term = "utm_term"
revenue = "amount"

[identities]
table = "logins"
[identities.columns]
anonymous_id = "cookie"
email = "email"
identified_at = "seen_at"
"""


@pytest.mark.parametrize("backend", ["duckdb", "sqlite"])
def test_mapped_warehouse_gives_the_canonical_results(tmp_path: Path, backend: str) -> None:
    frames = scenario(individuals=60, seed=4)
    canonical_url = f"{backend}:///{tmp_path / 'canonical.db'}"
    renamed_url = f"{backend}:///{tmp_path / 'renamed.db'}"
    load(canonical_url, frames)
    _renamed(renamed_url, frames)
    mapping = parse_mapping(tomllib.loads(RENAMED_TOML))
    canonical, renamed = create_engine(canonical_url), create_engine(renamed_url)
    try:
        fitted = verify_schema(renamed, mapping)
        rows = 0
        for query in queries(frames[1]):
            expected = fetch_journeys(canonical, query).frame
            assert_frame_equal(fetch_journeys(renamed, query, mapping=fitted).frame, expected)
            rows += expected.height
        assert rows > 300
    finally:
        canonical.dispose()
        renamed.dispose()


def test_cli_export_with_mapping_file_and_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = scenario(individuals=30, seed=2)
    url = f"duckdb:///{tmp_path / 'renamed.duckdb'}"
    _renamed(url, frames)
    toml = tmp_path / "renamed.toml"
    toml.write_text(RENAMED_TOML)
    args = ["export", "--db", url, "--as-of", "2022-08-31T00:00:00Z", "--event-date", "2022-07-01"]
    assert cli.main([*args, "--mapping", str(toml)]) == 0
    by_flag = capsys.readouterr().out
    monkeypatch.setenv("JOURNEY_MAPPING", str(toml))
    assert cli.main(args) == 0
    by_env = capsys.readouterr().out
    assert by_flag == by_env
    assert by_flag.count("\n") > 50
    monkeypatch.delenv("JOURNEY_MAPPING")
    assert cli.main(args) == cli.EXIT_WAREHOUSE  # canonical tables are not there
    err = capsys.readouterr().err
    assert "has no table 'events' (mapping key events.table)" in err
    assert "Tables in the default schema: hits, logins." in err
    assert cli.main([*args, "--mapping", "nope"]) == cli.EXIT_INPUT
    assert "is neither a built-in preset" in capsys.readouterr().err


def test_segment_preset_on_duckdb_with_columns_segment_has_not_created_yet(
    tmp_path: Path,
) -> None:
    url = f"duckdb:///{tmp_path / 'segment.duckdb'}"
    engine = create_engine(url, read_only=False)
    t = dt.datetime
    with engine.begin() as conn:
        pl.DataFrame(
            {
                "id": ["p1", "p2"],
                "anonymous_id": ["a1", "a2"],
                "user_id": [None, None],
                "timestamp": [t(2022, 8, 1), t(2022, 8, 2)],
                "url": ["https://s.example/?utm_source=x", "https://s.example/"],
                "context_campaign_source": ["x", None],
            },
            schema_overrides={"user_id": pl.String()},
        ).write_database("pages", conn)
        pl.DataFrame(
            {
                "id": ["t1"],
                "anonymous_id": ["a1"],
                "user_id": ["u1"],
                "timestamp": [t(2022, 8, 3)],
                "event": ["order_completed"],
            }
        ).write_database("tracks", conn)
        pl.DataFrame(
            {
                "id": ["i1"],
                "anonymous_id": ["a1"],
                "user_id": ["u1"],
                "timestamp": [t(2022, 8, 1, 12)],
                "context_traits_email": ["Bo@Example.com"],
            }
        ).write_database("identifies", conn)
    engine.dispose()
    engine = create_engine(url)
    try:
        fitted = verify_schema(engine, load_mapping("segment"))
        result = fetch_journeys(
            engine, JourneyQuery(as_of=END, email="bo@example.com"), mapping=fitted
        )
    finally:
        engine.dispose()
    expected = pl.DataFrame(
        {
            c.EVENT_ID: ["p1", "t1"],
            c.EVENT_TYPE: ["page_view", "order_completed"],
            c.UTM_SOURCE: ["x", None],
            c.BEFORE_KNOWN: [True, False],
        }
    )
    assert_frame_equal(result.frame.select(expected.columns), expected)


# ------------------------------------------------------------------------ docs


def _docs_toml_blocks() -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    return re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)


def test_docs_mapping_examples_parse() -> None:
    blocks = _docs_toml_blocks()
    assert len(blocks) >= 3
    names = set()
    for block in blocks:
        mapping = parse_mapping(tomllib.loads(block), origin="docs/warehouses.md")
        assert mapping.events
        names.add(mapping.name)
    assert {"segment", "snowplow"} <= names
