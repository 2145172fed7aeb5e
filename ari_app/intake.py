"""Engine commands in: every command not done yet is parsed (dialer.commands) and posted once to its
operator's actor, as the machine event it stands for.

Commands are read by "not done", never by an id cursor: ids are given out at insert but seen at commit, so
a command whose transaction commits after a higher id's must still be found. A command posted to an actor
is in flight until the actor marks it done; in-flight ones are skipped, so none is handled twice.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from dialer import commands as c

from . import events as ev
from . import store

log = logging.getLogger(__name__)
COMMAND_TTL_S = 600  # e.g. a Ready pressed while the engine was down for an hour is not carried out
BATCH = 200


def to_event(payload: c.Payload, at: float):
    """The operator machine's event for a command payload — the one place they are mapped."""
    match payload:
        case c.Ready():
            return ev.ReadyRequested(at=at)
        case c.Pause():
            return ev.PauseRequested("paused", at=at)
        case c.Lunch():
            return ev.PauseRequested("lunch", at=at)
        case c.Hangup():
            return ev.HangupRequested(at=at)
        case c.Answer():
            return ev.AnswerRequested(at=at)
        case c.Dial():
            return ev.DialRequested(payload.lead_id, at=at)
        case c.AutoAnswer():
            return ev.AutoAnswerSet(payload.on, at=at)
        case c.WrapUp():
            until = payload.postpone_until.timestamp() if payload.postpone_until is not None else None
            return ev.WrapUpSubmitted(payload.attempt_id, payload.result, payload.comment, payload.postpone_minutes,
                                      at=at, postpone_until=until, do_not_call=payload.do_not_call)
    raise TypeError(f"no machine event for {payload!r}")


class CommandIntake:
    """`take()` hands every command not done and not in flight to `actor_for(operator_id)` (None: no such
    operator). Called by one task at a time (the engine's command listener)."""

    def __init__(self, db_run: Callable[..., Awaitable], actor_for: Callable[[int], Awaitable],
                 clock: Callable[[], float] = time.time):
        self.db_run = db_run
        self.actor_for = actor_for
        self.clock = clock
        self.in_flight: set[int] = set()  # posted to an actor, not yet marked done

    async def take(self) -> int:
        """Post what is waiting; the number of commands posted."""
        posted = 0
        while True:
            still, batch = await self.db_run(store.pending_commands, frozenset(self.in_flight), BATCH)
            self.in_flight &= still  # those marked done since: no longer in flight
            for cmd in batch:
                posted += await self._take(cmd)
            if len(batch) < BATCH:
                return posted

    async def _take(self, cmd: store.PendingCommand) -> int:
        at = cmd.created_at.timestamp()
        if self.clock() - at > COMMAND_TTL_S:
            await self.db_run(store.command_done, cmd.id, f"expired: not handled within {COMMAND_TTL_S} s")
            return 0
        try:
            payload = c.parse(cmd.kind, cmd.payload)
        except c.MalformedCommand as e:
            log.warning("command %s refused: %s", cmd.id, e.message)
            await self.db_run(store.command_done, cmd.id, e.message)
            return 0
        actor = await self.actor_for(cmd.operator_id)
        if actor is None:
            await self.db_run(store.command_done, cmd.id, "operator-not-found")
            return 0
        self.in_flight.add(cmd.id)
        actor.post(to_event(payload, at), command_id=cmd.id)
        return 1
