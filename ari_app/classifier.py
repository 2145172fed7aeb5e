"""Outcome of an attempt from what Asterisk reported (SPEC A2) — pure.

Classify by Q.850 cause and the SIP code first: on Asterisk 22 a 603 rejection shows as
dial status NOANSWER, so the dial status is only a fallback when no cause arrived.
"""
from __future__ import annotations

from dataclasses import dataclass

from dialer.outcomes import Outcome

BUSY_CAUSES = {17}
REJECTED_CAUSES = {21}
NO_ANSWER_CAUSES = {18, 19, 20}          # no user responding, alerting without answer, subscriber absent
BUSY_SIP = {486, 600}
REJECTED_SIP = {603, 403}               # Hangup(21) goes out as 403 "Call Rejected"
NO_ANSWER_SIP = {408, 480, 487}         # timeout, temporarily unavailable, cancelled while ringing
DIAL_STATUS = {"BUSY": Outcome.BUSY, "NOANSWER": Outcome.NO_ANSWER, "CANCEL": Outcome.NO_ANSWER,
               "CONGESTION": Outcome.ERROR, "CHANUNAVAIL": Outcome.ERROR}


@dataclass(frozen=True)
class AttemptFacts:
    answered: bool = False         # the client's channel entered Stasis (answered)
    bridged: bool = False          # the client was in a bridge with an operator
    cause: int | None = None       # Q.850 hangup cause of the client's channel
    sip_code: int | None = None    # SIP response code (tech_cause) when Asterisk gives one
    dial_status: str | None = None
    failure: str | None = None  # the call could not be placed or was cut by a failure on our side
    cancelled: bool = False        # the dialer hung up the ringing client itself


def classify(f: AttemptFacts) -> Outcome:
    if f.bridged:
        return Outcome.ANSWERED
    if f.answered:
        return Outcome.LOST
    if f.failure:
        return Outcome.ERROR
    by_code = _by_sip_code(f.sip_code)
    if by_code:
        return by_code
    if f.cause in BUSY_CAUSES:
        return Outcome.BUSY
    if f.cause in REJECTED_CAUSES:
        return Outcome.REJECTED
    if f.cause in NO_ANSWER_CAUSES:
        return Outcome.NO_ANSWER
    if f.cause == 16 or f.cancelled:
        # normal clearing before answer: the ring window ended or we cancelled the call
        return Outcome.NO_ANSWER
    if f.cause is None and f.dial_status in DIAL_STATUS:
        return DIAL_STATUS[f.dial_status]
    return Outcome.ERROR  # congestion, unallocated number, channel unavailable, unknown


def _by_sip_code(code: int | None) -> Outcome | None:
    if code in BUSY_SIP:
        return Outcome.BUSY
    if code in REJECTED_SIP:
        return Outcome.REJECTED
    if code in NO_ANSWER_SIP:
        return Outcome.NO_ANSWER
    if code is not None and code >= 400:
        return Outcome.ERROR
    return None
