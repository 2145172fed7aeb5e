"""FastAGI on panoramisk, with its header loop guarded: a dropped connection must not spin.

Routes (see dialplan/dialer.conf):
- `operator_ready` / `operator_pause` — feature codes *71 / *72 dialled from an operator's softphone;
  they become engine commands exactly like the buttons of the panel.
A client calling back is not an AGI matter: `dialer-inbound` hands the call to the engine's Stasis app
(ari_app/inbound.py), the one place that decides where it goes.
"""
from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict

from panoramisk.fast_agi import Application, Request

from dialer import commands
from dialer import db as dbm
from dialer import logs
from dialer.models import Operator

log = logging.getLogger(__name__)
MAX_HEADER_BYTES = 16 * 1024
_ENDPOINT = re.compile(r"^PJSIP/(?P<login>[a-z0-9_.-]+)-[0-9a-f]+$")


class GuardedApplication(Application):
    async def handler(self, reader, writer):
        try:
            headers = await asyncio.wait_for(read_headers(reader), timeout=10)
        except (asyncio.TimeoutError, ConnectionError, ValueError) as e:
            log.warning("AGI: dropped a request with unreadable headers: %s", e)
            writer.close()
            return
        script = headers.get("agi_network_script")
        route = self._route.get(script)
        if route is None:
            log.error("AGI: no route for %r", script)
        else:
            try:
                with logs.bound(channel=headers.get("agi_channel") or None):  # its lines name the call (dialer/logs.py)
                    await route(Request(app=self, headers=headers, reader=reader, writer=writer,
                                        encoding=self.default_encoding))
            except Exception:
                log.exception("AGI: route %s failed", script)
        writer.close()


async def read_headers(reader) -> OrderedDict:
    """Parse the AGI environment block (`name: value` lines, ended by an empty line)."""
    buffer = b""
    while b"\n\n" not in buffer:
        chunk = await reader.read(4096)
        if not chunk:
            raise ConnectionError("connection closed before the AGI headers ended")
        buffer += chunk
        if len(buffer) > MAX_HEADER_BYTES:
            raise ValueError("AGI headers too long")
    return parse_headers(buffer.split(b"\n\n", 1)[0])


def parse_headers(block: bytes) -> OrderedDict:
    lines = block.decode("utf-8", "replace").split("\n")
    return OrderedDict(line.split(": ", 1) for line in lines if ": " in line)


def operator_login(headers: dict) -> str | None:
    m = _ENDPOINT.match(headers.get("agi_channel", ""))
    return m.group("login") if m else None


def build(db) -> GuardedApplication:
    app = GuardedApplication()

    def enqueue(login: str | None, payload: commands.Payload) -> bool:
        op = Operator.get_or_none(Operator.login == login) if login else None
        if op is None:
            return False
        commands.enqueue(op.id, payload)
        return True

    async def feature(request, payload: commands.Payload):
        login = operator_login(request.headers)
        ok = await dbm.run(db, enqueue, login, payload)
        log.info("AGI: feature %s from %s: %s", payload.kind.value, login, "queued" if ok else "unknown operator")
        await request.send_command(f"SET VARIABLE DIALER_FEATURE_RESULT {'OK' if ok else 'UNKNOWN'}")

    async def operator_ready(request):
        await feature(request, commands.Ready(source="feature-code"))

    async def operator_pause(request):
        await feature(request, commands.Pause(source="feature-code"))

    app.add_route("operator_ready", operator_ready)
    app.add_route("operator_pause", operator_pause)
    return app


async def serve(settings, db) -> asyncio.AbstractServer:
    app = build(db)
    server = await asyncio.start_server(app.handler, "127.0.0.1", settings.agi_port)
    log.info("FastAGI listening on 127.0.0.1:%s", settings.agi_port)
    return server
