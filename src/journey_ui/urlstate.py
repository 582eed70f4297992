"""Page inputs mirrored in the URL, so a copied link reproduces the view exactly.

Each input is a :class:`UrlParam`: a widget key plus how to read and write its value as
query-parameter strings. Before its widget is drawn, :func:`restore` takes the value from the
URL when the URL changed (a pasted link, ``st.switch_page`` with parameters); otherwise the
widget keeps its session value. After the widget is drawn, :func:`publish` writes the value
back to the URL. A malformed URL value leaves the widget at its fallback and is reported by
:func:`url_error` (an :class:`~journey_core.errors.InputError` naming the field and the fix)
until the user picks a new value.

Each page reads only its own parameters (:data:`PAGE_PARAMS`, plus ``as_of`` everywhere):
:func:`foreign` names the others, dropped when a page opens, and :func:`link_query` builds the
query string of a page's "Copy link" (always with ``as_of``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import streamlit as st

from journey_core.errors import InputError
from journey_core.io.privacy import EMAIL_IN_TEXT
from journey_core.rules.query import parse_event_date
from journey_ui import people

T = TypeVar("T")

AS_OF = "as_of"
#: The campaign setting (:mod:`journey_ui.setting`), shared by Campaign influence and Attribution.
SETTING_PARAMS: tuple[str, ...] = (
    "event_date",
    "end",
    "campaign",
    "source",
    "medium",
    "channel",
    "event_type",
)
#: The URL parameters each page reads besides ``as_of``, by page URL path ("": the home page).
PAGE_PARAMS: dict[str, tuple[str, ...]] = {
    "": (),
    "customer": ("email", "person", "lane"),
    "campaign": (*SETTING_PARAMS, "breakdown", "who", "steps", "window"),
    "attribution": (
        *SETTING_PARAMS,
        "model",
        "conversions",
        "lookback",
        "half_life",
        "path_unit",
        "collapse",
    ),
    "quality": (),
}


def allowed(page: str) -> frozenset[str]:
    """The parameters a link to ``page`` may carry: its own and ``as_of``.

    >>> sorted(allowed("customer"))
    ['as_of', 'email', 'lane', 'person']
    """
    return frozenset((AS_OF, *PAGE_PARAMS.get(page, ())))


def foreign(page: str, names: Iterable[str]) -> list[str]:
    """The names among ``names`` that ``page`` does not read (another page's parameters).

    >>> foreign("campaign", ["email", "event_date", "as_of", "lane"])
    ['email', 'lane']
    """
    own = allowed(page)
    return [name for name in names if name not in own]


def link_query(page: str, params: Mapping[str, Sequence[str]], as_of: str) -> str:
    """The query string of a link to ``page``: its own ``params`` and, always, ``as_of``.

    Another page's parameters are left out; ``as_of`` replaces any in ``params``.

    >>> params = {"email": ["a@b.co"], "channel": ["Email", "Paid"]}
    >>> link_query("campaign", params, "2026-12-04T10:00:00Z")
    'channel=Email&channel=Paid&as_of=2026-12-04T10%3A00%3A00Z'
    """
    own = allowed(page) - {AS_OF}
    pairs = [(name, value) for name, values in params.items() if name in own for value in values]
    return urlencode([*pairs, (AS_OF, as_of)])


@dataclass(frozen=True)
class UrlParam(Generic[T]):
    """One input: URL name, widget key, parsing, formatting, default and fallback."""

    name: str
    key: str
    parse: Callable[[list[str]], T]
    fmt: Callable[[T], list[str]]
    default: Callable[[], T]
    fallback: Callable[[], T] | None = None

    def _fallback(self) -> T:
        return (self.fallback or self.default)()


_HAS_EMAIL = re.compile(EMAIL_IN_TEXT)
_TOKEN = "~"


def _masking() -> bool:
    from journey_ui.components import masking  # components imports this module

    return masking()


def to_url(value: str) -> str:
    """``value`` as the URL carries it: with masking on, a value containing an email becomes
    ``~<token>`` (:func:`journey_ui.people.remember`), resolved on this server only."""
    if _masking() and _HAS_EMAIL.search(value):
        return _TOKEN + people.remember(value)
    return value


def from_url(raw: str) -> str:
    """The value :func:`to_url` wrote (a token this server does not know stays as it is)."""
    if raw.startswith(_TOKEN):
        return people.resolve(raw[len(_TOKEN) :]) or raw
    return raw


def _applied_key(param: UrlParam[Any]) -> str:
    return f"_url_applied.{param.key}"


def _error_key(param: UrlParam[Any]) -> str:
    return f"_url_error.{param.key}"


def restore(param: UrlParam[T]) -> None:
    """Seed the widget's session value from the URL (if it changed) or the default."""
    state = st.session_state
    raws = st.query_params.get_all(param.name)
    if raws and (raws != state.get(_applied_key(param)) or param.key not in state):
        state[_applied_key(param)] = raws
        try:
            state[param.key] = param.parse([from_url(raw) for raw in raws])
            state.pop(_error_key(param), None)
        except InputError as exc:
            state[_error_key(param)] = exc
            state[param.key] = param._fallback()
    elif param.key not in state:
        state[param.key] = param.default()


def url_error(param: UrlParam[Any]) -> InputError | None:
    """The error of a malformed URL value, while the widget still holds the fallback."""
    error = st.session_state.get(_error_key(param))
    return error if isinstance(error, InputError) else None


def clear_error(param: UrlParam[Any]) -> None:
    """Forget a malformed URL value (the user chose another way to set the input)."""
    st.session_state.pop(_error_key(param), None)


def publish(param: UrlParam[T], value: T) -> None:
    """Write ``value`` to the URL (keeping a malformed value until the user changes it)."""
    state = st.session_state
    if url_error(param) is not None:
        if value == param._fallback():
            return
        state.pop(_error_key(param), None)
    raws = [to_url(raw) for raw in param.fmt(value)]
    if raws != st.query_params.get_all(param.name):
        if raws:
            st.query_params[param.name] = raws if len(raws) > 1 else raws[0]
        elif param.name in st.query_params:
            del st.query_params[param.name]
    state[_applied_key(param)] = raws


# --------------------------------------------------------------------------- common params


def text_param(name: str, key: str, *, default: str = "") -> UrlParam[str]:
    """Free text (validated later, so nothing is malformed here)."""
    return UrlParam(
        name=name,
        key=key,
        parse=lambda raws: raws[-1],
        fmt=lambda value: [value.strip()] if value and value.strip() else [],
        default=lambda: default,
    )


def date_param(name: str, key: str, *, default: Callable[[], dt.date | None]) -> UrlParam[Any]:
    """A ``YYYY-MM-DD`` date; a malformed value leaves the widget empty."""

    def parse(raws: list[str]) -> dt.date | None:
        try:
            return parse_event_date(raws[-1])
        except InputError as exc:
            raise InputError(name, exc.detail) from None

    return UrlParam(
        name=name,
        key=key,
        parse=parse,
        fmt=lambda value: [value.isoformat()] if isinstance(value, dt.date) else [],
        default=default,
        fallback=lambda: None,
    )


def list_param(name: str, key: str, *, default: Sequence[str] = ()) -> UrlParam[list[str]]:
    """Several values, repeated in the URL (``?campaign=a&campaign=b``)."""
    fixed = list(default)

    def fmt(values: list[str]) -> list[str]:
        return [] if list(values) == fixed else list(values)

    return UrlParam(
        name=name,
        key=key,
        parse=lambda raws: list(dict.fromkeys(v for v in raws if v)),
        fmt=fmt,
        default=lambda: list(fixed),
    )


def _one_value(
    name: str, key: str, *, parse: Callable[[str], T], default: T, text: Callable[[T], str]
) -> UrlParam[T]:
    """One value (the last the URL gives), written as ``text(value)``, left out while it is
    the default."""
    return UrlParam(
        name=name,
        key=key,
        parse=lambda raws: parse(raws[-1]),
        fmt=lambda value: [] if value == default else [text(value)],
        default=lambda: default,
    )


def choice_param(name: str, key: str, *, choices: Sequence[str], default: str) -> UrlParam[str]:
    """One of ``choices``; anything else is reported and the default used."""

    def parse(raw: str) -> str:
        if raw not in choices:
            msg = f"{raw!r} is not one of {', '.join(choices)}; pick one of those."
            raise InputError(name, msg)
        return raw

    return _one_value(name, key, parse=parse, default=default, text=str)


def int_param(name: str, key: str, *, default: int, low: int, high: int) -> UrlParam[int]:
    """A whole number from ``low`` to ``high``; anything else is reported and the default used.

    >>> window = int_param("window", "funnel.window", default=30, low=1, high=365)
    >>> window.parse(["7"]), window.fmt(7), window.fmt(30)
    (7, ['7'], [])
    >>> window.parse(["400"])
    Traceback (most recent call last):
    journey_core.errors.InputError: window: '400' is not a whole number from 1 to 365; ...
    """

    def parse(raw: str) -> int:
        value = raw.strip()
        if not value.isdigit() or not low <= int(value) <= high:
            msg = f"{raw!r} is not a whole number from {low} to {high}; using {default}."
            raise InputError(name, msg)
        return int(value)

    return _one_value(name, key, parse=parse, default=default, text=lambda v: str(int(v)))


def number_param(
    name: str, key: str, *, default: float, low: float, high: float
) -> UrlParam[float]:
    """A number from ``low`` to ``high``; anything else is reported and the default used.

    >>> half_life = number_param("half_life", "half_life", default=7.0, low=0.5, high=90.0)
    >>> half_life.parse(["3.5"]), half_life.fmt(3.5), half_life.fmt(7.0)
    (3.5, ['3.5'], [])
    >>> half_life.parse(["1e309"])
    Traceback (most recent call last):
    journey_core.errors.InputError: half_life: '1e309' is not a number from 0.5 to 90; ...
    """

    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            value = math.nan
        if not low <= value <= high:  # NaN and infinities fail here too
            msg = f"{raw!r} is not a number from {low:g} to {high:g}; using {default:g}."
            raise InputError(name, msg)
        return value

    return _one_value(name, key, parse=parse, default=default, text=lambda v: f"{v:g}")


def flag_param(name: str, key: str, *, default: bool) -> UrlParam[bool]:
    """``true`` or ``false`` (any case); anything else is reported and the default used.

    >>> collapse = flag_param("collapse", "collapse", default=True)
    >>> collapse.parse(["False"]), collapse.fmt(False), collapse.fmt(True)
    (False, ['false'], [])
    """

    def parse(raw: str) -> bool:
        value = raw.strip().lower()
        if value not in ("true", "false"):
            msg = f"{raw!r} is not true or false; using {str(default).lower()}."
            raise InputError(name, msg)
        return value == "true"

    return _one_value(name, key, parse=parse, default=default, text=lambda v: str(bool(v)).lower())


def named_param(name: str, key: str, *, names: Mapping[str, T], default: T) -> UrlParam[T]:
    """One of ``names``' values, written in the URL as its short name (``?who=previously``);
    an unknown name is reported and the default used.

    >>> who = named_param("who", "funnel.who", names={"newly": "Newly known"}, default="x")
    >>> who.parse(["newly"]), who.fmt("Newly known"), who.fmt("x")
    ('Newly known', ['newly'], [])
    """
    by_value = {value: short for short, value in names.items()}

    def parse(raws: list[str]) -> T:
        value = raws[-1]
        if value not in names:
            msg = f"{value!r} is not one of {', '.join(names)}; pick one of those."
            raise InputError(name, msg)
        return names[value]

    return UrlParam(
        name=name,
        key=key,
        parse=parse,
        fmt=lambda value: [] if value == default or value not in by_value else [by_value[value]],
        default=lambda: default,
    )
