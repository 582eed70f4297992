"""Channel grouping: every touch gets a channel from its UTM tags and referrer.

The default rules follow GA4's default channel groups (Direct, Paid Search, Paid Social,
Organic Search, Organic Social, Email, Referral, Affiliates, Display, ...); they live as data
in ``analytics/data/channels.toml`` and a user can extend, replace or rename them with a
TOML file of their own (``JOURNEY_CHANNELS_FILE``). A touch no rule matches gets the
``unassigned`` channel ("Unassigned"): nothing ever disappears.

Everything here is a Polars expression over the canonical columns ``utm_source``,
``utm_medium``, ``utm_campaign``, ``referrer`` and (optionally) ``page_url``:

>>> frame = pl.DataFrame({
...     "page_url": "https://shop.example/",
...     "utm_source": ["google", None, None, "newsletter"],
...     "utm_medium": ["cpc", None, None, "email"],
...     "utm_campaign": ["brand", None, None, "weekly"],
...     "referrer": [None, "https://www.google.com/", None, None],
... })
>>> frame.select(channel_expr())["channel"].to_list()
['Paid Search', 'Organic Search', 'Direct', 'Email']
"""

from __future__ import annotations

import csv
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

import polars as pl

from journey_core import columns as c
from journey_core.config import ENV_CHANNELS_FILE
from journey_core.errors import ConfigError, unreadable

DIRECT_SOURCE: Final = "(direct)"
NONE_MEDIUM: Final = "(none)"
NOT_SET: Final = "(not set)"
CATEGORIES: Final = ("search", "social", "video", "shopping")

_LIST_KEYS: Final = ("source", "medium", "campaign", "source_category")
_REGEX_KEYS: Final = ("source_regex", "medium_regex", "campaign_regex")
_RULE_KEYS: Final = ("channel", *_LIST_KEYS, *_REGEX_KEYS)
_TOP_KEYS: Final = (
    "replace_defaults",
    "unassigned",
    "direct",
    "internal_hosts",
    "source_categories",
    "rename",
    "rules",
)
_URL_HOST: Final = r"^\s*(?:[a-zA-Z][a-zA-Z0-9+.\-]*:)?//(?:[^@/?#]*@)?([^/:?#\s]+)"
_SECOND_LEVEL: Final = r"([a-z0-9\-]+)\.(?:(?:co|com|org|net|ac|gov|edu|ne|or)\.)?[a-z]{2,}$"


@dataclass(frozen=True, slots=True)
class ChannelRule:
    """One rule: ``channel`` when every given condition holds (case-insensitive).

    >>> ChannelRule("Paid Search", source_category=("search",), medium=("cpc",)).describe()
    "Paid Search: medium in ['cpc'] and source_category in ['search']"
    """

    channel: str
    source: tuple[str, ...] = ()
    medium: tuple[str, ...] = ()
    campaign: tuple[str, ...] = ()
    source_category: tuple[str, ...] = ()
    source_regex: str | None = None
    medium_regex: str | None = None
    campaign_regex: str | None = None

    def describe(self) -> str:
        """The rule in words, as shown in the dashboard."""
        parts = [f"{key} in {list(getattr(self, key))}" for key in _LIST_KEYS if getattr(self, key)]
        parts += [f"{key} ~ {getattr(self, key)!r}" for key in _REGEX_KEYS if getattr(self, key)]
        return f"{self.channel}: " + " and ".join(parts)


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """The channel rules, in order, and the names of the special channels.

    ``source_categories`` maps a lower-case source or host to one of :data:`CATEGORIES`.
    """

    rules: tuple[ChannelRule, ...]
    unassigned: str = "Unassigned"
    direct: str = "Direct"
    internal_hosts: tuple[str, ...] = ()
    source_categories: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def default(cls) -> ChannelConfig:
        """The built-in GA4-style rules (``journey_core/analytics/data/channels.toml``)."""
        return _default_config()

    @classmethod
    def from_toml(cls, path: str | Path) -> ChannelConfig:
        """Read a user's channel file; raises :class:`ConfigError` naming the bad key."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            msg = (
                f"Cannot read the channel file {p}: {unreadable(exc)}. "
                f"Fix the path in {ENV_CHANNELS_FILE}, or unset it to use the default channels."
            )
            raise ConfigError(msg) from None
        return cls.from_toml_text(text, source=str(p))

    @classmethod
    def from_toml_text(cls, text: str, *, source: str = "<channels>") -> ChannelConfig:
        """Parse channel-file text (see ``analytics/data/channels.toml`` for the format).

        >>> cfg = ChannelConfig.from_toml_text('''
        ... [[rules]]
        ... channel = "Partners"
        ... medium = ["affiliate"]
        ... ''')
        >>> cfg.rules[0].channel, cfg.channels()[-1]
        ('Partners', 'Unassigned')
        """
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            msg = f"{source}: not valid TOML ({exc}); fix the syntax."
            raise ConfigError(msg) from None
        base = None if data.get("replace_defaults") is True else cls.default()
        return _parse(data, source=source, base=base)

    @classmethod
    def from_file(cls, path: str | Path | None) -> ChannelConfig:
        """The file a user configured (``Settings.channels_file``); blank: the defaults.

        >>> ChannelConfig.from_file("") == ChannelConfig.default()
        True
        """
        text = str(path or "").strip()
        return cls.from_toml(text) if text else cls.default()

    def channels(self) -> list[str]:
        """Every channel these rules can produce, in rule order, ``unassigned`` last."""
        names = list(dict.fromkeys(rule.channel for rule in self.rules))
        return [n for n in names if n != self.unassigned] + [self.unassigned]


# Internal working columns of :func:`classify`.
_HAS_UTM = "_ch_has_utm"
_EXT = "_ch_external_referrer"
_CAT = "_ch_source_category"
_LS, _LM, _LC = "_ch_source_l", "_ch_medium_l", "_ch_campaign_l"
_INPUTS = (c.UTM_SOURCE, c.UTM_MEDIUM, c.UTM_CAMPAIGN, c.REFERRER, c.PAGE_URL)


def text_expr(name: str) -> pl.Expr:
    """A text column trimmed, blank as null."""
    e = pl.col(name).cast(pl.String).str.strip_chars()
    return pl.when(e.str.len_chars() > 0).then(e)


def _strip_www(host: pl.Expr) -> pl.Expr:
    return host.str.replace(r"^www\.", "")


def host_expr(column: str) -> pl.Expr:
    """The lower-case host of a URL column, without a leading ``www.`` (null if none).

    >>> pl.DataFrame({"u": ["https://WWW.Google.com/x", "t.co/a", "//m.fb.com", None]}).select(
    ...     host_expr("u"))["u"].to_list()
    ['google.com', None, 'm.fb.com', None]
    """
    return _strip_www(text_expr(column).str.extract(_URL_HOST, 1).str.to_lowercase()).alias(column)


def external_referrer_expr(config: ChannelConfig) -> pl.Expr:
    """The referrer's host when it is external, else null.

    A referrer is external unless its host is the page's own host or one of the config's
    ``internal_hosts``.
    """
    internal = [h.lower().removeprefix("www.") for h in config.internal_hosts]
    ref_host, page_host = host_expr(c.REFERRER), host_expr(c.PAGE_URL)
    own = (page_host.is_not_null() & (ref_host == page_host)).fill_null(value=False)
    return pl.when(ref_host.is_not_null() & ~own & ~ref_host.is_in(internal)).then(ref_host)


def _lookup(e: pl.Expr, categories: Mapping[str, str]) -> pl.Expr:
    keys = list(categories)
    return e.replace_strict(
        keys, [categories[k] for k in keys], default=None, return_dtype=pl.String
    )


def _referrer_category(host: pl.Expr, categories: Mapping[str, str]) -> pl.Expr:
    """A referrer host's category: the host, a parent domain, or its second-level label."""
    parent = host.str.replace(r"^[^.]+\.", "")
    grandparent = parent.str.replace(r"^[^.]+\.", "")
    label = host.str.extract(_SECOND_LEVEL, 1)
    return pl.coalesce(
        _lookup(host, categories),
        pl.when(parent.str.contains(r"\.")).then(_lookup(parent, categories)),
        pl.when(grandparent.str.contains(r"\.")).then(_lookup(grandparent, categories)),
        _lookup(label, categories),
    )


Ref = Callable[[str], pl.Expr]


def _rule_condition(rule: ChannelRule, ref: Ref) -> pl.Expr:
    columns = {"source": ref(_LS), "medium": ref(_LM), "campaign": ref(_LC)}
    conds: list[pl.Expr] = []
    for key, col in columns.items():
        values: tuple[str, ...] = getattr(rule, key)
        if values:
            conds.append(col.is_in([v.lower() for v in values]))
    if rule.source_category:
        conds.append(ref(_CAT).is_in(list(rule.source_category)))
    for key in _REGEX_KEYS:
        pattern: str | None = getattr(rule, key)
        if pattern is not None:
            conds.append(columns[key.removesuffix("_regex")].str.contains("(?i)" + pattern))
    return pl.all_horizontal(conds).fill_null(value=False)


def _stages(cfg: ChannelConfig, ref: Ref) -> Iterator[list[pl.Expr]]:
    """The derivation in stages; a later stage reads an earlier one's columns via ``ref``.

    A generator: the consumer registers each stage before the next one is built.
    """
    cats = cfg.source_categories
    external = external_referrer_expr(cfg)
    has_utm = pl.any_horizontal(
        text_expr(n).is_not_null() for n in (c.UTM_SOURCE, c.UTM_MEDIUM, c.UTM_CAMPAIGN)
    )
    yield [has_utm.alias(_HAS_UTM), external.alias(_EXT)]
    utm_source = text_expr(c.UTM_SOURCE).str.to_lowercase()
    ext, with_utm = ref(_EXT), ref(_HAS_UTM)
    category = (
        pl.when(with_utm)
        .then(pl.coalesce(_lookup(utm_source, cats), _lookup(_strip_www(utm_source), cats)))
        .when(ext.is_not_null())
        .then(_referrer_category(ext, cats))
        .otherwise(pl.lit(None, pl.String))
    )
    yield [category.alias(_CAT)]
    referral_medium = (
        pl.when(ref(_CAT) == "search").then(pl.lit("organic")).otherwise(pl.lit("referral"))
    )
    yield [
        pl.when(with_utm)
        .then(pl.coalesce(text_expr(c.UTM_SOURCE), pl.lit(NOT_SET)))
        .when(ext.is_not_null())
        .then(ext)
        .otherwise(pl.lit(DIRECT_SOURCE))
        .alias(c.SOURCE),
        pl.when(with_utm)
        .then(pl.coalesce(text_expr(c.UTM_MEDIUM), pl.lit(NOT_SET)))
        .when(ext.is_not_null())
        .then(referral_medium)
        .otherwise(pl.lit(NONE_MEDIUM))
        .alias(c.MEDIUM),
        pl.coalesce(text_expr(c.UTM_CAMPAIGN), pl.lit(NOT_SET)).alias(c.CAMPAIGN),
    ]
    yield [
        ref(c.SOURCE).str.to_lowercase().alias(_LS),
        ref(c.MEDIUM).str.to_lowercase().alias(_LM),
        ref(c.CAMPAIGN).str.to_lowercase().alias(_LC),
    ]
    if cfg.rules:
        chain: Any = pl
        for rule in cfg.rules:
            chain = chain.when(_rule_condition(rule, ref)).then(pl.lit(rule.channel, pl.String))
        channel = chain.otherwise(pl.lit(cfg.unassigned, pl.String))
    else:
        channel = pl.lit(cfg.unassigned, pl.String)
    yield [channel.alias(c.CHANNEL)]


def classify(frame: pl.LazyFrame, config: ChannelConfig | None = None) -> pl.LazyFrame:
    """``frame`` with ``channel``, ``source``, ``medium`` and ``campaign`` columns added.

    - source: utm_source (or "(not set)") when the row has any UTM tag; else the external
      referrer's host; else "(direct)".
    - medium: utm_medium (or "(not set)") with UTM tags; else "organic" for a search-engine
      referrer and "referral" for another external one; else "(none)".
    - campaign: utm_campaign, else "(not set)".

    A referrer is external unless its host is the page's own host or one of the config's
    ``internal_hosts``. Missing input columns count as null. Each distinct combination of
    inputs is classified once and joined back, so large frames stay cheap.
    """
    cfg = config or ChannelConfig.default()
    schema = frame.collect_schema()
    added = [n for n in _INPUTS if n not in schema]
    base = frame.with_columns(pl.lit(None, pl.String).alias(n) for n in added)
    keys = base.select(pl.col(n).cast(pl.String) for n in _INPUTS).unique()
    for stage in _stages(cfg, pl.col):
        keys = keys.with_columns(stage)
    outputs = [c.CHANNEL, c.SOURCE, c.MEDIUM, c.CAMPAIGN]
    lookup = keys.select(*_INPUTS, *outputs).rename({n: f"_ch_in_{n}" for n in _INPUTS})
    joined = base.with_columns(
        pl.col(n).cast(pl.String).alias(f"_ch_in_{n}") for n in _INPUTS
    ).join(
        lookup,
        on=[f"_ch_in_{n}" for n in _INPUTS],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    return joined.drop([*(f"_ch_in_{n}" for n in _INPUTS), *added])


def channel_expr(config: ChannelConfig | None = None) -> pl.Expr:
    """The ``channel`` of each row, from utm_source/utm_medium/utm_campaign/referrer/page_url.

    An elementwise expression; missing input columns count as null. ``page_url`` tells
    self-referrals apart: a referrer on the page's own host is not a referral. ``config``
    defaults to :meth:`ChannelConfig.default`. :func:`classify` adds source, medium and
    campaign as well.

    For notebooks: it runs Python on Polars' thread pool (``map_batches``), which may deadlock
    when other threads of the process use Polars at once (a frame's ``to_pandas``, say). The
    dashboard, the API and the CLI call :func:`classify`, never this.
    """
    cfg = config or ChannelConfig.default()

    def run(inputs: pl.Series) -> pl.Series:
        frame = inputs.struct.unnest().lazy()
        return classify(frame, cfg).select(c.CHANNEL).collect().to_series()

    # The rule chain as one plain expression grows with every rule that reads a derived
    # field; classifying the distinct inputs of a batch is both smaller and faster.
    inputs = pl.struct(pl.col(f"^({'|'.join(_INPUTS)})$"))
    return inputs.map_batches(run, return_dtype=pl.String, is_elementwise=True).alias(c.CHANNEL)


# --------------------------------------------------------------------------------------------
# Loading


def _read_categories_csv() -> dict[str, str]:
    text = (
        resources.files("journey_core.analytics") / "data" / "ga4_source_categories.csv"
    ).read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for row in csv.DictReader(text.splitlines()):
        category = row["source_category"].removeprefix("SOURCE_CATEGORY_").lower()
        out[row["source"].strip().lower()] = category
    return out


@cache
def _default_config() -> ChannelConfig:
    text = (resources.files("journey_core.analytics") / "data" / "channels.toml").read_text(
        encoding="utf-8"
    )
    data = tomllib.loads(text)
    base = ChannelConfig(rules=(), source_categories=_read_categories_csv())
    return _parse(data, source="journey_core/analytics/data/channels.toml", base=base)


def _str_list(value: object, *, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        msg = f'{where}: expected a list of strings, e.g. ["cpc", "ppc"].'
        raise ConfigError(msg)
    return tuple(value)


def _parse_rule(raw: object, *, where: str, known_categories: set[str]) -> ChannelRule:
    if not isinstance(raw, dict):
        msg = f'{where}: each [[rules]] entry must be a table with channel = "...".'
        raise ConfigError(msg)
    unknown = sorted(set(raw) - set(_RULE_KEYS))
    if unknown:
        msg = f"{where}: unknown key {unknown[0]!r}; use one of {', '.join(_RULE_KEYS)}."
        raise ConfigError(msg)
    channel = raw.get("channel")
    if not isinstance(channel, str) or not channel.strip():
        msg = f'{where}: missing channel; add channel = "Name".'
        raise ConfigError(msg)
    kwargs: dict[str, Any] = {"channel": channel.strip()}
    for key in _LIST_KEYS:
        if key in raw:
            kwargs[key] = _str_list(raw[key], where=f"{where}.{key}")
    for key in _REGEX_KEYS:
        if key in raw:
            pattern = raw[key]
            if not isinstance(pattern, str):
                msg = f"{where}.{key}: expected a regular expression string."
                raise ConfigError(msg)
            _check_regex(pattern, where=f"{where}.{key}")
            kwargs[key] = pattern
    for cat in kwargs.get("source_category", ()):
        if cat not in known_categories:
            msg = (
                f"{where}.source_category: unknown category {cat!r}; use one of "
                f"{', '.join(sorted(known_categories))}, or define it under [source_categories]."
            )
            raise ConfigError(msg)
    if len(kwargs) == 1:
        msg = f'{where}: the rule for {channel!r} has no condition; add e.g. medium = ["..."].'
        raise ConfigError(msg)
    return ChannelRule(**kwargs)


def _check_regex(pattern: str, *, where: str) -> None:
    try:
        re.compile(pattern)
        pl.select(pl.lit("").str.contains("(?i)" + pattern))
    except (re.error, pl.exceptions.PolarsError, OverflowError) as exc:  # a{99999999999}
        msg = f"{where}: {pattern!r} is not a valid regular expression ({exc})."
        raise ConfigError(msg) from None


def _parse(data: dict[str, Any], *, source: str, base: ChannelConfig | None) -> ChannelConfig:
    """Parse a channel file; ``base``'s rules come after the file's own (``None``: no base)."""
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        msg = f"{source}: unknown key {unknown[0]!r}; use one of {', '.join(_TOP_KEYS)}."
        raise ConfigError(msg)
    if "replace_defaults" in data and not isinstance(data["replace_defaults"], bool):
        msg = f"{source}: replace_defaults must be true or false."
        raise ConfigError(msg)
    categories: dict[str, str] = dict(base.source_categories) if base else _read_categories_csv()
    raw_cats = data.get("source_categories", {})
    if not isinstance(raw_cats, dict):
        msg = f"{source}: [source_categories] must map a category to a list of sources."
        raise ConfigError(msg)
    for cat, values in raw_cats.items():
        for value in _str_list(values, where=f"{source}: source_categories.{cat}"):
            categories[value.strip().lower()] = str(cat).lower()
    known = set(CATEGORIES) | set(categories.values())
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        msg = f"{source}: rules must be an array of tables ([[rules]])."
        raise ConfigError(msg)
    rules = [
        _parse_rule(r, where=f"{source}: rules[{i}]", known_categories=known)
        for i, r in enumerate(raw_rules)
    ]
    if base is not None:
        rules += list(base.rules)
    rename = data.get("rename", {})
    if not isinstance(rename, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in rename.items()
    ):
        msg = (
            f"{source}: [rename] must map channel names to new names, "
            'e.g. "Organic Video" = "Video".'
        )
        raise ConfigError(msg)
    rules = [replace(r, channel=rename.get(r.channel, r.channel)) for r in rules]
    names = {}
    for key in ("unassigned", "direct"):
        value = data.get(key, getattr(base, key) if base else key.capitalize())
        if not isinstance(value, str) or not value.strip():
            msg = f"{source}: {key} must be a non-empty channel name."
            raise ConfigError(msg)
        names[key] = rename.get(value, value)
    hosts = _str_list(data.get("internal_hosts", []), where=f"{source}: internal_hosts")
    if base is not None:
        hosts = tuple(dict.fromkeys([*hosts, *base.internal_hosts]))
    return ChannelConfig(
        rules=tuple(rules),
        unassigned=names["unassigned"],
        direct=names["direct"],
        internal_hosts=tuple(h.strip().lower() for h in hosts),
        source_categories=categories,
    )
