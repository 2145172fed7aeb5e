"""The operator state machine — pure: status, the operator's leg, and the attempt they are reserved for.

Progressive mode (SPEC B1): a client is dialled only for an operator who is Ready, whose leg is up
and waiting in their own bridge, and who holds no other attempt. `wants` is where the operator goes
once the current call and wrap-up are over (Ready, or the pause they asked for meanwhile).
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


def step(s: OperatorState, e) -> tuple[OperatorState, list]:
    """One event in, the new state and the commands to carry out, in order."""
    if isinstance(e, ATTEMPT_EVENTS):
        return _attempt_event(s, e)
    match e:
        case ev.ReadyRequested():
            return _ready(s)
        case ev.PauseRequested():
            return _pause(s, e.status)
        case ev.HangupRequested():
            return _attempt_event(s, e) if s.call else (s, [])
        case ev.LegUp() if e.channel == s.leg_pending:
            s = replace(s, leg=e.channel, leg_up_at=e.at, leg_pending=None)
            if s.status != READY and not s.call:
                return s, [ev.Hangup(e.channel)]  # paused while the phone was ringing
            return s, [ev.JoinBridge(e.channel)]
        case ev.LegJoined():
            return _next(replace(s, in_bridge=True))
        case ev.LegGone():
            return _leg_gone(s, e)
        case ev.Claimed():
            call = at.AttemptState(e.attempt_id, e.channel, auto_ready=e.auto_ready, wrap_up_limit_s=e.wrap_up_limit_s)
            s = replace(s, claiming=False, call=call)
            if not (s.leg and s.in_bridge):
                # the operator's line dropped while the lead was being claimed: never dial a client
                # nobody would answer; the lead goes back uncounted (the call was not placed)
                return _attempt_event(s, ev.OriginateFailed(e.attempt_id, "the operator's line dropped before dialling",
                                                            at=e.at))
            return s, [ev.Dial(e.attempt_id, e.channel)]
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
    return s, []


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
    if s.leg is None:
        if s.leg_pending:
            return s, []
        channel = f"op{s.operator_id}-{s.nonce}-{s.leg_seq + 1}"
        return replace(s, leg_pending=channel, leg_seq=s.leg_seq + 1), [ev.OriginateLeg(channel)]
    if not s.in_bridge:
        return s, []
    return replace(s, claiming=True), [ev.Claim(s.leg_up_at)]


def _pause(s: OperatorState, status: str):
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
        finish = ev.FinishWrapUp(e.attempt_id, e.result, e.comment, e.postpone_minutes, e.at)
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
    if s.call and s.call.phase in at.LIVE_ON_ASTERISK:
        s, cmds = _attempt_event(s, ev.HangupRequested(at=e.at, failure="the operator's line dropped"))
    if s.status == READY and not s.call:
        # the phone dropped or did not answer: stop dialling for this operator until they are back
        return replace(s, status=PAUSED, wants=PAUSED), cmds + [ev.SetStatus(PAUSED)]
    return replace(s, wants=PAUSED if s.wants == READY else s.wants), cmds


def _resync(s: OperatorState, e: ev.Resync):
    cmds = []
    if s.call and s.call.phase != at.ENDED and s.call.channel not in e.live_channels:
        s, cmds = _attempt_event(s, ev.ClientGone(s.call.attempt_id, lost_while_away=True, at=e.at))
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
