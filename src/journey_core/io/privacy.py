"""Personal data: masked emails for display and exports, keyed fingerprints for logs.

Masking covers the ``email`` column (the whole value) and every email written inside another
text column, such as ``page_url`` or ``referrer`` query strings (``?email=ann@b.co``, also
``%40``-encoded). Fingerprints and other derived keys are HMACs under the server secret
(``JOURNEY_SECRET_KEY``, handed over with :func:`use_secret`); without one, a random key per
process, so fingerprints cannot be reversed by hashing guessed emails.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import polars as pl

from journey_core import columns as c

_LOCAL = r"[A-Za-z0-9._%+\-]"
#: An email inside free text: its first character, the ``@`` (or ``%40``, ``%2540``), the domain.
EMAIL_IN_TEXT = rf"({_LOCAL}){_LOCAL}*(@|%40|%2540)([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*)"
_EMAIL_IN_TEXT = re.compile(EMAIL_IN_TEXT)
_secret: bytes = secrets.token_bytes(32)


def mask_email(email: str) -> str:
    """Keep the first character of the local part and the domain.

    >>> mask_email("jane.doe@example.com")
    'j***@example.com'
    """
    local, at, domain = email.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_text(text: str) -> str:
    """``text`` with every email in it masked like :func:`mask_email` (encoding kept).

    >>> mask_text("https://x.io/?email=ann%40b.co&ref=bob@c.io")
    'https://x.io/?email=a***%40b.co&ref=b***@c.io'
    """
    return _EMAIL_IN_TEXT.sub(r"\1***\2\3", text)


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


def mask_text_expr(column: str) -> pl.Expr:
    """The expression form of :func:`mask_text` (null stays null).

    >>> frame = pl.DataFrame({"page_url": ["/?e=ann@x.io", None]})
    >>> frame.select(mask_text_expr("page_url"))["page_url"].to_list()
    ['/?e=a***@x.io', None]
    """
    return pl.col(column).str.replace_all(EMAIL_IN_TEXT, "${1}***${2}${3}").alias(column)


def mask_frame(
    frame: pl.DataFrame, *, columns: tuple[str, ...] = (c.EMAIL,), text: bool = True
) -> pl.DataFrame:
    """Mask the email ``columns`` of ``frame`` that are present, and (``text``) the emails
    inside every other text column."""
    exprs = [mask_expr(name) for name in columns if name in frame.columns]
    if text:
        exprs += [
            mask_text_expr(name)
            for name, dtype in frame.schema.items()
            if dtype == pl.String and name not in columns
        ]
    return frame.with_columns(exprs) if exprs else frame


def use_secret(secret: str | bytes | None, *, reset: bool = False) -> None:
    """Key this process's fingerprints (and derived keys) with the server ``secret``.

    A blank ``secret`` keeps the key in use; ``reset`` draws a new random key instead.
    """
    global _secret  # the one process-wide key, set once at start-up
    if secret:
        _secret = secret.encode("utf-8") if isinstance(secret, str) else secret
    elif reset:
        _secret = secrets.token_bytes(32)


def derive_key(purpose: str, *, secret: str | bytes | None = None) -> bytes:
    """A 32-byte key for one ``purpose``, derived from ``secret`` (default: the process key).

    >>> derive_key("cursor", secret="s") == derive_key("cursor", secret="s") != derive_key("log")
    True
    """
    if secret is None:
        root = _secret
    else:
        root = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(root, b"journey-explorer/" + purpose.encode("utf-8"), hashlib.sha256).digest()


def fingerprint(email: str | None, *, secret: str | bytes | None = None) -> str:
    """A short, stable tag of an email for logs (``-`` when absent): an HMAC under the secret.

    >>> fingerprint("ann@x.io") == fingerprint("ann@x.io") != fingerprint("bob@x.io")
    True
    """
    if not email:
        return "-"
    key = derive_key("fingerprint", secret=secret)
    return "email#" + hmac.new(key, email.encode("utf-8"), hashlib.sha256).hexdigest()[:10]


__all__ = [
    "EMAIL_IN_TEXT",
    "derive_key",
    "fingerprint",
    "mask_email",
    "mask_expr",
    "mask_frame",
    "mask_text",
    "mask_text_expr",
    "use_secret",
]
