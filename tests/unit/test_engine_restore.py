"""An engine killed between two of an operator's writes, then started again: whatever pair of rows it left
(the status is always written after the work it follows), the operator's machine is rebuilt where the
operator really was, and after the reconcile (Resync) they are working again — never left waiting in a
status nothing will move them out of."""
import pytest

from ari_app import events as ev
from ari_app import operator as om
from ari_app.engine import restore_state
from ari_app.store import OperatorRecord

OP = 7
LEG = "op7-n-1"
CLIENT = "at100-n"


def attempt(**kw):
    base = {"id": 100, "client_channel": CLIENT, "ended_at": None, "bridged_at": None, "answered_at": None,
            "ringing_at": None, "dial_started_at": None, "auto_ready": True, "wrap_up_limit_s": 6,
            "offer_expires_at": None, "offer_accepted_at": None, "manual": False, "wrap_up_at": None, "outcome": None}
    return {**base, **kw}


def record(status, held=None, last_auto_ready=True):
    return OperatorRecord(OP, "op7", "pbx", status, LEG, held, last_auto_ready=last_auto_ready)


def kinds(cmds):
    return [type(c).__name__ for c in cmds]


def resync(s, live=(), at=50.0):
    """The reconcile after the restart: the operator's leg is up in its bridge, and `live` channels with it."""
    channels = frozenset({LEG, *live})
    return om.step(s, ev.Resync(channels, frozenset({LEG}), at=at))


# (what the database held, which client channels are still up) → the status after the reconcile, and what it did
CASES = [
    # a new call claimed after a wrap-up whose Ready was not written yet; its client never dialled
    ("wrap_up", attempt(), (), om.READY, ["EndAttempt", "ScheduleClaim", "Claim"]),
    # ... the same, dialled and ringing while the engine was down: the call goes on
    ("wrap_up", attempt(dial_started_at="t", ringing_at="t"), (CLIENT,), om.READY, []),
    # ... the client answered and was bridged: a talk, the operator is in a call
    ("wrap_up", attempt(dial_started_at="t", answered_at="t", bridged_at="t"), (CLIENT,), om.IN_CALL, []),
    # claimed after a lost call ("in_call" not yet followed by Ready), the channel gone meanwhile
    ("in_call", attempt(dial_started_at="t"), (), om.READY, ["EndAttempt", "ScheduleClaim", "Claim"]),
    # the wrap-up was written, the Ready after it was not
    ("wrap_up", None, (), om.READY, ["Claim"]),
    # a lost call's end was written, the Ready after it was not
    ("in_call", None, (), om.READY, ["Claim"]),
    # ... and the campaign does not go Ready by itself after a call: the operator was paused
    ("wrap_up", None, (), om.PAUSED, []),
    # the call's end was written, the wrap-up status was not: the wrap-up is owed, its limit starts again
    ("ready", attempt(dial_started_at="t", answered_at="t", bridged_at="t", ended_at="t", outcome="ANSWERED"), (),
     om.WRAP_UP, ["StartWrapUpTimer"]),
    # as written, nothing stale: Ready and free
    ("ready", None, (), om.READY, ["Claim"]),
    # paused, free: stays paused
    ("paused", None, (), om.PAUSED, []),
]


@pytest.mark.parametrize("status,held,live,after,commands", CASES)
def test_a_status_left_behind_by_a_kill_is_corrected_by_the_call_it_holds(status, held, live, after, commands):
    last_auto_ready = after != om.PAUSED
    s = restore_state(record(status, held, last_auto_ready), "n2", True)
    s, cmds = resync(s, live)
    assert s.status == after, s
    assert kinds(cmds) == commands
    if "Claim" in commands:
        assert s.claiming  # working again: the next lead is being claimed
    if "EndAttempt" in commands:
        end = next(c for c in cmds if isinstance(c, ev.EndAttempt))
        assert end.outcome == "ERROR" and end.facts.failure == "channel ended while the engine was away"


def test_a_call_restored_under_a_stale_wrap_up_ends_and_the_operator_claims_the_next():
    """The ringing call of the second case ends busy after the reconcile: the operator goes on to the next
    lead (before the fix: "wrap_up" with nothing to wrap up, never claiming again)."""
    s = restore_state(record("wrap_up", attempt(dial_started_at="t", ringing_at="t")), "n2", True)
    s, _ = resync(s, (CLIENT,))
    s, cmds = om.step(s, ev.ClientGone(100, cause=17, at=60))
    assert s.status == om.READY and s.call is None
    assert kinds(cmds) == ["EndAttempt", "Claim"] and cmds[0].outcome == "BUSY"


def test_a_manual_call_from_pause_answered_before_a_kill_is_a_call_and_the_pause_is_kept_for_after():
    held = attempt(dial_started_at="t", answered_at="t", bridged_at="t", manual=True)
    s = restore_state(record("paused", held), "n2", True)
    assert s.status == om.IN_CALL and s.wants == om.PAUSED
