"""Issue 14: with masking on, a URL value containing an email is an opaque token."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

VALUES = ["spring-sale", "promo ann.110@example.com"]


def _page(mask: bool) -> None:
    import streamlit as st

    from journey_ui import shell, urlstate

    st.session_state[shell.MASK_PII_KEY] = bool(st.session_state.get("test.mask", mask))
    param = urlstate.list_param("campaign", "campaign.campaign")
    urlstate.restore(param)
    st.session_state["test.seen"] = list(st.session_state[param.key])
    if "test.choose" in st.session_state:
        urlstate.publish(param, st.session_state["test.choose"])


def _published(mask: bool) -> list[str]:
    at = AppTest.from_function(_page, args=(mask,), default_timeout=60)
    at.session_state["test.choose"] = VALUES
    at.run()
    assert not at.exception
    return list(at.query_params["campaign"])


def test_a_filter_value_with_an_email_is_a_token_in_the_url_when_masking() -> None:
    raws = _published(mask=True)
    assert raws[0] == "spring-sale"
    assert "@" not in raws[1]
    assert "ann.110" not in raws[1]
    # The link opens the same filter on this server.
    at = AppTest.from_function(_page, args=(True,), default_timeout=60)
    at.query_params["campaign"] = raws
    at.run()
    assert not at.exception
    assert at.session_state["test.seen"] == VALUES


def test_without_masking_the_url_keeps_the_value() -> None:
    assert _published(mask=False) == VALUES
