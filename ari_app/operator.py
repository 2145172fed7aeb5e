"""The operator state machine — pure: status, the operator's leg, and the attempt they are reserved for.

Progressive mode (SPEC B1): a client is dialled only for an operator who is Ready, whose leg is up
and waiting in their own bridge, and who holds no other attempt. `wants` is where the operator goes
once the current call and wrap-up are over (Ready, or the pause they asked for meanwhile).

Without auto-answer (SPEC E2, B4) the lead is reserved first and offered in the browser; only
«Ответить» calls the softphone (with the auto-answer headers) and then the client. An offer not
accepted in time is missed; N missed in a row pause the operator. Manual dial (SPEC B5) opens an
attempt for a chosen lead and takes the same path: operator leg first, then the client.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from . import attempt as at
from . import events as ev

OFFLINE, PAUSED, READY, IN_CALL, WRAP_UP, LUNCH = "offline", "paused", "ready", "in_call", "wrap_up", "lunch"
ATTEMPT_EVENTS = (ev.DialStarted, ev.OriginateFailed, ev.DialProgress, ev.ClientAnswered,
                  ev.ClientBridged, ev.ClientGone)


@dataclass(frozen=True)
class OperatorState:
    operator_id: int
    status: str = OFFLINE
    wants: str = READY
    leg: str | None = None
    leg_up_at: float | None = None
    leg_pending: str | None = None  # channel id of the leg being originated
    leg_seq: int = 0
    nonce: str = "0"  # set per engine start: leg ids never repeat across restarts
    in_bridge: bool = False
    claiming: bool = False
    call: at.AttemptState | None = None
    wrap_up_attempt: int | None = None
    wrap_up_limit_s: int = 0  # the campaign's wrap-up time limit for that attempt (0: none)
    nailed: bool = True  # keep the leg up between answered calls
    auto_answer: bool = True  # off: offers wait for «Ответить»
    missed_offers: int = 0  # offers missed in a row


def step(s: OperatorState, e) -> tuple[OperatorState, list]:
    """One event in, the new state and the commands to carry out, in order."""
    if isinstance(e, ATTEMPT_EVENTS):
        return _attempt_event(s, e)
    match e:
        case ev.ReadyRequested():
            return _ready(s)
        case ev.PauseRequested():
            return _pause(s, e.status, e.at)
        case ev.HangupRequested() if s.call and s.call.waiting_for_answer:
            return _withdraw_offer(s, e.at, then=[ev.ScheduleClaim()])  # declined: not counted as missed
        case ev.HangupRequested():
            return _attempt_event(s, e) if s.call else (s, [])
        case ev.AnswerRequested():
            return _answer(s, e)
        case ev.OfferTimedOut() if s.call and s.call.attempt_id == e.attempt_id and s.call.waiting_for_answer:
            return _offer_missed(s, e)
        case ev.AutoAnswerSet():
            return _next(replace(s, auto_answer=e.on))
        case ev.DialRequested():
            return _manual_dial(s, e)
        case ev.LegUp() if e.channel == s.leg_pending:
            s = replace(s, leg=e.channel, leg_up_at=e.at, leg_pending=None)
            if s.status != READY and not s.call:
                return s, [ev.Hangup(e.channel)]  # paused while the phone was ringing
            return s, [ev.JoinBridge(e.channel)]
        case ev.LegJoined():
            s = replace(s, in_bridge=True)
            return _connect(s) if _accepted_waiting(s) else _next(s)
        case ev.LegGone():
            return _leg_gone(s, e)
        case ev.Claimed():
            return _claimed(s, e)
        case ev.NothingToCall():
            s = replace(s, claiming=False)
            if s.wants != READY:
                return _settle(s, s.wants)
            return s, [ev.ScheduleClaim()]
        case ev.ClaimTick():
            return _next(s)
        case ev.WrapUpSubmitted() | ev.WrapUpTimedOut() if s.status == WRAP_UP and e.attempt_id == s.wrap_up_attempt:
            return _wrap_up_done(s, e)
        case ev.Resync():
            return _resync(s, e)
        case ev.InboundOffered():
            return _inbound_offered(s, e)
    return s, []


def _inbound_offered(s: OperatorState, e: ev.InboundOffered):
    """A client who called in (SPEC A1): taken only by a Ready operator whose line is up in their bridge and who
    holds no call and is not claiming one (a claim in flight would bring a second call); else declined."""
    if not (s.status == READY and s.wants == READY and s.leg and s.in_bridge and not s.call and not s.claiming):
        return s, [ev.InboundDeclined(e.attempt_id, e.channel)]
    # the client is already answered (on hold): the attempt starts at "answered", and is bridged at once
    call = at.AttemptState(e.attempt_id, e.channel, phase=at.DIALING, auto_ready=e.auto_ready,
                           wrap_up_limit_s=e.wrap_up_limit_s)
    s, cmds = _attempt_event(replace(s, call=call), ev.ClientAnswered(e.attempt_id, at=e.at))
    return s, [ev.InboundTaken(e.attempt_id, e.channel), *cmds]


def _claimed(s: OperatorState, e: ev.Claimed):
    call = at.AttemptState(e.attempt_id, e.channel, auto_ready=e.auto_ready, wrap_up_limit_s=e.wrap_up_limit_s,
                           accepted=s.auto_answer or e.manual, manual=e.manual, missed_limit=e.missed_limit)
    s = replace(s, claiming=False, call=call)
    if not call.accepted and (s.status != READY or s.wants != READY):
        return _withdraw_offer(s, e.at)  # paused (or the line dropped) while claiming: offer nothing
    if not call.accepted:  # the offer waits in the browser; the softphone is not called yet
        return s, [ev.StartOfferTimer(e.attempt_id, e.answer_timeout_s)]
    if (s.leg and s.in_bridge) or e.manual or s.status == READY:
        return _connect(s)
    # the operator's line dropped while the lead was being claimed: never dial a client
    # nobody would answer; the lead goes back uncounted (the call was not placed)
    return _attempt_event(s, ev.OriginateFailed(e.attempt_id, "the operator's line dropped before dialling", at=e.at))


def _ready(s: OperatorState):
    if s.status in (IN_CALL, WRAP_UP) or s.call:
        return replace(s, wants=READY), []
    if s.status == READY:
        return _next(s)
    s, cmds = replace(s, status=READY, wants=READY), [ev.SetStatus(READY)]
    s, more = _next(s)
    return s, cmds + more


def _next(s: OperatorState):
    """A Ready operator with nothing in hand: bring the leg up, or claim the next lead."""
    if s.status != READY or s.call or s.claiming:
        return s, []
    if s.leg is None and not s.leg_pending and not s.auto_answer:
        return replace(s, claiming=True), [ev.Claim(None)]  # offer first; the softphone after «Ответить»
    if s.leg is None:
        return _originate_leg(s)
    if not s.in_bridge:
        return s, []
    return replace(s, claiming=True), [ev.Claim(s.leg_up_at)]


def _originate_leg(s: OperatorState):
    if s.leg_pending:
        return s, []
    channel = f"op{s.operator_id}-{s.nonce}-{s.leg_seq + 1}"
    return replace(s, leg_pending=channel, leg_seq=s.leg_seq + 1), [ev.OriginateLeg(channel)]


def _accepted_waiting(s: OperatorState) -> bool:
    """A call the operator has taken whose client is not dialled yet (waiting for the leg)."""
    return bool(s.call and s.call.phase == at.RESERVED and s.call.accepted)


def _connect(s: OperatorState):
    """An accepted call: dial the client once the operator's leg is in the bridge, else bring the leg up."""
    if s.leg and s.in_bridge:
        return s, [ev.Dial(s.call.attempt_id, s.call.channel)]
    if s.leg:
        return s, []  # joining the bridge; LegJoined dials
    return _originate_leg(s)


def _answer(s: OperatorState, e: ev.AnswerRequested):
    if not (s.call and s.call.waiting_for_answer):
        return s, [ev.Refused("no-offer", "there is no offer waiting to be answered",
                              "нет предложенного звонка, на который можно ответить")]
    s = replace(s, call=replace(s.call, accepted=True), missed_offers=0)
    s, cmds = _connect(s)
    return s, [ev.AcceptOffer(s.call.attempt_id, e.at), ev.SaveMissedOffers(0), *cmds]


def _withdraw_offer(s: OperatorState, at_: float, missed: bool = False, then=()):
    release = ev.ReleaseOffer(s.call.attempt_id, at_, missed)
    s = replace(s, call=None)
    if s.wants != READY:
        s, cmds = _settle(s, s.wants)
        return s, [release, *cmds]
    return s, [release, *then]


def _offer_missed(s: OperatorState, e: ev.OfferTimedOut):
    limit, count = s.call.missed_limit, s.missed_offers + 1
    if limit and count >= limit:  # N in a row: the operator is not there; stop offering them calls
        s, cmds = _withdraw_offer(replace(s, missed_offers=0, wants=PAUSED), e.at, missed=True)
        return s, [*cmds, ev.SaveMissedOffers(0), ev.MissedOffersAlert(e.attempt_id, count)]
    s, cmds = _withdraw_offer(replace(s, missed_offers=count), e.at, missed=True)
    s, more = _next(s) if s.status == READY else (s, [])
    return s, [*cmds, ev.SaveMissedOffers(count), *more]


def _manual_dial(s: OperatorState, e: ev.DialRequested):
    if s.status not in (PAUSED, READY) or s.call or s.claiming:
        return s, [ev.Refused("manual-dial-not-now", f"manual dial needs Pause or Ready without a call (now {s.status})",
                              f"ручной набор возможен только в статусе «Пауза» или «Готов» без звонка (сейчас {s.status})")]
    return replace(s, claiming=True), [ev.ClaimLead(e.lead_id)]


def _pause(s: OperatorState, status: str, at_: float = 0.0):
    if s.call and s.call.waiting_for_answer:
        return _withdraw_offer(replace(s, wants=status), at_)  # a pause declines the offer, not a miss
    if s.status in (IN_CALL, WRAP_UP) or s.call or s.claiming:
        return replace(s, wants=status), []  # reserved: finish the call first (no abandoned client)
    return _settle(replace(s, wants=status), status)


def _settle(s: OperatorState, status: str):
    """Go to a non-Ready status; the softphone is released."""
    cmds = [] if s.status == status else [ev.SetStatus(status)]
    if s.leg:
        cmds.append(ev.Hangup(s.leg))
    return replace(s, status=status, wrap_up_attempt=None), cmds


def _attempt_event(s: OperatorState, e):
    if s.call is None or getattr(e, "attempt_id", s.call.attempt_id) != s.call.attempt_id:
        return s, []
    call, cmds = at.step(s.call, e)
    s = replace(s, call=call)
    out = []
    for cmd in cmds:
        match cmd:
            case ev.BridgeClient() if not s.in_bridge:
                out.append(ev.Hangup(cmd.channel))  # no operator to talk to: never leave the client in silence
            case ev.BridgeClient():
                out = [cmd, *out]  # bridging goes first: the client must hear the operator at once
                if s.status != IN_CALL:
                    s = replace(s, status=IN_CALL)
                    out.append(ev.SetStatus(IN_CALL))
            case ev.EndAttempt():
                s, more = _attempt_ended(s, cmd)
                out += [cmd, *more]
            case _:
                out.append(cmd)
    return s, out


def _attempt_ended(s: OperatorState, end: ev.EndAttempt):
    call = s.call
    s = replace(s, call=None)
    if call.facts.bridged:
        s = replace(s, status=WRAP_UP, wrap_up_attempt=call.attempt_id, wrap_up_limit_s=call.wrap_up_limit_s)
        if s.wants == READY and not call.auto_ready:
            s = replace(s, wants=PAUSED)
        cmds = [ev.SetStatus(WRAP_UP)]
        if call.wrap_up_limit_s:
            cmds.append(ev.StartWrapUpTimer(call.attempt_id, call.wrap_up_limit_s))
        if not s.nailed and s.leg:
            cmds.append(ev.Hangup(s.leg))
        return s, cmds
    if s.status == IN_CALL:  # answered but never bridged (LOST): nothing to wrap up
        s = replace(s, status=READY)
        cmds = [ev.SetStatus(READY)]
    else:
        cmds = []
    if s.wants != READY:
        s, more = _settle(s, s.wants)
        return s, cmds + more
    if call.facts.failure and s.status == READY:
        return s, cmds + [ev.ScheduleClaim()]  # something broke on our side: pause before the next try
    s, more = _next(s)
    return s, cmds + more


def _wrap_up_done(s: OperatorState, e):
    if isinstance(e, ev.WrapUpTimedOut):
        finish = ev.FinishWrapUp(e.attempt_id, "wrap_up_timeout", "", None, e.at)
    else:
        finish = ev.FinishWrapUp(e.attempt_id, e.result, e.comment, e.postpone_minutes, e.at,
                                 postpone_until=e.postpone_until, do_not_call=e.do_not_call)
    s = replace(s, wrap_up_attempt=None)
    if s.wants != READY:
        s, cmds = _settle(s, s.wants)
        return s, [finish, *cmds]
    s = replace(s, status=READY)
    s, cmds = _next(s)
    return s, [finish, ev.SetStatus(READY), *cmds]


def _leg_gone(s: OperatorState, e: ev.LegGone):
    if e.channel not in (s.leg, s.leg_pending):
        return s, []
    s = replace(s, leg=None, leg_up_at=None, leg_pending=None, in_bridge=False)
    cmds = []
    if _accepted_waiting(s):  # the softphone did not pick up: the client is never dialled
        s, cmds = _attempt_event(s, ev.OriginateFailed(s.call.attempt_id, "the operator's softphone did not answer",
                                                       at=e.at))
    elif s.call and s.call.phase in at.LIVE_ON_ASTERISK:
        s, cmds = _attempt_event(s, ev.HangupRequested(at=e.at, failure="the operator's line dropped"))
    if s.status == READY and not s.call:
        # the phone dropped or did not answer: stop dialling for this operator until they are back
        return replace(s, status=PAUSED, wants=PAUSED), cmds + [ev.SetStatus(PAUSED)]
    return replace(s, wants=PAUSED if s.wants == READY else s.wants), cmds


def _resync(s: OperatorState, e: ev.Resync):
    cmds = []
    if s.call and s.call.waiting_for_answer:
        # its timer did not survive a restart: withdraw it (not a miss); the next offer starts afresh
        s, cmds = _withdraw_offer(s, e.at)
    elif s.call and s.call.phase != at.ENDED and s.call.channel not in e.live_channels:
        s, cmds = _attempt_event(s, ev.ClientGone(s.call.attempt_id, lost_while_away=True, at=e.at))
    elif s.call and s.call.phase == at.ANSWERED and s.call.channel in e.bridged_channels:
        # bridged just before a restart whose stamp was not written yet: a talk, never a lost client
        s, cmds = _attempt_event(s, ev.ClientBridged(s.call.attempt_id, at=e.at))
    for channel in (s.leg, s.leg_pending):
        if channel and channel not in e.live_channels:
            s, more = _leg_gone(s, ev.LegGone(channel, at=e.at))
            cmds += more
    if s.status == WRAP_UP and s.wrap_up_attempt and s.wrap_up_limit_s and not cmds:
        # timers do not survive a restart: the wrap-up limit starts again
        cmds.append(ev.StartWrapUpTimer(s.wrap_up_attempt, s.wrap_up_limit_s))
    if s.leg and not s.in_bridge:
        if s.leg in e.bridged_channels:
            s = replace(s, in_bridge=True)
        else:
            cmds.append(ev.JoinBridge(s.leg))
    s, more = _next(s)
    return s, cmds + more
