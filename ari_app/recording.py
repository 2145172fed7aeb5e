"""Recording answered calls (SPEC J1), off the call's critical path and cheap for Asterisk.

The actor never waits for any of this. What the campaign wants is read as the client is dialled, so the answer
bridges without a database round trip first. An operator whose campaign records has a snoop channel on their own leg
(`LegSnoop`), spying both ways — what the operator says and what they hear, the client — made once per leg (when
their line joins its bridge, or as their first recorded call is dialled), not per call: their bridge is a
`simple_bridge` all the time, the client joins it with no technology switch and no request but `addChannel`, and
the snoop's events never queue before anyone's bridging. Per call: `POST /channels/{snoop}/record` (named by
attempt) once the client has joined, and a stop as the attempt ends — the file is the call, nothing between calls.
One file of both parties, 8 kHz WAV, no encoder in Asterisk. An operator moving to a campaign without recording has
the snoop dropped as their next call is dialled (their bridge is `native_rtp` again: such campaigns pay nothing). A
snoop that is gone (the line re-up, Asterisk restarted, hung up by hand) is forgotten on its ChannelDestroyed and
made again; one found gone as a call starts leaves that call recorded on a snoop of its own client, and a restarted
engine adopts the snoops on its operators' legs (`reconcile`). Calls with no leg to listen to are recorded on a
snoop of the client, made as it answers. The recordings use ARI connections of their own, and their after-call work
waits while other clients are being bridged. (`POST /bridges/{id}/record` adds a third channel that turns the bridge
into a mixing one, decoding and encoding every 20 ms: pbx six times its CPU and answer → bridged p99 doubled; a
snoop per call on the client or the leg put a request beside each bridging and switched the bridge's technology
under it: p99 ×1.4–1.8 — docs/recording.md.) When
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
import itertools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
QUIET_MAX_S = 15.0  # the after-call work waits at most this long after its call ended: a steady flow never starves it
# …and until no call has ended or been answered for this long: calls end in bursts and the next burst is answered a
# wrap-up later, so a fetch started in between would still be running as that burst is bridged
SETTLE_S = 3.0
FETCHES = 1  # ended recordings stopped, fetched and deleted on Asterisk at a time


@dataclass
class LegSnoop:
    """A snoop channel on an operator's leg, spying both ways: it hears the operator and what the operator hears —
    the client, once bridged — mixed into one stream. Made once per leg, not per call: the operator's bridge is a
    `simple_bridge` from the first call on and a client's answer → bridged asks Asterisk for nothing more; each call
    records on it from the join to the end."""
    leg: str
    snoop: str
    ari: AriClient
    made: asyncio.Future  # True once the snoop channel exists; False: it could not be made


def leg_snoop_action(want: bool, have_leg: str | None, leg: str | None) -> str:
    """What to do with an operator's leg snoop before their next call: "make", "keep", "drop" or "none".
    `want`: their campaign records (and the disk has room); `have_leg`: the leg the snoop kept for them listens to
    (None: none kept); `leg`: their leg now (None: no line up — nothing to listen to yet)."""
    if not want:
        return "drop" if have_leg is not None else "none"
    if leg is None:
        return "none"
    return "keep" if have_leg == leg else "make"  # another leg's snoop ended with that leg


async def _spy_both(ari: AriClient, channel: str, snoop_id: str, tag: str) -> None:
    """A snoop channel `snoop_id` on `channel` in the recordings' application: it hears both ways and whispers
    nothing (a client's or an operator's leg: one mixed stream of both parties), and records nothing until asked."""
    await ari.request("POST", f"/channels/{channel}/snoop",
                      {"spy": "both", "whisper": "none", "app": ari.app, "appArgs": f"recording,{tag}",
                       "snoopId": snoop_id})


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
        self.activity = float("-inf")  # loop time a call last ended or was answered (`_quiet`)
        self.fetching = asyncio.Semaphore(FETCHES)
        # operator → the snoop channel kept on their leg while they call for a recording campaign (`LegSnoop`), and
        # attempt → the leg snoop its recording is written on: stopped as the attempt ends, the snoop stays
        self.legs: dict[int, LegSnoop] = {}
        self.on_leg: dict[int, str] = {}
        self.recording_operators: set[int] = set()  # their leg was to have a snoop (the database away: a new
        # leg gets one as their last call's did)
        self._snoop_seq = itertools.count(1)  # a leg snoop's id is never reused (a late ChannelDestroyed of a
        # dropped one must not be taken for its successor's)
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
    def client_bridged(self, client: AriClient, bridge_id: str, attempt_id: int, channel: str,
                       actor=None) -> None:
        """The client (`channel`) has just joined the operator (`actor`): record from here to the end, if the
        campaign wants it."""
        self.bridging.pop(attempt_id, None)
        leg = self._leg_of(actor)
        self.live[attempt_id] = (client, self._spawn(self._start(client, channel, attempt_id, leg),
                                                     f"record-at{attempt_id}"))

    def dialled(self, attempt_id: int, actor=None) -> None:
        """The client is about to be called: read what the campaign wants now, while the phone rings, so the answer
        finds it read and the client is bridged without a database round trip first; the operator's leg snoop is
        made (or dropped) then too, if their campaign changed. (Not awaited by anyone: an answer that comes before
        it is read reads it itself.)"""
        self.prepared[attempt_id] = self._spawn(self._prepare(attempt_id, actor), f"prepare-at{attempt_id}")

    async def _prepare(self, attempt_id: int, actor=None) -> None:
        try:
            plan = await self.engine.db_run(rec.answered_plan, attempt_id, self.consent_dir, self.consent_default)
        except Exception as e:
            log.warning("attempt %s: campaign not read as it was dialled (%s); read at answer", attempt_id, e)
            return
        if attempt_id in self.prepared:  # not answered, nor ended, meanwhile
            self.plans[attempt_id] = plan
            self._leg_wanted(actor, plan.leg_snoop)

    def leg_joined(self, actor, leg: str) -> None:
        """The operator's line is up and in their bridge: if a campaign of theirs records, its snoop is made now,
        before any call (the previous leg's ended with it), and one left from such a campaign is not made."""
        self._spawn(self._leg_joined(actor, leg), f"leg-{leg}")

    async def _leg_joined(self, actor, leg: str) -> None:
        try:
            want = await self.engine.db_run(rec.operator_records, actor.oid)
        except Exception as e:  # the next call's own read decides instead
            log.warning("operator %s: campaigns not read as the line came up (%s)", actor.oid, e)
            want = actor.oid in self.recording_operators
        if actor.state.leg == leg:  # still this line
            self._leg_wanted(actor, want, leg)

    def event(self, msg: dict) -> None:
        """An ARI event nobody else used: a leg snoop that ended (the leg hung up, hung up by hand, Asterisk
        restarted) is forgotten, so the next call makes a new one."""
        if msg.get("type") not in ("ChannelDestroyed", "StasisEnd"):
            return
        channel = msg.get("channel", {}).get("id", "")
        if not channel.startswith(rec.LEG_SNOOP_PREFIX):
            return
        for oid, kept in list(self.legs.items()):
            if kept.snoop == channel:
                del self.legs[oid]
                log.info("operator %s: snoop %s on the leg ended", oid, channel)

    async def reconcile(self, client: AriClient, channels: list[dict]) -> None:
        """After a (re)connect (and at the engine's start): leg snoops Asterisk no longer has are forgotten; one on
        an operator's current leg is adopted (a restarted engine keeps using it, and a call bridged meanwhile has
        its recording stopped as it ends); any other is hung up."""
        live = {c.get("id", "") for c in channels}
        for oid, kept in list(self.legs.items()):
            if kept.ari.name == client.name and kept.made.done() and kept.snoop not in live:
                del self.legs[oid]
        legs = {a.state.leg: a for a in self.engine.actors.values() if a.client is client and a.state.leg}
        for channel in live:
            leg = rec.snooped_leg(channel)
            if leg is None:
                continue
            actor = legs.get(leg)
            kept = self.legs.get(actor.oid) if actor else None
            if kept is not None and kept.snoop == channel:
                continue
            if actor is not None and kept is None:
                made = asyncio.get_running_loop().create_future()
                made.set_result(True)
                self.legs[actor.oid] = LegSnoop(leg, channel, self._ari(client), made)
                self.recording_operators.add(actor.oid)
                call = actor.state.call
                if call is not None and call.facts.bridged:
                    self.on_leg[call.attempt_id] = channel
                log.info("operator %s: snoop %s on the leg adopted", actor.oid, channel)
                continue
            log.warning("hanging up snoop %s: its leg is gone or has another", channel)
            try:
                await self._ari(client).hangup(channel)
            except AriError as e:
                log.warning("snoop %s not hung up: %s", channel, e)

    def _leg_of(self, actor) -> LegSnoop | None:
        kept = self.legs.get(actor.oid) if actor is not None else None
        return kept if kept is not None and kept.leg == actor.state.leg else None

    def _leg_wanted(self, actor, want: bool, leg: str | None = None) -> None:
        """The operator's leg snoop made, kept or dropped for what their campaign wants: an operator moving to a
        campaign without recording gets their `native_rtp` bridge back from their next call on."""
        if actor is None:
            return
        oid, leg = actor.oid, leg or actor.state.leg
        want = want and not self.paused
        (self.recording_operators.add if want else self.recording_operators.discard)(oid)
        kept = self.legs.get(oid)
        match leg_snoop_action(want, kept.leg if kept else None, leg):
            case "make":
                ari = self._ari(actor.client)
                snoop = rec.leg_snoop_id(leg, next(self._snoop_seq))
                task = self._spawn(self._make_leg_snoop(ari, oid, leg, snoop), f"snoop-{snoop}")
                self.legs[oid] = LegSnoop(leg, snoop, ari, task)
            case "drop":
                del self.legs[oid]
                self._spawn(self._drop_leg_snoop(oid, kept), f"unsnoop-{kept.snoop}")

    async def _make_leg_snoop(self, ari: AriClient, oid: int, leg: str, snoop: str) -> bool:
        try:
            await _spy_both(ari, leg, snoop, f"op{oid}")
            log.info("operator %s: snoop %s on the leg made", oid, snoop)
            return True
        except AriError as e:
            log.warning("operator %s: snoop on the leg %s not made (%s); the next call tries again", oid, leg, e)
            kept = self.legs.get(oid)
            if kept is not None and kept.snoop == snoop:
                del self.legs[oid]
            return False

    async def _drop_leg_snoop(self, oid: int, kept: LegSnoop) -> None:
        try:
            if await kept.made:
                await kept.ari.hangup(kept.snoop)
                log.info("operator %s: snoop %s on the leg dropped", oid, kept.snoop)
        except AriError as e:
            log.warning("operator %s: snoop %s not hung up: %s", oid, kept.snoop, e)

    def attempt_ended(self, client: AriClient, attempt_id: int, answered: bool) -> None:
        self.activity = asyncio.get_running_loop().time()
        self.plans.pop(attempt_id, None)  # answered but never bridged
        self.bridging.pop(attempt_id, None)
        self.prepared.pop(attempt_id, None)
        self.snoops.pop(attempt_id, None)  # never bridged: its snoop channel ends with the client's
        if answered or attempt_id in self.live:
            self._spawn(self._finish(client, attempt_id), f"record-end-at{attempt_id}")

    async def answered(self, client: AriClient, attempt_id: int, channel: str, actor=None) -> None:
        """The client has answered: what the campaign wants, read as the client was dialled (`dialled`; per call,
        not cached: a campaign just switched on is seen by its next call, and a consent message is never skipped),
        or read now if that read is not done, and the consent message (B6) played before the operator joins.
        Awaited by the operator's actor: the client hears the message, never silence; a failure only skips it. On
        return the actor bridges the client: from then until it is bridged, other calls' after-call work waits
        (`_quiet`)."""
        try:
            await self._answered(client, attempt_id, channel, actor)
        finally:
            self.bridging[attempt_id] = self.activity = asyncio.get_running_loop().time()

    async def _answered(self, client: AriClient, attempt_id: int, channel: str, actor=None) -> None:
        try:
            self.prepared.pop(attempt_id, None)
            plan = self.plans.get(attempt_id) or await self.engine.db_run(
                rec.answered_plan, attempt_id, self.consent_dir, self.consent_default)
        except Exception as e:
            log.error("attempt %s: campaign not read at answer (%s): no message; recording decided later", attempt_id, e)
            return
        self.plans[attempt_id] = plan
        if actor is not None and actor.state.leg:
            # the operator's leg snoop: kept from an earlier call or made as they were dialled, as a rule; made now
            # (beside the bridging, not awaited) for a call that was not dialled by them (predictive, inbound)
            self._leg_wanted(actor, plan.leg_snoop)
        elif plan.record and not self.paused:
            # no leg to listen to: the snoop channel on the client now, the record request once the client has
            # joined (client_bridged): the client
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
            await _spy_both(ari, channel, rec.snoop_id(attempt_id), str(attempt_id))
            return True
        except AriError as e:
            if not early:
                raise
            log.warning("attempt %s: snoop channel not created at answer (%s); trying again once bridged",
                        attempt_id, e)
            return False

    async def _start(self, client: AriClient, channel: str, attempt_id: int, leg: LegSnoop | None = None) -> None:
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
                if leg is None or not await self._record_on_leg(ari, leg, attempt_id):
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
            log.info("attempt %s: recording client %s on %s", attempt_id, channel,
                     self.on_leg.get(attempt_id, rec.snoop_id(attempt_id)))
        except Exception as e:  # a call is never failed by its recording
            log.error("attempt %s: recording did not start: %s", attempt_id, e)
            await self._failed(attempt_id, f"did not start: {e}")

    async def _record_on_leg(self, ari: AriClient, leg: LegSnoop, attempt_id: int) -> bool:
        """The call recorded on the operator's leg snoop, from now (the join) to its end (`_finish` stops it).
        False: the snoop was not made or is gone (the line re-up, Asterisk restarted, hung up by hand) — the call is
        then recorded on a snoop of its own client, as a call without a leg snoop is; the bridging never waits."""
        if not await leg.made:
            return False
        try:
            await self._record(ari, leg.snoop, rec.asterisk_name(attempt_id))
        except AriError as e:
            log.warning("attempt %s: not recorded on the leg snoop %s (%s); recording its client's channel instead",
                        attempt_id, leg.snoop, e)
            for oid, kept in list(self.legs.items()):
                if kept is leg:
                    del self.legs[oid]  # the next call makes a new one
            return False
        self.on_leg[attempt_id] = leg.snoop
        return True

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
        ended = asyncio.get_running_loop().time()
        entry = self.live.pop(attempt_id, None)
        if entry:
            await asyncio.gather(entry[1], return_exceptions=True)  # the start may still be under way
        on_leg = self.on_leg.pop(attempt_id, None)
        if on_leg is not None:
            # the leg snoop outlives the call: the file ends now, not when the after-call work gets to it, and the
            # operator's next call does not find it still recording
            try:
                await self._ari(client).stop_recording(rec.asterisk_name(attempt_id))
            except AriError as e:
                # 409 "not in session": over already (its snoop ended with the leg); anything else is tried again
                # before the fetch, which waits for the live recording to be gone
                if e.status != 409:
                    log.warning("attempt %s: recording on %s not stopped at the end (%s); stopped when fetched",
                                attempt_id, on_leg, e)
                    on_leg = None
        try:
            async with self.fetching:
                await self._quiet(ended)
                if not await self.engine.db_run(rec.is_recording, attempt_id):
                    return
                if not rec.pending_path(self.root, attempt_id).is_file():
                    await self._fetch(self._ari(client), attempt_id, on_leg=on_leg is not None)
        except Exception as e:
            log.error("attempt %s: recording not stored: %s", attempt_id, e)
            await self._failed(attempt_id, f"not stored: {e}")
            return
        await self._compress(attempt_id)

    async def _quiet(self, ended: float | None = None) -> None:
        """Wait while clients are being bridged, and until no call has ended or been answered for `SETTLE_S`. Calls
        end in bursts and the next burst is answered a wrap-up later: an ended recording needs nothing soon (its file
        ended with the call), while a bridging that queues in Asterisk behind stops, file downloads and deletes is
        what the client hears as silence (answer → bridged). At most `QUIET_MAX_S` after the call `ended` (not after
        this wait began: with many operators there is always a call being bridged, and the recordings waiting one at
        a time would each wait the whole time)."""
        loop = asyncio.get_running_loop()
        give_up = (loop.time() if ended is None else ended) + QUIET_MAX_S
        while (now := loop.time()) < give_up:
            for attempt_id, asked in list(self.bridging.items()):
                if now - asked > BRIDGING_S:
                    del self.bridging[attempt_id]
            if not self.bridging and now - self.activity >= SETTLE_S:
                return
            await asyncio.sleep(0.05)

    async def _fetch(self, client: AriClient, attempt_id: int, on_leg: bool = False) -> None:
        """Asterisk's WAV into `pending/`; Asterisk's copy is deleted only once ours is on disk. `on_leg`: recorded on
        the operator's leg snoop, and stopped already as the call ended (the snoop stays for their next call)."""
        name = rec.asterisk_name(attempt_id)
        if not on_leg:
            try:
                await client.stop_recording(name)
            except AriError as e:
                if e.status != 409:  # "not in session": it is over already (ended with its channel), being saved
                    raise
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
                for oid, kept in list(self.legs.items()):  # no audiohook left on anyone's calls
                    del self.legs[oid]
                    self._spawn(self._drop_leg_snoop(oid, kept), f"unsnoop-{kept.snoop}")
                for attempt_id, (client, _task) in list(self.live.items()):
                    try:  # what was recorded so far is kept: the stop closes the file
                        await client.stop_recording(rec.asterisk_name(attempt_id))
                        await client.hangup(rec.snoop_id(attempt_id))
                    except AriError as e:
                        log.warning("attempt %s: recording not stopped: %s", attempt_id, e)
        await self.engine.db_run(rec.guard, low, free // 2**20, self.min_free_mb)

