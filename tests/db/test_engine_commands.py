"""The engine's command intake on a real PostgreSQL: every command is handled once, whatever the order in
which the transactions that queued them commit; bad or stale ones are marked done with the reason."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from ari_app import events as ev
from ari_app import store
from ari_app.intake import COMMAND_TTL_S, CommandIntake
from dialer import commands
from dialer.db import run
from dialer.models import EngineCommand
from dialer.services import operators


class FakeActor:
    def __init__(self):
        self.posted: list[tuple[object, int]] = []

    def post(self, event, command_id=None):
        self.posted.append((event, command_id))


@pytest.fixture
def operator_id(db):
    return operators.create_operator("Anna", "anna")["id"]


def _intake(db, actors: dict):
    async def actor_for(operator_id):
        return actors.get(operator_id)
    return CommandIntake(lambda fn, *args: run(db, fn, db, *args), actor_for)


class OpenTransaction(threading.Thread):
    """Queues a command in a transaction that stays open until `commit()`."""

    def __init__(self, db, operator_id, payload):
        super().__init__(daemon=True)
        self.db, self.operator_id, self.payload = db, operator_id, payload
        self.inserted, self.release, self.command_id = threading.Event(), threading.Event(), None

    def run(self):
        with self.db.connection_context(), self.db.atomic():
            self.command_id = commands.enqueue(self.operator_id, self.payload)
            self.inserted.set()
            self.release.wait(10)

    def open(self):
        self.start()
        assert self.inserted.wait(5)
        return self

    def commit(self):
        self.release.set()
        self.join(5)


async def test_a_command_committed_after_a_higher_id_is_still_handled_once(db, operator_id):
    actor = FakeActor()
    intake = _intake(db, {operator_id: actor})
    first = OpenTransaction(db, operator_id, commands.Ready()).open()     # lower id, commits last
    second = OpenTransaction(db, operator_id, commands.Lunch()).open()
    second.commit()
    assert first.command_id < second.command_id
    assert await intake.take() == 1
    first.commit()
    assert await intake.take() == 1
    assert await intake.take() == 0  # both in flight: never posted twice
    assert [(type(e).__name__, cid) for e, cid in actor.posted] == [
        ("PauseRequested", second.command_id), ("ReadyRequested", first.command_id)]
    assert actor.posted[0][0].status == "lunch"

    await run(db, store.command_done, db, second.command_id)  # the actor has handled it
    assert await intake.take() == 0
    assert intake.in_flight == {first.command_id}  # done ones leave the in-flight set


async def test_bad_stale_and_orphan_commands_are_marked_done_with_the_reason(db, operator_id):
    actor = FakeActor()
    intake = _intake(db, {operator_id: actor})
    other = operators.create_operator("Boris", "boris")["id"]  # an operator the engine has no actor for

    def queue():
        malformed = commands.enqueue(operator_id, commands.Dial(7))  # then spoilt, as by an older release
        EngineCommand.update(payload={"lead_id": "7"}).where(EngineCommand.id == malformed).execute()
        stale = commands.enqueue(operator_id, commands.Ready())
        EngineCommand.update(created_at=datetime.now(timezone.utc) - timedelta(seconds=COMMAND_TTL_S + 1)).where(
            EngineCommand.id == stale).execute()
        orphan = commands.enqueue(other, commands.Ready())
        good = commands.enqueue(operator_id, commands.AutoAnswer(on=False))
        return malformed, stale, orphan, good

    malformed, stale, orphan, good = await run(db, queue)
    assert await intake.take() == 1
    assert [(e, cid) for e, cid in actor.posted] == [(ev.AutoAnswerSet(False, at=actor.posted[0][0].at), good)]
    rows = {r.id: r for r in await run(db, lambda: list(EngineCommand.select()))}
    assert "lead_id" in rows[malformed].error and rows[malformed].done_at is not None
    assert rows[stale].error.startswith("expired") and rows[orphan].error == "operator-not-found"
    assert rows[good].done_at is None  # the actor marks it done once handled


async def test_a_feature_code_queues_its_command_through_the_contract(db, operator_id):
    from agi.server import build

    class Request:
        def __init__(self, channel):
            self.headers, self.sent = {"agi_channel": channel}, []

        async def send_command(self, text):
            self.sent.append(text)

    app = build(db)
    known, unknown = Request("PJSIP/anna-00000001"), Request("PJSIP/nobody-00000002")
    await app._route["operator_pause"](known)
    await app._route["operator_ready"](unknown)
    assert known.sent == ["SET VARIABLE DIALER_FEATURE_RESULT OK"]
    assert unknown.sent == ["SET VARIABLE DIALER_FEATURE_RESULT UNKNOWN"]
    [row] = await run(db, lambda: list(EngineCommand.select()))
    assert commands.parse(row.kind, row.payload) == commands.Pause(source="feature-code")
    assert row.operator_id == operator_id
