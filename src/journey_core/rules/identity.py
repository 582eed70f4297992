"""The journey rules, pure Polars: identity links, known individuals, stitching, retrieval.

Every function takes and returns LazyFrames; nothing here reads a clock or a database.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from journey_core import columns as c
from journey_core.rules.query import EMAIL_PATTERN, MAX_EMAIL_LENGTH
from journey_core.timeutil import TS as TS
from journey_core.timeutil import utc_lit

EVENT_SCHEMA: dict[str, pl.DataType] = {
    **{name: pl.String() for name in c.TEXT_EVENT_COLUMNS},
    c.OCCURRED_AT: TS,
    c.REVENUE: pl.Float64(),
}
IDENTITY_SCHEMA: dict[str, pl.DataType] = {
    c.ANONYMOUS_ID: pl.String(),
    c.EMAIL: pl.String(),
    c.IDENTIFIED_AT: TS,
}
LINK_SCHEMA: dict[str, pl.DataType] = {
    c.ANONYMOUS_ID: pl.String(),
    c.EMAIL: pl.String(),
    c.LINKED_AT: TS,
}
RESULT_SCHEMA: dict[str, pl.DataType] = {
    name: (
        pl.Boolean() if name == c.BEFORE_KNOWN else TS if name == c.KNOWN_AT else EVENT_SCHEMA[name]
    )
    for name in c.RESULT_COLUMNS
}


def normalized_email(column: str = c.EMAIL, *, any_identifier: bool = False) -> pl.Expr:
    """Trimmed, lower-cased email; blank or malformed becomes null (it identifies nobody).

    With ``any_identifier`` (a mapping whose identifier is a user id, e.g. Snowplow's
    ``user_id``), any non-blank value identifies someone.

    >>> frame = pl.DataFrame({"email": [" A@B.co ", "  ", None, "not-an-email"]})
    >>> frame.select(normalized_email())["email"].to_list()
    ['a@b.co', None, None, None]
    >>> frame.select(normalized_email(any_identifier=True))["email"].to_list()
    ['a@b.co', None, None, 'not-an-email']
    """
    e = pl.col(column).str.strip_chars().str.to_lowercase()
    if any_identifier:
        valid = e.str.len_chars() > 0
    else:
        valid = (e.str.len_chars() <= MAX_EMAIL_LENGTH) & e.str.contains(EMAIL_PATTERN)
    return pl.when(valid).then(e).otherwise(None).alias(column)


def blank_to_null(column: str) -> pl.Expr:
    """A text column with blank values turned into null."""
    e = pl.col(column)
    return pl.when(e.str.strip_chars().str.len_chars() > 0).then(e).otherwise(None).alias(column)


def conform_events(events: pl.LazyFrame, *, any_identifier: bool = False) -> pl.LazyFrame:
    """Cast an events frame to the canonical dtypes and normalise emails and anonymous ids.

    Naive timestamps are taken as UTC.
    """
    schema = events.collect_schema()
    exprs: list[pl.Expr] = []
    for name, dtype in EVENT_SCHEMA.items():
        if name not in schema:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
        elif name == c.OCCURRED_AT:
            exprs.append(as_utc(name, schema[name]))
        else:
            exprs.append(pl.col(name).cast(dtype))
    return events.select(exprs).with_columns(
        normalized_email(any_identifier=any_identifier), blank_to_null(c.ANONYMOUS_ID)
    )


def conform_identities(identities: pl.LazyFrame, *, any_identifier: bool = False) -> pl.LazyFrame:
    """Cast an identities frame to the canonical dtypes and normalise it."""
    schema = identities.collect_schema()
    return identities.select(
        pl.col(c.ANONYMOUS_ID).cast(pl.String()),
        pl.col(c.EMAIL).cast(pl.String()),
        as_utc(c.IDENTIFIED_AT, schema[c.IDENTIFIED_AT]),
    ).with_columns(normalized_email(any_identifier=any_identifier), blank_to_null(c.ANONYMOUS_ID))


def as_utc(name: str, dtype: pl.DataType) -> pl.Expr:
    """Column ``name`` (of ``dtype``) as ``Datetime(us, UTC)``; naive values are UTC."""
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return col.dt.replace_time_zone("UTC").dt.cast_time_unit("us").alias(name)
        return col.dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias(name)
    if dtype == pl.String:
        return col.str.to_datetime(time_unit="us", time_zone="UTC", strict=False).alias(name)
    return col.cast(TS).alias(name)


def build_links(
    events: pl.LazyFrame,
    identities: pl.LazyFrame,
    *,
    as_of: dt.datetime,
    any_identifier: bool = False,
) -> pl.LazyFrame:
    """Identification links at or before ``as_of``: identities rows plus email-carrying events.

    Rows with a null ``anonymous_id`` come from events that carry an email but no anonymous
    id: they make the email known but link no anonymous id.
    """
    from_identities = conform_identities(identities, any_identifier=any_identifier).select(
        c.ANONYMOUS_ID, c.EMAIL, pl.col(c.IDENTIFIED_AT).alias(c.LINKED_AT)
    )
    from_events = conform_events(events, any_identifier=any_identifier).select(
        c.ANONYMOUS_ID, c.EMAIL, pl.col(c.OCCURRED_AT).alias(c.LINKED_AT)
    )
    return pl.concat([from_identities, from_events]).filter(
        pl.col(c.EMAIL).is_not_null(), pl.col(c.LINKED_AT) <= utc_lit(as_of)
    )


def known_individuals(links: pl.LazyFrame) -> pl.LazyFrame:
    """One row per email with its ``known_at``: the earliest link of that email."""
    return links.group_by(c.EMAIL).agg(pl.col(c.LINKED_AT).min().alias(c.KNOWN_AT))


def anonymous_owners(links: pl.LazyFrame) -> pl.LazyFrame:
    """Each linked anonymous id with the email it was most recently linked to.

    Ties at the latest link time go to the smallest email.
    """
    return (
        links.filter(pl.col(c.ANONYMOUS_ID).is_not_null())
        .group_by(c.ANONYMOUS_ID)
        .agg(pl.col(c.EMAIL).sort_by([c.LINKED_AT, c.EMAIL], descending=[True, False]).first())
    )


def stitch(
    events: pl.LazyFrame, links: pl.LazyFrame, *, any_identifier: bool = False
) -> pl.LazyFrame:
    """Give every event its individual's email; drop events that belong to nobody.

    An event keeps the email it carries; an event without one takes the owner of its
    anonymous id. Stitching is idempotent: stitching a stitched frame changes nothing.
    """
    return stitch_owners(events, anonymous_owners(links), any_identifier=any_identifier)


def stitch_owners(
    events: pl.LazyFrame, owners: pl.LazyFrame, *, any_identifier: bool = False
) -> pl.LazyFrame:
    """:func:`stitch` with the owners (:func:`anonymous_owners` of the links) given."""
    return stitch_conformed(conform_events(events, any_identifier=any_identifier), owners)


def stitch_conformed(events: pl.LazyFrame, owners: pl.LazyFrame) -> pl.LazyFrame:
    """:func:`stitch_owners` of events already through :func:`conform_events`."""
    owners = owners.select(c.ANONYMOUS_ID, pl.col(c.EMAIL).alias("_owner"))
    return (
        events.join(owners, on=c.ANONYMOUS_ID, how="left", nulls_equal=False)
        .with_columns(pl.coalesce(c.EMAIL, "_owner").alias(c.EMAIL))
        .drop("_owner")
        .filter(pl.col(c.EMAIL).is_not_null())
    )
