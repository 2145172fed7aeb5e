"""Answered clients waiting for an operator (SPEC B2, B4): who is joined to whom, who is given up — pure —
and the holding bridge on Asterisk (a thin adapter).

A predictive campaign's answered client who finds no operator free waits in the campaign's holding bridge
(`hold-c<campaign>`, Asterisk's "holding" type: the waiting clients do not hear each other) with music on hold.
Each tick `assign` pairs the waiting clients — those still within the grace first (`join_key`) — with the
campaign pool's free operators, the one free longest first; a client past the campaign's wait-for-operator timeout
is given up: a short stock message (`GIVE_UP_SOUND`), then hung up — the classifier makes that LOST (answered,
never bridged).
With the campaign's "safe-harbour" message on, a client still waiting after the grace hears it once
(`harbour_due`, `HARBOUR_SOUND`), then the music again.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from .client import AriClient, AriError

log = logging.getLogger(__name__)
# Asterisk's stock "All circuits are busy now. Please try your call again later." (core sounds, en)
GIVE_UP_SOUND = "all-circuits-busy-now"
MESSAGE_MAX_S = 15  # never wait longer for the message to end: the client is hung up anyway
DECLINED_PAUSE_S = 1.0  # an operator who turned a client down a moment ago is not asked again at once
# the safe-harbour message: Asterisk's stock "All representatives are currently busy assisting other callers.
# Please wait for the next available representative." (core sounds, en), played over the music to that client
HARBOUR_SOUND = "queue-periodic-announce"


# ---- the decision: pure -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Held:
    channel: str
    campaign_id: int
    answered: float          # when the client answered (monotonic)
    ready_to_offer: bool     # in the holding bridge (or just answered): may be offered now
    timeout_s: float
    declined: tuple[tuple[int, float], ...] = ()  # (operator, when) who turned this client down
    harbour_after_s: float | None = None  # the safe-harbour message is due this long after the answer; None: not
    #                                        (the campaign has none, or this client heard it already)
    grace_s: float | None = None  # the campaign's grace: joined after this long, the client counts abandoned;
    #                               None (not told): this client is ordered first answered first


@dataclass(frozen=True)
class Free:
    operator_id: int
    free_since: float        # monotonic


@dataclass(frozen=True)
class Assignment:
    offers: tuple[tuple[str, int], ...]   # (channel, operator) to offer now
    give_up: tuple[str, ...]              # channels past their timeout


# the order clients on hold are joined in (`join_key`)
FIRST_ANSWERED = "first-answered"  # longest waiting first, whether or not its grace has passed
IN_GRACE_FIRST = "in-grace-first"  # clients still within the grace first (oldest first), then those past it
JOIN_ORDERS = (FIRST_ANSWERED, IN_GRACE_FIRST)
# In grace first. A client past the grace is counted abandoned already: joining it first spends the operator on a
# client whose count no longer changes while the one behind it crosses its grace too. Against that, a client past
# the grace is still a person on hold, and each newly answered client goes ahead of it. Measured in bench/pacing.py
# (`--compare-orders`, the same calls and the same dials under both orders, 25 operators, 30 %, 120 s): with our
# pacer, abandons 2.44 → 2.28 % (3 % cap, seed 7), unchanged at seed 9 and at a 1 % cap (the pacer keeps holds so
# short that two clients rarely wait at once), the clients hung up at the wait timeout (LOST) unchanged, the longest
# hold unchanged (14.6 s; the wait timeout bounds it in either order), its p99 11.9 → 12.8 s; under the baseline's
# much heavier holds: abandons 6.46 → 6.08 %, LOST 5.32 → 5.13 %, mean hold 13.6 → 12.2 s. Fewer abandons, and
# no client waits longer than the timeout either way. The pacer's forecast (pacer.Forecast, CASCADE) assumes first
# answered, first joined: in grace first cascades less, so it errs on the safe side.
JOIN_ORDER = IN_GRACE_FIRST


def join_key(answered: float, now: float, grace_s: float | None, order: str = JOIN_ORDER) -> tuple[bool, float]:
    """Sort key of a client on hold (answered at `answered`): the smallest is joined first. bench/pacing.py sorts its
    simulated clients by the same key. In grace first: those still within the grace, the oldest (nearest the end
    of its grace) first, then those past it, the longest waiting first; a grace not known: first answered first."""
    if order == IN_GRACE_FIRST and grace_s is not None:
        return (now - answered > grace_s, answered)
    return (False, answered)


def assign(held: list[Held], free: list[Free], pools: dict[int, frozenset[int]], now: float,
           order: str = JOIN_ORDER) -> Assignment:
    """In the `join_key` order, each client to the operator of its campaign's pool free longest (an empty pool:
    any); past the timeout: given up. An operator is offered one client at a time."""
    offers, give_up, taken = [], [], set()
    by_idle = sorted(free, key=lambda f: (f.free_since, f.operator_id))
    for h in sorted(held, key=lambda h: (*join_key(h.answered, now, h.grace_s, order), h.channel)):
        if now - h.answered >= h.timeout_s:
            give_up.append(h.channel)
            continue
        if not h.ready_to_offer:
            continue
        pool = pools.get(h.campaign_id, frozenset())
        recent = {o for o, t in h.declined if now - t < DECLINED_PAUSE_S}
        for f in by_idle:
            if f.operator_id in taken or f.operator_id in recent or (pool and f.operator_id not in pool):
                continue
            offers.append((h.channel, f.operator_id))
            taken.add(f.operator_id)
            break
    return Assignment(tuple(offers), tuple(give_up))


def harbour_due(held: list[Held], now: float) -> tuple[str, ...]:
    """Clients in the holding bridge past the grace (their `harbour_after_s`), not yet given up, who have not heard
    the safe-harbour message: they hear it now, once."""
    return tuple(h.channel for h in sorted(held, key=lambda h: (h.answered, h.channel))
                 if h.harbour_after_s is not None and h.ready_to_offer
                 and h.harbour_after_s <= now - h.answered < h.timeout_s)


# ---- the holding bridge on Asterisk --------------------------------------------------------------------------------
def bridge_id(campaign_id: int) -> str:
    return f"hold-c{campaign_id}"


async def ensure(client: AriClient, campaign_id: int) -> str:
    """The campaign's holding bridge with music on hold (kept when it survived an engine restart)."""
    bid = bridge_id(campaign_id)
    try:
        await client.request("POST", f"/bridges/{bid}", {"type": "holding", "name": f"hold campaign {campaign_id}"})
    except AriError as e:
        if e.status != 409:
            raise
    try:
        await client.request("POST", f"/bridges/{bid}/moh")
    except AriError as e:  # already playing (409) is fine; anything else: the clients hear silence, say so
        if e.status != 409:
            log.warning("holding bridge %s: music not started: %s", bid, e)
    return bid


async def put_on_hold(client: AriClient, campaign_id: int, channel: str) -> None:
    bid = await ensure(client, campaign_id)
    await client.request("POST", f"/bridges/{bid}/addChannel", {"channel": channel, "role": "participant"})


async def take_off_hold(client: AriClient, campaign_id: int, channel: str) -> None:
    """Out of the holding bridge (before the operator's bridge, or the message); not in it is fine."""
    try:
        await client.request("POST", f"/bridges/{bridge_id(campaign_id)}/removeChannel", {"channel": channel})
    except AriError as e:
        if e.status not in (404, 422):
            raise


async def message_and_hang_up(client: AriClient, channel: str, sound: str = GIVE_UP_SOUND) -> bool:
    """The short message, then the hangup; False when the channel was already gone."""
    playback = f"giveup-{channel}"
    try:
        await client.play(channel, f"sound:{sound}", playback)
        deadline = time.monotonic() + MESSAGE_MAX_S
        while await client.playing(playback) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    except AriError as e:
        log.info("held client %s: message not played: %s", channel, e)
    try:
        return await client.hangup(channel)
    except AriError as e:
        log.warning("held client %s: hangup failed: %s", channel, e)
        return True


def harbour_playback(channel: str) -> str:
    return f"harbour-{channel}"


async def play_harbour(client: AriClient, channel: str, sound: str = HARBOUR_SOUND) -> bool:
    """The safe-harbour message to one client in the holding bridge (Asterisk plays it to that channel through its
    bridge; the others keep the music); False when it could not be started (the channel gone, most likely)."""
    try:
        await client.play(channel, f"sound:{sound}", harbour_playback(channel))
        return True
    except AriError as e:
        log.info("held client %s: safe-harbour message not played: %s", channel, e)
        return False


async def stop_harbour(client: AriClient, channel: str) -> None:
    """The message stops when the client is joined to an operator (it must not talk over them); over is fine."""
    try:
        await client.request("DELETE", f"/playbacks/{harbour_playback(channel)}")
    except AriError as e:
        if e.status != 404:
            log.info("held client %s: safe-harbour message not stopped: %s", channel, e)
