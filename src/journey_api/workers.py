"""Cohort reads in worker processes of lower CPU priority, their rows handed over as files.

A cohort or campaign read keeps every core busy for seconds (DuckDB and Polars run their
own thread pools), and threads of one process share those pools: person lookups running
next to it in the API process took 1–5 s instead of 30–60 ms. So cohort reads run in
:class:`CohortWorkers`, a small pool of worker processes started with a raised nice value
(:data:`NICE`, every thread of theirs included): a lookup in the API process gets about three
times their share of the CPU (nice 5 against 0; not more, so that cohort reads still progress
on a host busy with other work). A worker writes the rows to a Parquet file the API names (its spool
folder), and returns only the counts; its memory stays in the worker, which is replaced
after :data:`READS_PER_WORKER` reads so its peak does not linger.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from journey_core.errors import InputError
from journey_core.rules.query import JourneyQuery
from journey_core.warehouse import Engine, SchemaMapping, create_engine, fetch_journeys

__all__ = ["NICE", "READS_PER_WORKER", "CohortWorkers", "Written", "write_cohort"]

NICE = 5
READS_PER_WORKER = 50

_engines: dict[str, Engine] = {}


@dataclass(frozen=True, slots=True)
class Written:
    """What a worker reports about the file it wrote."""

    events: int
    individuals: int
    message: str | None


class _InputProblem(Exception):  # InputError does not survive pickling (two arguments)
    pass


def _lower_priority(nice: int) -> None:
    os.nice(nice)


def _ready() -> int:
    """A no-op task: the worker has imported what a read needs."""
    return os.getpid()


def write_cohort(
    url: str, mapping: SchemaMapping, query: JourneyQuery, path: str, row_group_rows: int
) -> Written:
    """In a worker: read ``query`` and write its rows to ``path`` (Parquet, LZ4)."""
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = create_engine(url)
    try:
        result = fetch_journeys(engine, query, mapping=mapping)
    except InputError as exc:
        raise _InputProblem(exc.field, exc.detail) from None
    result.frame.write_parquet(path, compression="lz4", row_group_size=row_group_rows)
    return Written(result.events, result.individuals, result.message)


class CohortWorkers:
    """At most ``workers`` processes (started on first use, ``spawn``), each at nice
    +``nice`` relative to the API. :meth:`shared` gives one pool per size to a process."""

    _shared: ClassVar[dict[int, CohortWorkers]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def shared(cls, workers: int) -> CohortWorkers:
        """The process's pool of ``workers`` workers (apps of one process share it)."""
        with cls._shared_lock:
            pool = cls._shared.get(workers)
            if pool is None:
                pool = cls._shared[workers] = cls(workers)
            return pool

    def __init__(self, workers: int, *, nice: int = NICE) -> None:
        self.workers = max(1, workers)
        self.nice = nice
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is not None:
                return self._pool
            atexit.register(self.shutdown)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_lower_priority,
                initargs=(self.nice,),
                max_tasks_per_child=READS_PER_WORKER,
            )
            return self._pool

    def start(self) -> None:
        """Start the workers now (in the background), so the first reads do not wait for
        them to import Polars and DuckDB."""
        pool = self._executor()
        for _ in range(self.workers):
            pool.submit(_ready)

    def write(
        self,
        url: str,
        mapping: SchemaMapping,
        query: JourneyQuery,
        path: Path,
        *,
        row_group_rows: int,
    ) -> Written:
        """Run :func:`write_cohort` in a worker and wait for it (on the calling thread)."""
        future = self._executor().submit(
            write_cohort, url, mapping, query, str(path), row_group_rows
        )
        try:
            return future.result()
        except _InputProblem as exc:
            field, detail = exc.args
            raise InputError(field, detail) from None

    def pids(self) -> list[int]:
        """The worker processes' ids (none before the first read)."""
        pool = self._pool
        processes = getattr(pool, "_processes", None) or {}
        return sorted(processes)

    def shutdown(self) -> None:
        """Stop the workers (a later read starts new ones)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
