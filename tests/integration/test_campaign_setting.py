"""The shared campaign setting under AppTest: carried between Campaign influence and Attribution,
links that always pin ``as_of`` and never carry another page's parameters, and a visible message
for every out-of-range value a link supplies (the browser run: tests/e2e/test_campaign_setting.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from journey_core import columns as c
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys
from journey_core.warehouse.native import count_journeys
from tests.support.markdown import displayed, markup

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
AS_OF = "2022-08-31T00:00:00Z"
START = "2022-08-01"
END = "2022-08-20"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, demo_url: str) -> Callable[..., AppTest]:
    """``app(page, **query_params)``: the dashboard on ``page``, run once, on the demo."""
    for key in ("JOURNEY_TIMEZONE", "JOURNEY_LOOKBACK_DAYS", "JOURNEY_CHANNELS_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("JOURNEY_PASSWORD_HASH", raising=False)
    monkeypatch.setenv("JOURNEY_DATABASE_URL", demo_url)

    def make(page: str, **params: str | list[str]) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        at.switch_page(f"app_pages/{page}.py")
        for key, value in params.items():
            at.query_params[key] = value
        return at.run()

    return make


def link(at: AppTest) -> dict[str, list[str]]:
    """The parameters of the sidebar's "Link to this exact view"."""
    [text] = [m.value for m in at.sidebar.markdown if "Link to this exact view" in m.value]
    href = text.split("](", 1)[1].rsplit(")", 1)[0]
    return parse_qs(urlsplit(href).query)


def shown(elements: object) -> str:
    return displayed(" ".join(e.value for e in elements))  # type: ignore[attr-defined]


def no_problem(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert not at.warning, [w.value for w in at.warning]


def test_setting_carries_from_campaign_to_attribution(app: Callable[..., AppTest]) -> None:
    at = app("campaign", event_date=START, end=END, as_of=AS_OF, channel="Email")
    no_problem(at)
    assert at.date_input(key="campaign.end").value == dt.date(2022, 8, 20)
    at.switch_page("app_pages/attribution.py")
    for name in list(at.query_params):
        del at.query_params[name]  # the navigation menu opens a page without parameters
    at.run()
    no_problem(at)
    assert at.title[0].value == "Attribution"
    assert at.date_input(key="campaign.event_date").value == dt.date(2022, 8, 1)
    assert at.date_input(key="campaign.end").value == dt.date(2022, 8, 20)
    assert at.multiselect(key="campaign.channel").value == ["Email"]
    assert at.toggle(key="as_of.live").value is False
    assert at.query_params["event_date"] == START
    assert at.query_params["end"] == END
    assert at.query_params["channel"] == "Email"
    assert at.query_params["as_of"] == AS_OF
    assert "Channel: Email" in shown(at.caption)
    assert "up to 20 Aug 2022 23:59 UTC" in shown(at.caption)
    # and back: a start picked on Attribution is the campaign page's start
    at.date_input(key="campaign.event_date").set_value(dt.date(2022, 8, 5)).run()
    at.switch_page("app_pages/campaign.py")
    for name in list(at.query_params):
        del at.query_params[name]
    at.run()
    no_problem(at)
    assert at.date_input(key="campaign.event_date").value == dt.date(2022, 8, 5)
    assert at.query_params["end"] == END
    assert link(at)["channel"] == ["Email"]


@pytest.mark.parametrize("route", ["warehouse", "polars"])
def test_an_end_day_is_one_cohort_on_every_widget(
    app: Callable[..., AppTest], demo_url: str, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    """With an end day before the as-of day, the key figures, the people table, the CSV, the
    funnel and Attribution all count one cohort: the rule as of the end of that day (the
    people active until 31 Aug are more). Its last day is whole, so not called partial."""
    monkeypatch.setenv("JOURNEY_FIGURES_ROUTE", route)
    engine = create_engine(demo_url)
    last = dt.datetime(2022, 8, 20, 23, 59, 59, 999_999, tzinfo=dt.UTC)
    query = JourneyQuery(as_of=last, event_date=dt.date(2022, 8, 1))
    events, people = count_journeys(engine, query)
    _, until_as_of = count_journeys(
        engine, replace(query, as_of=dt.datetime(2022, 8, 31, tzinfo=dt.UTC))
    )
    assert until_as_of > people > 0  # the two cohorts differ: the test can tell them apart
    newly = (
        fetch_journeys(engine, query)
        .frame.filter(pl.col(c.KNOWN_AT) >= dt.datetime(2022, 8, 1, tzinfo=dt.UTC))
        .get_column(c.EMAIL)
        .n_unique()
    )
    at = app("campaign", event_date=START, end=END, as_of=AS_OF)
    no_problem(at)
    figures = {m.label: m.value for m in at.metric}
    assert figures["Known people active"] == f"{people:,}"
    assert figures["Events"] == f"{events:,}"
    assert figures["Newly known"] == f"{newly:,}"
    assert f"People ({people:,})" in " ".join(t.label for t in at.tabs)
    assert [b.proto.label for b in at.get("download_button")] == [
        f"Download journeys as CSV ({events:,} rows, {people:,} people)"
    ]
    assert f"**{newly}** newly known people did" in " ".join(m.value for m in at.markdown)
    assert "partial" not in shown(at.caption)
    attribution = app("attribution", event_date=START, end=END, as_of=AS_OF)
    no_problem(attribution)
    assert {m.label: m.value for m in attribution.metric}["People in the cohort"] == f"{people:,}"


def test_the_as_of_time_counts_and_a_day_as_of_is_whole(
    app: Callable[..., AppTest], demo_url: str
) -> None:
    """The rules' as-of bound is inclusive, on the page too: as of the instant of a cohort's
    event, that event counts and its day is partial; as of a day (``?as_of=2022-08-30``, what
    the sidebar's link pins: its last microsecond) the day is whole, not called partial."""
    engine = create_engine(demo_url)
    day = JourneyQuery.build(as_of="2022-08-30", event_date=START, now=dt.datetime.now(dt.UTC))
    rows = fetch_journeys(engine, day).frame
    instant = rows.filter(pl.col(c.OCCURRED_AT).dt.date() == dt.date(2022, 8, 29))[
        c.OCCURRED_AT
    ].max()
    assert isinstance(instant, dt.datetime)
    for as_of, partial in [(instant, "29 Aug, is partial"), (day.as_of, None)]:
        query = replace(day, as_of=as_of)
        events, people = count_journeys(engine, query)
        before, _ = count_journeys(
            engine, replace(query, as_of=as_of - dt.timedelta(microseconds=1))
        )
        at = app("campaign", event_date=START, as_of=as_of.isoformat().replace("+00:00", "Z"))
        no_problem(at)
        figures = {m.label: m.value for m in at.metric}
        assert figures["Events"] == f"{events:,}"
        assert figures["Known people active"] == f"{people:,}"
        captions = shown(at.caption)
        if partial is None:
            assert "partial" not in captions
        else:
            assert events == before + 1  # the event at the as-of time is one of them
            assert partial in captions
            assert f"counted up to {as_of:%H:%M} UTC" in captions


def test_attribution_filters_keep_the_campaign_cohort(app: Callable[..., AppTest]) -> None:
    everyone = app("attribution", event_date=START, as_of=AS_OF)
    email = app("attribution", event_date=START, as_of=AS_OF, channel="Email")
    no_problem(email)
    people = {m.label: m.value for m in everyone.metric}["People in the cohort"]
    kept = {m.label: m.value for m in email.metric}["People in the cohort"]
    assert int(kept.replace(",", "")) < int(people.replace(",", ""))
    campaign = app("campaign", event_date=START, as_of=AS_OF, channel="Email")
    assert {m.label: m.value for m in campaign.metric}["Known people active"] == kept


@pytest.mark.parametrize("page", ["campaign", "attribution", "customer", "recent", "quality"])
def test_every_link_pins_as_of_even_when_live(app: Callable[..., AppTest], page: str) -> None:
    at = app(page)  # Live: no as_of in the address bar
    assert not at.exception
    assert "as_of" not in at.query_params
    pinned = link(at)["as_of"]
    assert len(pinned) == 1
    assert dt.datetime.fromisoformat(pinned[0]) <= dt.datetime.now(dt.UTC)
    assert [h for h in at.get("html") if "Copy link" in str(h.proto)]


@pytest.mark.parametrize(
    ("page", "params", "foreign"),
    [
        pytest.param(
            "campaign", {"event_date": START, "email": "x@example.com"}, "email", id="campaign"
        ),
        pytest.param(
            "customer", {"email": "x@example.com", "channel": "Email"}, "channel", id="customer"
        ),
        pytest.param("attribution", {"event_date": START, "lane": "channel"}, "lane", id="attr"),
    ],
)
def test_links_never_carry_another_pages_parameters(
    app: Callable[..., AppTest], page: str, params: dict[str, str], foreign: str
) -> None:
    at = app(page, as_of=AS_OF, **params)
    assert not at.exception
    assert foreign not in at.query_params
    assert foreign not in link(at)
    assert link(at)["as_of"] == [AS_OF]


@pytest.mark.parametrize("page", ["campaign", "attribution"])
@pytest.mark.parametrize(
    ("params", "kind", "label", "detail"),
    [
        pytest.param(
            {"event_date": "2022-09-10"},
            "error",
            "Campaign start date",
            "after the as-of date",
            id="start-after-as-of",
        ),
        pytest.param(
            {"event_date": "2022-08-31"},
            "error",
            "Campaign start date",
            "the campaign starts at the as-of time (31 Aug 2022 00:00 UTC): nothing has happened "
            "since. Pick an earlier start date or a later as-of time.",
            id="start-at-the-as-of-midnight",
        ),
        pytest.param(
            {"event_date": START, "as_of": "2999-01-01T00:00:00Z"},
            "error",
            "As of",
            "is in the future",
            id="future-as-of",
        ),
        pytest.param(
            {"event_date": "2022-02-30"},
            "error",
            "Campaign start date",
            "real calendar date",
            id="malformed-start",
        ),
        pytest.param(
            {"event_date": START, "end": "2022-07-01"},
            "error",
            "End date",
            "before the campaign",
            id="end-before-start",
        ),
        pytest.param(
            {"event_date": START, "end": "2022-09-30"},
            "warning",
            "End date",
            "2022-09-30 is after the as-of day 2022-08-31",
            id="end-after-as-of",
        ),
        pytest.param(
            {"event_date": START, "end": "20-08-2022"},
            "warning",
            "End date",
            "Using the as-of day 2022-08-31",
            id="malformed-end",
        ),
        pytest.param(
            {"event_date": START, "channel": "Fax **now**"},
            "warning",
            "Channel",
            "'Fax **now**': not in the data for these dates",
            id="unknown-filter-value",
        ),
    ],
)
def test_out_of_range_link_values_get_a_message(
    app: Callable[..., AppTest],
    page: str,
    params: dict[str, str],
    kind: str,
    label: str,
    detail: str,
) -> None:
    at = app(page, **{"as_of": AS_OF, **params})
    assert not at.exception
    boxes = at.error if kind == "error" else at.warning
    text = shown(boxes)
    assert f"**{label}**" in text
    assert detail in text
    assert all(markup(box.value) == [] for box in boxes)  # plain text: no link, image, HTML
    for name, value in params.items():
        assert at.query_params[name] == value or name == "as_of"  # never silently replaced
