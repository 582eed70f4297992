"""Settings: one field per JOURNEY_* variable, one-line errors, the generated reference."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from journey_cli.commands import main as journey_main
from journey_core import config
from journey_core.auth import hash_password
from journey_core.config import VARIABLES, Settings, render_markdown
from journey_core.errors import ConfigError
from journey_core.warehouse.engine import local_file

ROOT = Path(__file__).resolve().parents[2]
# Read by tests/support only; documented in the reference's introduction.
TEST_HARNESS = {"JOURNEY_PG_BIN", "JOURNEY_CHROMIUM", "JOURNEY_FIXTURES"}
HASH = hash_password("correct horse", salt=b"0123456789abcdef")


def test_unset_and_blank_variables_take_the_defaults() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({var.name: "  " for var in VARIABLES}) == Settings()


def test_every_variable_sets_its_field() -> None:
    env = {
        "JOURNEY_DATABASE_URL": " postgresql://u@db/w ",
        "JOURNEY_MAPPING": " segment ",
        "JOURNEY_TIMEZONE": "Europe/Berlin",
        "JOURNEY_LOOKBACK_DAYS": "30",
        "JOURNEY_RECENT_HOURS": "1.5",
        "JOURNEY_MASK_PII": "yes",
        "JOURNEY_CHANNELS_FILE": " ch.toml ",
        "JOURNEY_PASSWORD_HASH": f" {HASH} ",
        "JOURNEY_API_KEYS": "k1, k2",
        "JOURNEY_API_CACHE_SECONDS": "0",
        "JOURNEY_API_CACHE_ROWS": "5000",
        "JOURNEY_API_READ_SLOTS": "2",
        "JOURNEY_API_LOOKUP_SLOTS": "3",
        "JOURNEY_API_CACHE_MB": "0.5",
        "JOURNEY_API_SPOOL_MB": "12.5",
        "JOURNEY_API_COHORT_PROCESSES": "0",
        "JOURNEY_API_ALLOWED_HOSTS": " API.example.com, *.corp.io ",
        "JOURNEY_SECRET_KEY": " s3cret ",
        "JOURNEY_DASHBOARD_CACHE_MB": "64",
        "JOURNEY_DASHBOARD_PUBLIC": "1",
        "JOURNEY_DASHBOARD_ALLOWED_HOSTS": "journeys.example.com, *.corp.example",
        "JOURNEY_CURRENCY": " eur ",
        "JOURNEY_FIGURES_ROUTE": " Polars ",
        "JOURNEY_POLARS_ROUTE_MAX_MB": "100.5",
        "JOURNEY_DUCKDB_MEMORY_MB": "512",
    }
    assert Settings.from_env(env) == Settings(
        database_url="postgresql://u@db/w",
        url_from_user=True,
        mapping="segment",
        timezone="Europe/Berlin",
        lookback_days=30.0,
        recent_hours=1.5,
        mask_pii=True,
        channels_file="ch.toml",
        password_hash=HASH,
        api_keys=("k1", "k2"),
        api_cache_seconds=0.0,
        api_cache_rows=5000,
        api_read_slots=2,
        api_lookup_slots=3,
        api_cache_mb=0.5,
        api_spool_mb=12.5,
        api_cohort_processes=False,
        api_allowed_hosts=("api.example.com", "*.corp.io"),
        secret_key="s3cret",
        dashboard_cache_mb=64,
        dashboard_public=True,
        dashboard_allowed_hosts=("journeys.example.com", "*.corp.example"),
        currency="EUR",
        figures_route="polars",
        polars_route_max_mb=100.5,
        duckdb_memory_mb=512,
    )
    assert set(env) == {var.name for var in VARIABLES}


def test_variables_and_fields_match_one_to_one() -> None:
    names = [var.name for var in VARIABLES]
    assert len(set(names)) == len(names)
    assert all(name.startswith("JOURNEY_") for name in names)
    settable = {f.name for f in dataclasses.fields(Settings)} - {"url_from_user"}
    assert sorted(var.field for var in VARIABLES) == sorted(settable)


def test_every_variable_the_product_names_is_a_setting() -> None:
    sources = [*(ROOT / "src").rglob("*.py"), ROOT / "app.py", *(ROOT / "app_pages").glob("*.py")]
    sources += [*(ROOT / "src").rglob("*.toml")]
    named = {
        name
        for path in sources
        for name in re.findall(r"JOURNEY_[A-Z][A-Z_]*[A-Z]", path.read_text(encoding="utf-8"))
    }
    assert named - TEST_HARNESS == {var.name for var in VARIABLES}


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        pytest.param("JOURNEY_LOOKBACK_DAYS", "nan", id="lookback-nan"),
        pytest.param("JOURNEY_LOOKBACK_DAYS", "inf", id="lookback-inf"),
        pytest.param("JOURNEY_LOOKBACK_DAYS", "1e308", id="lookback-huge"),
        pytest.param("JOURNEY_LOOKBACK_DAYS", "36501", id="lookback-over-a-century"),
        pytest.param("JOURNEY_LOOKBACK_DAYS", "0", id="lookback-zero"),
        pytest.param("JOURNEY_LOOKBACK_DAYS", "-5", id="lookback-negative"),
        pytest.param("JOURNEY_LOOKBACK_DAYS", "ninety", id="lookback-text"),
        pytest.param("JOURNEY_RECENT_HOURS", "NaN", id="recent-nan"),
        pytest.param("JOURNEY_RECENT_HOURS", "-inf", id="recent-inf"),
        pytest.param("JOURNEY_TIMEZONE", "Mars/Base", id="timezone"),
        pytest.param("JOURNEY_MASK_PII", "maybe", id="mask"),
        pytest.param("JOURNEY_API_CACHE_SECONDS", "inf", id="cache-seconds-inf"),
        pytest.param("JOURNEY_API_CACHE_SECONDS", "nan", id="cache-seconds-nan"),
        pytest.param("JOURNEY_API_CACHE_ROWS", "1.5", id="cache-rows-fraction"),
        pytest.param("JOURNEY_API_CACHE_ROWS", "1e400", id="cache-rows-inf"),
        pytest.param("JOURNEY_API_READ_SLOTS", "0", id="slots-zero"),
        pytest.param("JOURNEY_API_READ_SLOTS", "2.5", id="slots-fraction"),
        pytest.param("JOURNEY_API_LOOKUP_SLOTS", "0", id="lookup-slots-zero"),
        # Far too many: Python's OverflowError when the API made its pool.
        pytest.param("JOURNEY_API_READ_SLOTS", "99999999999999999999", id="slots-huge"),
        pytest.param("JOURNEY_API_LOOKUP_SLOTS", "257", id="lookup-slots-too-many"),
        # DuckDB's "Memory value out of range", reported as a warehouse URL problem.
        pytest.param("JOURNEY_DUCKDB_MEMORY_MB", "99999999999999999999", id="duckdb-mb-huge"),
        pytest.param("JOURNEY_DASHBOARD_CACHE_MB", "1e30", id="dashboard-cache-huge"),
        pytest.param("JOURNEY_API_CACHE_MB", "-1", id="cache-mb-negative"),
        pytest.param("JOURNEY_API_ALLOWED_HOSTS", "*", id="hosts-any"),
        pytest.param("JOURNEY_API_ALLOWED_HOSTS", "a.io, http://b.io/", id="hosts-url"),
        pytest.param("JOURNEY_CURRENCY", "dollars", id="currency-word"),
        pytest.param("JOURNEY_CURRENCY", "$", id="currency-symbol"),
        pytest.param("JOURNEY_CURRENCY", "E1R", id="currency-digit"),
        pytest.param("JOURNEY_FIGURES_ROUTE", "fastest", id="route-unknown"),
        pytest.param("JOURNEY_FIGURES_ROUTE", "sql", id="route-sql"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable_and_the_fix(name: str, raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: raw})
    message = str(info.value)
    assert message.startswith(f"{name}={raw!r} is not ")
    assert "\n" not in message
    assert re.search(r"; (unset it or )?use ", message), message


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            "data/shop.duckdb",
            "data/shop.duckdb is a file path, not a database URL: use duckdb:///data/shop.duckdb",
            id="relative-duckdb",
        ),
        pytest.param(
            " /srv/shop.duckdb ",
            "/srv/shop.duckdb is a file path, not a database URL: use duckdb:////srv/shop.duckdb",
            id="absolute-duckdb",
        ),
        pytest.param(
            "shop.SQLite3",
            "shop.SQLite3 is a file path, not a database URL: use sqlite:///shop.SQLite3",
            id="sqlite",
        ),
        pytest.param(
            "ann:s3cret@db/w",
            "the URL is not a valid SQLAlchemy URL (a password with @ / : or % must be",
            id="credentials-not-echoed",
        ),
    ],
)
def test_a_database_url_that_is_not_one_names_the_fix(raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"JOURNEY_DATABASE_URL": raw})
    text = str(info.value)
    assert text.startswith(f"JOURNEY_DATABASE_URL: {message}")
    assert "s3cret" not in text
    suggested = re.search(r"use ((duckdb|sqlite):///\S+)$", text)
    if suggested:  # the URL it suggests is one, for the same file
        assert config.database_url_problem(suggested[1]) is None
        assert local_file(suggested[1]) == Path(raw.strip())


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("duckdb:///data/demo.duckdb", id="duckdb"),
        pytest.param("sqlite://", id="sqlite-memory"),
        pytest.param("postgresql://u:p%40ss@db:5432/w", id="postgres-encoded-password"),
        pytest.param("hive://127.0.0.1:10000/default", id="spark"),
    ],
)
def test_a_database_url_is_taken_as_it_is(url: str) -> None:
    assert config.database_url_problem(url) is None
    assert Settings.from_env({"JOURNEY_DATABASE_URL": f" {url} "}).database_url == url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("auto", "auto", id="auto"),
        pytest.param("WAREHOUSE", "warehouse", id="warehouse-any-case"),
        pytest.param(" polars ", "polars", id="polars-spaces"),
    ],
)
def test_figures_route_takes_the_three_values(raw: str, expected: str) -> None:
    assert Settings().figures_route == "auto"
    assert Settings.from_env({"JOURNEY_FIGURES_ROUTE": raw}).figures_route == expected


def test_a_bad_figures_route_lists_the_allowed_values() -> None:
    with pytest.raises(ConfigError, match=r"JOURNEY_FIGURES_ROUTE='x'.*auto, warehouse, polars"):
        Settings.from_env({"JOURNEY_FIGURES_ROUTE": "x"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("0.5", 0.5, id="fraction"),
        pytest.param(" 36500 ", 36_500.0, id="a-century"),
        pytest.param("1e2", 100.0, id="exponent"),
    ],
)
def test_lookback_days_within_bounds(raw: str, expected: float) -> None:
    assert Settings.from_env({"JOURNEY_LOOKBACK_DAYS": raw}).lookback_days == expected


@pytest.mark.parametrize("raw", ["nan", "inf", "1e308"])
def test_the_cli_reports_a_bad_lookback_in_one_line(
    raw: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOURNEY_LOOKBACK_DAYS", raw)
    code = journey_main(["export", "--db", "duckdb:///nowhere.duckdb", "--email", "a@b.co"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"journey: configuration error: JOURNEY_LOOKBACK_DAYS={raw!r}")
    assert err.count("\n") == 1


def test_the_reference_in_docs_is_generated_from_settings() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == render_markdown(), (
        "docs/configuration.md is stale: run "
        "python -m journey_core.config --markdown > docs/configuration.md"
    )


def test_the_reference_lists_every_variable_with_its_default() -> None:
    text = render_markdown()
    rows = [line for line in text.splitlines() if line.startswith("| `JOURNEY_")]
    assert [row.split("`")[1] for row in rows] == [var.name for var in VARIABLES]
    assert "| `JOURNEY_API_READ_SLOTS` | `2` |" in text
    assert "| `JOURNEY_MASK_PII` | `0` |" in text


def test_main_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert config.main(["--markdown"]) == 0
    assert capsys.readouterr().out == render_markdown()
    assert config.main([]) == 2


def test_currency_defaults_to_usd_and_is_upper_cased() -> None:
    assert Settings.from_env({}).currency == "USD"
    assert Settings.from_env({"JOURNEY_CURRENCY": "gbp"}).currency == "GBP"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("correct horse", id="the-password-itself"),
        pytest.param("abc", id="word"),
        pytest.param(HASH.replace("$16384$", "$1000$"), id="cost-not-a-power-of-two"),
        pytest.param(HASH.replace("$8$1$", "$0$1$"), id="block-size-zero"),
        pytest.param(HASH[:-4] + "!!!!", id="digest-not-base64"),
        pytest.param(HASH.rsplit("$", 1)[0] + "$", id="no-digest"),
        pytest.param(HASH.replace("scrypt$", "bcrypt$"), id="other-scheme"),
    ],
)
def test_a_password_hash_not_of_hash_passwords_form_is_refused_unechoed(raw: str) -> None:
    """Said when anything starts (it was said only at the first sign-in), never echoing the
    value: it may be the password, set where its hash belongs."""
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"JOURNEY_PASSWORD_HASH": raw})
    message = str(info.value)
    assert message.startswith("JOURNEY_PASSWORD_HASH (its value not shown) is not in the form")
    assert message.endswith("create one with `journey hash-password`.")
    assert raw not in message


def test_a_password_hash_of_hash_passwords_form_is_kept() -> None:
    assert Settings.from_env({"JOURNEY_PASSWORD_HASH": f"  {HASH}\n"}).password_hash == HASH
