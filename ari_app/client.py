"""A thin ARI client on aiohttp: REST calls and the event websocket, reconnecting forever.

ARI replays nothing after a websocket drop, so every (re)connect calls `on_connect` — the engine
lists channels and bridges there and reconciles them with its own records.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Awaitable, Callable

import aiohttp
import orjson

from dialer.settings import AsteriskServer

log = logging.getLogger(__name__)
JSON = {"Content-Type": "application/json"}
# only what ari_app/stasis.py and ari_app/inbound.py read: every event is built by Asterisk and parsed here
# (ChannelStateChange and ChannelLeftBridge, read by nobody, were about one in six of the events of a call)
WANTED_EVENTS = ("StasisStart", "StasisEnd", "ChannelDestroyed", "ChannelHangupRequest", "Dial",
                 "ChannelEnteredBridge")


class AriError(Exception):
    def __init__(self, status: int, method: str, path: str, body: str):
        super().__init__(f"ARI {method} {path} → {status}: {body[:200]}")
        self.status = status


class AriClient:
    def __init__(self, server: AsteriskServer, app: str):
        self.server = server
        self.name = server.name
        self.app = app
        self._auth = aiohttp.BasicAuth(server.ari_user, server.ari_password)
        self._session: aiohttp.ClientSession | None = None
        self.connected = asyncio.Event()
        # for the engine's health row (ari_app/health.py): since when connected or not, and the reconnects
        self.state_since = time.time()
        self.reconnects: deque[float] = deque(maxlen=10_000)  # wall times of the connects after the first
        self.on_state: Callable[[], None] | None = None  # told at each connect and drop
        self._ever_connected = False

    async def open(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=64, keepalive_timeout=60)
            # ARI sets no cookies: no jar to look through on every request and response
            self._session = aiohttp.ClientSession(auth=self._auth, connector=connector,
                                                  cookie_jar=aiohttp.DummyCookieJar(),
                                                  timeout=aiohttp.ClientTimeout(total=10))

    async def close(self) -> None:
        if self._session:
            await self._session.close()
            self._session = None

    # ---- REST -------------------------------------------------------------------------------
    async def request(self, method: str, path: str, params: dict | None = None, body: dict | None = None):
        await self.open()
        params = {k: str(v) for k, v in (params or {}).items() if v is not None}
        # orjson: every call's requests and events are JSON (the standard library's took a visible share of the CPU)
        data, headers = (orjson.dumps(body), JSON) if body is not None else (None, None)
        try:
            async with self._session.request(method, self.server.ari_url + path, params=params, data=data,
                                             headers=headers) as resp:
                raw = await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            # Asterisk unreachable, restarting or shutting down: one error type for the callers
            raise AriError(0, method, path, str(e) or type(e).__name__) from e
        if resp.status >= 400:
            raise AriError(resp.status, method, path, raw.decode("utf-8", "replace"))
        return orjson.loads(raw) if raw else None

    async def originate(self, endpoint: str, channel_id: str, app_args: list[str], timeout: int,
                        caller_id: str = "", variables: dict | None = None) -> dict:
        params = {"endpoint": endpoint, "app": self.app, "appArgs": ",".join(app_args),
                  "channelId": channel_id, "timeout": timeout, "callerId": caller_id or None}
        return await self.request("POST", "/channels", params, {"variables": variables or {}})

    async def hangup(self, channel_id: str, reason: str = "normal") -> bool:
        try:
            await self.request("DELETE", f"/channels/{channel_id}", {"reason": reason})
            return True
        except AriError as e:
            if e.status == 404:  # already gone: the event that says so is on its way
                return False
            raise

    async def ensure_bridge(self, bridge_id: str, name: str = "") -> None:
        """Create the mixing bridge, or keep the one that survived an engine restart."""
        try:
            await self.request("POST", f"/bridges/{bridge_id}", {"type": "mixing", "name": name or bridge_id})
        except AriError as e:
            if e.status != 409:
                raise

    async def add_channel(self, bridge_id: str, channel_id: str) -> None:
        await self.request("POST", f"/bridges/{bridge_id}/addChannel", {"channel": channel_id})

    async def destroy_bridge(self, bridge_id: str) -> None:
        try:
            await self.request("DELETE", f"/bridges/{bridge_id}")
        except AriError as e:
            if e.status != 404:
                raise

    # ---- announcements and recordings (ari_app/recording.py) ---------------------------------------
    async def play(self, channel_id: str, media: str, playback_id: str) -> dict:
        return await self.request("POST", f"/channels/{channel_id}/play", {"media": media, "playbackId": playback_id})

    async def start_moh(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/moh")

    async def stop_moh(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{channel_id}/moh")

    async def playing(self, playback_id: str) -> bool:
        try:
            await self.request("GET", f"/playbacks/{playback_id}")
            return True
        except AriError as e:
            if e.status == 404:  # finished (or the channel is gone)
                return False
            raise

    async def stop_recording(self, name: str) -> bool:
        try:
            await self.request("POST", f"/recordings/live/{name}/stop")
            return True
        except AriError as e:
            if e.status == 404:  # already over (the bridge went away): the stored file is there
                return False
            raise

    async def recording_live(self, name: str) -> bool:
        """Still being written (a stop closes the file a moment later, when the recording ends)."""
        try:
            await self.request("GET", f"/recordings/live/{name}")
            return True
        except AriError as e:
            if e.status == 404:
                return False
            raise

    async def stored_recording(self, name: str) -> bytes | None:
        """The stored recording's bytes (None: Asterisk has no such file, or not yet)."""
        await self.open()
        try:
            async with self._session.get(f"{self.server.ari_url}/recordings/stored/{name}/file") as resp:
                if resp.status == 404:
                    return None
                body = await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise AriError(0, "GET", f"/recordings/stored/{name}/file", str(e) or type(e).__name__) from e
        if resp.status >= 400:
            raise AriError(resp.status, "GET", f"/recordings/stored/{name}/file", body[:200].decode("latin-1"))
        return body

    async def delete_stored_recording(self, name: str) -> None:
        try:
            await self.request("DELETE", f"/recordings/stored/{name}")
        except AriError as e:
            if e.status != 404:
                raise

    async def reachable(self, timeout: float = 2.0) -> bool:
        """Asterisk answers REST at all (any HTTP status): with the event websocket down, this tells a cut websocket
        (calls live on) from a server that is gone (ari_app/servers.py)."""
        await self.open()
        try:
            async with self._session.get(self.server.ari_url + "/asterisk/ping",
                                         timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                await resp.read()
            return True
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return False

    async def channels(self) -> list[dict]:
        return await self.request("GET", "/channels") or []

    async def bridges(self) -> list[dict]:
        return await self.request("GET", "/bridges") or []

    async def _filter_events(self) -> None:
        """Ask Asterisk for only the events the engine uses: a call otherwise brings ~20 ChannelVarset."""
        allowed = [{"type": t} for t in WANTED_EVENTS]
        try:
            await self.request("PUT", f"/applications/{self.app}/eventFilter", body={"allowed": allowed})
        except AriError as e:
            log.warning("ARI %s: event filter not accepted (%s); receiving every event", self.name, e)

    # ---- events -------------------------------------------------------------------------------
    async def run_events(self, on_event: Callable[[dict], None],
                         on_connect: Callable[[], Awaitable[None]]) -> None:
        """Read events until cancelled; reconnect with backoff; reconcile on each connect."""
        await self.open()
        url = self.server.ari_url.replace("http", "ws", 1) + "/events"
        backoff = 0.2
        while True:
            try:
                async with self._session.ws_connect(url, params={"app": self.app, "subscribeAll": "false"},
                                                    heartbeat=15, timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
                    log.info("ARI %s: event websocket connected", self.name)
                    backoff = 0.2
                    await self._filter_events()
                    self._mark(True)
                    await on_connect()
                    async for msg in ws:
                        if msg.type == aiohttp.WSMsgType.TEXT:
                            on_event(orjson.loads(msg.data))
                        elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                            break
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as e:
                log.warning("ARI %s: %s; reconnecting in %.1fs", self.name, e or type(e).__name__, backoff)
            except Exception:
                log.exception("ARI %s: event handling failed; reconnecting", self.name)
            self._mark(False)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    def _mark(self, up: bool) -> None:
        """The websocket came up or went down: remember since when (a failed reconnect changes nothing)."""
        if up == self.connected.is_set():
            return
        self.state_since = time.time()
        if up:
            if self._ever_connected:
                self.reconnects.append(self.state_since)
            self._ever_connected = True
            self.connected.set()
        else:
            self.connected.clear()
        if self.on_state:
            self.on_state()
