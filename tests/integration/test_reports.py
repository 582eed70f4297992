"""Campaign and recent reports on a demo warehouse agree with the rows they summarize."""

from __future__ import annotations

import polars as pl

from journey_core import columns as c
from journey_core.analytics import campaign as an
from journey_core.analytics import funnel as fn
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys
from tests.support.frames import U


def test_reports_agree_with_their_parts(demo_url: str) -> None:
    engine = create_engine(demo_url)
    query = JourneyQuery.build(
        now=U("2022-08-31 00:00"), event_date="2022-08-01", as_of="2022-08-31T00:00:00Z"
    )
    frame = fetch_journeys(engine, query).frame
    assert query.start is not None
    report = an.campaign_report(frame, start=query.start, end=query.as_of)
    assert (
        report.kpis.people == frame.filter(pl.col(c.OCCURRED_AT) >= query.start)[c.EMAIL].n_unique()
    )
    assert report.people.height == frame[c.EMAIL].n_unique()
    assert report.total_rows == frame.height
    assert (
        int(report.trend[an.EVENTS].sum())
        == frame.filter(pl.col(c.OCCURRED_AT) >= query.start).height
    )
    assert int(report.channels[an.EVENTS].sum()) == frame.height
    spec = fn.FunnelSpec(since=query.start, who=fn.NEWLY_KNOWN)
    newly = fn.funnel(frame, spec).filter(pl.col(c.STEP) == 1)
    assert int(newly[c.PEOPLE].item()) <= (report.kpis.newly_known or 0)
    recent_q = JourneyQuery.build(now=U("2022-08-31 00:00"), as_of="2022-08-31T00:00:00Z")
    recent = fetch_journeys(engine, recent_q).frame
    rr = an.recent_report(recent, start=recent_q.window_start, end=recent_q.as_of, previous=recent)
    assert rr.kpis == rr.previous
    assert rr.kpis.people == rr.people.height
    assert int(rr.hourly[an.EVENTS].sum()) == recent.height
    assert rr.preview.height == min(1000, recent.height)
    assert rr.preview[c.OCCURRED_AT].is_sorted(descending=True)
