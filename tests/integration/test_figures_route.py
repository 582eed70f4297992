"""Both figure routes show the same pages (issue 12, ``JOURNEY_FIGURES_ROUTE``).

Recent activity, Campaign influence (its Funnel section included, with and without a
campaign filter and an end day, with a breakdown and the funnel's inputs from the URL) and
Attribution are rendered (AppTest) on the same small demo once on the warehouse route and
once on the Polars route; every metric, table, chart,
caption and tab label shown is identical (floats to 1e-12: sums in another order). Each run
forbids the other route's figure code, so the route named is the one that ran.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from typing import Any, NoReturn

import pytest
from streamlit.testing.v1 import AppTest

from journey_core.analytics import attribution as attr
from journey_core.analytics import campaign as an
from journey_core.analytics import funnel as fn
from journey_core.io.demo import build_demo
from journey_core.warehouse import attribution as wa
from journey_core.warehouse import pages as wp
from journey_ui import data
from journey_ui.cache import ByteCache
from tests.conftest import DEMO_END
from tests.integration.test_pages import AS_OF, CAMPAIGN_DATE, app, ok
from tests.support.tabs import each_tab

__all__ = ["app"]  # the fixture, used by name below

ATTRIBUTION_AS_OF = "2022-08-30"
PAGES = [
    pytest.param("recent", {"as_of": AS_OF}, id="recent"),
    pytest.param("campaign", {"event_date": CAMPAIGN_DATE, "as_of": AS_OF}, id="campaign"),
    pytest.param(
        "campaign",
        {
            "event_date": CAMPAIGN_DATE,
            "end": "2022-08-20",
            "channel": "Email",
            "as_of": AS_OF,
        },
        id="campaign-filtered-end",
    ),
    pytest.param(
        "campaign",
        {"event_date": CAMPAIGN_DATE, "as_of": AS_OF, "breakdown": "source_medium"},
        id="campaign-breakdown",
    ),
    pytest.param(
        "campaign",
        {
            "event_date": CAMPAIGN_DATE,
            "as_of": AS_OF,
            "channel": "Email",
            "breakdown": "known",
            "who": "all",
            "window": "7",
        },
        id="campaign-filtered-breakdown-funnel",
    ),
    pytest.param("attribution", {"as_of": ATTRIBUTION_AS_OF}, id="attribution"),
    pytest.param(
        "attribution",
        {"as_of": ATTRIBUTION_AS_OF, "channel": "Paid Search", "model": "Linear"},
        id="attribution-filtered",
    ),
]
#: What each route must not run (the other route's figure code).
FORBIDDEN: dict[str, list[tuple[Any, str]]] = {
    data.POLARS: [
        (data, "campaign_figures"),
        (data, "recent_figures"),
        (data, "funnel_figures"),
        (wa, "attribution_report"),
        (wp, "people_page"),
        (wp, "events_preview"),
        (wp, "filter_options"),
    ],
    data.WAREHOUSE: [
        (an, "campaign_report"),
        (an, "recent_report"),
        (fn, "funnel"),
        (attr, "analyze"),
    ],
}


def _forbid(monkeypatch: pytest.MonkeyPatch, route: str) -> None:
    for owner, name in FORBIDDEN[route]:

        def boom(*_args: Any, _name: str = name, **_kwargs: Any) -> NoReturn:
            msg = f"{_name} ran on the {route} route"
            raise AssertionError(msg)

        monkeypatch.setattr(owner, name, boom)


def _differences(got: Any, want: Any, where: str = "") -> list[str]:
    """Where ``got`` and ``want`` differ; floats to ``rel_tol=1e-12`` (the warehouse sums
    revenue, credits and days in another order than Polars, as the oracle tests allow) and
    NaN (an empty cell) equal to NaN."""
    if isinstance(got, float) and isinstance(want, float):
        if math.isnan(got) and math.isnan(want):
            return []
        same = math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-9)
        return [] if same else [f"{where}: {got!r} != {want!r}"]
    if isinstance(got, dict) and isinstance(want, dict):
        if got.keys() != want.keys():
            return [f"{where}: keys {sorted(got)} != {sorted(want)}"]
        return [d for k in got for d in _differences(got[k], want[k], f"{where}/{k}")]
    if isinstance(got, list | tuple) and isinstance(want, list | tuple):
        if len(got) != len(want):
            return [f"{where}: {len(got)} items != {len(want)}"]
        pairs = zip(got, want, strict=True)
        return [d for i, (g, w) in enumerate(pairs) for d in _differences(g, w, f"{where}[{i}]")]
    return [] if got == want else [f"{where}: {got!r} != {want!r}"]


def shown(at: AppTest) -> dict[str, Any]:
    """Everything a marketer reads on the page: metrics, tables, charts (their Plotly
    figures), captions, tabs, headings."""
    tables = {}
    for index, frame in enumerate(at.dataframe):
        tables[f"{index}:{frame.key}"] = frame.value.to_dict(orient="split")
    return {
        "metrics": [(m.label, m.value, m.delta) for m in at.metric],
        "tables": tables,
        "charts": [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")],
        "captions": [x.value for x in at.caption],
        "tabs": [t.label for t in at.tabs],
        "subheaders": [s.value for s in at.subheader],
        "markdown": [m.value for m in at.markdown],
        "warnings": [w.value for w in at.warning],
        "info": [i.value for i in at.info],
    }


@pytest.mark.parametrize(("page", "params"), PAGES)
def test_both_routes_show_the_same_page(
    app: Callable[..., AppTest],
    demo_url: str,
    monkeypatch: pytest.MonkeyPatch,
    page: str,
    params: dict[str, str],
) -> None:
    monkeypatch.setenv("JOURNEY_LOOKBACK_DAYS", "90")
    seen = {}
    for route in (data.WAREHOUSE, data.POLARS):
        with monkeypatch.context() as patch:
            patch.setenv("JOURNEY_FIGURES_ROUTE", route)
            patch.setattr(data, "CACHE", ByteCache(max_bytes=2**28))
            _forbid(patch, route)
            at = app(demo_url, page=page, **params)
            ok(at)
            seen[route] = shown(at)
            if page == "attribution":  # its closed tabs' tables too, each tab opened in turn
                opened = []
                for _ in each_tab(at):
                    ok(at)
                    opened.append(shown(at)["tables"])
                seen[route]["opened"] = opened
    warehouse, polars = seen[data.WAREHOUSE], seen[data.POLARS]
    assert warehouse["metrics"], "no metric shown"
    assert any(value not in ("0", "0.00") for _, value, _ in warehouse["metrics"])
    assert warehouse["tables"]
    assert warehouse["charts"]
    assert _differences(polars, warehouse) == []


@pytest.fixture(scope="module")
def sqlite_demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The small seeded demo as a SQLite file (the other embedded engine)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite-demo') / 'demo.sqlite'}"
    build_demo(url, individuals=300, seed=7, end=dt.datetime.fromisoformat(DEMO_END))
    return url


@pytest.mark.parametrize(
    ("page", "params"),
    [
        pytest.param("campaign", {"event_date": CAMPAIGN_DATE, "as_of": AS_OF}, id="campaign"),
        pytest.param("attribution", {"as_of": ATTRIBUTION_AS_OF}, id="attribution"),
    ],
)
def test_both_routes_show_the_same_page_on_sqlite(
    app: Callable[..., AppTest],
    sqlite_demo_url: str,
    monkeypatch: pytest.MonkeyPatch,
    page: str,
    params: dict[str, str],
) -> None:
    test_both_routes_show_the_same_page(app, sqlite_demo_url, monkeypatch, page, params)


def test_auto_takes_polars_on_the_demo_file(
    app: Callable[..., AppTest], demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOURNEY_FIGURES_ROUTE", raising=False)
    monkeypatch.setattr(data, "CACHE", ByteCache(max_bytes=2**28))
    _forbid(monkeypatch, data.POLARS)
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(at)
    assert at.metric


def test_a_bad_route_names_the_variable(
    app: Callable[..., AppTest], demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNEY_FIGURES_ROUTE", "fastest")
    at = app(demo_url)
    text = " ".join(str(e.value) for e in at.error)
    assert "JOURNEY_FIGURES_ROUTE" in text
    assert "auto, warehouse, polars" in text
