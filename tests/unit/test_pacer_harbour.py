"""The safe-harbour message (ari_app/holding.harbour_due): which clients on hold hear it now — once, after the grace,
only in the holding bridge, never once given up."""
import pytest

from ari_app import holding
from ari_app.holding import Held


def held(channel, answered, after=2.0, ready=True, timeout=20.0):
    return Held(channel, 1, answered, ready, timeout, harbour_after_s=after)


CASES = [
    # (what, clients on hold, now, channels that hear the message)
    ("within the grace: not yet", [held("a", 10.0)], 11.5, ()),
    ("at the grace: now", [held("a", 10.0)], 12.0, ("a",)),
    ("the campaign has no message (or it was heard)", [held("a", 10.0, after=None)], 15.0, ()),
    ("not in the holding bridge yet: waits", [held("a", 10.0, ready=False)], 15.0, ()),
    ("past the wait timeout: given up, not told to wait", [held("a", 0.0, timeout=5.0)], 6.0, ()),
    ("first answered first", [held("b", 5.0), held("a", 1.0), held("c", 9.0)], 10.0, ("a", "b")),
    ("a grace of 0: at once", [held("a", 10.0, after=0.0)], 10.0, ("a",)),
]


@pytest.mark.parametrize("what,clients,now,expected", CASES, ids=[c[0] for c in CASES])
def test_harbour_due(what, clients, now, expected):
    assert holding.harbour_due(clients, now) == expected


def test_a_client_due_the_message_is_still_offered_to_a_free_operator():
    """The message never keeps a client from an operator: assign offers as before."""
    plan = holding.assign([held("a", 0.0)], [holding.Free(7, 0.0)], {1: frozenset()}, 5.0)
    assert plan.offers == (("a", 7),)
