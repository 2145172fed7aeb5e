"""CPU-bound work of the web — reading and importing an uploaded table — in worker processes.

`dialer run` is one process whose event loop carries the ARI events, the pages and the API. A thread reading a
20 MB spreadsheet holds the GIL, and every other thread (the event loop's among them) waits up to the switch
interval each time it needs it: /api/health took 100–320 ms during such a read in a thread, 17–100 ms (mostly
~20) with the read in a worker process (the same machine and load, a real uvicorn server). Processes also
keep a file's memory out of the dialer's: a worker is limited to WORKER_MEMORY of address space.

A task is a module-level function and its arguments (both pickled). `run` calls it as it is; `run_in_db`
calls it inside a connection of the worker's own database, the models bound to it, so an import writes
from the worker and only its small report comes back (unpickling 200,000 rows would hold the GIL too).
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import resource
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

from .errors import DomainError
from .settings import Settings

log = logging.getLogger(__name__)
WORKERS = 2  # a preview is not kept waiting behind one long import
WORKER_MEMORY = 2 * 1024 ** 3  # bytes of address space: well above a 20 MB import (~300 MB), far below the host
WORKER_DB_POOL = 2


class Workers:
    """The web's pool of worker processes, started on first use (most processes never import a file)."""

    def __init__(self, settings: Settings, size: int = WORKERS):
        self.settings = settings
        self.size = size
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _submit_task(self, *call) -> Future:
        """Called in a thread: `submit` starts a worker process when the pool needs one and queues the arguments
        (a 20 MB file); done on the event loop, the first import's first polls waited 40–170 ms."""
        with self._lock:
            if self._pool is None:
                # spawn, not fork: forking a process that runs an event loop and threads copies their locks as held
                self._pool = ProcessPoolExecutor(self.size, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_start_worker, initargs=(self.settings,))
            return self._pool.submit(_call, *call)

    async def run(self, fn, *args):
        """`fn(*args)` in a worker; its DomainError is raised here as it was raised there."""
        return await self._submit(fn, args, False)

    async def run_in_db(self, fn, *args):
        """`fn(*args)` in a worker, inside a connection of the worker's database (the models bound to it)."""
        return await self._submit(fn, args, True)

    async def _submit(self, fn, args, in_db: bool):
        try:
            outcome = await asyncio.wrap_future(await asyncio.to_thread(self._submit_task, fn, args, in_db))
        except BrokenProcessPool:
            log.error("a worker process died during %s; the pool is started again", fn.__qualname__)
            self.close()
            raise
        match outcome:
            case ("ok", value):
                return value
            case ("domain-error", kind, code, message, details):
                raise kind(code, message, **details)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None


# ---- in the worker process ----------------------------------------------------------------------------
_database = None  # the worker process's own pooled database, made by _start_worker


def _start_worker(settings: Settings) -> None:
    global _database
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    from . import db

    _database = db.connect(replace(settings, db_pool_size=WORKER_DB_POOL))


def _call(fn, args, in_db: bool):
    """Domain errors come back as data: their constructor takes more than the message pickle would give it."""
    try:
        if in_db:
            with _database.connection_context():
                return "ok", fn(*args)
        return "ok", fn(*args)
    except DomainError as e:
        return "domain-error", type(e), e.code, e.message, e.details
