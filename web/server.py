"""Serve the web app with uvicorn inside the caller's event loop (alone, or beside the engine)."""
from __future__ import annotations

import asyncio

import uvicorn
from peewee import Database

from dialer.settings import Settings

from .app import create_app


async def serve(settings: Settings, db: Database) -> None:
    """Run until cancelled or signalled; cancelling shuts the server down cleanly first."""
    config = uvicorn.Config(create_app(settings, db), host=settings.web_host, port=settings.web_port,
                            log_config=None,  # keep the process's own logging setup
                            proxy_headers=False, server_header=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True  # finish open requests and close the socket before giving up
        await task
        raise
