"""The Funnel section of Campaign influence (AppTest): its figures are the oracle's on the
page's cohort, its defaults fit each group, and picking a step lists the right people."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.analytics import funnel as fn
from journey_ui.funnel import PREVIOUS_AT
from tests.integration.test_pages import AS_OF, CAMPAIGN_DATE, app, journeys, ok, table_with

__all__ = ["app"]  # the fixture, used by name below

START = dt.datetime(2022, 8, 1, tzinfo=dt.UTC)


def rows(url: str) -> pl.DataFrame:
    return an.with_sessions(journeys(url, event_date=CAMPAIGN_DATE))


def campaign(app: Callable[..., AppTest], url: str) -> AppTest:
    at = app(url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF)
    ok(at)
    return at


def shown_people(at: AppTest) -> list[str]:
    """The emails of the people list (its time column says reached, or did the step before)."""
    times = {fn.REACHED_AT, PREVIOUS_AT}
    table = next(df.value for df in at.dataframe if times & set(df.value.columns))
    return table[c.EMAIL].tolist()


def test_default_funnel_is_the_oracles_for_newly_known(
    app: Callable[..., AppTest], demo_url: str
) -> None:
    at = campaign(app, demo_url)
    assert at.radio(key="funnel.who").value == fn.NEWLY_KNOWN
    assert at.multiselect(key=f"funnel.steps.{fn.NEWLY_KNOWN}").value == list(fn.NEWLY_KNOWN_STEPS)
    spec = fn.FunnelSpec(steps=fn.NEWLY_KNOWN_STEPS, since=START, who=fn.NEWLY_KNOWN)
    expected = fn.funnel(rows(demo_url), spec)
    table = table_with(at, "Step")
    assert table["Step"].tolist() == ["1. Page view", "2. Sign-up", "3. Purchase"]
    assert table["People"].tolist() == expected[c.PEOPLE].to_list()
    assert table["Dropped off"].tolist() == expected[c.DROP_OFF].to_list()
    assert expected[c.PEOPLE][0] > expected[c.PEOPLE][2] > 0  # not vacuous
    # No empty cell anywhere: step 1 has no time from a step before, and says so.
    assert not table.isna().any().any()
    assert table["Median time from the step before"][0] == "–"
    assert "None" not in table.to_string()


def test_previously_known_have_no_sign_up_step(app: Callable[..., AppTest], demo_url: str) -> None:
    at = campaign(app, demo_url)
    at.radio(key="funnel.who").set_value(fn.PREVIOUSLY_KNOWN).run()
    ok(at)
    table = table_with(at, "Step")
    assert table["Step"].tolist() == ["1. Page view", "2. Add to cart", "3. Purchase"]
    spec = fn.FunnelSpec(steps=fn.PREVIOUSLY_KNOWN_STEPS, since=START, who=fn.PREVIOUSLY_KNOWN)
    expected = fn.funnel(rows(demo_url), spec)
    assert table["People"].tolist() == expected[c.PEOPLE].to_list()
    # Not the old 10,181 -> 26 cliff: most of those who add to cart do go on to buy.
    assert expected[c.PEOPLE][2] > 0


def test_window_and_breakdown(app: Callable[..., AppTest], demo_url: str) -> None:
    at = campaign(app, demo_url)
    at.number_input(key="funnel.window").set_value(2).run()
    at.selectbox(key="campaign.breakdown").set_value(c.CHANNEL).run()  # the page's one picker
    ok(at)
    spec = fn.FunnelSpec(
        steps=fn.NEWLY_KNOWN_STEPS,
        window=dt.timedelta(days=2),
        since=START,
        who=fn.NEWLY_KNOWN,
        breakdown=c.CHANNEL,
    )
    expected = fn.funnel(rows(demo_url), spec)
    table = table_with(at, "Step")
    assert table["Group"].tolist() == expected[c.GROUP].to_list()
    assert table["People"].tolist() == expected[c.PEOPLE].to_list()
    assert expected[c.GROUP].n_unique() > 1


@pytest.mark.parametrize("outcome", [fn.REACHED, fn.DROPPED])
def test_picking_a_step_lists_its_people(
    app: Callable[..., AppTest], demo_url: str, outcome: str
) -> None:
    at = campaign(app, demo_url)
    at.radio(key="funnel.people.outcome").set_value(outcome).run()
    at.selectbox(key="funnel.people.step").set_value(3).run()
    ok(at)
    spec = fn.FunnelSpec(steps=fn.NEWLY_KNOWN_STEPS, since=START, who=fn.NEWLY_KNOWN)
    expected = fn.people_at(rows(demo_url), spec, step=3, outcome=outcome)
    assert expected.height > 0
    assert shown_people(at) == expected[c.EMAIL].to_list()


def test_dropping_off_at_step_one_is_explained(app: Callable[..., AppTest], demo_url: str) -> None:
    at = campaign(app, demo_url)
    at.radio(key="funnel.people.outcome").set_value(fn.DROPPED).run()
    at.selectbox(key="funnel.people.step").set_value(1).run()
    ok(at)
    assert any("Nobody drops off at step 1" in i.value for i in at.info)


def test_a_link_restores_the_funnel(app: Callable[..., AppTest], demo_url: str) -> None:
    """Who, steps and window come from the URL (and the breakdown is the page's)."""
    at = app(
        demo_url,
        page="campaign",
        event_date=CAMPAIGN_DATE,
        as_of=AS_OF,
        who="previously",
        steps=["page_view", "purchase"],
        window="7",
        breakdown="channel",
    )
    ok(at)
    assert at.radio(key="funnel.who").value == fn.PREVIOUSLY_KNOWN
    assert at.multiselect(key=f"funnel.steps.{fn.PREVIOUSLY_KNOWN}").value == [
        "page_view",
        "purchase",
    ]
    assert at.number_input(key="funnel.window").value == 7
    spec = fn.FunnelSpec(
        steps=("page_view", "purchase"),
        window=dt.timedelta(days=7),
        since=START,
        who=fn.PREVIOUSLY_KNOWN,
        breakdown=c.CHANNEL,
    )
    expected = fn.funnel(rows(demo_url), spec)
    table = table_with(at, "Step")
    assert table["Group"].tolist() == expected[c.GROUP].to_list()
    assert table["People"].tolist() == expected[c.PEOPLE].to_list()
    assert expected[c.PEOPLE].sum() > 0


def test_the_funnel_inputs_go_to_the_url(app: Callable[..., AppTest], demo_url: str) -> None:
    at = campaign(app, demo_url)
    for name in ("who", "steps", "window"):
        assert name not in at.query_params  # the defaults make no parameter
    at.number_input(key="funnel.window").set_value(3).run()
    at.multiselect(key=f"funnel.steps.{fn.NEWLY_KNOWN}").set_value(["page_view", "purchase"]).run()
    ok(at)
    assert at.query_params["window"] == "3"
    assert at.query_params["steps"] == ["page_view", "purchase"]
    # Another group starts from its own default steps: the URL's were the other group's.
    at.radio(key="funnel.who").set_value(fn.PREVIOUSLY_KNOWN).run()
    ok(at)
    assert at.query_params["who"] == "previously"
    assert "steps" not in at.query_params
    assert table_with(at, "Step")["Step"].tolist() == [
        "1. Page view",
        "2. Add to cart",
        "3. Purchase",
    ]


def test_a_bad_window_in_a_link_is_named(app: Callable[..., AppTest], demo_url: str) -> None:
    at = app(demo_url, page="campaign", event_date=CAMPAIGN_DATE, as_of=AS_OF, window="400")
    ok(at)
    assert at.number_input(key="funnel.window").value == fn.DEFAULT_WINDOW.days
    warning = " ".join(w.value for w in at.warning)
    assert "Funnel window" in warning
    assert "400" in warning
