"""Parameter rules of links and of the shared campaign setting (journey_ui.urlstate, .setting)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs

import pytest

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.errors import InputError
from journey_ui import components, shell, urlstate
from journey_ui.setting import CampaignSetting, check_dates, unknown_values

AS_OF = "2026-12-04T10:00:00Z"


@pytest.mark.parametrize(
    ("page", "given", "kept"),
    [
        pytest.param(
            "campaign",
            {"email": ["a@b.co"], "event_date": ["2026-11-01"], "channel": ["Email", "Paid"]},
            {"event_date": ["2026-11-01"], "channel": ["Email", "Paid"]},
            id="campaign-drops-email",
        ),
        pytest.param(
            "customer",
            {"email": ["a@b.co"], "campaign": ["spring"], "end": ["2026-11-30"]},
            {"email": ["a@b.co"]},
            id="customer-drops-campaign-setting",
        ),
        pytest.param(
            "attribution",
            {"event_date": ["2026-11-01"], "end": ["2026-11-30"], "steps": ["a", "b"]},
            {"event_date": ["2026-11-01"], "end": ["2026-11-30"]},
            id="attribution-drops-funnel-steps",
        ),
        pytest.param("", {"lane": ["channel"], "person": ["tok"]}, {}, id="home-keeps-none"),
        pytest.param("quality", {"model": ["Linear"]}, {}, id="quality-keeps-none"),
    ],
)
def test_a_link_carries_only_its_page_parameters_and_always_as_of(
    page: str, given: dict[str, list[str]], kept: dict[str, list[str]]
) -> None:
    link = parse_qs(urlstate.link_query(page, given, AS_OF))
    assert link == {**kept, "as_of": [AS_OF]}


def test_a_link_pins_the_given_as_of_over_the_address_bar() -> None:
    query = urlstate.link_query("campaign", {"as_of": ["2020-01-01"]}, AS_OF)
    assert parse_qs(query) == {"as_of": [AS_OF]}


@pytest.mark.parametrize("page", [spec.url_path for spec in shell.PAGES])
def test_every_page_has_an_allow_list(page: str) -> None:
    assert page in urlstate.PAGE_PARAMS
    assert urlstate.foreign(page, ["as_of"]) == []


def test_the_two_campaign_pages_share_the_setting_parameters() -> None:
    for page in ("campaign", "attribution"):
        assert set(urlstate.SETTING_PARAMS) <= urlstate.allowed(page)
    assert not set(urlstate.SETTING_PARAMS) & urlstate.allowed("customer")
    assert "email" not in urlstate.allowed("campaign") | urlstate.allowed("attribution")


START = dt.date(2026, 11, 1)
DAY = dt.date(2026, 12, 4)


@pytest.mark.parametrize(
    ("end", "used", "noted"),
    [
        pytest.param(None, DAY, False, id="no-end-is-the-as-of-day"),
        pytest.param(dt.date(2026, 11, 20), dt.date(2026, 11, 20), False, id="inside"),
        pytest.param(START, START, False, id="one-day"),
        pytest.param(DAY, DAY, False, id="the-as-of-day"),
        pytest.param(dt.date(2026, 12, 25), DAY, True, id="after-as-of-is-cut-with-a-note"),
    ],
)
def test_end_dates(end: dt.date | None, used: dt.date, noted: bool) -> None:
    got, note = check_dates(START, end, DAY)
    assert got == used
    assert (note is not None) == noted
    if note is not None:
        assert note.field == "end"
        assert "2026-12-25" in note.detail
        assert "2026-12-04 is used" in note.detail


def test_an_end_before_the_start_names_the_end_date() -> None:
    with pytest.raises(InputError) as info:
        check_dates(START, dt.date(2026, 10, 31), DAY)
    assert info.value.field == "end"
    assert "before the campaign start date 2026-11-01" in info.value.detail
    assert components.FIELD_LABELS["end"] == "End date"


@pytest.mark.parametrize(
    ("end", "tz", "expected"),
    [
        pytest.param(
            dt.date(2026, 11, 30),
            "UTC",
            dt.datetime(2026, 11, 30, 23, 59, 59, 999_999, tzinfo=dt.UTC),
            id="end-of-day",
        ),
        pytest.param(
            dt.date(2026, 11, 30),
            "America/New_York",
            dt.datetime(2026, 12, 1, 4, 59, 59, 999_999, tzinfo=dt.UTC),
            id="end-of-local-day",
        ),
        pytest.param(
            DAY, "UTC", dt.datetime(2026, 12, 4, 10, tzinfo=dt.UTC), id="as-of-day-stops-at-as-of"
        ),
    ],
)
def test_end_time(end: dt.date, tz: str, expected: dt.datetime) -> None:
    setting = CampaignSetting(START, end, dt.datetime(2026, 12, 4, 10, tzinfo=dt.UTC))
    assert setting.end_time(tz) == expected


def test_unknown_filter_values_are_named_per_filter() -> None:
    filters = an.Filters(campaigns=("spring", "nope"), channels=("Email",), event_types=("x",))
    options = {c.SESSION_CAMPAIGN: ["spring"], c.CHANNEL: ["Email"], c.EVENT_TYPE: ["purchase"]}
    notes = unknown_values(filters, options)
    assert [(n.field, n.detail.split(":")[0]) for n in notes] == [
        ("campaign", "'nope'"),
        ("event_type", "'x'"),
    ]
    assert all("matches nobody" in n.detail for n in notes)
    assert unknown_values(an.Filters(), {}) == []
