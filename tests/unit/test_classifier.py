"""Outcome classifier: a table of what Asterisk reported → one of six outcomes."""
import pytest

from ari_app.classifier import AttemptFacts as F
from ari_app.classifier import classify
from dialer.outcomes import Outcome as O

CASES = [
    # (facts, outcome, why)
    (F(answered=True, bridged=True, cause=16), O.ANSWERED, "talked to an operator"),
    (F(answered=True, bridged=True, cause=17), O.ANSWERED, "bridged wins over any later cause"),
    (F(answered=True, cause=16), O.LOST, "answered, never reached an operator"),
    (F(cause=17, dial_status="BUSY"), O.BUSY, "Busy() on the far end"),
    (F(cause=17, sip_code=486), O.BUSY, "486 Busy Here"),
    (F(sip_code=600), O.BUSY, "600 Busy Everywhere"),
    (F(cause=21, dial_status="NOANSWER"), O.REJECTED, "603 shows as NOANSWER: cause decides"),
    (F(cause=21, sip_code=603), O.REJECTED, "603 Decline"),
    (F(cause=21, sip_code=403), O.REJECTED, "Hangup(21) goes out as 403"),
    (F(cause=19, dial_status="NOANSWER"), O.NO_ANSWER, "rang past the ring timeout"),
    (F(cause=18), O.NO_ANSWER, "no user responding"),
    (F(cause=16, dial_status="CANCEL", cancelled=True), O.NO_ANSWER, "we cancelled while it rang"),
    (F(cause=34, dial_status="CONGESTION"), O.ERROR, "Congestion()"),
    (F(cause=34, sip_code=503), O.ERROR, "503 Service Unavailable"),
    (F(cause=1, sip_code=404), O.ERROR, "unallocated number"),
    (F(cause=38), O.ERROR, "network out of order"),
    (F(failure="ARI POST /channels → 500"), O.ERROR, "ARI refused to create the channel"),
    (F(), O.ERROR, "nothing known: never silently a success"),
    (F(dial_status="BUSY"), O.BUSY, "no cause at all: the dial status is the fallback"),
    (F(dial_status="CHANUNAVAIL"), O.ERROR, "channel unavailable"),
    (F(sip_code=480, cause=18), O.NO_ANSWER, "480 temporarily unavailable"),
]


@pytest.mark.parametrize("facts,expected,why", CASES, ids=[c[2] for c in CASES])
def test_classify(facts, expected, why):
    assert classify(facts) == expected


def test_every_outcome_is_reachable():
    assert {c[1] for c in CASES} == set(O)
