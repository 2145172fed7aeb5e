"""An engine actor on the database's rows, with an Asterisk that accepts every request: for tests of what the
engine writes (its log lines, its restart), not of the calls themselves."""
from __future__ import annotations

import asyncio
import contextlib
import time

from dialer.db import run


class QuietAri:
    """An Asterisk that accepts every request."""
    name = "pbx"

    def __init__(self):
        from dialer.settings import AsteriskServer
        self.server = AsteriskServer()
        self.connected = asyncio.Event()
        self.connected.set()
        self.reconnects, self.state_since, self.on_state = [], time.time(), None

    def __getattr__(self, name):
        async def accepted(*args, **kwargs):
            return None
        return accepted


@contextlib.asynccontextmanager
async def engine_actor(settings, db, operator_id: int):
    """The operator's actor as an engine start builds it from the rows (store.load_operators, restore_state);
    stopped afterwards."""
    from ari_app import store
    from ari_app.engine import Engine

    engine = Engine(settings, db)
    engine.loop = asyncio.get_running_loop()
    engine.clients = {"pbx": QuietAri()}
    [record] = await run(db, store.load_operators, db, operator_id)
    actor = engine._add_actor(record)
    try:
        yield actor
    finally:
        for task in (actor.task, actor.writer):
            task.cancel()
        await asyncio.gather(actor.task, actor.writer, return_exceptions=True)
