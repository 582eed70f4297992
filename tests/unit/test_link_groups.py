"""Link groups (one row per raw anonymous_id and email) give the rules' people and owners.

``people_and_owners`` reads the rows of ``link_groups_query``; it must equal
``known_individuals`` and ``anonymous_owners`` of the ungrouped links, conformed as the
rules conform identities.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from journey_core import columns as c
from journey_core.rules import anonymous_owners, conform_identities, known_individuals
from journey_core.warehouse.fetch import people_and_owners

T0 = dt.datetime(2022, 7, 1, 9)


def _t(hours: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def _raw_links(rows: list[tuple[str | None, str | None, dt.datetime]]) -> pl.DataFrame:
    """Link rows as the warehouse returns them: raw spellings, naive UTC timestamps."""
    return pl.DataFrame(
        rows,
        schema={c.ANONYMOUS_ID: pl.String, c.EMAIL: pl.String, c.LINKED_AT: pl.Datetime("us")},
        orient="row",
    )


def _groups(links: pl.DataFrame) -> pl.DataFrame:
    """What ``link_groups_query`` computes in SQL, computed here on the raw values."""
    return links.group_by(c.ANONYMOUS_ID, c.EMAIL).agg(
        pl.col(c.LINKED_AT).min().alias(c.FIRST_LINKED_AT),
        pl.col(c.LINKED_AT).max().alias(c.LAST_LINKED_AT),
    )


CASES = [
    pytest.param(
        [("a1", "Ann@X.io ", _t(5)), ("a1", "ann@x.io", _t(1)), ("a2", " ANN@x.io", _t(3))],
        False,
        id="spellings-of-one-email-merge",
    ),
    pytest.param(
        [
            ("a1", "ann@x.io", _t(1)),
            ("a1", "bob@x.io", _t(2)),
            ("a1", "ann@x.io", _t(4)),
            ("a1", "bob@x.io", _t(3)),
        ],
        False,
        id="latest-link-owns-the-device",
    ),
    pytest.param(
        [("a1", "bob@x.io", _t(2)), ("a1", "ann@x.io", _t(2)), ("a1", "ann@x.io", _t(1))],
        False,
        id="tie-goes-to-smallest-email",
    ),
    pytest.param(
        [
            (None, "cy@x.io", _t(1)),
            ("  ", "cy@x.io", _t(2)),
            ("a3", "not-an-email", _t(3)),
            ("a3", "cy@x.io", _t(4)),
        ],
        False,
        id="no-device-blank-device-malformed-email",
    ),
    pytest.param(
        [("a1", "user-7", _t(1)), ("a1", " USER-8", _t(2)), ("a2", "user-7", _t(3))],
        True,
        id="user-ids-identify",
    ),
]


@pytest.mark.parametrize(("rows", "any_identifier"), CASES)
def test_people_and_owners_equal_the_rules_on_ungrouped_links(
    rows: list[tuple[str | None, str | None, dt.datetime]], any_identifier: bool
) -> None:
    links = _raw_links(rows)
    conformed = conform_identities(
        links.lazy().rename({c.LINKED_AT: c.IDENTIFIED_AT}), any_identifier=any_identifier
    ).select(c.ANONYMOUS_ID, c.EMAIL, pl.col(c.IDENTIFIED_AT).alias(c.LINKED_AT))
    conformed = conformed.filter(pl.col(c.EMAIL).is_not_null())
    people, owners = people_and_owners(_groups(links), any_identifier=any_identifier)
    assert_frame_equal(
        people.collect(), known_individuals(conformed).collect(), check_row_order=False
    )
    assert_frame_equal(
        owners.collect(), anonymous_owners(conformed).collect(), check_row_order=False
    )


def test_no_groups_means_nobody_known() -> None:
    people, owners = people_and_owners(pl.DataFrame())
    assert people.collect().is_empty()
    assert owners.collect().is_empty()
    assert people.collect_schema().names() == [c.EMAIL, c.KNOWN_AT]
