"""A realistic, deterministic demo warehouse in the canonical schema.

People arrive anonymously through paid search, paid social, email, organic, referral and
direct visits, on one to three devices, become known when they sign up, and move through
page_view -> signup -> add_to_cart -> purchase with realistic drop-off. The same ``seed``,
``end`` and number of people always give the same rows.

People are generated in blocks of :data:`BLOCK` (a fixed size: another size would give other
rows), each from its own random stream derived from ``(seed, block index)``, and written
block by block, so memory stays bounded however large the demo. Block 0 uses ``seed``
itself: a demo of at most 20,000 people is the same as before blocks existed, and the first
20,000 people of a larger demo are the default demo.

Every block spans the whole 180 days, so :func:`build_demo` puts the rows in time order on
the way: as they are generated it parks them in time buckets of about :data:`BUCKET_EVENTS`
events (Arrow files in a temporary directory), then sorts and writes one bucket at a time.
The warehouse gets the rows in time order without one sort of the whole table.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from journey_core import columns as c
from journey_core.progress import Progress
from journey_core.rules.query import to_utc
from journey_core.warehouse.engine import local_file, safe_url
from journey_core.warehouse.write import Chunk, write_chunks

Tags = tuple[str | None, str | None, str | None, str | None]

DEFAULT_INDIVIDUALS = 20_000
BLOCK = 20_000
"""People per generated block; fixed, since the rows depend on it."""
EVENTS_PER_INDIVIDUAL = 48
"""About how many events the demo writes per person (960,530 for the default 20,000)."""
_SESSION_SLICE = 25_000  # sessions turned into events at a time, within a block
BUCKET_EVENTS = 200_000
"""About how many events :func:`build_demo` sorts and writes at a time (one time bucket)."""
_SPILL_EVENTS = 200_000  # generated events held before they are parked in their buckets
_HAND_ROWS = 122_880  # sorted events handed to the writer at a time (a DuckDB row group)
_LZ4 = pa.ipc.IpcWriteOptions(compression="lz4")
SPAN_DAYS = 180
_RECENCY = 1.6  # session ages follow power(_RECENCY): recent days hold more sessions
SITE = "https://shop.example.com"

# channel -> (weight before known, weight after known, [(source, medium, campaign, referrer)])
_PAID_SEARCH: list[Tags] = [
    ("google", "cpc", "brand_search", "https://www.google.com/"),
    ("google", "cpc", "summer_sale_search", "https://www.google.com/"),
    ("bing", "cpc", "generic_search", "https://www.bing.com/"),
]
_PAID_SOCIAL: list[Tags] = [
    ("facebook", "paid_social", "summer_sale_social", "https://m.facebook.com/"),
    ("instagram", "paid_social", "lookalike_audience", "https://l.instagram.com/"),
    ("linkedin", "paid_social", "b2b_retargeting", "https://www.linkedin.com/"),
]
_EMAIL: list[Tags] = [
    ("newsletter", "email", "weekly_newsletter", None),
    ("newsletter", "email", "summer_sale_email", None),
    ("crm", "email", "cart_recovery", None),
]
_ORGANIC: list[Tags] = [
    (None, None, None, "https://www.google.com/"),
    (None, None, None, "https://duckduckgo.com/"),
    (None, None, None, "https://www.bing.com/"),
]
_SOCIAL: list[Tags] = [
    (None, None, None, "https://t.co/"),
    (None, None, None, "https://www.reddit.com/"),
]
_REFERRAL: list[Tags] = [
    (None, None, None, "https://blog.partner.example/best-picks"),
    (None, None, None, "https://news.example.org/review"),
]
_DIRECT: list[Tags] = [(None, None, None, None)]

CHANNELS: tuple[tuple[str, float, float, list[Tags]], ...] = (
    ("paid_search", 0.24, 0.14, _PAID_SEARCH),
    ("paid_social", 0.20, 0.10, _PAID_SOCIAL),
    ("email", 0.0, 0.30, _EMAIL),
    ("organic_search", 0.22, 0.14, _ORGANIC),
    ("organic_social", 0.08, 0.05, _SOCIAL),
    ("referral", 0.10, 0.05, _REFERRAL),
    ("direct", 0.16, 0.22, _DIRECT),
)
PATHS = ("/", "/products", "/products/sneakers", "/products/jackets", "/sale", "/blog", "/about")


@dataclass(frozen=True, slots=True)
class DemoStats:
    """What :func:`build_demo` wrote."""

    url: str
    events: int
    identities: int
    individuals: int


def _noop(_step: str, _fraction: float) -> None:
    return None


def individuals_for_events(events: int) -> int:
    """How many people make a demo of about ``events`` events.

    >>> individuals_for_events(1_000_000), individuals_for_events(1)
    (20834, 1)
    """
    return max(1, math.ceil(events / EVENTS_PER_INDIVIDUAL))


def block_rng(seed: int, block: int) -> np.random.Generator:
    """The random stream of block ``block``: ``seed`` itself for block 0, else its child.

    >>> int(block_rng(7, 0).integers(1000)) == int(np.random.default_rng(7).integers(1000))
    True
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,) if block else ()))


def generate(
    *, individuals: int = DEFAULT_INDIVIDUALS, seed: int = 7, end: dt.datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Generate ``(events, identities)`` frames, deterministic per ``seed`` and ``end``.

    All in memory: :func:`build_demo` writes block by block instead.

    >>> ev, ids = generate(individuals=30, seed=1, end=dt.datetime(2022, 8, 31))
    >>> ev.columns == list(c.EVENT_COLUMNS) and ids.columns == list(c.IDENTITY_COLUMNS)
    True
    """
    chunks = list(generate_chunks(individuals=individuals, seed=seed, end=end))
    events = pl.concat([ev for ev, _ in chunks]).sort(c.OCCURRED_AT, c.EVENT_ID)
    identities = pl.concat([ids for _, ids in chunks]).sort(c.IDENTIFIED_AT, c.ANONYMOUS_ID)
    return events, identities


def generate_chunks(
    *, individuals: int = DEFAULT_INDIVIDUALS, seed: int = 7, end: dt.datetime
) -> Iterator[Chunk]:
    """The demo as ``(events, identities)`` chunks of a few hundred thousand events at most.

    Blocks of :data:`BLOCK` people in turn, each in chunks of sessions; a block's identities
    come with its first chunk. Each frame is sorted by time, the chunks are not sorted among
    themselves. Person numbers, event ids and emails run on across blocks, so no two blocks
    share a person, a device or an event.

    >>> chunks = generate_chunks(individuals=3, seed=1, end=dt.datetime(2022, 8, 31))
    >>> [(ev.height, ids.height) for ev, ids in chunks]
    [(146, 4)]
    """
    session_offset = 0
    for block, first in enumerate(range(0, int(individuals), BLOCK)):
        n = min(BLOCK, int(individuals) - first)
        rng = block_rng(seed, block)
        chunks = _block(rng, n=n, person_offset=first, session_offset=session_offset, end=end)
        for sessions, chunk in chunks:
            session_offset += sessions
            yield chunk


def _block(
    rng: np.random.Generator, *, n: int, person_offset: int, session_offset: int, end: dt.datetime
) -> Iterator[tuple[int, Chunk]]:
    """One block's chunks, each with the number of sessions it covers."""
    end_naive = to_utc(end).replace(tzinfo=None)
    end_us = np.datetime64(end_naive, "us")
    span_us = SPAN_DAYS * 86_400 * 1_000_000

    # People: devices, and how many sessions each has.
    n_devices = rng.choice([1, 2, 3], size=n, p=[0.55, 0.3, 0.15])
    n_sessions = 1 + rng.poisson(9.0, size=n)
    identified = rng.random(n) < 0.72
    person = np.repeat(np.arange(n), n_sessions)
    n_total = person.size

    # Session start times, more recent sessions being more likely; sorted within person.
    age = (rng.power(_RECENCY, size=n_total) * span_us).astype(np.int64)
    start = np.asarray(end_us - (span_us - age).astype("timedelta64[us]"))
    order = np.lexsort((start, person))
    person, start = person[order], start[order]
    first_of_person = np.r_[0, np.cumsum(n_sessions)[:-1]]
    rank = np.arange(n_total) - np.repeat(first_of_person, n_sessions)

    # The session in which each identified person signs up.
    signup_rank = np.floor(rng.random(n) ** 1.5 * n_sessions).astype(np.int64)
    is_signup = identified[person] & (rank == signup_rank[person])
    after_known = identified[person] & (rank > signup_rank[person])
    device = (rng.random(n_total) * n_devices[person]).astype(np.int64)
    device[is_signup] = 0

    # Channels per session.
    before_w = np.array([w for _, w, _, _ in CHANNELS])
    after_w = np.array([w for _, _, w, _ in CHANNELS])
    ch_before = rng.choice(len(CHANNELS), size=n_total, p=before_w / before_w.sum())
    ch_after = rng.choice(len(CHANNELS), size=n_total, p=after_w / after_w.sum())
    channel = np.where(after_known, ch_after, ch_before)
    variant = rng.integers(0, 3, size=n_total)

    # Events per session: an entry touch, page views, and funnel steps.
    n_views = np.minimum(rng.geometric(0.25, size=n_total), 25)
    cart = after_known & (rng.random(n_total) < 0.22)
    purchase = cart & (rng.random(n_total) < 0.45)
    email_ch = np.array([name == "email" for name, *_ in CHANNELS])[channel]
    paid_ch = np.isin(channel, [0, 1])

    sessions = pl.DataFrame(
        {
            "person": person,
            "person_no": person + person_offset,
            "session": np.arange(n_total),
            "session_no": np.arange(n_total) + session_offset,
            "start": start,
            "device": device,
            "channel": channel,
            "variant": variant,
            "n_views": n_views,
            "is_signup": is_signup,
            "after_known": after_known,
            "cart": cart,
            "purchase": purchase,
            "email_ch": email_ch,
            "paid_ch": paid_ch,
        }
    )
    emails = _emails(rng, n, offset=person_offset)
    sessions = _with_event_counts(sessions)
    draws = _event_draws(sessions["n_events"].to_numpy(), rng=rng)
    end_lit = pl.lit(end_naive, dtype=pl.Datetime("us"))
    identities = _identities(sessions, emails=emails, rng=rng)
    identities = identities.filter(pl.col(c.IDENTIFIED_AT) <= end_lit)
    # The events of a slice of sessions at a time, so the wide frames stay small.
    bounds = np.r_[0, np.cumsum(sessions["n_events"].to_numpy())]
    for lo in range(0, sessions.height, _SESSION_SLICE):
        hi = min(lo + _SESSION_SLICE, sessions.height)
        rows = draws.slice(int(bounds[lo]), int(bounds[hi] - bounds[lo]))
        events = _events(sessions.slice(lo, hi - lo), rows, emails=emails)
        events = events.filter(pl.col(c.OCCURRED_AT) <= end_lit).sort(c.OCCURRED_AT, c.EVENT_ID)
        yield hi - lo, (events, identities if lo == 0 else identities.clear())


def _emails(rng: np.random.Generator, n: int, *, offset: int) -> np.ndarray:
    first = np.array(
        [
            "ann",
            "ben",
            "cara",
            "dev",
            "eli",
            "fay",
            "gus",
            "hana",
            "ivan",
            "jo",
            "kim",
            "lea",
            "max",
            "nia",
            "omar",
            "pia",
            "quin",
            "rosa",
            "sam",
            "tara",
            "uma",
            "vic",
            "wes",
            "zoe",
        ]
    )
    domains = np.array(["example.com", "mail.example.org", "inbox.example.net", "corp.example"])
    f = first[rng.integers(0, first.size, n)]
    d = domains[rng.integers(0, domains.size, n)]
    return np.char.add(
        np.char.add(np.char.add(f, "."), np.arange(offset, offset + n).astype(str)),
        np.char.add("@", d),
    )


def _tags(channel: pl.Expr, variant: pl.Expr, index: int) -> pl.Expr:
    """The ``index``-th field (source, medium, campaign, referrer) of a session's channel."""
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for ch, (_, _, _, options) in enumerate(CHANNELS):
        for v in range(3):
            value = options[v % len(options)][index]
            expr = (
                pl.when((channel == ch) & (variant == v))
                .then(pl.lit(value, pl.String))
                .otherwise(expr)
            )
    return expr


def _with_event_counts(sessions: pl.DataFrame) -> pl.DataFrame:
    # One row per event: entry touch (ad_click / email_open + email_click), page views,
    # then signup / add_to_cart / purchase where the session has them.
    return sessions.with_columns(
        n_entry=pl.when(pl.col("email_ch")).then(2).when(pl.col("paid_ch")).then(1).otherwise(0),
    ).with_columns(
        n_events=pl.col("n_entry")
        + pl.col("n_views")
        + pl.col("is_signup").cast(pl.Int64)
        + pl.col("cart").cast(pl.Int64)
        + pl.col("purchase").cast(pl.Int64)
    )


def _event_draws(per_session: np.ndarray, *, rng: np.random.Generator) -> pl.DataFrame:
    """The random part of each event of a block, drawn at once: the rows never depend on
    how the block is sliced."""
    n = int(per_session.sum())
    gaps = rng.exponential(45.0, size=n) * 1_000_000 + 1_000_000
    path_ix = rng.integers(0, len(PATHS), size=n)
    revenue = np.round(rng.lognormal(4.2, 0.6, size=n), 2)
    return pl.DataFrame({"gap": gaps.astype(np.int64), "path_ix": path_ix, "rev": revenue})


def _events(s: pl.DataFrame, draws: pl.DataFrame, *, emails: np.ndarray) -> pl.DataFrame:
    """The events of the sessions ``s``, with one row of random ``draws`` per event."""
    ev = s.select(pl.all().repeat_by("n_events").explode()).with_columns(
        step=pl.int_range(pl.len()).over("session")
    )
    views_end = pl.col("n_entry") + pl.col("n_views")
    after_signup = views_end + pl.col("is_signup").cast(pl.Int64)
    after_cart = after_signup + pl.col("cart").cast(pl.Int64)
    step = pl.col("step")
    event_type = (
        pl.when((step == 0) & pl.col("email_ch"))
        .then(pl.lit("email_open"))
        .when((step == 1) & pl.col("email_ch"))
        .then(pl.lit("email_click"))
        .when((step == 0) & pl.col("paid_ch"))
        .then(pl.lit("ad_click"))
        .when(step < views_end)
        .then(pl.lit("page_view"))
        .when(step < after_signup)
        .then(pl.lit("signup"))
        .when(step < after_cart)
        .then(pl.lit("add_to_cart"))
        .otherwise(pl.lit("purchase"))
    )
    is_entry = step <= pl.col("n_entry")  # entry touches and the landing page view
    person_email = pl.Series("person_email", emails)
    paths = pl.Series("path", np.array(PATHS)[draws["path_ix"].to_numpy()])
    ev = pl.concat([ev, draws.drop("path_ix"), paths.to_frame()], how="horizontal").with_columns(
        event_type=event_type,
        occurred_at=pl.col("start")
        + pl.duration(
            microseconds=pl.col("gap").cum_sum().over("session")
            - pl.col("gap").first().over("session")
        ),
        anonymous_id=pl.format("anon-{}-{}", pl.col("person_no"), pl.col("device")),
        person_email=person_email.gather(ev["person"]),
    )
    source = _tags(pl.col("channel"), pl.col("variant"), 0)
    medium = _tags(pl.col("channel"), pl.col("variant"), 1)
    campaign = _tags(pl.col("channel"), pl.col("variant"), 2)
    referrer = _tags(pl.col("channel"), pl.col("variant"), 3)
    et = pl.col("event_type")
    landing = (
        pl.when(campaign.is_not_null())
        .then(
            pl.format(
                "{}{}?utm_source={}&utm_medium={}&utm_campaign={}",
                pl.lit(SITE),
                pl.col("path"),
                source,
                medium,
                campaign,
            )
        )
        .otherwise(pl.format("{}{}", pl.lit(SITE), pl.col("path")))
    )
    page = (
        pl.when(et == "signup")
        .then(pl.lit(f"{SITE}/signup"))
        .when(et == "add_to_cart")
        .then(pl.lit(f"{SITE}/cart"))
        .when(et == "purchase")
        .then(pl.lit(f"{SITE}/checkout/complete"))
        .when(et == "email_open")
        .then(pl.lit(None, pl.String))
        .when(is_entry)
        .then(landing)
        .otherwise(pl.format("{}{}", pl.lit(SITE), pl.col("path")))
    )
    carries_email = et.is_in(["email_open", "email_click", "signup"])
    out = ev.select(
        pl.format("evt-{}-{}", pl.col("session_no"), pl.col("step")).alias(c.EVENT_ID),
        pl.col("occurred_at").alias(c.OCCURRED_AT),
        pl.when(et == "email_open")
        .then(None)
        .otherwise(pl.col("anonymous_id"))
        .alias(c.ANONYMOUS_ID),
        pl.when(carries_email).then(pl.col("person_email")).otherwise(None).alias(c.EMAIL),
        et.alias(c.EVENT_TYPE),
        page.alias(c.PAGE_URL),
        pl.when(is_entry).then(referrer).otherwise(pl.lit(SITE + "/")).alias(c.REFERRER),
        pl.when(is_entry).then(source).alias(c.UTM_SOURCE),
        pl.when(is_entry).then(medium).alias(c.UTM_MEDIUM),
        pl.when(is_entry).then(campaign).alias(c.UTM_CAMPAIGN),
        pl.when(is_entry & campaign.is_not_null())
        .then(pl.format("v{}", pl.col("variant") + 1))
        .alias(c.UTM_CONTENT),
        pl.when(is_entry & (pl.col("channel") == 0)).then(pl.lit("sneakers")).alias(c.UTM_TERM),
        pl.when(et == "purchase").then(pl.col("rev")).alias(c.REVENUE),
    )
    return out


def _identities(
    sessions: pl.DataFrame, *, emails: np.ndarray, rng: np.random.Generator
) -> pl.DataFrame:
    # An identify call when a person signs up, and when they first log in on another device.
    known = sessions.filter(pl.col("is_signup") | pl.col("after_known"))
    first_per_device = known.sort("start").group_by("person", "device", maintain_order=True).first()
    ids = first_per_device.select(
        pl.format("anon-{}-{}", pl.col("person_no"), pl.col("device")).alias(c.ANONYMOUS_ID),
        pl.Series(c.EMAIL, emails[first_per_device["person"].to_numpy()]),
        (pl.col("start") + pl.duration(seconds=30)).alias(c.IDENTIFIED_AT),
    )
    # A few shared devices: someone else later logs in on the same browser (re-linking).
    shared = ids.sample(fraction=0.01, seed=int(rng.integers(0, 2**31)))
    if shared.height:
        other = rng.integers(0, emails.size, shared.height)
        shared = shared.with_columns(
            pl.Series(c.EMAIL, emails[other]),
            pl.col(c.IDENTIFIED_AT)
            + pl.duration(days=pl.lit(pl.Series(rng.integers(1, 20, shared.height)))),
        )
    return pl.concat([ids, shared]).sort(c.IDENTIFIED_AT, c.ANONYMOUS_ID)


def bucket_edges(end: dt.datetime, buckets: int) -> np.ndarray:
    """The first microsecond (naive UTC) of each of ``buckets`` time buckets of the span.

    Bucket ``k`` holds the times from ``edges[k]`` up to the next edge; the edges follow
    the demo's recency, so the buckets hold about as many events each.

    >>> edges = bucket_edges(dt.datetime(2022, 8, 31), 3)
    >>> [str(day)[:10] for day in edges.astype("datetime64[us]")]
    ['2022-03-04', '2022-06-02', '2022-07-21']
    """
    end_us = np.datetime64(to_utc(end).replace(tzinfo=None), "us").astype(np.int64)
    span_us = SPAN_DAYS * 86_400 * 1_000_000
    quantiles = (np.arange(buckets) / buckets) ** (1 / _RECENCY)
    return (end_us - span_us + np.round(quantiles * span_us)).astype(np.int64)


@dataclass
class _Buckets:
    """Rows parked on disk by time bucket: one Arrow IPC stream (LZ4) per bucket and table.

    A stream keeps nothing in memory for what it has written (a Parquet writer keeps each
    row group's metadata until it closes: about 12 kB a write, 1 GB at 100M events).
    """

    directory: Path
    edges: np.ndarray
    streams: dict[tuple[str, int], pa.ipc.RecordBatchStreamWriter] = field(default_factory=dict)
    empty: dict[str, pl.DataFrame] = field(default_factory=dict)

    def _path(self, name: str, bucket: int) -> Path:
        return self.directory / f"{name}-{bucket:06d}.arrows"

    def park(self, name: str, frame: pl.DataFrame, time_column: str) -> None:
        """Append the rows of ``frame`` to the buckets of their ``time_column``."""
        self.empty.setdefault(name, frame.clear())
        if frame.is_empty():
            return
        at = frame[time_column].dt.epoch("us").to_numpy()
        bucket = np.clip(np.searchsorted(self.edges, at, side="right") - 1, 0, None)
        parts = frame.with_columns(_bucket=pl.Series(bucket)).partition_by("_bucket")
        for part in parts:
            key = (name, int(part["_bucket"][0]))
            table = part.drop("_bucket").to_arrow()
            if key not in self.streams:
                self.streams[key] = pa.ipc.new_stream(self._path(*key), table.schema, options=_LZ4)
            self.streams[key].write_table(table)

    def close(self) -> None:
        for stream in self.streams.values():
            stream.close()

    def take(self, name: str, bucket: int, order: tuple[str, ...]) -> pl.DataFrame:
        """The rows of one bucket, sorted by ``order``; the file goes."""
        if (name, bucket) not in self.streams:
            return self.empty[name]
        path = self._path(name, bucket)
        parked = pl.read_ipc_stream(path).sort(*order, maintain_order=True)
        path.unlink()
        return parked


def chunks_in_time_order(
    *,
    individuals: int = DEFAULT_INDIVIDUALS,
    seed: int = 7,
    end: dt.datetime,
    spill: Path | None = None,
    progress: Progress = _noop,
) -> Iterator[Chunk]:
    """The rows of :func:`generate_chunks` as chunks in time order, across chunks too.

    Generates everything first, parking the rows in time buckets under a temporary
    directory in ``spill`` (the system's by default), then yields one sorted bucket at a
    time, in slices: events by ``occurred_at, event_id``, identities by ``identified_at,
    anonymous_id`` (a bucket's all with its first slice). ``progress`` hears how many
    events are generated, then how many are handed on.

    >>> chunks = chunks_in_time_order(individuals=30, seed=1, end=dt.datetime(2022, 8, 31))
    >>> events, identities = generate(individuals=30, seed=1, end=dt.datetime(2022, 8, 31))
    >>> [ev.equals(events) and ids.equals(identities) for ev, ids in chunks]
    [True]
    """
    expected = individuals * EVENTS_PER_INDIVIDUAL
    buckets = max(1, math.ceil(expected / BUCKET_EVENTS))
    with tempfile.TemporaryDirectory(prefix="journey-demo-", dir=spill) as tmp:
        parked = _Buckets(Path(tmp), bucket_edges(end, buckets))
        generated, held = 0, list[Chunk]()

        def park_held() -> None:
            for events, identities in held:
                parked.park(c.EVENTS, events, c.OCCURRED_AT)
                parked.park(c.IDENTITIES, identities, c.IDENTIFIED_AT)
            held.clear()

        for chunk in generate_chunks(individuals=individuals, seed=seed, end=end):
            held.append(chunk)
            generated += chunk[0].height
            if sum(ev.height for ev, _ in held) >= _SPILL_EVENTS:
                park_held()
            progress(f"{generated:,} events generated", 0.5 * min(generated / expected, 0.99))
        park_held()
        parked.close()
        handed = 0
        for bucket in range(buckets):
            events = parked.take(c.EVENTS, bucket, (c.OCCURRED_AT, c.EVENT_ID))
            identities = parked.take(c.IDENTITIES, bucket, (c.IDENTIFIED_AT, c.ANONYMOUS_ID))
            # In slices, so that the writer's copies stay small; the identities come first.
            for piece in events.iter_slices(_HAND_ROWS) if events.height else [events]:
                yield piece, identities
                identities = identities.clear()
                handed += piece.height
                progress(f"{handed:,} events written", 0.5 + 0.45 * handed / max(generated, 1))


def build_demo(
    url: str,
    *,
    individuals: int = DEFAULT_INDIVIDUALS,
    seed: int = 7,
    end: dt.datetime,
    progress: Progress = _noop,
) -> DemoStats:
    """Generate the demo and write it to ``url`` (DuckDB, SQLite or PostgreSQL), replacing it.

    Generates the rows in blocks, parks them in time buckets on disk (beside a DuckDB file,
    else in the system's temporary directory), then writes one sorted bucket at a time, so
    memory stays bounded and the tables are in time order with no sort of the whole table;
    ``progress`` hears how many events are generated, then written.
    """
    progress("generating events", 0.0)
    path = local_file(url)

    def chunks() -> Iterator[Chunk]:
        spill = path.parent if path is not None else None
        if spill is not None:
            spill.mkdir(parents=True, exist_ok=True)
        yield from chunks_in_time_order(
            individuals=individuals, seed=seed, end=end, spill=spill, progress=progress
        )
        progress("building the lookup indexes", 0.95)

    written = write_chunks(url, chunks(), ordered=True)
    progress("done", 1.0)
    return DemoStats(safe_url(url), written.events, written.identities, individuals)
