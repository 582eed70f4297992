"""The pages' loading indicator: a spinner, and a bar of the steps the warehouse reports."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _bar_page() -> None:
    import streamlit as st

    from journey_ui import components as ui

    ui.progress_bar(st.empty())("visits and touches, part 2 of 9", 0.4)


def _loading_page() -> None:
    import streamlit as st

    from journey_core.progress import report
    from journey_ui import components as ui

    with ui.loading("Loading the filters…"):
        report("finding the cohort's events", 0.0)
        st.session_state["test.inside"] = True
        report("visits and touches, part 9 of 9", 1.0)
    st.write("done")


def test_a_reported_step_is_drawn_as_a_bar() -> None:
    at = AppTest.from_function(_bar_page, default_timeout=30).run()
    assert not at.exception
    (bar,) = at.get("progress")
    assert bar.proto.value == 40
    assert bar.proto.text == "Visits and touches, part 2 of 9…"


def test_the_bar_is_gone_once_the_work_is_done() -> None:
    at = AppTest.from_function(_loading_page, default_timeout=30).run()
    assert not at.exception
    assert at.session_state["test.inside"]
    assert not at.get("progress")
    assert at.markdown[-1].value == "done"
