"""How long attribution takes on the demo warehouse's campaign cohort.

Usage: ``.venv/bin/python bench/attribution.py [--individuals 20000] [--db URL]``
Builds a demo warehouse (unless ``--db`` names one), fetches the event_date cohort of the
last 30 days and prints the time of each step and the table sizes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from journey_core.analytics import attribution as a
from journey_core.analytics.attribution import AttributionSettings
from journey_core.analytics.channels import channel_expr, classify
from journey_core.io.demo import build_demo
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import create_engine, fetch_journeys

END = dt.datetime(2022, 8, 31, tzinfo=dt.UTC)


def timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    print(f"{label:<38} {time.perf_counter() - t0:8.3f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--individuals", type=int, default=20_000)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    url = args.db
    if url is None:
        path = Path(tempfile.mkdtemp()) / "bench.duckdb"
        url = f"duckdb:///{path}"
        timed(
            f"build demo ({args.individuals:,} people)",
            build_demo,
            url,
            individuals=args.individuals,
            seed=7,
            end=END,
        )
    query = JourneyQuery(as_of=END, event_date=(END - dt.timedelta(days=30)).date())
    result = timed("fetch_journeys (event_date cohort)", fetch_journeys, create_engine(url), query)
    frame = result.frame
    print(f"  {frame.height:,} journey rows, {frame['email'].n_unique():,} people")
    timed("channel_expr over all rows", frame.select, channel_expr())
    timed("classify over all rows", lambda: classify(frame.lazy()).collect())
    settings = AttributionSettings()
    assert query.start is not None
    report = timed(
        "analyze (all tables, 6 models)",
        a.analyze,
        frame,
        settings=settings,
        start=query.start,
        end=query.as_of,
    )
    print(
        f"  {report.touches.height:,} touches, {report.conversions.height:,} conversions, "
        f"{report.path_summary.height:,} distinct paths"
    )


if __name__ == "__main__":
    main()
