"""A connection pool for a read-only DuckDB file: reused while busy, let go when idle.

Opening a DuckDB file costs far more than the lookup of one person that follows (the
catalog is read and DuckDB's buffers start cold: 60-170 ms against 25-40 ms on the
20,000-person demo, bench/RESULTS.md), so a connection per read wastes most of a lookup.
Keeping connections forever has two costs of its own: a read-only connection holds a lock that
makes a writer elsewhere fail (``Conflicting lock``), and a file an ETL job replaced (a new
file renamed over the path) would be served from the old one for as long as a connection
lives. :class:`FilePool` keeps both properties of a connection per read at the price of a few
seconds:

- a connection returned to the pool is reused by the next read, and closed once it has been
  idle for ``idle_seconds`` (a writer waits at most that long after the last read);
- each connection remembers the file's identity (inode, size, modification time) from just
  before it was opened; at checkout and check-in a connection to a file since replaced is
  closed instead of reused;
- DuckDB hands a process's new connection to a path the database instance its other open
  connections share, so after a replacement a new connection is opened only once every
  connection to the old file has been returned (at most ``drain_seconds`` of waiting, then the
  read goes ahead and its connection is not kept).
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.pool import ConnectionPoolEntry, Pool

__all__ = [
    "DRAIN_SECONDS",
    "IDLE_SECONDS",
    "FilePool",
    "Stamp",
    "file_stamp",
    "on_release",
    "release",
]

IDLE_SECONDS = 2.0
"""How long an idle connection keeps the file open (and a writer waiting) after a read."""
DRAIN_SECONDS = 10.0
"""How long a read waits for the reads of a replaced file to end before it opens the new one."""
MAX_IDLE = 8
"""Most idle connections kept (more than the reads that run at once in one process)."""

Stamp = tuple[int, int, int]
_STAMP = "journey_file_stamp"
_POOLS: weakref.WeakSet[FilePool] = weakref.WeakSet()
_POOLS_LOCK = threading.Lock()
_RELEASE_HOOKS: list[Callable[[str], int]] = []


def on_release(hook: Callable[[str], int]) -> None:
    """Call ``hook`` (the file's absolute path; returns how many it closed) at each
    :func:`release`: for holders of connections outside the pool (``warehouse.cohort``)."""
    _RELEASE_HOOKS.append(hook)


def _close_all() -> None:
    """At exit, before daemon threads stop: no reaper may close a DuckDB connection while the
    interpreter shuts down (its thread would be stopped inside DuckDB, which aborts the process)."""
    global _EXITING
    _EXITING = True
    with _POOLS_LOCK:
        pools = list(_POOLS)
    for pool in pools:
        pool.dispose()


_EXITING = False
atexit.register(_close_all)


def release(path: Path) -> int:
    """Close this process's idle pooled connections to the DuckDB file ``path``; how many.

    A writer in the same process needs this: DuckDB refuses a read-write connection to a file
    the process still has open read-only (``different configuration``).
    """
    target = os.path.abspath(path)
    held = sum(hook(target) for hook in list(_RELEASE_HOOKS))
    with _POOLS_LOCK:
        pools = [pool for pool in _POOLS if os.path.abspath(pool.path) == target]
    return held + sum(pool.close_idle() for pool in pools)


def file_stamp(path: Path) -> Stamp | None:
    """The identity of the file at ``path`` now: (inode, size, mtime in ns); ``None`` if absent.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     file_stamp(Path(f.name))[1]
    0
    """
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


class FilePool(Pool):
    """Connections to the DuckDB file ``file_path``, reused while it is unchanged and closed after
    ``idle_seconds`` idle (see the module docstring). ``clock`` is for tests."""

    def __init__(
        self,
        creator: Any,
        file_path: Path | None = None,
        idle_seconds: float = IDLE_SECONDS,
        drain_seconds: float = DRAIN_SECONDS,
        max_idle: int = MAX_IDLE,
        clock: Callable[[], float] = time.monotonic,
        **kw: Any,
    ) -> None:
        # Positional-or-keyword, so that sa.create_engine passes them on (it passes the
        # names it finds in the signature): create_engine(url, poolclass=FilePool, ...).
        if file_path is None:
            raise TypeError("FilePool needs the file_path of the DuckDB file")
        super().__init__(creator, **kw)
        self.path = file_path
        self.idle_seconds = idle_seconds
        self.drain_seconds = drain_seconds
        self.max_idle = max_idle
        self._clock = clock
        self._kw = kw
        self._idle: list[tuple[ConnectionPoolEntry, float]] = []  # last returned at the end
        self._open: dict[int, Stamp | None] = {}  # id of each open DB-API connection: its file
        self._changed = threading.Condition()
        self._timer: threading.Timer | None = None
        self.opened = 0
        """Connections opened so far (a reused one counts once)."""
        with _POOLS_LOCK:
            _POOLS.add(self)

    # ------------------------------------------------------------ the Pool interface

    def _do_get(self) -> ConnectionPoolEntry:
        stamp = file_stamp(self.path)
        stale: list[ConnectionPoolEntry] = []
        with self._changed:
            reused = None
            while self._idle:
                record, _ = self._idle.pop()
                if record.info.get(_STAMP) == stamp and stamp is not None:
                    reused = record
                    break
                stale.append(record)
        for record in stale:
            record.close()  # a replaced file's connection
        if reused is not None:
            return reused
        if stamp is not None:  # a missing file: opening it fails at once, no need to wait
            self._wait_for_old_reads(stamp)
        return self._create_connection()

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        stamp = record.info.get(_STAMP)
        keep = (
            record.dbapi_connection is not None
            and stamp is not None
            and stamp == file_stamp(self.path)
        )
        with self._changed:
            if keep and len(self._idle) < self.max_idle:
                self._idle.append((record, self._clock()))
                self._schedule()
                return
        record.close()

    def _should_wrap_creator(self, creator: Any) -> Any:
        invoke = super()._should_wrap_creator(creator)

        def opened(record: ConnectionPoolEntry) -> Any:
            # The identity from before opening: a file replaced while it opens is stale at once.
            stamp = file_stamp(self.path)
            connection = invoke(record)
            with self._changed:
                # A connection opened while connections to another file are open may share
                # their (old) database: it serves this read and is not kept.
                shared = bool(set(self._open.values()) - {stamp})
                self._open[id(connection)] = None if shared else stamp
                self.opened += 1
            record.info[_STAMP] = None if shared else stamp
            return connection

        return opened

    def _close_connection(self, connection: Any, *, terminate: bool = False) -> None:
        try:
            super()._close_connection(connection, terminate=terminate)
        finally:
            with self._changed:
                self._open.pop(id(connection), None)
                self._changed.notify_all()

    def status(self) -> str:
        return f"FilePool({self.path.name}): {self.idle()} idle, {self.open()} open"

    def dispose(self) -> None:
        with self._changed:
            idle, self._idle = self._idle, []
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        for record, _ in idle:
            record.close()

    def recreate(self) -> FilePool:
        # As SQLAlchemy's own pools do: the same events (the engine's connect listeners, e.g.
        # DuckDB's memory limit) and dialect, so Engine.dispose() loses none of them.
        self.logger.info("Pool recreating")
        kw = {
            **self._kw,
            "recycle": self._recycle,
            "echo": self.echo,
            "logging_name": self._orig_logging_name,
            "reset_on_return": self._reset_on_return,
            "pre_ping": self._pre_ping,
            "_dispatch": self.dispatch,
            "dialect": self._dialect,
        }
        return self.__class__(
            self._creator,
            file_path=self.path,
            idle_seconds=self.idle_seconds,
            drain_seconds=self.drain_seconds,
            max_idle=self.max_idle,
            clock=self._clock,
            **kw,
        )

    # ------------------------------------------------------------------ the rest

    def idle(self) -> int:
        """Connections waiting in the pool now."""
        with self._changed:
            return len(self._idle)

    def open(self) -> int:
        """Connections open now (idle or in use): 0 means the file is not held."""
        with self._changed:
            return len(self._open)

    def close_idle(self, *, older_than: float = 0.0) -> int:
        """Close the connections idle for at least ``older_than`` seconds; how many."""
        now = self._clock()
        with self._changed:
            old = [(r, at) for r, at in self._idle if now - at >= older_than]
            self._idle = [(r, at) for r, at in self._idle if now - at < older_than]
        for record, _ in old:
            record.close()
        return len(old)

    def _wait_for_old_reads(self, stamp: Stamp | None) -> None:
        """Wait (at most ``drain_seconds``) until no connection to another file is open."""
        deadline = time.monotonic() + self.drain_seconds
        with self._changed:
            while any(s != stamp for s in self._open.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)

    def _schedule(self) -> None:
        """Close idle connections ``idle_seconds`` after they were returned (lock held)."""
        if self._timer is not None or not self._idle:
            return
        oldest = min(at for _, at in self._idle)
        delay = max(0.0, oldest + self.idle_seconds - self._clock())
        self._timer = threading.Timer(delay, self._reap)
        self._timer.daemon = True
        self._timer.start()

    def _reap(self) -> None:
        if _EXITING:
            return
        with self._changed:
            self._timer = None
        self.close_idle(older_than=self.idle_seconds)
        with self._changed:
            self._schedule()
