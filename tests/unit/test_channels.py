"""Channel grouping: GA4-style defaults, the user's TOML mapping, nothing disappears."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.analytics.channels import ChannelConfig, channel_expr, classify
from journey_core.config import ENV_CHANNELS_FILE, Settings
from journey_core.errors import ConfigError

PAGE = "https://shop.example.com/products"
INPUTS = (c.UTM_SOURCE, c.UTM_MEDIUM, c.UTM_CAMPAIGN, c.REFERRER)


def touch(
    source: str | None = None,
    medium: str | None = None,
    campaign: str | None = None,
    referrer: str | None = None,
    page: str | None = PAGE,
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            c.UTM_SOURCE: [source],
            c.UTM_MEDIUM: [medium],
            c.UTM_CAMPAIGN: [campaign],
            c.REFERRER: [referrer],
            c.PAGE_URL: [page],
        },
        schema={name: pl.String for name in (*INPUTS, c.PAGE_URL)},
    )


def classified(frame: pl.DataFrame, config: ChannelConfig | None = None) -> tuple[str, ...]:
    row = classify(frame.lazy(), config).collect()
    return tuple(row.select(c.CHANNEL, c.SOURCE, c.MEDIUM, c.CAMPAIGN).row(0))


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        pytest.param(touch(), ("Direct", "(direct)", "(none)", "(not set)"), id="direct"),
        pytest.param(
            touch("(direct)", "(none)", "(not set)"),
            ("Direct", "(direct)", "(none)", "(not set)"),
            id="direct-tagged",
        ),
        pytest.param(
            touch("google", "cpc", "brand"), ("Paid Search", "google", "cpc", "brand"), id="cpc"
        ),
        pytest.param(
            touch("bing", "paid-search", "x"),
            ("Paid Search", "bing", "paid-search", "x"),
            id="paid-prefix",
        ),
        pytest.param(
            touch("facebook", "paid_social", "summer"),
            ("Paid Social", "facebook", "paid_social", "summer"),
            id="paid-social",
        ),
        pytest.param(
            touch("youtube", "cpv", "v"), ("Paid Video", "youtube", "cpv", "v"), id="paid-video"
        ),
        pytest.param(
            touch("amazon", "ppc", "a"), ("Paid Shopping", "amazon", "ppc", "a"), id="paid-shop"
        ),
        pytest.param(
            touch("partner", "cpa", "p"), ("Paid Other", "partner", "cpa", "p"), id="paid-other"
        ),
        pytest.param(
            touch("dv360", "cpm", "p"), ("Display", "dv360", "cpm", "p"), id="cpm-display"
        ),
        pytest.param(touch("gdn", "banner", "p"), ("Display", "gdn", "banner", "p"), id="display"),
        pytest.param(
            touch("partner", "cpc", "cross-network promo"),
            ("Cross-network", "partner", "cpc", "cross-network promo"),
            id="cross-network",
        ),
        pytest.param(
            touch(referrer="https://www.google.co.uk/search?q=x"),
            ("Organic Search", "google.co.uk", "organic", "(not set)"),
            id="search-referrer",
        ),
        pytest.param(
            touch(referrer="https://duckduckgo.com/"),
            ("Organic Search", "duckduckgo.com", "organic", "(not set)"),
            id="search-referrer-label",
        ),
        pytest.param(
            touch("google", "organic"),
            ("Organic Search", "google", "organic", "(not set)"),
            id="organic-tagged",
        ),
        pytest.param(
            touch(referrer="https://t.co/abc"),
            ("Organic Social", "t.co", "referral", "(not set)"),
            id="social-referrer",
        ),
        pytest.param(
            touch(referrer="https://m.youtube.com/watch"),
            ("Organic Video", "m.youtube.com", "referral", "(not set)"),
            id="video-referrer",
        ),
        pytest.param(
            touch(referrer="https://blog.partner.example/best"),
            ("Referral", "blog.partner.example", "referral", "(not set)"),
            id="referral",
        ),
        pytest.param(
            touch("newsletter", "Email", "weekly"),
            ("Email", "newsletter", "Email", "weekly"),
            id="email-case-insensitive",
        ),
        pytest.param(
            touch("Partners", "affiliate", "promo"),
            ("Affiliates", "Partners", "affiliate", "promo"),
            id="affiliates",
        ),
        pytest.param(
            touch("spotify", "audio"), ("Audio", "spotify", "audio", "(not set)"), id="audio"
        ),
        pytest.param(touch("sms", "text"), ("SMS", "sms", "text", "(not set)"), id="sms"),
        pytest.param(
            touch("app", "web-push"),
            ("Mobile Push Notifications", "app", "web-push", "(not set)"),
            id="push",
        ),
        pytest.param(
            touch("weird", "foo"), ("Unassigned", "weird", "foo", "(not set)"), id="unassigned"
        ),
        pytest.param(
            touch(campaign="spring"),
            ("Unassigned", "(not set)", "(not set)", "spring"),
            id="campaign-only",
        ),
        pytest.param(
            touch("  ", " ", "", referrer="https://shop.example.com/cart"),
            ("Direct", "(direct)", "(none)", "(not set)"),
            id="blank-tags-self-referral",
        ),
        pytest.param(
            touch(referrer="https://news.example.org/review", page=None),
            ("Referral", "news.example.org", "referral", "(not set)"),
            id="no-page-url",
        ),
    ],
)
def test_default_channels(frame: pl.DataFrame, expected: tuple[str, ...]) -> None:
    assert classified(frame) == expected


def test_utm_tags_win_over_the_referrer() -> None:
    frame = touch("newsletter", "email", "w", referrer="https://www.google.com/")
    assert classified(frame)[0] == "Email"


def test_utm_source_needs_an_exact_category_match_but_referrer_may_use_parents() -> None:
    # GA4 matches a tagged source exactly; support.google.com is not a search engine there,
    # while a referrer on a google.* host is organic search.
    assert classified(touch("support.google.com", "referral"))[0] == "Referral"
    assert classified(touch(referrer="https://support.google.com/x"))[0] == "Organic Search"


def test_internal_hosts_are_not_referrals() -> None:
    cfg = ChannelConfig.from_toml_text('internal_hosts = ["checkout.example.net"]')
    frame = touch(referrer="https://checkout.example.net/pay")
    assert classified(frame)[0] == "Referral"
    assert classified(frame, cfg)[0] == "Direct"


def test_channel_expr_matches_classify_and_keeps_rows() -> None:
    frame = pl.concat(
        [
            touch("google", "cpc", "brand"),
            touch(referrer="https://t.co/x"),
            touch(),
            touch("weird", "foo"),
        ]
    )
    via_expr = frame.with_columns(channel_expr())
    via_classify = classify(frame.lazy()).collect().select(via_expr.columns)
    assert_frame_equal(via_expr, via_classify)
    assert via_expr[c.CHANNEL].to_list() == [
        "Paid Search",
        "Organic Social",
        "Direct",
        "Unassigned",
    ]


def test_channel_expr_works_without_page_url() -> None:
    frame = touch("google", "cpc").drop(c.PAGE_URL)
    assert frame.select(channel_expr())[c.CHANNEL].to_list() == ["Paid Search"]


def test_channel_list_ends_with_unassigned() -> None:
    names = ChannelConfig.default().channels()
    assert names[0] == "Direct"
    assert names[-1] == "Unassigned"
    assert {"Paid Search", "Organic Search", "Email", "Referral", "Affiliates"} <= set(names)
    assert len(names) == len(set(names))


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(max_size=12)),
            st.one_of(
                st.none(), st.sampled_from(["cpc", "email", "", "organic"]), st.text(max_size=8)
            ),
            st.one_of(st.none(), st.text(max_size=12)),
            st.one_of(
                st.none(),
                st.sampled_from(["https://www.google.com/", "https://t.co/", "nonsense", ""]),
                st.text(max_size=20),
            ),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_every_touch_gets_a_known_channel(values: list[tuple[str | None, ...]]) -> None:
    frame = pl.DataFrame(
        values, schema={name: pl.String for name in INPUTS}, orient="row"
    ).with_columns(pl.lit(PAGE).alias(c.PAGE_URL))
    out = classify(frame.lazy()).collect()
    assert out.height == frame.height
    assert_frame_equal(out.select(frame.columns), frame)
    assert out[c.CHANNEL].null_count() == 0
    assert set(out[c.CHANNEL]) <= set(ChannelConfig.default().channels())
    for name in (c.SOURCE, c.MEDIUM, c.CAMPAIGN):
        assert out[name].null_count() == 0


# --------------------------------------------------------------------------------------------
# The user's mapping


USER_FILE = """
internal_hosts = ["pay.example.net"]

[source_categories]
social = ["mastodon.example"]

[rename]
"Organic Video" = "Video"
"Unassigned" = "Other"

[[rules]]
channel = "Partners"
medium = ["affiliate", "partner"]

[[rules]]
channel = "Brand Search"
source_category = ["search"]
medium = ["cpc"]
campaign_regex = "brand"
"""


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        pytest.param(touch("Partners", "affiliate"), "Partners", id="user-rule-first"),
        pytest.param(touch("google", "cpc", "Brand_2022"), "Brand Search", id="user-regex"),
        pytest.param(touch("google", "cpc", "generic"), "Paid Search", id="default-after"),
        pytest.param(
            touch(referrer="https://mastodon.example/@x"), "Organic Social", id="category"
        ),
        pytest.param(touch("youtube.com", "referral"), "Video", id="rename"),
        pytest.param(touch("weird", "foo"), "Other", id="unassigned-renamed"),
        pytest.param(touch(referrer="https://pay.example.net/"), "Direct", id="internal-host"),
    ],
)
def test_user_file_extends_the_defaults(frame: pl.DataFrame, expected: str) -> None:
    cfg = ChannelConfig.from_toml_text(USER_FILE)
    assert classified(frame, cfg)[0] == expected
    assert cfg.unassigned == "Other"


def test_replace_defaults_uses_only_the_user_rules() -> None:
    cfg = ChannelConfig.from_toml_text(
        """
        replace_defaults = true
        unassigned = "Everything else"
        [[rules]]
        channel = "Paid"
        medium_regex = "^(cpc|ppc)$"
        """
    )
    assert cfg.channels() == ["Paid", "Everything else"]
    assert classified(touch("google", "cpc"), cfg)[0] == "Paid"
    assert classified(touch(), cfg)[0] == "Everything else"


def test_the_configured_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "channels.toml"
    path.write_text(USER_FILE, encoding="utf-8")
    settings = Settings.from_env({ENV_CHANNELS_FILE: f" {path} "})
    cfg = ChannelConfig.from_file(settings.channels_file)
    assert cfg.rules[0].channel == "Partners"
    assert ChannelConfig.from_file(Settings.from_env({}).channels_file) == ChannelConfig.default()


DEFAULT_FILE = Path(__file__).resolve().parents[2] / "src/journey_core/analytics/data/channels.toml"


def test_the_shipped_default_file_is_a_valid_user_file() -> None:
    text = DEFAULT_FILE.read_text()
    cfg = ChannelConfig.from_toml_text("replace_defaults = true\n" + text)
    assert cfg.rules == ChannelConfig.default().rules


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "[[rules]]\nchannel = 'X'\nmediun = ['a']", "rules[0]: unknown key 'mediun'", id="key"
        ),
        pytest.param("[[rules]]\nmedium = ['a']", "rules[0]: missing channel", id="no-channel"),
        pytest.param("[[rules]]\nchannel = 'X'", "has no condition", id="no-condition"),
        pytest.param(
            "[[rules]]\nchannel = 'X'\nmedium_regex = '('", "not a valid regular", id="regex"
        ),
        pytest.param(  # Python's re raises OverflowError for a count this large
            "[[rules]]\nchannel = 'X'\nsource_regex = 'a{99999999999}'",
            "not a valid regular",
            id="regex-count",
        ),
        pytest.param(
            "[[rules]]\nchannel = 'X'\nsource_category = ['serch']",
            "unknown category 'serch'",
            id="cat",
        ),
        pytest.param(
            "[[rules]]\nchannel = 'X'\nmedium = 3", "expected a list of strings", id="type"
        ),
        pytest.param("colour = 'red'", "unknown key 'colour'", id="top-key"),
        pytest.param("rules = [", "not valid TOML", id="syntax"),
        pytest.param("unassigned = ''", "unassigned must be a non-empty", id="empty-name"),
        pytest.param(
            "replace_defaults = 'yes'", "replace_defaults must be true or false", id="bool"
        ),
    ],
)
def test_bad_channel_files_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^channels\.toml: ") as info:
        ChannelConfig.from_toml_text(text, source="channels.toml")
    assert message in str(info.value)


def test_missing_channel_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=ENV_CHANNELS_FILE):
        ChannelConfig.from_toml(tmp_path / "nope.toml")


def test_a_channel_file_that_is_not_text_says_so(tmp_path: Path) -> None:
    path = tmp_path / "channels.toml"
    path.write_bytes(b"\xff\xfe[[rules]]")  # e.g. saved as UTF-16
    with pytest.raises(ConfigError, match=rf"{path}: not UTF-8 text\. .*{ENV_CHANNELS_FILE}"):
        ChannelConfig.from_toml(path)


def test_docs_channel_example_parses() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "attribution.md"
    blocks = re.findall(r"~~~toml\n(.*?)~~~", docs.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert blocks
    for block in blocks:
        cfg = ChannelConfig.from_toml_text(textwrap.dedent(block), source="docs/attribution.md")
        assert classified(touch("partner-site", "partner"), cfg)[0] == "Partners"
