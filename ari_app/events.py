"""What the operator and attempt state machines take in (events) and give out (commands).

Events carry the wall-clock time they were seen, so the timeline records when things happened,
not when the database write ran.
"""
from __future__ import annotations

from dataclasses import dataclass, field


# ---- events: requests from people ------------------------------------------------------------
@dataclass(frozen=True)
class ReadyRequested:
    at: float = 0.0


@dataclass(frozen=True)
class PauseRequested:
    status: str = "paused"  # paused | lunch
    at: float = 0.0


@dataclass(frozen=True)
class HangupRequested:
    at: float = 0.0
    failure: str | None = None  # set when we hang up because something broke, not by choice


@dataclass(frozen=True)
class WrapUpSubmitted:
    attempt_id: int
    result: str
    comment: str = ""
    postpone_minutes: int | None = None
    at: float = 0.0
    postpone_until: float | None = None  # absolute time to call again (epoch seconds)
    do_not_call: bool = False  # «Больше не звонить»


@dataclass(frozen=True)
class AnswerRequested:
    """«Ответить»: the operator accepts the offer waiting in the browser."""
    at: float = 0.0


@dataclass(frozen=True)
class AutoAnswerSet:
    on: bool
    at: float = 0.0


@dataclass(frozen=True)
class DialRequested:
    """Manual dial outside the queue: the lead was found (or made) before the command was sent."""
    lead_id: int
    at: float = 0.0


@dataclass(frozen=True)
class OfferTimedOut:
    attempt_id: int
    at: float = 0.0


@dataclass(frozen=True)
class WrapUpTimedOut:
    attempt_id: int
    at: float = 0.0


# ---- events: the operator's leg --------------------------------------------------------------
@dataclass(frozen=True)
class LegUp:
    channel: str
    at: float = 0.0


@dataclass(frozen=True)
class LegJoined:
    at: float = 0.0


@dataclass(frozen=True)
class LegGone:
    channel: str
    cause: int | None = None
    at: float = 0.0


# ---- events: claiming --------------------------------------------------------------------------
@dataclass(frozen=True)
class Claimed:
    attempt_id: int
    channel: str          # the client channel id chosen for this attempt
    auto_ready: bool = True
    wrap_up_limit_s: int = 0
    at: float = 0.0
    answer_timeout_s: int = 0  # the campaign's operator answer timeout (offers without auto-answer)
    missed_limit: int = 0      # the campaign's missed offers in a row before a pause
    manual: bool = False


@dataclass(frozen=True)
class NothingToCall:
    at: float = 0.0


@dataclass(frozen=True)
class ClaimTick:
    at: float = 0.0


# ---- events: the client's channel (attempt) ----------------------------------------------------
@dataclass(frozen=True)
class DialStarted:
    attempt_id: int
    at: float = 0.0


@dataclass(frozen=True)
class OriginateFailed:
    attempt_id: int
    error: str
    at: float = 0.0


@dataclass(frozen=True)
class DialProgress:
    attempt_id: int
    dial_status: str  # RINGING, PROGRESS, ANSWER, BUSY, NOANSWER, CONGESTION, CHANUNAVAIL, CANCEL
    at: float = 0.0


@dataclass(frozen=True)
class ClientAnswered:
    attempt_id: int
    at: float = 0.0


@dataclass(frozen=True)
class ClientBridged:
    attempt_id: int
    at: float = 0.0


@dataclass(frozen=True)
class ClientGone:
    attempt_id: int
    cause: int | None = None
    cause_text: str | None = None
    sip_code: int | None = None
    lost_while_away: bool = False  # the channel vanished while the engine was not listening
    at: float = 0.0


@dataclass(frozen=True)
class Resync:
    """After every (re)connect: which channels exist on the operator's Asterisk, which are in a bridge."""
    live_channels: frozenset = field(default_factory=frozenset)
    bridged_channels: frozenset = field(default_factory=frozenset)
    listed_at: float = 0.0  # monotonic time the listing began: later originates are not in it
    at: float = 0.0


# ---- commands ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SetStatus:
    status: str


@dataclass(frozen=True)
class OriginateLeg:
    channel: str


@dataclass(frozen=True)
class JoinBridge:
    channel: str


@dataclass(frozen=True)
class Claim:
    leg_up_at: float | None = None  # when the operator came on the line (timeline: operator answered)


@dataclass(frozen=True)
class ScheduleClaim:
    """Look again after the engine's claim interval (nothing callable right now)."""


@dataclass(frozen=True)
class Dial:
    attempt_id: int
    channel: str


@dataclass(frozen=True)
class BridgeClient:
    channel: str


@dataclass(frozen=True)
class Hangup:
    channel: str


@dataclass(frozen=True)
class Record:
    """Stamp one timeline field of the attempt (and keep the raw fact)."""
    attempt_id: int
    field: str
    at: float
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EndAttempt:
    attempt_id: int
    outcome: str
    facts: object  # classifier.AttemptFacts
    at: float
    error: str | None = None
    cause_text: str | None = None


@dataclass(frozen=True)
class Refused:
    """A request that cannot be carried out in the operator's state; nothing changed."""
    code: str
    message_en: str
    message_ru: str


@dataclass(frozen=True)
class ClaimLead:
    """Open a manual attempt for this lead (manual dial)."""
    lead_id: int


@dataclass(frozen=True)
class StartOfferTimer:
    attempt_id: int
    seconds: int


@dataclass(frozen=True)
class AcceptOffer:
    attempt_id: int
    at: float


@dataclass(frozen=True)
class ReleaseOffer:
    """The offer is withdrawn before the client was dialled: the lead goes back to the queue unchanged."""
    attempt_id: int
    at: float
    missed: bool  # not accepted in time (counts towards the auto-pause), or declined / withdrawn


@dataclass(frozen=True)
class SaveMissedOffers:
    count: int


@dataclass(frozen=True)
class MissedOffersAlert:
    """Paused after `count` missed offers in a row: the supervisor is told."""
    attempt_id: int
    count: int


@dataclass(frozen=True)
class StartWrapUpTimer:
    attempt_id: int
    seconds: int


@dataclass(frozen=True)
class FinishWrapUp:
    attempt_id: int
    result: str
    comment: str
    postpone_minutes: int | None
    at: float
    postpone_until: float | None = None  # absolute time to call again (epoch seconds)
    do_not_call: bool = False  # «Больше не звонить»: the number goes on the do-not-call list


# ---- clients calling back (ari_app/inbound.py) ---------------------------------------------------
@dataclass(frozen=True)
class InboundOffered:
    """A client who called in waits on hold; the router offers them to this operator."""
    attempt_id: int
    channel: str
    auto_ready: bool = True
    wrap_up_limit_s: int = 0
    at: float = 0.0


@dataclass(frozen=True)
class InboundTaken:
    """Command: the operator takes the inbound call (the router stops the music, the attempt becomes theirs)."""
    attempt_id: int
    channel: str


@dataclass(frozen=True)
class InboundDeclined:
    """Command: the operator was not free after all; the router looks again."""
    attempt_id: int
    channel: str
