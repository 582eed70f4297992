"""Masking emails inside free text (URLs, referrers) and keyed log fingerprints."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_core.io.privacy import derive_key, fingerprint, mask_frame, mask_text, use_secret


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param("https://x.io/?email=ann@b.co", "https://x.io/?email=a***@b.co", id="query"),
        pytest.param(
            "https://x.io/?e=ann%40b.co&n=1", "https://x.io/?e=a***%40b.co&n=1", id="percent"
        ),
        pytest.param("https://x.io/?e=ann%2540b.co", "https://x.io/?e=a***%2540b.co", id="double"),
        pytest.param("mailto:Jane.Doe+x@Corp.Example", "mailto:J***@Corp.Example", id="mailto"),
        pytest.param("a@b.co and c.d@e.org", "a***@b.co and c***@e.org", id="two"),
        pytest.param("https://x.io/pricing?utm_source=mail", None, id="no email"),
        pytest.param("", None, id="empty"),
    ],
)
def test_mask_text(text: str, masked: str | None) -> None:
    assert mask_text(text) == (text if masked is None else masked)


def test_mask_frame_masks_emails_in_every_text_column() -> None:
    frame = pl.DataFrame(
        {
            "email": ["ann@b.co", None],
            "page_url": ["https://x.io/?email=ann%40b.co", None],
            "referrer": ["https://mail.io/read?to=ann@b.co", "https://search.io/"],
            "n": [1, 2],
        }
    )
    expected = pl.DataFrame(
        {
            "email": ["a***@b.co", None],
            "page_url": ["https://x.io/?email=a***%40b.co", None],
            "referrer": ["https://mail.io/read?to=a***@b.co", "https://search.io/"],
            "n": [1, 2],
        }
    )
    assert_frame_equal(mask_frame(frame), expected)


def test_mask_frame_text_expression_matches_mask_text() -> None:
    texts = ["x ann@b.co y", "u?e=bo%40c.io", "plain", "Z@Q.ORG%40"]
    masked = mask_frame(pl.DataFrame({"page_url": texts}))["page_url"].to_list()
    assert masked == [mask_text(text) for text in texts]


def test_mask_frame_leaves_frames_without_text_alone() -> None:
    frame = pl.DataFrame({"n": [1, 2]})
    assert_frame_equal(mask_frame(frame), frame)


def test_fingerprint_is_keyed_not_a_bare_hash() -> None:
    email = "jane@example.com"
    bare = "email#" + hashlib.sha256(email.encode()).hexdigest()[:10]
    assert fingerprint(email) != bare
    assert fingerprint(email) == fingerprint(email)  # stable within the process


def test_fingerprint_follows_the_secret() -> None:
    email = "jane@example.com"
    one = fingerprint(email, secret="one")
    assert one == fingerprint(email, secret="one")
    assert one != fingerprint(email, secret="two")
    assert derive_key("cursor", secret="one") != derive_key("fingerprint", secret="one")


def test_use_secret_sets_the_process_key() -> None:
    email = "jane@example.com"
    before = fingerprint(email)
    try:
        use_secret("shared secret")
        assert fingerprint(email) == fingerprint(email, secret="shared secret")
        use_secret("")  # blank keeps the key in use
        assert fingerprint(email) == fingerprint(email, secret="shared secret")
    finally:
        use_secret(None, reset=True)
    assert fingerprint(email) != before  # a fresh random key
