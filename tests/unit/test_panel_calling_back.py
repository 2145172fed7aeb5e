"""What an inbound call's card says of the client (dialer/services/panel.py `calling_back`), from a table of cases:
`earlier` is the card's history, newest first."""
import pytest

from dialer.services.panel import calling_back


def h(attempt_id, outcome, result=None, operator=None):
    return {"attempt_id": attempt_id, "outcome": outcome, "result": result, "operator": operator}


TALK = h(3, "ANSWERED", "think", "Ольга")
CASES = [
    # direction, earlier, expected
    ("outbound", [TALK], None),                                                   # our own call: nothing said
    ("inbound", [], {"known": False, "last": None}),                              # never called before
    ("inbound", [TALK], {"known": True, "last": TALK}),
    ("inbound", [h(5, "NO_ANSWER", operator="Ольга"), TALK, h(1, "ANSWERED", "old")],
     {"known": True, "last": TALK}),                                              # the last conversation, not a miss
    ("inbound", [h(5, "NO_ANSWER"), h(4, "BUSY")], {"known": True, "last": h(5, "NO_ANSWER")}),  # no talk: the latest
]


@pytest.mark.parametrize("direction, earlier, expected", CASES)
def test_calling_back(direction, earlier, expected):
    assert calling_back(direction, earlier) == expected
