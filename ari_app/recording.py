"""Recording answered calls (SPEC J1), off the call's critical path and cheap for Asterisk.

The actor never waits for any of this. What the campaign wants is read as the client is dialled, so the answer
bridges without a database round trip first. If the attempt's campaign records, a snoop channel is created on the
client's channel as the client answers (beside the bridging), listening both ways (what the client hears — the
operator — and says), and once the client has joined the operator it records as 8 kHz WAV: one file of both parties
with no encoder in Asterisk, and the operator's bridge stays a two-party one. The recordings use ARI connections of
their own, and their after-call work waits while other clients are being bridged. (`POST /bridges/{id}/record` adds
a third channel that turns the bridge into a mixing one, decoding and encoding every 20 ms; with Opus written by
Asterisk it cost pbx six times its CPU and doubled answer → bridged p99 — docs/recording.md; writing WAV it still
took pbx about ×1.8 the snoop's CPU. A snoop on the operator's leg, made while the client's phone rings, made answer
→ bridged slower than the snoop made at the answer: p50 ×2–3 in rounds alternating with it, bench.recording.) When
the attempt ends the recording is stopped, fetched over ARI (`/recordings/stored/{name}/file`: Asterisk may sit on
another host) into `pending/`, and compressed to Ogg/Opus by `opusenc` at the lowest priority, one file at a time;
stored with its size, duration and checksum.

State lives in `call_recording` and on disk, not in memory: an attempt that ends after an engine restart still has
its file fetched (the `recording` row says so), and at each start the recordings of attempts that ended while the
engine was away are collected — fetched from Asterisk, or compressed from the WAV kept in `pending/`.
The free-space guard: below `recording_min_free_mb` no recording starts and
live ones are stopped, with one alert; calls are never touched.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from dialer import recording_files as rec

from .client import AriClient, AriError

log = logging.getLogger(__name__)
GUARD_EVERY_S = 5.0
CONSENT_MAX_S = 35  # the longest announcement accepted (dialer/services/recording_settings.py) and a margin
FETCH_TRIES = 20  # the file is closed a moment after the stop; Asterisk may be restarting (then it is gone)
START_TRIES = 40  # 2 s for the snoop channel to enter the application
ENCODERS = 1  # compressions at a time: a burst of ended calls queues rather than taking the cores from live ones
FILE_THREADS = 2  # the files' own threads (one compression, one synced write or disk check beside it)
BRIDGING_S = 2.0  # a client's bridging asked for longer ago than this is not waited for (it failed, or is long done)
QUIET_MAX_S = 15.0  # the after-call work waits for no bridging at most this long: a steady flow never starves it
FETCHES = 1  # ended recordings stopped, fetched and deleted on Asterisk at a time


class Recorder:
    def __init__(self, engine):
        self.engine = engine
        self.root = engine.settings.recordings_path
        self.min_free_mb = engine.settings.recording_min_free_mb
        self.paused = False  # the free-space guard
        self.live: dict[int, tuple[AriClient, asyncio.Task]] = {}  # attempt → its server and starting task
        self.tasks: set[asyncio.Task] = set()
        self.plans: dict[int, rec.AnsweredPlan] = {}  # read at answer, used once bridged
        self.snoops: dict[int, asyncio.Task] = {}  # attempt → its snoop channel being created before the bridging
        self.prepared: dict[int, asyncio.Task] = {}  # attempt → its campaign being read as it is dialled
        # attempt → loop time its client's bridging was asked for: the after-call work waits while there are any
        self.bridging: dict[int, float] = {}
        self.fetching = asyncio.Semaphore(FETCHES)
        # the recordings' own ARI connections, one pool per server: an operator's bridging request never waits for
        # a free connection behind a snoop, a record or a file download
        self.own: dict[str, AriClient] = {}
        settings = engine.settings
        self.consent_dir = settings.announcements_asterisk_dir or str(rec.announcements_dir(self.root))
        self.consent_default = settings.consent_default_sound
        self.encoder = settings.recording_encoder
        self.encoding = asyncio.Semaphore(ENCODERS)
        # file work (a synced WAV write, opusenc waited for, the free-space check) has threads of its own, not the
        # engine's default executor, which is the database threads: twenty calls ending together would take them
        # with fsyncs, and the next answers would wait for a thread to read their campaign (answer → bridged)
        self.files = ThreadPoolExecutor(FILE_THREADS, "recording-files")

    async def _on_files(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.files, fn, *args)

    def _ari(self, client: AriClient) -> AriClient:
        own = self.own.get(client.name)
        if own is None or own.server is not client.server:
            own = self.own[client.name] = AriClient(client.server, client.app)
        return own

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    # ---- hooks (ari_app/runtime.py) --------------------------------------------------------------------------
    def client_bridged(self, client: AriClient, bridge_id: str, attempt_id: int, channel: str) -> None:
        """The client (`channel`) has just joined the operator: record from here to the end, if the campaign
        wants it."""
        self.bridging.pop(attempt_id, None)
        self.live[attempt_id] = (client, self._spawn(self._start(client, channel, attempt_id),
                                                     f"record-at{attempt_id}"))

    def dialled(self, attempt_id: int) -> None:
        """The client is about to be called: read what the campaign wants now, while the phone rings, so the answer
        finds it read and the client is bridged without a database round trip first. (Not awaited by anyone: an
        answer that comes before it is read reads it itself.)"""
        self.prepared[attempt_id] = self._spawn(self._prepare(attempt_id), f"prepare-at{attempt_id}")

    async def _prepare(self, attempt_id: int) -> None:
        try:
            plan = await self.engine.db_run(rec.answered_plan, attempt_id, self.consent_dir, self.consent_default)
        except Exception as e:
            log.warning("attempt %s: campaign not read as it was dialled (%s); read at answer", attempt_id, e)
            return
        if attempt_id in self.prepared:  # not answered, nor ended, meanwhile
            self.plans[attempt_id] = plan

    def attempt_ended(self, client: AriClient, attempt_id: int, answered: bool) -> None:
        self.plans.pop(attempt_id, None)  # answered but never bridged
        self.bridging.pop(attempt_id, None)
        self.prepared.pop(attempt_id, None)
        self.snoops.pop(attempt_id, None)  # never bridged: its snoop channel ends with the client's
        if answered or attempt_id in self.live:
            self._spawn(self._finish(client, attempt_id), f"record-end-at{attempt_id}")

    async def answered(self, client: AriClient, attempt_id: int, channel: str) -> None:
        """The client has answered: what the campaign wants, read as the client was dialled (`dialled`; per call,
        not cached: a campaign just switched on is seen by its next call, and a consent message is never skipped),
        or read now if that read is not done, and the consent message (B6) played before the operator joins.
        Awaited by the operator's actor: the client hears the message, never silence; a failure only skips it. On
        return the actor bridges the client: from then until it is bridged, other calls' after-call work waits
        (`_quiet`)."""
        try:
            await self._answered(client, attempt_id, channel)
        finally:
            self.bridging[attempt_id] = asyncio.get_running_loop().time()

    async def _answered(self, client: AriClient, attempt_id: int, channel: str) -> None:
        try:
            self.prepared.pop(attempt_id, None)
            plan = self.plans.get(attempt_id) or await self.engine.db_run(
                rec.answered_plan, attempt_id, self.consent_dir, self.consent_default)
        except Exception as e:
            log.error("attempt %s: campaign not read at answer (%s): no message; recording decided later", attempt_id, e)
            return
        self.plans[attempt_id] = plan
        if plan.record and not self.paused:
            # the snoop channel now, the record request once the client has joined (client_bridged): the client
            # joins the operator with the audiohook already on, so the bridge starts as the `simple_bridge` it has to
            # be rather than going `native_rtp` and being rebuilt a moment later, and what is left after the
            # bridging is one request
            self.snoops[attempt_id] = self._spawn(self._snoop(self._ari(client), channel, attempt_id, early=True),
                                                  f"snoop-at{attempt_id}")
        if plan.consent_media is None:
            return
        try:
            playback = f"consent-at{attempt_id}"
            await client.play(channel, plan.consent_media, playback)
            deadline = asyncio.get_running_loop().time() + CONSENT_MAX_S
            while await client.playing(playback) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            await self.engine.db_run(rec.consent_played, attempt_id, plan.consent_media)
            log.info("attempt %s: consent message played (%s)", attempt_id, plan.consent_media)
        except Exception as e:
            log.error("attempt %s: consent message not played: %s", attempt_id, e)

    # ---- the work ---------------------------------------------------------------------------------------------
    async def _snoop(self, ari: AriClient, channel: str, attempt_id: int, early: bool = False) -> bool:
        """A snoop channel on the client: spy both ways, whisper nothing — the client's audio and the operator's as
        the client hears it, mixed by the audiohook into one 8 kHz stream; it ends with the client's channel, and
        records nothing until asked. Created before the bridging (`early`), a failure is only logged: the start
        tries again."""
        try:
            await ari.request("POST", f"/channels/{channel}/snoop",
                              {"spy": "both", "whisper": "none", "app": ari.app,
                               "appArgs": f"recording,{attempt_id}", "snoopId": rec.snoop_id(attempt_id)})
            return True
        except AriError as e:
            if not early:
                raise
            log.warning("attempt %s: snoop channel not created at answer (%s); trying again once bridged",
                        attempt_id, e)
            return False

    async def _start(self, client: AriClient, channel: str, attempt_id: int) -> None:
        snooping = self.snoops.pop(attempt_id, None)
        try:
            plan = self.plans.pop(attempt_id, None) or await self.engine.db_run(
                rec.answered_plan, attempt_id, self.consent_dir, self.consent_default)
            if not plan.record or self.paused:
                if snooping is not None and await snooping:  # paused meanwhile: no audiohook left on the call
                    await self._ari(client).hangup(rec.snoop_id(attempt_id))
                if plan.record:
                    log.warning("attempt %s not recorded: recording is paused, the disk is nearly full", attempt_id)
                return
            campaign_id = plan.campaign_id
            # the row is written beside the snoop, not before it: the file starts as the client joins, not a
            # database round trip later
            row = asyncio.ensure_future(self.engine.db_run(rec.recording_started, attempt_id, campaign_id))
            ari = self._ari(client)
            try:
                if snooping is None or not await snooping:
                    await self._snoop(ari, channel, attempt_id)
                await self._record(ari, rec.snoop_id(attempt_id), rec.asterisk_name(attempt_id))
            except Exception:
                await asyncio.gather(row, return_exceptions=True)  # the failure is written after the row
                raise
            try:
                await row
            except Exception:  # no row, so nobody would fetch the file: it is not recorded
                await self._drop(ari, attempt_id)
                raise
            log.info("attempt %s: recording client %s", attempt_id, channel)
        except Exception as e:  # a call is never failed by its recording
            log.error("attempt %s: recording did not start: %s", attempt_id, e)
            await self._failed(attempt_id, f"did not start: {e}")

    @staticmethod
    async def _drop(ari: AriClient, attempt_id: int) -> None:
        name = rec.asterisk_name(attempt_id)
        try:
            await ari.stop_recording(name)
            await ari.hangup(rec.snoop_id(attempt_id))
            await ari.delete_stored_recording(name)
        except AriError as e:
            log.warning("attempt %s: unwritten recording not removed from Asterisk: %s", attempt_id, e)

    @staticmethod
    async def _record(client: AriClient, snoop: str, name: str) -> None:
        # the snoop channel is created before it enters the application: until its StasisStart a record answers
        # 409 "Channel not in Stasis application" (seen for 2 of 120 calls under load)
        for attempt in range(START_TRIES):
            try:
                await client.request("POST", f"/channels/{snoop}/record",
                                     {"name": name, "format": rec.ASTERISK_FORMAT, "ifExists": "overwrite",
                                      "beep": "false", "terminateOn": "none"})
                return
            except AriError as e:
                if e.status != 409 or attempt == START_TRIES - 1:
                    raise
                await asyncio.sleep(0.05)

    async def _finish(self, client: AriClient, attempt_id: int) -> None:
        entry = self.live.pop(attempt_id, None)
        if entry:
            await asyncio.gather(entry[1], return_exceptions=True)  # the start may still be under way
        try:
            async with self.fetching:
                await self._quiet()
                if not await self.engine.db_run(rec.is_recording, attempt_id):
                    return
                if not rec.pending_path(self.root, attempt_id).is_file():
                    await self._fetch(self._ari(client), attempt_id)
        except Exception as e:
            log.error("attempt %s: recording not stored: %s", attempt_id, e)
            await self._failed(attempt_id, f"not stored: {e}")
            return
        await self._compress(attempt_id)

    async def _quiet(self) -> None:
        """Wait while clients are being bridged. Calls end in bursts and the next burst is answered a moment later:
        an ended recording needs nothing soon (the snoop channel, and so the file, ended with the client), while a
        bridging that queues in Asterisk behind stops, file downloads and deletes is what the client hears as
        silence (answer → bridged)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + QUIET_MAX_S
        while (now := loop.time()) < give_up:
            for attempt_id, asked in list(self.bridging.items()):
                if now - asked > BRIDGING_S:
                    del self.bridging[attempt_id]
            if not self.bridging:
                return
            await asyncio.sleep(0.05)

    async def _fetch(self, client: AriClient, attempt_id: int) -> None:
        """Asterisk's WAV into `pending/`; Asterisk's copy is deleted only once ours is on disk."""
        name = rec.asterisk_name(attempt_id)
        await client.stop_recording(name)
        await client.hangup(rec.snoop_id(attempt_id))  # gone with the client already, as a rule
        # the stop is asynchronous: the file is whole only once the live recording is gone (fetched earlier it
        # ends at the writer's last flush — seen as a 32 KB file of a longer call)
        for _ in range(FETCH_TRIES):
            if not await client.recording_live(name):
                break
            await asyncio.sleep(0.1)
        data = None
        for _ in range(FETCH_TRIES):
            data = await client.stored_recording(name)
            if data:
                break
            await asyncio.sleep(0.25)
        if not data:
            raise RuntimeError("Asterisk has no stored file")
        await self._on_files(rec.keep_pending, self.root, attempt_id, data)
        await client.delete_stored_recording(name)

    async def _compress(self, attempt_id: int) -> None:
        """The pending WAV → the stored Ogg/Opus file, then the row, then the WAV goes: a failure or a kill anywhere
        keeps the WAV and the `recording` row, and the next start does it again."""
        try:
            async with self.encoding:
                stored = await self._on_files(rec.compress_pending, self.root, attempt_id,
                                                 datetime.now(timezone.utc), self.encoder)
            await self.engine.db_run(rec.recording_stored, attempt_id, stored)
            rec.pending_path(self.root, attempt_id).unlink(missing_ok=True)
            log.info("attempt %s: recording stored, %s (%d bytes, %.1f s)", attempt_id, stored.file, stored.bytes,
                     stored.duration_s)
        except Exception as e:
            log.error("attempt %s: recording not compressed, its WAV is kept for the next start: %s", attempt_id, e)
            try:
                await self.engine.db_run(rec.recording_waits, attempt_id, f"not compressed: {e}")
            except Exception as e2:
                log.warning("attempt %s: recording error not written (%s)", attempt_id, e2)

    async def _failed(self, attempt_id: int, error: str) -> None:
        try:
            await self.engine.db_run(rec.recording_failed, attempt_id, error)
        except Exception as e:
            log.warning("attempt %s: recording failure not written (%s)", attempt_id, e)

    # ---- the free-space guard and the leftovers of a restart ------------------------------------------------
    async def run(self) -> None:
        try:
            await self.collect()
        except Exception as e:
            log.warning("recordings left by a restart not collected now (%s)", e)
        try:
            while True:
                try:
                    await self.check_space()
                except Exception as e:
                    log.warning("recording free-space check failed: %s", e)
                await asyncio.sleep(GUARD_EVERY_S)
        finally:
            for own in self.own.values():
                await own.close()

    async def collect(self) -> None:
        """The recordings a stopped engine left: ended calls still `recording` are fetched and/or compressed;
        WAVs of recordings already stored (killed before removing them) are removed."""
        waiting = await self.engine.db_run(rec.unfinished)
        for path in await self._on_files(rec.stray_pending, self.root, set(waiting)):
            if not await self.engine.db_run(rec.is_recording, rec.pending_attempt(path.name)):
                path.unlink(missing_ok=True)
        for attempt_id in waiting:
            client = next(iter(self.engine.clients.values()), None)
            self._spawn(self._finish(client, attempt_id), f"record-end-at{attempt_id}")

    async def check_space(self) -> None:
        free = await self._on_files(rec.free_bytes, self.root)
        low = rec.low_on_space(free, self.min_free_mb)
        if low != self.paused:
            self.paused = low
            log.log(logging.WARNING if low else logging.INFO, "recording %s: %d MB free (threshold %d MB)",
                    "paused" if low else "resumed", free // 2**20, self.min_free_mb)
            if low:
                for attempt_id, (client, _task) in list(self.live.items()):
                    try:  # what was recorded so far is kept: the stop closes the file
                        await client.stop_recording(rec.asterisk_name(attempt_id))
                        await client.hangup(rec.snoop_id(attempt_id))
                    except AriError as e:
                        log.warning("attempt %s: recording not stopped: %s", attempt_id, e)
        await self.engine.db_run(rec.guard, low, free // 2**20, self.min_free_mb)

