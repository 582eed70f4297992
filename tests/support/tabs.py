"""Open a page's lazy tabs in AppTest the way a click does.

Tabs made by :func:`journey_ui.components.lazy_tabs` build only the open tab; a click sets the
group's session-state key to the tab's label and reruns the page. AppTest has no tab widget,
so these helpers set that key and rerun, after checking the tab is on the page.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from streamlit.testing.v1 import AppTest

from journey_ui.attribution import CHANNELS_OPEN, CREDIT_TABS, PATH_TABS, TIME_TABS

__all__ = ["ATTRIBUTION_EXPANDERS", "ATTRIBUTION_TABS", "each_tab", "open_tab"]

#: The Attribution page's tab groups, in page order (three tabs each).
ATTRIBUTION_TABS = (CREDIT_TABS, PATH_TABS, TIME_TABS)
#: The Attribution page's expanders drawn only when open (:func:`each_tab` opens them).
ATTRIBUTION_EXPANDERS = (CHANNELS_OPEN,)


def open_tab(at: AppTest, key: str, label: str) -> AppTest:
    """``at`` rerun with the tab ``label`` of the group ``key`` open."""
    labels = [tab.label for tab in at.tabs]
    assert label in labels, f"no tab {label!r} in {labels}"
    at.session_state[key] = label
    return at.run()


def each_tab(
    at: AppTest,
    groups: Sequence[str] = ATTRIBUTION_TABS,
    size: int = 3,
    expanders: Sequence[str] = ATTRIBUTION_EXPANDERS,
) -> Iterator[AppTest]:
    """``at`` with the first, then the second, ... tab of every group open (``groups`` of
    ``size`` tabs each, the page's only tabs, in page order) and the lazy ``expanders``
    open: every table is drawn."""
    labels = [tab.label for tab in at.tabs]
    assert len(labels) == len(groups) * size, labels
    for index in range(size):
        for key in expanders:
            at.session_state[key] = True
        for number, key in enumerate(groups):
            at.session_state[key] = labels[number * size + index]
        at.run()
        assert [at.session_state[key] for key in groups] == labels[index::size]
        yield at
