"""One palette (journey_ui.figures.palette): a channel has one colour on every page."""

from __future__ import annotations

import polars as pl
import pytest

from journey_core import columns as c
from journey_core.analytics import attribution as a
from journey_core.analytics.channels import ChannelConfig
from journey_ui.figures import attribution as attribution_charts
from journey_ui.figures import campaign as campaign_charts
from journey_ui.figures import palette

DEFAULT_CHANNELS = ChannelConfig.default().channels()


def test_every_default_channel_has_one_fixed_colour_on_both_pages() -> None:
    from_attribution = attribution_charts.channel_colours(DEFAULT_CHANNELS)
    for channel in DEFAULT_CHANNELS:
        assert channel in palette.CHANNEL_COLORS, f"{channel} has no fixed colour"
        assert campaign_charts.channel_color(channel) == from_attribution[channel]
        assert from_attribution[channel] == palette.CHANNEL_COLORS[channel]
    assert len(set(from_attribution.values())) == len(DEFAULT_CHANNELS)


@pytest.mark.parametrize("channel", ["Email", "Direct", "Made up"])
def test_drawn_figures_use_the_same_colour(channel: str) -> None:
    links = pl.DataFrame(
        {a.SOURCE_NODE: [f"1. {channel}"], a.TARGET_NODE: [a.CONVERTED], a.VALUE: [1]}
    )
    sankey = attribution_charts.path_sankey(links).data[0]
    bars = campaign_charts.breakdown_chart(
        pl.DataFrame({c.CHANNEL: [channel], c.PEOPLE: [1]}), by=c.CHANNEL, value=c.PEOPLE
    ).data[0]
    assert sankey.node.color[0] == bars.marker.color[0] == palette.channel_color(channel)


def test_outcomes_and_no_touch_do_not_look_like_a_channel() -> None:
    channel_colours = set(palette.CHANNEL_COLORS.values())
    assert palette.OUTCOME_COLORS[a.CONVERTED] not in channel_colours
    assert palette.OUTCOME_COLORS[a.NOT_CONVERTED] not in channel_colours
    assert palette.channel_color(a.NO_TOUCH) == palette.NO_TOUCH_COLOR


def test_one_set_of_labels() -> None:
    assert campaign_charts.label is palette.label
    assert palette.label(c.DROP_OFF) == "Drop-off"
    assert palette.label(c.CONVERSION_RATE) == "Conversion rate"
    fig = attribution_charts.model_comparison(
        pl.DataFrame(
            {c.MODEL: ["linear"], c.CAMPAIGN: ["brand"], c.CONVERSIONS: [1.0], c.REVENUE: [1.0]}
        ),
        by=c.CAMPAIGN,
    )
    assert f"{palette.label(c.CAMPAIGN)}: %{{x}}" in fig.data[0].hovertemplate
    assert fig.layout.font.family == palette.FONT
