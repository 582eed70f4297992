"""The Attribution page under AppTest (its browser run: tests/e2e/test_attribution_page.py)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import streamlit
from polars.testing import assert_frame_equal
from streamlit.testing.v1 import AppTest

from journey_core import columns as c
from journey_core.analytics import attribution as a
from journey_core.analytics.attribution import AttributionSettings, Model
from journey_core.io.export import to_csv_bytes
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import attribution as wa
from journey_core.warehouse import create_engine, fetch_journeys
from journey_ui import data, setting
from journey_ui.attribution import CREDIT_TABS, PATH_TABS, TIME_TABS
from journey_ui.cache import ByteCache
from journey_ui.figures.attribution import model_change_table
from journey_ui.format import fmt_change, fmt_credit
from tests.support.tabs import each_tab, open_tab

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGE = "app_pages/attribution.py"
# The demo's last event is on 2022-08-30; links pin the sidebar's as-of time to the end of that
# day (?as_of=2022-08-30), and the start date defaults to 30 days before.
AS_OF = dt.datetime(2022, 8, 30, 23, 59, 59, 999_999, tzinfo=dt.UTC)
START = dt.date(2022, 7, 31)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, demo_url: str) -> str:
    monkeypatch.setenv("JOURNEY_DATABASE_URL", demo_url)
    monkeypatch.delenv("JOURNEY_CHANNELS_FILE", raising=False)
    monkeypatch.delenv("JOURNEY_MAPPING", raising=False)
    monkeypatch.delenv("JOURNEY_PASSWORD_HASH", raising=False)
    monkeypatch.setenv("JOURNEY_LOOKBACK_DAYS", "90")
    return demo_url


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Record the bytes of every st.download_button the page draws, by key (made on click)."""
    seen: dict[str, bytes] = {}
    original: Callable[..., Any] = streamlit.download_button

    def recording(label: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        seen[str(kwargs.get("key"))] = data() if callable(data) else data
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(streamlit, "download_button", recording)
    return seen


def run(**query: str) -> AppTest:
    """The app, opened on the Attribution page with ``query`` in its URL (as of AS_OF's day)."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(PAGE)
    query.setdefault("as_of", AS_OF.date().isoformat())
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    return at


def expected_report(url: str, *, start: dt.date = START) -> a.AttributionReport:
    """The oracle: ``analyze`` over the cohort with its touches in the lookback before the start."""
    query = JourneyQuery(as_of=AS_OF, event_date=start, lookback=dt.timedelta(days=90))
    engine = create_engine(url)
    settings = AttributionSettings()

    def rows_of(q: JourneyQuery) -> pl.DataFrame:
        return fetch_journeys(engine, q).frame

    frame, _ = a.cohort_rows(rows_of, query, settings.lookback)
    assert query.start is not None
    return a.analyze(frame, settings=settings, start=query.start, end=AS_OF)


def test_page_shows_every_section_for_the_campaign_cohort(env: str) -> None:
    at = run()
    assert not at.exception
    assert not at.error
    report = expected_report(env)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Conversions"] == f"{report.conversions.height:,}"
    # as the campaign page's tile: whole units from 10,000 up (cents cut the tile at 1440 px)
    revenue = report.conversions[c.REVENUE].sum()
    assert metrics["Revenue (USD)"] == (
        f"{revenue:,.0f}" if revenue >= 10_000 else f"{revenue:,.2f}"
    )
    assert metrics["Converted"] == f"{report.conversions[c.EMAIL].n_unique():,}"
    # The helps name the conversions' period; the rule's rows also hold the newly known
    # people's earlier purchases, which neither page counts as the period's.
    helps = {m.label: m.help for m in at.metric}
    period = "from 31 Jul 2022 to 30 Aug 2022 23:59 UTC"
    assert period in helps["Converted"]
    assert period in helps["Conversions"]
    assert "Known people active" in helps["People in the cohort"]
    rule = fetch_journeys(create_engine(env), JourneyQuery(as_of=AS_OF, event_date=START)).frame
    purchases = rule.filter(pl.col(c.EVENT_TYPE) == "purchase")
    since = dt.datetime.combine(START, dt.time(), tzinfo=dt.UTC)
    earlier = purchases.filter(pl.col(c.OCCURRED_AT) < since)
    assert earlier[c.BEFORE_KNOWN].all()
    assert purchases.height - earlier.height == report.conversions.height
    assert [s.value for s in at.selectbox] == [Model.LAST_NON_DIRECT]
    assert [d.value for d in at.date_input] == [START, AS_OF.date()]
    assert [sub.value for sub in at.subheader] == [
        "Credit by model",
        "Paths to conversion",
        "Time to convert",
    ]
    # The model comparison (a table that scrolls sideways in a narrow window), then only the
    # open tab of each group: channel table (picked model), path summary, median/p90 (the
    # channel counts only when their expander is opened).
    assert len(at.dataframe) == 4
    comparison = at.dataframe[0].value
    wide = model_change_table(report.by_channel)
    assert comparison["Channel"].tolist() == wide[c.CHANNEL].to_list()
    assert list(comparison.columns[:4]) == [
        "Channel",
        "Last touch",
        "First touch",
        "First touch vs last touch",
    ]
    assert comparison["Linear vs last touch"].tolist() == [
        fmt_change(v) for v in wide["Linear vs last touch"].to_list()
    ]
    assert comparison["Last touch"].tolist() == [fmt_credit(v) for v in wide["Last touch"]]
    shown = at.dataframe[1].value
    expected = report.by_channel.filter(pl.col(c.MODEL) == Model.LAST_NON_DIRECT)
    assert list(shown.columns) == expected.columns
    assert shown[c.CHANNEL].tolist() == expected[c.CHANNEL].to_list()
    assert shown[c.CONVERSIONS].tolist() == pytest.approx(expected[c.CONVERSIONS].to_list())
    assert at.dataframe[2].value.shape == report.path_summary.shape
    # Opening the tabs in turn draws the other tables: channel table (picked model), campaign
    # table, all models, 3 path tables, 3 time tables, channel counts.
    drawn = [(len(at.dataframe), {b.label for b in at.download_button}) for _ in each_tab(at)]
    assert not at.exception
    assert [tables for tables, _ in drawn] == [5, 5, 5]
    assert len(set().union(*(labels for _, labels in drawn))) == 10  # each table's download
    assert at.session_state[TIME_TABS] == "Histogram"
    at.selectbox(key="model").set_value(Model.LINEAR).run()  # the open tabs survive reruns
    assert at.session_state[PATH_TABS] == "Paths without conversion"
    assert at.session_state[TIME_TABS] == "Histogram"


def test_every_csv_download_is_exactly_its_table(env: str, downloads: dict[str, bytes]) -> None:
    at = run(model="Linear")  # bound selectboxes take the label in the URL
    assert not at.exception
    report = expected_report(env)
    linear = pl.col(c.MODEL) == Model.LINEAR
    tables = {
        "download.channels": report.by_channel.filter(linear),
        "download.campaigns": report.by_campaign.filter(linear),
        "download.models": report.by_channel,
        "download.path-summary": report.path_summary,
        "download.conversion-paths": report.conversion_paths,
        "download.non-conversion-paths": report.non_conversion_paths,
        "download.ttc-summary": report.time_to_convert_summary,
        "download.ttc-people": report.time_to_convert,
        "download.ttc-histogram": report.time_to_convert_histogram,
        "download.channel-counts": report.channel_counts,
    }
    # One table and its download per tab group (the open tab); opening every tab in turn (and
    # the channel grouping) draws every download.
    assert len(at.download_button) == 3
    buttons = {b.label for _ in each_tab(at) for b in at.download_button}
    assert len(buttons) == len(tables)
    assert set(downloads) == set(tables)
    for key, table in tables.items():
        # same columns, rows and values (floats to 1e-9: sums are computed independently)
        got, want = pl.read_csv(downloads[key]), pl.read_csv(to_csv_bytes(table))
        assert_frame_equal(got, want, abs_tol=1e-9, rel_tol=0)


def test_model_picker_switches_the_tables(env: str) -> None:
    at = run()
    at.selectbox(key="model").set_value(Model.FIRST_TOUCH).run()
    assert not at.exception
    assert set(at.dataframe[1].value[c.MODEL]) == {Model.FIRST_TOUCH.label}  # after the comparison
    open_tab(at, CREDIT_TABS, f"{Model.FIRST_TOUCH.label}: per campaign")
    assert not at.exception
    assert c.CAMPAIGN in at.dataframe[1].value.columns
    assert set(at.dataframe[1].value[c.MODEL]) == {Model.FIRST_TOUCH.label}


def test_inputs_come_from_the_url(env: str) -> None:
    at = run(event_date="2022-08-20", lookback="7", path_unit="touch", collapse="false")
    assert not at.exception
    assert at.multiselect(key="conversions").value == ["purchase"]
    assert at.date_input(key="campaign.event_date").value == dt.date(2022, 8, 20)
    assert at.number_input(key="lookback").value == 7
    assert at.toggle(key="collapse").value is False
    open_tab(at, PATH_TABS, "Paths to conversion")
    assert not at.exception
    paths = at.dataframe[2].value  # paths to conversion
    assert (paths["path"] == paths["transformed_path"]).all()


def test_every_model_input_comes_from_the_url(env: str) -> None:
    at = run(model="Time decay", lookback="14", half_life="3.5", path_unit="touch")
    assert not at.exception
    assert not at.warning, [w.value for w in at.warning]
    assert at.selectbox(key="model").value == Model.TIME_DECAY
    assert at.number_input(key="lookback").value == 14
    assert at.number_input(key="half_life").value == 3.5
    assert at.button_group[0].value == "touch"
    assert at.toggle(key="collapse").value is True
    assert any("14-day lookback" in caption.value for caption in at.caption)


@pytest.mark.parametrize(
    ("name", "raw", "field", "shown"),
    [
        pytest.param("model", "linear", "Attribution model", Model.LAST_NON_DIRECT, id="model"),
        pytest.param("lookback", "9999", "Lookback", 30, id="lookback-too-long"),
        pytest.param("lookback", "1e309", "Lookback", 30, id="lookback-overflow"),
        pytest.param("half_life", "1e309", "Time-decay half-life", 7.0, id="half-life-inf"),
        pytest.param("half_life", "nan", "Time-decay half-life", 7.0, id="half-life-nan"),
        pytest.param("half_life", "0.1", "Time-decay half-life", 7.0, id="half-life-short"),
        pytest.param("path_unit", "steps", "Path steps", "session", id="path-unit"),
        pytest.param("collapse", "maybe", "Collapse repeated channels", True, id="collapse"),
    ],
)
def test_a_wrong_model_input_in_the_url_is_named_and_the_default_used(
    env: str, name: str, raw: str, field: str, shown: object
) -> None:
    """Before, Streamlit's URL binding dropped these silently (1e309: an OverflowError)."""
    at = run(**{name: raw})
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    [warning] = [w.value for w in at.warning]
    assert warning.replace("\\", "").startswith(f"**{field}**: '{raw}' is not "), warning
    widgets = {
        "model": at.selectbox(key="model"),
        "lookback": at.number_input(key="lookback"),
        "half_life": at.number_input(key="half_life"),
        "collapse": at.toggle(key="collapse"),
    }
    value = widgets[name].value if name in widgets else at.button_group[0].value
    assert value == shown
    assert at.metric  # the figures are drawn, with the default


@pytest.mark.parametrize("route", ["warehouse", "polars"])
def test_per_person_table_says_it_is_a_first_page(
    env: str, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    monkeypatch.setenv("JOURNEY_FIGURES_ROUTE", route)
    monkeypatch.setattr(data, "PREVIEW_ROWS", 5)
    monkeypatch.setattr(data, "CACHE", ByteCache(max_bytes=2**28))
    at = open_tab(run(), TIME_TABS, "Per person")
    assert not at.exception
    converters = {m.label: m.value for m in at.metric}["Converted"]
    assert int(converters.replace(",", "")) > 5
    people = next(df.value for df in at.dataframe if "days_from_first_touch" in df.value.columns)
    assert len(people) == 5
    notes = [e.value for e in at.caption if "converters, by first conversion" in e.value]
    assert notes == [
        f"The first 5 of {converters} converters, by first conversion; the download has the "
        "same rows."
    ]


def test_conversion_events_from_the_url(env: str) -> None:
    at = run(conversions="signup")
    assert not at.exception
    assert at.multiselect(key="conversions").value == ["signup"]
    report = expected_report(env)
    signups = {m.label: m.value for m in at.metric}["Conversions"]
    assert signups != f"{report.conversions.height:,}"  # purchases are not counted


def test_conversion_picker_shows_labels_and_keeps_names_in_the_url(env: str) -> None:
    """Labels ("Sign-up"), not raw event names, in the picker; names in the link (issue 13)."""
    at = run(conversions="signup")
    assert not at.exception
    picker = at.multiselect(key="conversions")
    assert picker.value == ["signup"]
    assert "Purchase" in picker.options
    assert "purchase" not in picker.options
    picker.set_value(["purchase", "signup"]).run()
    assert not at.exception
    assert at.query_params["conversions"] == ["purchase", "signup"]
    at.multiselect(key="conversions").set_value(["purchase"]).run()
    assert "conversions" not in at.query_params  # the default makes no parameter


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        pytest.param({"campaign": "summer_sale_search"}, True, id="campaign"),
        pytest.param({"channel": "Email"}, True, id="channel"),
        pytest.param({"event_type": "purchase"}, False, id="event-type"),
        pytest.param({}, False, id="none"),
    ],
)
def test_a_touch_filter_says_how_it_scopes_conversions(
    env: str, query: dict[str, str], shown: bool
) -> None:
    at = run(**query)
    assert not at.exception
    notes = [e.value for e in at.caption if "counts only after" in e.value]
    assert notes == ([f":material/schedule: {setting.scope_note()}"] if shown else [])
    assert "within 30 days" in setting.scope_note()


def test_empty_cohort_says_so(env: str) -> None:
    at = run(as_of="2021-01-31", event_date="2021-01-01")
    assert not at.exception
    assert at.info
    assert not at.metric


def test_bad_channel_file_is_a_clear_error(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEY_CHANNELS_FILE", "/nonexistent/channels.toml")
    at = run()
    assert not at.exception
    assert "JOURNEY_CHANNELS_FILE" in at.error[0].value


def test_permalink_pins_the_as_of_time(env: str) -> None:
    """The sidebar link keeps the inputs and pins the as-of time (the end of the linked day)."""
    at = run(model="Linear", lookback="14")
    assert not at.exception
    [link] = [m.value for m in at.sidebar.markdown if "Link to this exact view" in m.value]
    assert "model=Linear" in link
    assert "lookback=14" in link
    assert "as_of=2022-08-30T23%3A59%3A59.999999Z" in link


@pytest.mark.parametrize(
    ("route", "owner", "name", "lookback"),
    [
        pytest.param("warehouse", wa, "attribution_report", "11", id="warehouse"),
        pytest.param("polars", a, "analyze", "12", id="polars"),
    ],
)
def test_unexpected_failure_is_logged_and_shown_without_traceback(
    env: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    route: str,
    owner: object,
    name: str,
    lookback: str,
) -> None:
    def broken(*args: object, **kwargs: object) -> a.AttributionReport:
        raise RuntimeError("analysis broke")

    # The page's report comes from the route named (JOURNEY_FIGURES_ROUTE).
    monkeypatch.setenv("JOURNEY_FIGURES_ROUTE", route)
    monkeypatch.setattr(owner, name, broken)
    with caplog.at_level(logging.ERROR, logger="journey_ui"):
        at = run(lookback=lookback)  # inputs no other test caches
    assert not at.exception
    assert "Something went wrong while showing attribution" in at.error[0].value
    assert "analysis broke" not in at.error[0].value
    assert [r.exc_info[1] for r in caplog.records if r.exc_info], caplog.text


#: Names of the code people must never read on the page.
INTERNAL_NAMES = (
    "transformed_path",
    "non_conversions",
    "conversion_rate",
    "last_non_direct",
    "last_touch",
    "first_touch",
    "time_decay",
    "position_based",
    "median_days",
    "p90_days",
    "days_from",
    "add_to_cart",
    "revenue_credit",
)


def test_no_internal_name_in_any_element_text(env: str) -> None:
    """Titles, captions, KPIs, tabs, table headers and cells, chart labels: human names only."""
    at = run()
    assert not at.exception
    texts: list[str] = [e.value for e in (*at.markdown, *at.caption, *at.subheader)]
    texts += [f"{m.label} {m.value}" for m in at.metric]
    texts += [t.label for t in at.tabs]
    frames = []
    for _ in each_tab(at):  # every tab's table, and the channel grouping opened
        frames += list(at.dataframe)
        texts += [e.value for e in (*at.markdown, *at.caption)]
    assert len(frames) == 15  # the comparison, 9 tabs' tables, the channel counts, thrice
    for frame in frames:
        config = json.loads(frame.proto.columns or "{}")
        for name in frame.value.columns:  # every column has a human header
            assert config.get(name, {}).get("label"), name
        texts += [str(spec.get("label", "")) for spec in config.values()]
        texts += [str(v) for name in frame.value.columns for v in frame.value[name].tolist()]
    texts += [chart.proto.spec for chart in at.get("plotly_chart")]
    text = "\n".join(texts)
    found = [name for name in INTERNAL_NAMES if name in text]
    assert not found, found
    assert "Revenue (USD)" in [m.label for m in at.metric]
