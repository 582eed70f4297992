"""Lanes: a small pool of threads per kind of warehouse read, with single flight.

FastAPI runs synchronous routes in one shared thread pool; a route that waited there for a
cohort read would hold a thread, and enough waiting cohort reads would leave none for a
person's lookup. So the route is asynchronous and hands each warehouse read to the lane of
its kind: person lookups (a query with an email) and cohort reads (every other rule) have
their own threads, and a request waiting for its read holds no thread at all. A lane also
runs concurrent reads of the same query once: later callers wait for the first caller's
read and share its result (whether or not a cache then keeps it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

__all__ = ["Lane"]

T = TypeVar("T")


class Lane(Generic[T]):
    """At most ``workers`` reads at once on threads named ``journey-<name>``; the others
    wait in order, holding no thread."""

    def __init__(self, name: str, workers: int) -> None:
        self.name = name
        self.workers = max(1, workers)
        self._pool = ThreadPoolExecutor(
            max_workers=self.workers, thread_name_prefix=f"journey-{name}"
        )
        self._flights: dict[str, Future[T]] = {}
        self._lock = threading.Lock()
        self.reads = 0
        """Reads started so far (shared ones count once)."""

    async def run(self, key: str, read: Callable[[], T]) -> tuple[T, bool]:
        """``read()``'s value, run on this lane, and whether this call started it (False:
        it joined a read of the same ``key`` already under way)."""
        with self._lock:
            flight = self._flights.get(key)
            started = flight is None
            if flight is None:
                flight = self._pool.submit(read)
                self._flights[key] = flight
                self.reads += 1
        if started:
            flight.add_done_callback(lambda done: self._land(key, done))
        # shield: a client that goes away cancels its wait, not the read others share.
        value: T = await asyncio.shield(asyncio.wrap_future(flight))
        return value, started

    def _land(self, key: str, done: Future[Any]) -> None:
        with self._lock:
            if self._flights.get(key) is done:
                del self._flights[key]

    def in_flight(self) -> int:
        """Distinct reads running or waiting for a thread now."""
        with self._lock:
            return len(self._flights)

    def shutdown(self) -> None:
        """Stop taking reads; those waiting for a thread are cancelled."""
        self._pool.shutdown(wait=False, cancel_futures=True)
