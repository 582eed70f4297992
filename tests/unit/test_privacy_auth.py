"""PII masking and password hashing."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_core.auth import Throttle, hash_password, verify_password
from journey_core.errors import ConfigError
from journey_core.io.privacy import fingerprint, mask_email, mask_frame


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        pytest.param("jane@example.com", "j***@example.com", id="plain"),
        pytest.param("a@x.io", "a***@x.io", id="one letter"),
        pytest.param("no-at-sign", "***", id="not an email"),
    ],
)
def test_mask_email(email: str, masked: str) -> None:
    assert mask_email(email) == masked


def test_mask_frame_matches_mask_email() -> None:
    frame = pl.DataFrame({"email": ["jane@example.com", None, "odd"], "n": [1, 2, 3]})
    expected = pl.DataFrame({"email": ["j***@example.com", None, "***"], "n": [1, 2, 3]})
    assert_frame_equal(mask_frame(frame), expected)


def test_fingerprint_hides_the_email() -> None:
    tag = fingerprint("jane@example.com")
    assert tag.startswith("email#")
    assert "jane" not in tag
    assert fingerprint(None) == "-"


def test_password_round_trip() -> None:
    encoded = hash_password("correct horse battery")
    assert verify_password("correct horse battery", encoded)
    assert not verify_password("correct horse batterY", encoded)
    # salted: the same password hashes differently each time
    assert hash_password("correct horse battery") != encoded


@pytest.mark.parametrize("bad", ["", "md5$abc", "scrypt$x$8$1$aa$bb"])
def test_malformed_hash_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="journey hash-password"):
        verify_password("pw", bad)


def test_empty_password_refused() -> None:
    with pytest.raises(ConfigError, match="empty"):
        hash_password("")


def test_throttle_slows_repeated_failures() -> None:
    throttle = Throttle(free=2, base_delay=1.0, max_delay=8.0)
    waits = []
    for _ in range(6):
        throttle.record_failure(now=100.0)
        waits.append(throttle.wait_seconds(now=100.0))
    assert waits == [0.0, 0.0, 2.0, 4.0, 8.0, 8.0]
    assert throttle.wait_seconds(now=110.0) == 0.0
    throttle.reset()
    assert throttle.wait_seconds(now=100.0) == 0.0
