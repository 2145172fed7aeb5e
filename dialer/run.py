"""`dialer run`: engine, web, jobs and AGI in one process and one event loop (each may run alone)."""
from __future__ import annotations

import asyncio
import logging
import os
import signal

from . import db as dbm
from .settings import Settings

log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 5
WAIT_DB_MAX_S = 5  # while PostgreSQL is not up yet at start, look again at most this often


async def run(settings: Settings, parts: set[str]) -> None:
    db = dbm.connect(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    if not await _database_reachable(db, stopping):
        return
    started = []
    if "engine" in parts:
        from ari_app.engine import Engine
        engine = Engine(settings, db)
        from .services import pacing
        engine.predictive.autostop = pacing  # B3: the autostop rule and the campaign's stop, alert and audit
        await engine.start()
        started.append(engine.stop)
        from ari_app.contacts import ContactWatcher  # what qualify finds of each registration (issue 14)
        contacts = ContactWatcher(settings, db)
        await contacts.start()
        started.append(contacts.stop)
    if "agi" in parts:
        from agi.server import serve as serve_agi
        server = await serve_agi(settings, db)
        started.append(_closer(server))
        from .heartbeat import agi_reporter  # AGI's health row (listening, since when)
        beat = asyncio.create_task(agi_reporter(db, server, f"127.0.0.1:{settings.agi_port}").run(), name="agi-health")
        started.append(_cancel(beat))
    if "jobs" in parts:
        from .jobs import start_jobs
        scheduler = start_jobs(settings, db)
        started.append(_async(scheduler.shutdown))
    web_task = None
    if "web" in parts:
        from web.server import serve as serve_web
        web_task = asyncio.create_task(serve_web(settings, db))
        log.info("web and API on http://%s:%s/api", settings.web_host, settings.web_port)
    await stopping.wait()
    log.info("stopping")
    if web_task:
        web_task.cancel()
        await asyncio.gather(web_task, return_exceptions=True)
    for stop in reversed(started):
        try:
            await asyncio.wait_for(stop(), STOP_TIMEOUT_S)
        except Exception:
            log.exception("a part did not stop cleanly")
    # no db.close_all() here: peewee's pool can deadlock against a worker thread still waiting for a
    # connection; the process exits next and PostgreSQL closes the sessions itself
    log.info("stopped")


async def _database_reachable(db, stopping: asyncio.Event) -> bool:
    """Wait for PostgreSQL at start (a machine booting may start us first); once running, every part
    rides out a database restart by itself. False: asked to stop while waiting."""
    delay = 0.2
    while not stopping.is_set():
        try:
            await dbm.run(db, lambda: db.execute_sql("SELECT 1").fetchone())
            return True
        except Exception as e:
            if not dbm.unavailable(e):
                raise
            if delay == 0.2:  # once, not at every try
                log.warning("waiting for PostgreSQL: %s", str(e).strip().splitlines()[0] if str(e).strip() else e)
        try:
            await asyncio.wait_for(stopping.wait(), delay)
        except asyncio.TimeoutError:
            pass
        delay = min(delay * 2, WAIT_DB_MAX_S)
    return False


def run_until_stopped(settings: Settings, parts: set[str]) -> None:
    """Run, then leave without waiting for worker threads: a database call stuck on a dead server
    must not keep a stopping service alive. Everything is already committed (the engine is built
    to survive SIGKILL), so nothing is lost by not joining the threads."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run(settings, parts))
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=STOP_TIMEOUT_S))
    finally:
        logging.shutdown()
        os._exit(0)


def _closer(server):
    async def close():
        server.close()
        await server.wait_closed()
    return close


def _async(fn):
    async def call():
        fn()
    return call


def _cancel(task: asyncio.Task):
    async def cancel():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return cancel
