"""Do-not-call and postpone on a real PostgreSQL: the list, the wrap-up that fills it, the claim that
obeys it, and callbacks that go back to the operator who agreed them."""
import time
from datetime import datetime, timedelta, timezone

import pytest

from ari_app import events as ev
from ari_app import operator as om
from ari_app import store
from ari_app.classifier import AttemptFacts
from ari_app.intake import to_event
from dialer import commands
from dialer.access import ACTING_SYSTEM
from dialer.errors import Invalid
from dialer.models import Attempt, Campaign, DoNotCall, EngineCommand, Lead, Operator, OperatorCampaign
from dialer.services import operators
from rules import dnc


def audit_rows(db):
    return db.execute_sql("SELECT action, object_type, object_id, changes FROM audit_log ORDER BY id").fetchall()


def test_add_contains_remove_with_audit(db):
    assert dnc.add("8 (900) 123-45-67", reason="asked on the phone", source="supervisor") is True
    assert dnc.add("+79001234567") is False  # the same number, already listed
    assert dnc.contains("+7 900 123 45 67") and not dnc.contains("+79001234568")
    row = DoNotCall.get()
    assert (row.phone, row.reason, row.source) == ("+79001234567", "asked on the phone", "supervisor")
    assert dnc.remove("89001234567") is True and dnc.remove("89001234567") is False
    assert not dnc.contains("+79001234567")
    rows = audit_rows(db)
    assert [(r[0], r[1], r[2]) for r in rows] == [("created", "do_not_call", "+79001234567"),
                                                ("deleted", "do_not_call", "+79001234567")]
    assert rows[0][3]["source"] == [None, "supervisor"]


@pytest.mark.parametrize("kwargs,field", [
    ({"phone": "12"}, "phone"), ({"phone": "+7900abc"}, "phone"), ({"phone": ""}, "phone"),
    ({"phone": None}, "phone"), ({"phone": "+79001234567\x00"}, "phone"),
    ({"phone": "+79001234567", "source": "robot"}, "source"),
    ({"phone": "+79001234567", "reason": "x" * 501}, "reason"),
    ({"phone": "+79001234567", "attempt_id": 0}, "attempt_id"),
])
def test_bad_input_is_refused_and_changes_nothing(db, unchanged, kwargs, field):
    with unchanged(), pytest.raises(Invalid) as e:
        dnc.add(**kwargs)
    assert e.value.details["field"] == field and e.value.details["message_ru"]


def test_runs_inside_the_callers_transaction(db):
    with db.atomic() as tx:
        assert dnc.add("+79001234567")
        tx.rollback()
    assert not dnc.contains("+79001234567") and audit_rows(db) == []


def setup(leads=("+79001000001",), operators_=1, campaigns=1):
    cs = [Campaign.create(name=f"c{i}") for i in range(campaigns)]
    for c in cs:
        Lead.insert_many([{"campaign": c.id, "external_id": str(i), "phone": p} for i, p in enumerate(leads)]).execute()
    ops = [Operator.create(name=f"o{i}", login=f"o{i}", sip_password="secret-123") for i in range(operators_)]
    OperatorCampaign.insert_many([{"operator": o.id, "campaign": c.id} for o in ops for c in cs]).execute()
    return cs, ops


def claim(db, op):
    return store.claim(db, op.id, "pbx", "t", time.time(), None)


def test_a_listed_number_is_never_claimed_by_any_campaign(db):
    _, ops = setup(leads=("+79001000001", "+79001000002"), campaigns=3, operators_=4)
    dnc.add("+79001000001")
    claimed = [claim(db, op) for op in ops]
    assert [c.phone for c in claimed[:3]] == ["+79001000002"] * 3 and claimed[3] is None


def answered(db, op):
    a = claim(db, op)
    store.record(db, a.attempt_id, "dial_started_at", time.time())
    store.end_attempt(db, ev.EndAttempt(a.attempt_id, "ANSWERED", AttemptFacts(cause=16), time.time()))
    Operator.update(status="wrap_up").where(Operator.id == op.id).execute()  # the engine's part
    return a


def finish(db, op, a, result, minutes=None):
    """What the engine makes of the operator's submitted wrap-up: the stored command parsed by the contract,
    through the operator machine, to the store — postpone and do-not-call carried all the way."""
    cmd = EngineCommand.select().where(EngineCommand.kind == "wrap_up").order_by(EngineCommand.id.desc()).get()
    machine = om.OperatorState(op.id, status=om.WRAP_UP, wrap_up_attempt=a.attempt_id)
    _, out = om.step(machine, to_event(commands.parse(cmd.kind, cmd.payload), time.time()))
    [done] = [c for c in out if isinstance(c, ev.FinishWrapUp)]
    assert (done.result, done.postpone_minutes) == (result, minutes)
    store.finish_wrap_up(db, op.id, done)


def test_wrap_up_do_not_call_closes_the_lead_and_lists_the_number(db):
    _, [op] = setup(leads=("+79001000001",), campaigns=2)
    a = answered(db, op)
    cmd = operators.submit_wrap_up(ACTING_SYSTEM, op.id, "refused", do_not_call=True)
    assert cmd["payload"]["do_not_call"] is True
    finish(db, op, a, "refused")
    lead = Lead.get_by_id(Attempt.get_by_id(a.attempt_id).lead_id)
    assert lead.state == "done"
    row = DoNotCall.get()
    assert (row.phone, row.source, row.attempt_id, row.reason) == ("+79001000001", "operator", a.attempt_id, "refused")
    Operator.update(attempt_id=None).execute()
    assert claim(db, op) is None  # the same number in the other campaign is never dialled either


def test_wrap_up_postpone_until_in_the_clients_zone_makes_a_callback(db):
    _, [op] = setup()
    Lead.update(time_zone="Asia/Vladivostok").execute()
    a = answered(db, op)
    local = (datetime.now(timezone.utc) + timedelta(days=2)).astimezone().replace(tzinfo=None)
    local = local.replace(hour=10, minute=30, second=0, microsecond=0)
    operators.submit_wrap_up(ACTING_SYSTEM, op.id, "call back", postpone_until=local.isoformat(timespec="minutes"))
    finish(db, op, a, "call back")
    lead = Lead.get()
    assert lead.state == "callable" and lead.callback and lead.assigned_operator_id == op.id
    assert lead.next_call_at.astimezone(timezone(timedelta(hours=10))).replace(tzinfo=None) == local


@pytest.mark.parametrize("kwargs,field", [
    ({"postpone_minutes": 30, "postpone_until": "2030-01-01T10:00"}, "postpone_until"),
    ({"postpone_until": "2020-01-01T10:00"}, "postpone_until"),
    ({"postpone_until": "soon"}, "postpone_until"),
    ({"do_not_call": True, "postpone_minutes": 30}, "do_not_call"),
    ({"do_not_call": "yes"}, "do_not_call"),
])
def test_bad_wrap_up_choices_insert_nothing(db, unchanged, kwargs, field):
    _, [op] = setup()
    Operator.update(status="wrap_up", attempt_id=77).execute()
    with unchanged(), pytest.raises(Invalid) as e:
        operators.submit_wrap_up(ACTING_SYSTEM, op.id, "ok", **kwargs)
    assert e.value.details["field"] == field
    assert EngineCommand.select().count() == 0


def test_a_bound_callback_goes_to_its_operator_first(db):
    _, [anna, boris] = setup(leads=("+79001000001", "+79001000002", "+79001000003"), operators_=2)
    last = Lead.select().order_by(Lead.id.desc()).get()
    Lead.update(assigned_operator_id=anna.id, callback=True).where(Lead.id == last.id).execute()
    got_boris = claim(db, boris)
    assert got_boris.phone != last.phone
    assert claim(db, anna).phone == last.phone  # before the older leads
    # another operator's callback that has waited past the grace period is anyone's
    Lead.update(state="callable", assigned_operator_id=anna.id, callback=True,
                next_call_at=datetime.now(timezone.utc) - timedelta(hours=1)).where(Lead.id == last.id).execute()
    Operator.update(attempt_id=None).execute()
    db.execute_sql("UPDATE attempt SET ended_at = now(), outcome = 'BUSY'")
    assert claim(db, boris).phone == last.phone


def test_the_json_api_wrap_up_accepts_postpone_until_and_do_not_call(client, db):
    _, [op] = setup()
    Operator.update(status="wrap_up", attempt_id=5).execute()
    r = client.post(f"/api/operators/{op.id}/wrap-up", json={"result": "x", "do_not_call": True})
    assert r.status_code == 202 and r.json()["payload"]["do_not_call"] is True
    r = client.post(f"/api/operators/{op.id}/wrap-up", json={"result": "x", "postpone_until": "nonsense"})
    assert r.status_code == 422 and r.json()["field"] == "postpone_until"
