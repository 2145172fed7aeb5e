"""After an engine restart the inbound router knows the calls operators had taken before the first reconcile looks at
the channels: a taken call is followed (its end reaches the operator), never released as a caller left on hold."""
from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from ari_app import events as ev
from ari_app import inbound_store as store
from ari_app.inbound import InboundRouter

TAKEN, LEFT = "1795.12", "1795.20"  # a call an operator had taken; a caller who was on hold


class FakeClient:
    def __init__(self):
        self.hung_up, self.played = [], []

    async def channels(self):
        return [channel(TAKEN, 60), channel(LEFT, 60)]

    async def hangup(self, channel):
        self.hung_up.append(channel)

    async def play(self, channel, media, playback):
        self.played.append(channel)

    async def playing(self, playback):
        return False


class FakeEngine:
    def __init__(self, following: dict[str, int] | None):
        self.settings = SimpleNamespace(inbound_hold_s=60, inbound_unknown_campaign=0, inbound_callback_sound="x")
        self.clients = {"pbx": FakeClient()}
        self.following, self.reads = following, 0

    async def db_run(self, fn, *args):
        assert fn is store.after_restart
        self.reads += 1
        await asyncio.sleep(0.05)  # the database answers after the websocket has connected
        if self.following is None:
            raise OSError("the database is away")
        return self.following


def channel(cid: str, age_s: float) -> dict:
    created = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(time.time() - age_s))
    return {"id": cid, "dialplan": {"context": "dialer-inbound"}, "creationtime": created}


async def _settle():
    for _ in range(5):
        await asyncio.sleep(0.01)


async def test_the_first_reconcile_waits_for_the_taken_calls_and_releases_only_the_caller_left_waiting():
    engine = FakeEngine({TAKEN: 41})
    router = InboundRouter(engine)
    await router.reconcile("pbx", [channel(TAKEN, 60), channel(LEFT, 60)])  # before `run` has started
    await _settle()
    assert engine.clients["pbx"].hung_up == [LEFT]
    assert router.attempts == {TAKEN: 41} and engine.reads == 1
    # the taken call's end is the operator's again
    found = router.translate("pbx", {"type": "StasisEnd", "channel": {"id": TAKEN}}, 9.0)
    assert found is not None and found[0] == TAKEN and isinstance(found[1], ev.ClientGone)
    assert found[1].attempt_id == 41


async def test_while_the_database_is_away_nothing_is_released_and_the_reconcile_is_done_once_it_is_back():
    engine = FakeEngine(None)
    router = InboundRouter(engine)
    await router.reconcile("pbx", [channel(TAKEN, 60), channel(LEFT, 60)])
    await _settle()
    assert engine.clients["pbx"].hung_up == [] and router.attempts == {}
    engine.following = {TAKEN: 41}  # back: the next round reads them, then looks at the channels again
    await router._route_round()
    await _settle()
    assert router.attempts == {TAKEN: 41} and engine.reads == 2
    assert engine.clients["pbx"].hung_up == [LEFT]
    await router._route_round()  # once
    await _settle()
    assert engine.clients["pbx"].hung_up == [LEFT] and engine.reads == 2
