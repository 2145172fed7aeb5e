"""`dialer run`: engine, web, jobs and AGI in one process and one event loop (each may run alone)."""
from __future__ import annotations

import asyncio
import logging
import signal

from . import db as dbm
from .settings import Settings

log = logging.getLogger(__name__)


async def run(settings: Settings, parts: set[str]) -> None:
    db = dbm.connect(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    started = []
    if "engine" in parts:
        from ari_app.engine import Engine
        engine = Engine(settings, db)
        await engine.start()
        started.append(engine.stop)
    if "agi" in parts:
        from agi.server import serve as serve_agi
        server = await serve_agi(settings, db)
        started.append(_closer(server))
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
        await stop()
    db.close_all()


def _closer(server):
    async def close():
        server.close()
        await server.wait_closed()
    return close


def _async(fn):
    async def call():
        fn()
    return call
