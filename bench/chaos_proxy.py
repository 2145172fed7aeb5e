"""A TCP proxy in front of pbx's HTTP port for the engine, which can cut the ARI event websocket alone:
the network dropping that one connection while Asterisk and REST stay up (bench.chaos_faults)."""
from __future__ import annotations

import asyncio
import re
import threading
import time


class AriProxy:
    """Listens on `port` (any free one) and passes everything to pbx; `drop_websockets` cuts the event
    websocket and refuses it for a while. Runs its own event loop in a thread, so the caller may block."""

    def __init__(self, upstream_port: int, host: str = "127.0.0.1"):
        self.upstream = (host, upstream_port)
        self.blocked_until = 0.0
        self.cut = 0  # live websockets cut
        self.refused = 0  # websocket connections refused while blocked
        self._websockets: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="ari-proxy", daemon=True)
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._serve, host, 0))
        self.port = self._server.sockets[0].getsockname()[1]

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def drop_websockets(self, hold_s: float) -> int:
        """Cut every live websocket (RST both ways) and refuse new ones for `hold_s`; how many were cut."""
        async def drop():
            self.blocked_until = time.time() + hold_s
            cut = list(self._websockets)
            for pair in cut:
                for writer in pair:
                    writer.transport.abort()
            self.cut += len(cut)
            return len(cut)
        return self._call(drop())

    def close(self) -> None:
        async def close():
            self._server.close()
            for pair in list(self._websockets):
                for writer in pair:
                    writer.transport.abort()
        self._call(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        try:
            await asyncio.gather(self._requests(reader, up_writer, pair), _pipe(up_reader, writer))
        finally:
            self._websockets.discard(pair)

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pair) -> None:
        """Engine → Asterisk. aiohttp may upgrade a kept-alive REST connection to the websocket, so every
        request is looked at, not only a connection's first."""
        try:
            while data := await reader.read(65536):
                if pair not in self._websockets and _UPGRADE.search(data):
                    if time.time() < self.blocked_until:
                        self.refused += 1
                        for w in pair:
                            w.transport.abort()
                        return
                    self._websockets.add(pair)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


_UPGRADE = re.compile(rb"(?im)^upgrade:\s*websocket")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
