"""Response shapes, for the OpenAPI document (the endpoint writes JSON itself)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


class JourneyRow(BaseModel):
    """One event attributed to one known individual (the fields of ``journey export``)."""

    email: str = Field(description="The individual, trimmed and lower-cased.")
    known_at: dt.datetime = Field(description="When the individual first became known.")
    event_id: str | None
    occurred_at: dt.datetime
    event_type: str | None
    anonymous_id: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_content: str | None
    utm_term: str | None
    page_url: str | None
    referrer: str | None
    revenue: float | None
    before_known: bool = Field(description="The event happened before the person was known.")


class Meta(BaseModel):
    """How the rows were selected, result totals, and where the next page starts."""

    rule: Literal["email", "event_date", "email_and_event_date", "recent"]
    as_of: dt.datetime = Field(description="The time the rules looked from.")
    window_start: dt.datetime = Field(description="The earliest time any row can have.")
    individuals: int = Field(ge=0, description="Distinct individuals in the whole result.")
    events: int = Field(ge=0, description="Rows in the whole result (all pages).")
    returned: int = Field(ge=0, description="Rows in this page.")
    limit: int = Field(ge=1)
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
    message: str | None = Field(description="Why the result is empty, when it is.")


class JourneyPage(BaseModel):
    """A page of journey rows."""

    data: list[JourneyRow]
    meta: Meta


class ErrorDetail(BaseModel):
    """What went wrong and, for bad input, which parameter to fix and how."""

    status: int
    message: str
    parameter: str | None = None
    expected: str | None = None
    request_id: str | None = None


class ErrorBody(BaseModel):
    """Every error response has this shape."""

    error: ErrorDetail
