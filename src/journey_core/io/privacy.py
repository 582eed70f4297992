"""Personal data: masked emails for display and exports, fingerprints for logs."""

from __future__ import annotations

import hashlib

import polars as pl

from journey_core import columns as c


def mask_email(email: str) -> str:
    """Keep the first character of the local part and the domain.

    >>> mask_email("jane.doe@example.com")
    'j***@example.com'
    """
    local, at, domain = email.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_expr(column: str = c.EMAIL) -> pl.Expr:
    """The expression form of :func:`mask_email` (null stays null).

    >>> pl.DataFrame({"email": ["ann@x.io", None]}).select(mask_expr())["email"].to_list()
    ['a***@x.io', None]
    """
    col = pl.col(column)
    domain = col.str.split_exact("@", 1).struct.field("field_1")
    return (
        pl.when(col.str.contains("@", literal=True))
        .then(pl.concat_str([col.str.slice(0, 1), pl.lit("***@"), domain]))
        .otherwise(pl.when(col.is_not_null()).then(pl.lit("***")))
        .alias(column)
    )


def mask_frame(frame: pl.DataFrame, *, columns: tuple[str, ...] = (c.EMAIL,)) -> pl.DataFrame:
    """Mask every email column of ``frame`` that is present."""
    present = [name for name in columns if name in frame.columns]
    return frame.with_columns(mask_expr(name) for name in present) if present else frame


def fingerprint(email: str | None) -> str:
    """A short, stable, non-reversible tag of an email for logs (``-`` when absent).

    >>> fingerprint("ann@x.io") == fingerprint("ann@x.io") != fingerprint("bob@x.io")
    True
    """
    if not email:
        return "-"
    return "email#" + hashlib.sha256(email.encode("utf-8")).hexdigest()[:10]
