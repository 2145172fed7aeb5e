"""The web server runs inside the caller's event loop and stops cleanly when cancelled."""
from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

import httpx

from web.server import serve


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_serve_answers_and_stops_on_cancel(settings, db):
    s = replace(settings, web_host="127.0.0.1", web_port=free_port())
    task = asyncio.create_task(serve(s, db))
    url = f"http://127.0.0.1:{s.web_port}/api/health/web"
    async with httpx.AsyncClient() as client:
        for _ in range(100):  # poll until the socket listens
            try:
                r = await client.get(url)
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        r = await client.get(url.replace("health/web", "campaigns"))
        assert r.status_code == 401
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    assert task.done()
    with socket.socket() as probe:  # the port is free again
        probe.bind(("127.0.0.1", s.web_port))
