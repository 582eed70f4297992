"""journey_ui.serve.server_options: where the dashboard listens and which host names it answers."""

from __future__ import annotations

import pytest

from journey_core.config import Settings
from journey_ui.serve import server_options

LOOPBACK = [
    "--server.allowedHosts",
    "localhost",
    "--server.allowedHosts",
    "127.0.0.1",
    "--server.allowedHosts",
    "::1",
]


@pytest.mark.parametrize(
    ("settings", "args", "sign_in", "expected"),
    [
        pytest.param(
            Settings(), [], False, ["--server.address", "127.0.0.1", *LOOPBACK], id="default"
        ),
        pytest.param(
            Settings(),
            [],
            True,
            ["--server.address", "0.0.0.0", "--server.allowedHosts", "*"],
            id="sign-in",
        ),
        pytest.param(
            Settings(dashboard_public=True, dashboard_allowed_hosts=("j.example.com",)),
            [],
            False,
            ["--server.address", "0.0.0.0", "--server.allowedHosts", "j.example.com"],
            id="public-with-hosts",
        ),
        pytest.param(
            Settings(), ["--server.address", "10.0.0.5"], False, LOOPBACK, id="address-flag"
        ),
        pytest.param(
            Settings(),
            ["--server.allowedHosts=x.example"],
            False,
            ["--server.address", "127.0.0.1"],
            id="hosts-flag",
        ),
        pytest.param(
            Settings(),
            ["--server.address=10.0.0.5", "--server.allowedHosts", "a"],
            False,
            [],
            id="both-flags",
        ),
    ],
)
def test_server_options(
    settings: Settings, args: list[str], sign_in: bool, expected: list[str]
) -> None:
    assert server_options(settings, args, sign_in=sign_in)[0] == expected


def test_public_without_hosts_warns() -> None:
    _, warnings = server_options(Settings(dashboard_public=True), [], sign_in=False)
    assert len(warnings) == 1
    assert "JOURNEY_DASHBOARD_ALLOWED_HOSTS" in warnings[0]
