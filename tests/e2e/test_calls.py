"""Calls end to end: real pbx + sim Asterisk, real PostgreSQL, the engine in its own process."""
from __future__ import annotations

import pytest

from dialer.models import Attempt, Lead, Operator
from dialer.dev.testing import add_leads, command_all, make_operators, until

pytestmark = pytest.mark.e2e


def campaign(**kw):
    from dialer.services import campaigns

    values = dict(name="Подтверждение заказов", max_attempts=1, retry_delay_s=3600, ring_timeout_s=5,
                  wrap_up_limit_s=1)
    values.update(kw)
    return campaigns.create_campaign(**values)["id"]


def ended(count):
    return lambda: Attempt.select().where(Attempt.ended_at.is_null(False)).count() >= count


def live_attempts():
    return Attempt.select().where(Attempt.ended_at.is_null()).count()


EXPECTED = [  # number → outcome, Q.850 cause, timeline fields that must be set
    ("79000021001", "ANSWERED", 16, ["answered_at", "bridged_at"]),
    ("79001001002", "BUSY", 17, []),
    ("79002001003", "REJECTED", 21, ["ringing_at"]),
    ("79003001004", "NO_ANSWER", 19, ["ringing_at"]),
    ("79004001005", "ERROR", 34, []),
]


def test_each_outcome_is_produced_by_sim_and_recorded_with_its_timeline(engine):
    cid = campaign()
    add_leads(cid, [n for n, *_ in EXPECTED])
    [op] = make_operators(engine.settings, cid, 1)
    command_all([op["id"]], "ready")
    until(ended(len(EXPECTED)), 60, message="all five attempts to end")
    by_phone = {a.phone: a for a in Attempt.select()}
    for number, outcome, cause, stamps in EXPECTED:
        a = by_phone["+" + number]
        assert (a.outcome, a.hangup_cause) == (outcome, cause), number
        assert a.operator_id == op["id"]
        for field in ["reserved_at", "offered_at", "operator_answered_at", "dial_started_at", "ended_at", *stamps]:
            assert getattr(a, field) is not None, (number, field)
        assert a.offered_at <= a.dial_started_at <= a.ended_at
        if a.answered_at:
            assert a.dial_started_at <= a.answered_at <= a.bridged_at <= a.ended_at
        else:
            assert a.answered_at is None and a.bridged_at is None
    answered = by_phone["+" + EXPECTED[0][0]]
    until(lambda: Attempt.get_by_id(answered.id).wrap_up_at is not None, 10, message="wrap-up time limit")
    assert Lead.get(Lead.phone == answered.phone).state == "done"
    assert {lead.state for lead in Lead.select() if lead.phone != answered.phone} == {"exhausted"}


def test_twenty_operators_ready_at_once_never_share_a_lead_and_no_lead_is_dialled_twice_at_once(engine):
    cid = campaign(max_attempts=3, retry_delay_s=0)
    # short calls and quick failures, so leads come back while others still hold theirs
    patterns = ["7900001", "7900002", "7900100", "7900300", "7900400"]
    add_leads(cid, [f"{patterns[i % len(patterns)]}{i:04d}" for i in range(60)])
    ops = make_operators(engine.settings, cid, 20)
    command_all([o["id"] for o in ops], "ready")
    until(ended(100), 120, message="100 attempts")
    command_all([o["id"] for o in ops], "pause")
    until(lambda: live_attempts() == 0, 30, message="live attempts to end")
    db = Attempt._meta.database
    overlapping_leads = db.execute_sql(
        "SELECT count(*) FROM attempt a JOIN attempt b ON a.lead_id = b.lead_id AND a.id < b.id "
        "AND tstzrange(a.reserved_at, a.ended_at) && tstzrange(b.reserved_at, b.ended_at)").fetchone()[0]
    overlapping_operators = db.execute_sql(
        "SELECT count(*) FROM attempt a JOIN attempt b ON a.operator_id = b.operator_id AND a.id < b.id "
        "AND tstzrange(a.reserved_at, a.ended_at) && tstzrange(b.reserved_at, b.ended_at)").fetchone()[0]
    assert (overlapping_leads, overlapping_operators) == (0, 0)
    first = db.execute_sql("SELECT DISTINCT ON (operator_id) lead_id FROM attempt ORDER BY operator_id, id").fetchall()
    assert len(first) == 20 and len({row[0] for row in first}) == 20  # the first claims: 20 different leads
    # progressive: every client call had a reserved operator whose leg was up before the dial
    unreserved = Attempt.select().where(Attempt.operator.is_null() | Attempt.operator_answered_at.is_null() |
                                        (Attempt.operator_answered_at > Attempt.dial_started_at)).count()
    assert unreserved == 0
    until(lambda: Lead.select().where(Lead.state == "in_progress").count() == 0, 10,
          message="answered leads to leave wrap-up")


def test_sigkill_during_ten_live_calls_then_restart_loses_nothing(engine):
    cid = campaign(max_attempts=2, retry_delay_s=3600)
    # answer and talk 20 s (the sim's 79000SSxxxx): longer than the restart takes on a loaded machine, so every
    # call is still live when the engine comes back and must be re-adopted
    add_leads(cid, [f"79000{20:02d}{i:04d}" for i in range(10)])
    ops = make_operators(engine.settings, cid, 10)
    command_all([o["id"] for o in ops], "ready")
    until(lambda: Attempt.select().where(Attempt.bridged_at.is_null(False)).count() == 10, 40,
          message="ten bridged calls")
    engine.kill()
    engine.restart()
    until(lambda: live_attempts() == 0, 90, message="every attempt to end after the restart")
    attempts = list(Attempt.select())
    assert len(attempts) == 10
    assert all(a.outcome == "ANSWERED" and a.hangup_cause == 16 for a in attempts), \
        [(a.id, a.outcome, a.hangup_cause, a.error) for a in attempts]  # re-adopted: the clients hung up after talking
    until(lambda: Attempt.select().where(Attempt.wrap_up_at.is_null()).count() == 0, 15, message="wrap-ups")
    assert Lead.select().where(Lead.state == "in_progress").count() == 0
    assert {lead.state for lead in Lead.select()} == {"done"}
    until(lambda: Operator.select().where(Operator.status.in_(["in_call", "wrap_up"])).count() == 0, 10,
          message="operators out of their calls")  # the status is written just after the wrap-up


def test_sigkill_while_dialling_closes_and_classifies_the_attempts(engine):
    cid = campaign(max_attempts=3, retry_delay_s=3600, ring_timeout_s=20)
    add_leads(cid, [f"79003000{i:03d}" for i in range(5)])  # ring forever
    ops = make_operators(engine.settings, cid, 5)
    command_all([o["id"] for o in ops], "ready")
    until(lambda: Attempt.select().where(Attempt.ringing_at.is_null(False)).count() == 5, 30, message="ringing")
    engine.kill()
    from dialer.dev import instances
    instances.rx(engine.settings, "pbx", "channel request hangup all")  # the calls die while nobody listens
    command_all([o["id"] for o in ops], "pause")
    engine.restart()
    until(lambda: live_attempts() == 0, 30, message="attempts closed after restart")
    outcomes = [(a.outcome, a.error) for a in Attempt.select()]
    assert all(o == "ERROR" and "away" in e for o, e in outcomes), outcomes
    assert Lead.select().where(Lead.state == "in_progress").count() == 0
    assert {lead.state for lead in Lead.select()} == {"callable"}


def test_asterisk_restart_during_live_calls_closes_every_attempt_and_dialling_resumes(engine):
    from dialer.dev import instances

    cid = campaign(max_attempts=3, retry_delay_s=0)
    add_leads(cid, [f"790000{20:02d}{i:03d}" for i in range(6)] + [f"79003000{i:03d}" for i in range(4)])
    ops = make_operators(engine.settings, cid, 8)
    command_all([o["id"] for o in ops], "ready")
    until(lambda: Attempt.select().where(Attempt.bridged_at.is_null(False)).count() >= 4, 40, message="live calls")
    live_at_restart = [a.id for a in Attempt.select().where(Attempt.ended_at.is_null())]
    instances.stop(engine.settings, "pbx")
    instances.start(engine.settings, "pbx")
    until(lambda: live_attempts() == 0, 40, message="attempts closed after the Asterisk restart")
    for a in Attempt.select().where(Attempt.id.in_(live_at_restart)):
        # (a ring timeout falling between the snapshot and the stop is a genuine NO_ANSWER, cause 19)
        expected = {"ANSWERED"} if a.bridged_at else {"ERROR"} if a.hangup_cause != 19 else {"NO_ANSWER"}
        assert a.outcome in expected, (a.id, a.outcome, a.error)
    # the operators' phones went away with Asterisk: nobody is left Ready without a line
    until(lambda: Operator.select().where(Operator.status == "ready").count() == 0, 10, message="operators paused")
    until(lambda: Lead.select().where(Lead.state == "in_progress").count() ==
          Operator.select().where(Operator.status == "wrap_up").count(), 10, message="leads released")
    # once the phones are registered again, Ready works as before
    instances.wait_registered(engine.settings, [o["login"] for o in ops], timeout=60)
    before = Attempt.select().count()
    add_leads(cid, [f"790000{2:02d}{i:03d}" for i in range(100, 110)])
    command_all([o["id"] for o in ops], "ready")
    until(lambda: Attempt.select().count() > before + 3, 30, message="dialling after the restart")
