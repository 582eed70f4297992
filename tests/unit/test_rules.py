"""The retrieval rules on small inline warehouses, one edge at a time."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.rules import RESULT_SCHEMA, anonymous_owners, build_links, journeys, stitch
from journey_core.rules.query import JourneyQuery, Rule
from tests.support.frames import T, U, events_frame, identities_frame

AS_OF = dt.datetime(2022, 8, 31, 12, 0, tzinfo=dt.UTC)
NO_IDS = identities_frame([])


def ids_of(
    events: pl.DataFrame,
    identities: pl.DataFrame = NO_IDS,
    **kw: object,
) -> list[tuple[str, str]]:
    query = JourneyQuery(as_of=kw.pop("as_of", AS_OF), **kw)  # type: ignore[arg-type]
    return journeys(events, identities, query=query).select(c.EMAIL, c.EVENT_ID).rows()


def ev(
    event_id: str, at: str, anon: str | None = None, email: str | None = None, **kw: object
) -> dict[str, object]:
    return {
        c.EVENT_ID: event_id,
        c.OCCURRED_AT: T(at),
        c.ANONYMOUS_ID: anon,
        c.EMAIL: email,
        c.EVENT_TYPE: kw.pop("event_type", "page_view"),
        **kw,
    }


# The README's worked example (also in docs/rules.md): a campaign starting 2022-07-01, looked at on
# 2022-08-31 12:00.
CAMPAIGN_EVENTS = events_frame(
    [
        ev("a-0501", "2022-05-01 10:00", "a1"),
        ev("a-0615", "2022-06-15 10:00", "a1"),
        ev("a-0705", "2022-07-05 10:00", "a1", event_type="purchase", revenue=40.0),
        ev(
            "b-0620",
            "2022-06-20 09:00",
            "b1",
            event_type="ad_click",
            utm_source="google",
            utm_medium="cpc",
            utm_campaign="summer_sale",
        ),
        ev("b-0710", "2022-07-10 09:00", "b1", "Ben@Example.com ", event_type="signup"),
        ev("b-0712", "2022-07-12 09:00", "b1", event_type="purchase", revenue=99.5),
        ev("b-0831", "2022-08-31 09:00", "b1"),
        ev("c-0801", "2022-08-01 08:00", "c1"),
        ev("x-0801", "2022-08-01 08:00", "x1"),
    ]
)
CAMPAIGN_IDS = identities_frame(
    [("a1", "ann@example.com", "2022-05-10 00:00"), ("c1", "cara@example.com", "2022-09-05 00:00")]
)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param(
            {"event_date": dt.date(2022, 7, 1)},
            [
                ("ann@example.com", "a-0705"),
                ("ben@example.com", "b-0620"),
                ("ben@example.com", "b-0710"),
                ("ben@example.com", "b-0712"),
                ("ben@example.com", "b-0831"),
            ],
            id="event_date: known before D since D, newly known last 90 days",
        ),
        pytest.param(
            {"email": "ann@example.com"},
            [("ann@example.com", "a-0615"), ("ann@example.com", "a-0705")],
            id="email: last 90 days only",
        ),
        pytest.param(
            {"email": "ann@example.com", "event_date": dt.date(2022, 7, 1)},
            [("ann@example.com", "a-0705")],
            id="both: event_date rule for Ann alone",
        ),
        pytest.param(
            {"email": "ben@example.com", "event_date": dt.date(2022, 7, 1)},
            [
                ("ben@example.com", "b-0620"),
                ("ben@example.com", "b-0710"),
                ("ben@example.com", "b-0712"),
                ("ben@example.com", "b-0831"),
            ],
            id="both: newly known Ben keeps his anonymous ad click",
        ),
        pytest.param({}, [("ben@example.com", "b-0831")], id="neither: last 24 hours"),
        pytest.param({"email": "cara@example.com"}, [], id="identified after as_of: not known"),
    ],
)
def test_worked_example(kwargs: dict[str, object], expected: list[tuple[str, str]]) -> None:
    assert ids_of(CAMPAIGN_EVENTS, CAMPAIGN_IDS, **kwargs) == expected


def test_result_rows_carry_every_column() -> None:
    query = JourneyQuery(as_of=AS_OF, email="ben@example.com", event_date=dt.date(2022, 7, 1))
    result = journeys(CAMPAIGN_EVENTS, CAMPAIGN_IDS, query=query)
    known = U("2022-07-10 09:00")
    expected = pl.DataFrame(
        {
            c.EMAIL: ["ben@example.com"] * 4,
            c.KNOWN_AT: [known] * 4,
            c.EVENT_ID: ["b-0620", "b-0710", "b-0712", "b-0831"],
            c.OCCURRED_AT: [
                U("2022-06-20 09:00"),
                known,
                U("2022-07-12 09:00"),
                U("2022-08-31 09:00"),
            ],
            c.EVENT_TYPE: ["ad_click", "signup", "purchase", "page_view"],
            c.ANONYMOUS_ID: ["b1"] * 4,
            c.UTM_SOURCE: ["google", None, None, None],
            c.UTM_MEDIUM: ["cpc", None, None, None],
            c.UTM_CAMPAIGN: ["summer_sale", None, None, None],
            c.UTM_CONTENT: [None] * 4,
            c.UTM_TERM: [None] * 4,
            c.PAGE_URL: [None] * 4,
            c.REFERRER: [None] * 4,
            c.REVENUE: [None, None, 99.5, None],
            c.BEFORE_KNOWN: [True, False, False, False],
        },
        schema=RESULT_SCHEMA,
    )
    assert_frame_equal(result, expected)


# Inclusive bounds, each exactly at the bound and one microsecond outside it.
@pytest.mark.parametrize(
    ("kwargs", "inside", "outside"),
    [
        pytest.param(
            {"email": "p@x.io"},
            "2022-06-02 12:00:00",
            "2022-06-02 11:59:59.999999",
            id="email: as_of - 90d",
        ),
        pytest.param(
            {}, "2022-08-30 12:00:00", "2022-08-30 11:59:59.999999", id="neither: as_of - 24h"
        ),
        pytest.param(
            {"event_date": dt.date(2022, 8, 1)},
            "2022-08-01 00:00:00",
            "2022-07-31 23:59:59.999999",
            id="event_date: D 00:00",
        ),
        pytest.param(
            {"email": "p@x.io"},
            "2022-08-31 12:00:00",
            "2022-08-31 12:00:00.000001",
            id="upper: as_of",
        ),
    ],
)
def test_bounds_are_inclusive(kwargs: dict[str, object], inside: str, outside: str) -> None:
    events = events_frame([ev("in", inside, "p1"), ev("out", outside, "p1")])
    # p was known long ago, so the event_date rule uses D, not the 90-day lookback.
    ids = identities_frame([("p1", "p@x.io", "2022-01-01 00:00")])
    assert ids_of(events, ids, **kwargs) == [("p@x.io", "in")]


def test_event_date_lookback_bound_for_newly_known() -> None:
    events = events_frame(
        [
            ev("in", "2022-06-02 12:00:00", "n1"),
            ev("out", "2022-06-02 11:59:59.999999", "n1"),
            ev("signup", "2022-08-15 00:00", "n1", "n@x.io"),
        ]
    )
    assert ids_of(events, event_date=dt.date(2022, 8, 1)) == [
        ("n@x.io", "in"),
        ("n@x.io", "signup"),
    ]


def test_known_exactly_at_start_counts_as_newly_known() -> None:
    events = events_frame(
        [ev("early", "2022-07-15 00:00", "k1"), ev("id", "2022-08-01 00:00", "k1", "k@x.io")]
    )
    assert ids_of(events, event_date=dt.date(2022, 8, 1)) == [("k@x.io", "early"), ("k@x.io", "id")]


def test_never_linked_visitors_are_never_returned() -> None:
    events = events_frame([ev("1", "2022-08-31 10:00", "ghost"), ev("2", "2022-08-31 10:00")])
    assert ids_of(events, event_date=dt.date(2022, 8, 1)) == []
    assert ids_of(events) == []


def test_link_after_as_of_counts_for_nothing() -> None:
    events = events_frame(
        [
            ev("visit", "2022-08-31 10:00", "l1"),
            ev("later-signup", "2022-08-31 12:00:01", "l1", "late@x.io"),
        ]
    )
    ids = identities_frame([("l1", "late@x.io", "2022-08-31 13:00")])
    assert ids_of(events, ids) == []
    assert ids_of(events, ids, email="late@x.io") == []
    later = dt.datetime(2022, 8, 31, 14, tzinfo=dt.UTC)
    assert ids_of(events, ids, as_of=later) == [
        ("late@x.io", "visit"),
        ("late@x.io", "later-signup"),
    ]


def test_relinked_anonymous_id_belongs_to_latest_email() -> None:
    events = events_frame(
        [
            ev("own", "2022-08-10 09:00", "dev", "ann@x.io"),
            ev("shared", "2022-08-31 08:00", "dev"),
        ]
    )
    ids = identities_frame(
        [("dev", "ann@x.io", "2022-08-01 00:00"), ("dev", "bob@x.io", "2022-08-20 00:00")]
    )
    # The anonymous event goes to Bob (latest link); the event carrying Ann's email stays hers.
    assert ids_of(events, ids, event_date=dt.date(2022, 8, 1)) == [
        ("ann@x.io", "own"),
        ("bob@x.io", "shared"),
    ]
    # Looking from before Bob's link, the device is still Ann's.
    before = dt.datetime(2022, 8, 15, tzinfo=dt.UTC)
    events_early = events_frame([ev("shared", "2022-08-14 08:00", "dev")])
    assert ids_of(events_early, ids, as_of=before) == [("ann@x.io", "shared")]


def test_tie_on_link_time_goes_to_smallest_email() -> None:
    events = events_frame([ev("1", "2022-08-31 08:00", "dev")])
    ids = identities_frame([("dev", "zed@x.io", "2022-08-01"), ("dev", "amy@x.io", "2022-08-01")])
    assert ids_of(events, ids) == [("amy@x.io", "1")]


def test_emails_are_trimmed_and_lowercased_everywhere() -> None:
    events = events_frame(
        [ev("1", "2022-08-31 08:00", "m1"), ev("2", "2022-08-31 09:00", None, "  MiXed@X.io")]
    )
    ids = identities_frame([("m1", " MIXED@x.IO ", "2022-08-01")])
    assert ids_of(events, ids) == [("mixed@x.io", "1"), ("mixed@x.io", "2")]
    query = JourneyQuery.build(now=AS_OF, as_of=AS_OF, email="  Mixed@X.IO ")
    assert journeys(events, ids, query=query).height == 2


def test_event_with_email_but_no_anonymous_id_makes_known_and_is_returned() -> None:
    events = events_frame([ev("open", "2022-08-31 08:00", None, "e@x.io", event_type="email_open")])
    result = journeys(events, NO_IDS, query=JourneyQuery(as_of=AS_OF, email="e@x.io"))
    assert result.select(c.EVENT_ID, c.KNOWN_AT, c.BEFORE_KNOWN).rows() == [
        ("open", U("2022-08-31 08:00"), False)
    ]


def test_duplicate_event_ids_are_returned_once() -> None:
    row = ev("dup", "2022-08-31 08:00", "d1", "d@x.io")
    events = events_frame([row, row, ev("other", "2022-08-31 09:00", "d1")])
    assert ids_of(events) == [("d@x.io", "dup"), ("d@x.io", "other")]


def test_event_date_in_configured_timezone() -> None:
    # D = 2022-08-01 in Berlin starts 2022-07-31 22:00 UTC.
    events = events_frame(
        [
            ev("before", "2022-07-31 21:59:59.999999", "t1"),
            ev("after", "2022-07-31 22:00", "t1"),
        ]
    )
    ids = identities_frame([("t1", "t@x.io", "2022-01-01")])
    berlin = ids_of(events, ids, event_date=dt.date(2022, 8, 1), timezone="Europe/Berlin")
    utc = ids_of(events, ids, event_date=dt.date(2022, 8, 1))
    assert berlin == [("t@x.io", "after")]
    assert utc == []


def test_rows_are_sorted_by_email_time_event_id() -> None:
    events = events_frame(
        [
            ev("b", "2022-08-31 08:00", None, "z@x.io"),
            ev("a", "2022-08-31 08:00", None, "z@x.io"),
            ev("c", "2022-08-31 07:00", None, "y@x.io"),
        ]
    )
    assert ids_of(events) == [("y@x.io", "c"), ("z@x.io", "a"), ("z@x.io", "b")]


def test_stitching_is_idempotent() -> None:
    links = build_links(CAMPAIGN_EVENTS.lazy(), CAMPAIGN_IDS.lazy(), as_of=AS_OF)
    once = stitch(CAMPAIGN_EVENTS.lazy(), links).collect()
    twice = stitch(once.lazy(), links).collect()
    assert_frame_equal(once, twice, check_row_order=False)


def test_anonymous_owners() -> None:
    links = build_links(CAMPAIGN_EVENTS.lazy(), CAMPAIGN_IDS.lazy(), as_of=AS_OF)
    expected = pl.DataFrame(
        {c.ANONYMOUS_ID: ["a1", "b1"], c.EMAIL: ["ann@example.com", "ben@example.com"]}
    )
    assert_frame_equal(anonymous_owners(links).collect().sort(c.ANONYMOUS_ID), expected)


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        pytest.param({"email": "a@b.co"}, Rule.EMAIL, id="email"),
        pytest.param({"event_date": dt.date(2022, 7, 1)}, Rule.EVENT_DATE, id="event_date"),
        pytest.param(
            {"email": "a@b.co", "event_date": dt.date(2022, 7, 1)},
            Rule.EMAIL_AND_EVENT_DATE,
            id="both",
        ),
        pytest.param({}, Rule.RECENT, id="neither"),
    ],
)
def test_rule_selection(kwargs: dict[str, object], rule: Rule) -> None:
    assert JourneyQuery(as_of=AS_OF, **kwargs).rule is rule  # type: ignore[arg-type]


def test_malformed_emails_identify_nobody() -> None:
    events = events_frame(
        [
            ev("bad", "2022-08-31 08:00", "m1", "not-an-email"),
            ev("later", "2022-08-31 09:00", "m1"),
            ev("good", "2022-08-31 10:00", "m2", "real@x.io"),
        ]
    )
    ids = identities_frame([("m1", "also bad@x.io", "2022-08-01")])
    # m1's only links are malformed, so its events belong to nobody.
    assert ids_of(events, ids) == [("real@x.io", "good")]
