"""The attempt state machine — pure: one call to one client, from claim to outcome.

Phases: reserved → dialing → (ringing) → answered → bridged → ended. Every transition may give
commands: timeline stamps, bridging the answered client (first, so the client never hears
silence), hanging up, and finally EndAttempt with the classified outcome.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from dialer.outcomes import LOST_WHILE_AWAY

from . import events as ev
from .classifier import AttemptFacts, classify

RESERVED, DIALING, RINGING, ANSWERED, BRIDGED, ENDED = (
    "reserved", "dialing", "ringing", "answered", "bridged", "ended")
LIVE_ON_ASTERISK = (DIALING, RINGING, ANSWERED, BRIDGED)


@dataclass(frozen=True)
class AttemptState:
    attempt_id: int
    channel: str
    phase: str = RESERVED
    facts: AttemptFacts = AttemptFacts()
    auto_ready: bool = True
    wrap_up_limit_s: int = 0
    accepted: bool = True  # the operator takes it: auto-answer, «Ответить», or their own manual dial
    manual: bool = False
    missed_limit: int = 0

    @property
    def waiting_for_answer(self) -> bool:
        """An offer shown in the browser, not yet accepted; the client has not been dialled."""
        return self.phase == RESERVED and not self.accepted

    @property
    def talking(self) -> bool:
        return self.phase in (ANSWERED, BRIDGED)


def step(s: AttemptState, e) -> tuple[AttemptState, list]:
    if s.phase == ENDED:
        return s, []
    match e:
        case ev.DialStarted() if s.phase == RESERVED:
            return replace(s, phase=DIALING), [ev.Record(s.attempt_id, "dial_started_at", e.at)]
        case ev.OriginateFailed():
            return _end(replace(s, facts=replace(s.facts, failure=e.error)), e.at, error=e.error)
        case ev.DialProgress(dial_status="RINGING") if s.phase == DIALING:
            return replace(s, phase=RINGING), [ev.Record(s.attempt_id, "ringing_at", e.at)]
        case ev.DialProgress() if e.dial_status not in ("RINGING", "PROGRESS", "PROCEEDING"):
            return replace(s, facts=replace(s.facts, dial_status=e.dial_status)), []
        case ev.ClientAnswered() if s.phase in (RESERVED, DIALING, RINGING):
            s = replace(s, phase=ANSWERED, facts=replace(s.facts, answered=True))
            return s, [ev.BridgeClient(s.channel), ev.Record(s.attempt_id, "answered_at", e.at)]
        case ev.ClientBridged() if s.phase == ANSWERED:
            s = replace(s, phase=BRIDGED, facts=replace(s.facts, bridged=True))
            return s, [ev.Record(s.attempt_id, "bridged_at", e.at)]
        case ev.HangupRequested() if s.phase in LIVE_ON_ASTERISK:
            facts = s.facts
            if s.phase in (DIALING, RINGING):
                facts = replace(facts, cancelled=True, failure=facts.failure or e.failure)
            return replace(s, facts=facts), [ev.Hangup(s.channel)]
        case ev.ClientGone():
            facts = replace(s.facts, cause=e.cause, sip_code=e.sip_code)
            if e.lost_while_away and not facts.answered:
                # we cannot know how it ended: count it as a failure to place the call, never silently
                facts = replace(facts, failure=LOST_WHILE_AWAY)
            return _end(replace(s, facts=facts), e.at, error=facts.failure, cause_text=e.cause_text)
    return s, []


def _end(s: AttemptState, at: float, error: str | None = None, cause_text: str | None = None):
    outcome = classify(s.facts)
    return replace(s, phase=ENDED), [ev.EndAttempt(s.attempt_id, outcome.value, s.facts, at, error, cause_text)]
