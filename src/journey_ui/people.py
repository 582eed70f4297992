"""Person links and widget keys that never carry an email.

With ``JOURNEY_MASK_PII=1`` a link to a person's customer lookup is ``/customer?person=<token>``:
the token is a keyed hash (HMAC-SHA256) of the email under this server's secret, resolved here,
on the server, from a bounded table of the people the server has linked to. Widget keys of
per-person widgets use :func:`tag`, a shorter keyed hash, so no email reaches the browser's DOM
or the websocket's element ids.

>>> remember("ann@x.io") == token("ann@x.io") != token("bob@x.io")
True
>>> resolve(token("ann@x.io"))
'ann@x.io'
>>> resolve("not-a-token") is None
True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections import OrderedDict

from journey_core.io.privacy import derive_key

__all__ = ["MAX_PEOPLE", "remember", "resolve", "tag", "token"]

#: Most people the server remembers links for; the least recently linked are forgotten first.
MAX_PEOPLE = 100_000
_PEOPLE: OrderedDict[str, str] = OrderedDict()
_LOCK = threading.Lock()


def token(email: str) -> str:
    """The opaque link token of ``email``: 22 URL-safe characters of its keyed hash."""
    key = derive_key("person-link")  # from JOURNEY_SECRET_KEY, else a per-process key
    digest = hmac.new(key, email.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:22]


def tag(email: str) -> str:
    """A short keyed hash of ``email`` for widget keys (``customer.try.<tag>``)."""
    return token(email)[:12]


def remember(email: str) -> str:
    """The token of ``email``, which :func:`resolve` now turns back into it."""
    value = token(email)
    with _LOCK:
        _PEOPLE[value] = email
        _PEOPLE.move_to_end(value)
        while len(_PEOPLE) > MAX_PEOPLE:
            _PEOPLE.popitem(last=False)
    return value


def resolve(value: str) -> str | None:
    """The email of a token :func:`remember` made (``None``: unknown or forgotten)."""
    with _LOCK:
        return _PEOPLE.get(value.strip())
