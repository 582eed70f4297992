"""A small in-memory cache of journey results, so the pages of one query are read once.

A client paging through a large result asks the same query (same parameters, ``as_of``
pinned by the cursor) once per page. The cache keeps recent results for a short time,
bounded by their total estimated size in bytes (and row count), and lets concurrent requests
for the same query wait for one computation instead of each reading the warehouse ("single
flight"). :meth:`ResultCache.admits` tells whether a value may be kept: the API keeps a
result larger than a quarter of the cache on disk instead (:mod:`journey_api.spool`), so one
large result never pushes every other result out.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    value: T
    rows: int
    bytes: int
    expires: float


class ResultCache(Generic[T]):
    """Values by key for ``ttl_seconds``, at most ``max_rows`` rows and ``max_bytes`` bytes
    in all (LRU eviction).

    ``rows(value)`` and ``size(value)`` (bytes; default: no byte bound) measure a value; a
    value larger than ``entry_share`` of either bound is not kept. ``ttl_seconds <= 0``
    disables caching.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_rows: int,
        rows: Callable[[T], int],
        max_bytes: float = math.inf,
        size: Callable[[T], int] = lambda _value: 0,
        clock: Callable[[], float] = time.monotonic,
        entry_share: float = 1.0,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.entry_share = entry_share
        self._count = rows
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[str, _Entry[T]] = OrderedDict()
        self._rows = 0
        self.bytes = 0
        self._lock = threading.Lock()
        self._flights: dict[str, tuple[threading.Lock, int]] = {}
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0 and self.max_rows > 0 and self.max_bytes > 0

    def get_or_compute(self, key: str, compute: Callable[[], T]) -> tuple[T, bool]:
        """The cached value for ``key`` (and True), else ``compute()``'s (and False).

        Concurrent calls for one key compute it once; the others wait and share it.
        """
        if not self.enabled:
            return compute(), False
        flight = self._join(key)
        try:
            with flight:
                cached = self._get(key)
                if cached is not None:
                    return cached, True
                result = compute()
                self._put(key, result)
                return result, False
        finally:
            self._leave(key)

    def admits(self, value: T) -> bool:
        """Whether :meth:`put` would keep ``value`` (at most ``entry_share`` of each bound)."""
        return (
            self.enabled
            and self._count(value) <= self.max_rows * self.entry_share
            and self._size(value) <= self.max_bytes * self.entry_share
        )

    def get(self, key: str) -> T | None:
        """The live value for ``key``, or ``None`` (counted as a hit or a miss)."""
        return self._get(key) if self.enabled else None

    def put(self, key: str, value: T) -> bool:
        """Keep ``value`` under ``key`` if :meth:`admits` it; whether it was kept."""
        if not self.admits(value):
            return False
        self._put(key, value)
        return True

    def _join(self, key: str) -> threading.Lock:
        with self._lock:
            lock, waiting = self._flights.get(key, (threading.Lock(), 0))
            self._flights[key] = (lock, waiting + 1)
            return lock

    def _leave(self, key: str) -> None:
        with self._lock:
            lock, waiting = self._flights[key]
            if waiting <= 1:
                del self._flights[key]
            else:
                self._flights[key] = (lock, waiting - 1)

    def _get(self, key: str) -> T | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.expires <= self._clock():
                if entry is not None:
                    self._drop(key)
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.value

    def _put(self, key: str, value: T) -> None:
        rows, size = self._count(value), self._size(value)
        if rows > self.max_rows * self.entry_share or size > self.max_bytes * self.entry_share:
            return
        with self._lock:
            now = self._clock()
            for stale in [k for k, e in self._entries.items() if e.expires <= now]:
                self._drop(stale)
            if key in self._entries:
                self._drop(key)
            while self._entries and (
                self._rows + rows > self.max_rows or self.bytes + size > self.max_bytes
            ):
                self._drop(next(iter(self._entries)))
            self._entries[key] = _Entry(value, rows, size, now + self.ttl_seconds)
            self._rows += rows
            self.bytes += size

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self._rows -= entry.rows
        self.bytes -= entry.bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
