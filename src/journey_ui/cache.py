"""A cache bounded by bytes, shared by the dashboard's sessions: the heavy loaders' results.

``st.cache_data`` bounds entries by count, so ten as-of values of one campaign on a large
warehouse kept ten copies of its rows. :class:`ByteCache` keeps results until their estimated
size (:func:`size_of`: Polars' ``estimated_size`` for frames) reaches a byte budget
(``JOURNEY_DASHBOARD_CACHE_MB``), then drops the least recently used; a result larger than the
whole budget is returned but not kept. Results are shared, not copied: loaders return frozen
dataclasses and Polars frames, which nothing changes in place.

>>> cache = ByteCache(max_bytes=200)
>>> _ = cache.get_or_make("a", lambda: b"x" * 100)
>>> _ = cache.get_or_make("b", lambda: b"y" * 100)  # "a" is dropped to fit
>>> len(cache), cache.bytes <= 200
(1, True)
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

import polars as pl

__all__ = ["ByteCache", "size_of"]

T = TypeVar("T")


def size_of(value: object, _depth: int = 0) -> int:
    """Estimated bytes of ``value``: frames, bytes, text, dataclasses and containers of them.

    >>> size_of(pl.DataFrame({"a": [1, 2, 3]})) >= 24
    True
    >>> size_of((b"12345", "abc")) > 8
    True
    """
    if _depth > 8:
        return sys.getsizeof(value)
    if isinstance(value, pl.DataFrame):
        return int(value.estimated_size())
    if isinstance(value, pl.Series):
        return int(value.estimated_size())
    if isinstance(value, bytes | bytearray | str):
        return sys.getsizeof(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return 64 + sum(
            size_of(getattr(value, f.name), _depth + 1) for f in dataclasses.fields(value)
        )
    if isinstance(value, Mapping):
        return sys.getsizeof(value) + sum(
            size_of(k, _depth + 1) + size_of(v, _depth + 1) for k, v in value.items()
        )
    if isinstance(value, list | tuple | set | frozenset):
        return sys.getsizeof(value) + sum(size_of(item, _depth + 1) for item in value)
    return sys.getsizeof(value)


@dataclasses.dataclass
class _Entry:
    value: Any
    size: int
    made: float


class ByteCache:
    """Results by key, least recently used dropped first once ``max_bytes`` is reached.

    Thread-safe; concurrent callers of one missing key wait for one computation.
    ``ttl_seconds``: results older than this are made again.
    """

    def __init__(self, max_bytes: int, *, ttl_seconds: float = 1800.0) -> None:
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Lock] = {}

    @property
    def bytes(self) -> int:
        """Estimated bytes held now (never above :attr:`max_bytes`)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def _lookup(self, key: Hashable, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now - entry.made > self.ttl_seconds:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.size

    def _trim(self) -> None:
        while self._bytes > self.max_bytes and self._entries:
            self._drop(next(iter(self._entries)))

    def get_or_make(self, key: Hashable, make: Callable[[], T]) -> T:
        """The cached result of ``key``, else ``make()`` (kept if it fits the budget)."""
        with self._lock:
            entry = self._lookup(key, time.monotonic())
            if entry is not None:
                return entry.value
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._lock:
                entry = self._lookup(key, time.monotonic())
                if entry is not None:
                    return entry.value
            try:
                value = make()
                size = size_of(value)
                with self._lock:
                    if size <= self.max_bytes:
                        if key in self._entries:
                            self._drop(key)
                        self._entries[key] = _Entry(value, size, time.monotonic())
                        self._bytes += size
                        self._trim()
            finally:
                with self._lock:
                    self._making.pop(key, None)
            return value

    def resize(self, max_bytes: int) -> None:
        """Change the budget (dropping the least recently used results to fit it)."""
        with self._lock:
            self.max_bytes = max_bytes
            self._trim()

    def clear(self) -> None:
        """Forget every result."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0
