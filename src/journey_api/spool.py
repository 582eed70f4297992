"""Large results on disk: a bounded spool of Parquet files, paged by key.

A cohort or campaign result too large for the in-memory cache (more than a quarter of it,
see :class:`~journey_api.cache.ResultCache`) would otherwise be read from the warehouse again
for every page, or push every other result out of memory. The spool keeps it instead as one
Parquet file (LZ4, row groups of :data:`ROW_GROUP_ROWS` rows; about a ninth of its size in
memory) in a private temporary folder, for the cache's time to live and within a total of
``max_bytes`` bytes on disk (least recently used files go first). A page is read from the
file by key: rows after the cursor (:func:`~journey_api.cursor.after_expr`), at most
``limit + 1`` of them, so the row-group statistics skip everything before the cursor's
person and the process never holds the whole result again.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from journey_api import cursor as cursors
from journey_core.rules.query import JourneyQuery

__all__ = ["ROW_GROUP_ROWS", "ResultSpool", "SpooledAnswer"]

ROW_GROUP_ROWS = 8192


@dataclass
class SpooledAnswer:
    """A result kept on disk: what its pages' meta needs, and its file."""

    path: Path
    query: JourneyQuery
    events: int
    individuals: int
    message: str | None
    bytes: int
    expires: float
    readers: int = 0
    dropped: bool = False

    def page(
        self, *, limit: int, after: cursors.Cursor | None
    ) -> tuple[pl.DataFrame, cursors.Cursor | None]:
        """At most ``limit`` rows after ``after`` (read from the file), and the next cursor."""
        scan = pl.scan_parquet(self.path)
        if after is not None:
            scan = scan.filter(cursors.after_expr(after))
        window = scan.head(limit + 1).collect()
        return cursors.page(window, self.query, limit=limit, cursor=None)


class ResultSpool:
    """Results as Parquet files for ``ttl_seconds``, at most ``max_bytes`` on disk in all.

    ``max_bytes <= 0`` or ``ttl_seconds <= 0`` disables the spool. :meth:`close` removes
    the folder and everything in it.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_bytes: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, SpooledAnswer] = OrderedDict()
        self._lock = threading.Lock()
        self._folder: Path | None = None
        self._serial = 0
        self.bytes = 0

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0 and self.max_bytes > 0 and math.isfinite(self.ttl_seconds)

    def new_path(self) -> Path:
        """A fresh file name in the spool's private folder (made on first use)."""
        with self._lock:
            if self._folder is None:  # private to this user (0700), made on first use
                self._folder = Path(tempfile.mkdtemp(prefix="journey-api-spool-"))
                # Also gone when the process ends without close() (an app never started).
                atexit.register(shutil.rmtree, self._folder, ignore_errors=True)
            self._serial += 1
            return self._folder / f"{self._serial}.parquet"

    def put(
        self,
        key: str,
        frame: pl.DataFrame,
        query: JourneyQuery,
        *,
        individuals: int,
        message: str | None,
    ) -> bool:
        """Keep ``frame`` (sorted as the journey core sorts it) under ``key``; False if not
        kept (spool off, or the file alone is larger than the spool)."""
        if not self.enabled:
            return False
        path = self.new_path()
        frame.write_parquet(path, compression="lz4", row_group_size=ROW_GROUP_ROWS)
        kept = self.adopt(
            key, path, query, events=frame.height, individuals=individuals, message=message
        )
        if kept is None:
            path.unlink(missing_ok=True)
        return kept is not None

    def adopt(
        self,
        key: str,
        path: Path,
        query: JourneyQuery,
        *,
        events: int,
        individuals: int,
        message: str | None,
    ) -> SpooledAnswer | None:
        """Keep the Parquet file ``path`` (from :meth:`new_path`, written by someone else)
        under ``key``; ``None`` (the file is left alone) if the spool is off or it is too
        large."""
        size = path.stat().st_size
        if not self.enabled or size > self.max_bytes:
            return None
        entry = SpooledAnswer(
            path, query, events, individuals, message, size, self._clock() + self.ttl_seconds
        )
        with self._lock:
            now = self._clock()
            for stale in [k for k, e in self._entries.items() if e.expires <= now]:
                self._drop(stale)
            if key in self._entries:
                self._drop(key)
            while self._entries and self.bytes + size > self.max_bytes:
                self._drop(next(iter(self._entries)))
            self._entries[key] = entry
            self.bytes += size
        return entry

    @contextlib.contextmanager
    def borrow(self, key: str) -> Iterator[SpooledAnswer | None]:
        """The live entry for ``key`` (or ``None``); its file stays until the block ends,
        even if the entry is evicted meanwhile."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.expires <= self._clock():
                self._drop(key)
                entry = None
            if entry is not None:
                self._entries.move_to_end(key)
                entry.readers += 1
        try:
            yield entry
        finally:
            if entry is not None:
                with self._lock:
                    entry.readers -= 1
                    if entry.dropped and entry.readers == 0:
                        entry.path.unlink(missing_ok=True)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self.bytes -= entry.bytes
        entry.dropped = True
        if entry.readers == 0:
            entry.path.unlink(missing_ok=True)

    def files(self) -> list[Path]:
        """The Parquet files on disk now (also those evicted but still being read)."""
        folder = self._folder
        return sorted(folder.glob("*.parquet")) if folder is not None else []

    def close(self) -> None:
        """Forget every entry and remove the folder."""
        with self._lock:
            self._entries.clear()
            self.bytes = 0
            folder, self._folder = self._folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
