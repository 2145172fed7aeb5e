"""The fault tier's invariants, from tables: each rule finds what it must and nothing else, so a fault test
that passes cannot pass for a checker that sees nothing."""
from __future__ import annotations

import pytest

from bench import chaos_faults as chaos
from bench import chaos_invariants as inv
from bench.chaos_invariants import AttemptRow as A
from bench.chaos_invariants import Snapshot


def answered(id_, lead, op=1, at=10.0, wrapped=True, result="confirmed", owes_crm=True, in_outbox=True, **kw):
    return A(id_, lead, op, at, at + 0.1, at + 3, "ANSWERED", at + 4 if wrapped else None,
             result if wrapped else None, owes_crm, in_outbox and wrapped, **kw)


def busy(id_, lead, op=1, at=10.0):
    return A(id_, lead, op, at, at + 0.1, at + 0.5, "BUSY")


def live(id_, lead, op=1, at=10.0):
    return A(id_, lead, op, at, at + 0.1)


@pytest.mark.parametrize("attempts, lost", [
    ([answered(1, 1), busy(2, 2)], []),
    ([live(1, 1)], [1]),  # never ended
    ([A(1, 1, 1, 10.0, 10.1, 12.0, None)], [1]),  # ended without an outcome
    ([A(1, 1, 1, 10.0, 10.1, 12.0, "HUNG_UP")], [1]),  # not one of the six
])
def test_attempts_lost(attempts, lost):
    assert inv.attempts_lost(Snapshot(attempts, {}, {})) == lost


@pytest.mark.parametrize("attempts, submitted, lost", [
    ([answered(1, 1), busy(2, 2)], {}, []),
    ([answered(1, 1, wrapped=False)], {}, [1]),  # the wrap-up never written
    ([answered(1, 1, in_outbox=False)], {}, [1]),  # written, but the CRM never gets the result
    ([answered(1, 1, owes_crm=False, in_outbox=False)], {}, []),  # no CRM behind the lead: no outbox row
    ([answered(1, 1, result="wrap_up_timeout")], {1: "confirmed"}, [1]),  # submitted, but the timer's won
    ([answered(1, 1)], {1: "confirmed"}, []),
])
def test_wrapups_lost(attempts, submitted, lost):
    assert inv.wrapups_lost(Snapshot(attempts, {}, {}), submitted) == lost


@pytest.mark.parametrize("attempts, leads, stuck", [
    ([live(1, 1), busy(2, 2)], {1: "in_progress", 2: "callable"}, []),
    ([busy(1, 1)], {1: "in_progress"}, [1]),  # the attempt is over, the lead still held
    ([answered(1, 1, wrapped=False)], {1: "in_progress", 2: "done"}, [1]),
])
def test_leads_stuck(attempts, leads, stuck):
    assert inv.leads_stuck(Snapshot(attempts, leads, {})) == stuck


@pytest.mark.parametrize("attempts, pairs", [
    ([busy(1, 1, at=10), busy(2, 1, at=11), busy(3, 2, at=10.2)], []),  # one after the other; other leads
    ([busy(1, 1, at=10), busy(2, 1, at=10.3)], [(1, 2)]),  # the second before the first ended
    ([live(1, 1, at=10), busy(2, 1, at=50)], [(1, 2)]),  # the first never ended
    ([busy(2, 1, at=10.3), busy(1, 1, at=10)], [(1, 2)]),  # whatever the order of the rows
])
def test_double_dials(attempts, pairs):
    assert inv.double_dials(Snapshot(attempts, {}, {})) == pairs


@pytest.mark.parametrize("operators, attempts, line_down, stuck", [
    ({1: "ready", 2: "in_call", 3: "wrap_up"}, [busy(1, 1, 1, 21), live(2, 2, 2, 22), answered(3, 3, 3, 20)],
     False, []),
    ({1: "ready", 2: "ready"}, [busy(1, 1, 1, 21), busy(2, 2, 2, 19)], False, [2]),  # no call since the fault
    ({1: "paused", 2: "ready"}, [busy(1, 1, 1, 21), busy(2, 2, 2, 21)], False, [1]),  # nobody pressed Pause
    ({1: "paused", 2: "offline"}, [], True, [2]),  # the line went down: paused is the contract, offline is not
])
def test_operators_stuck(operators, attempts, line_down, stuck):
    assert inv.operators_stuck(Snapshot(attempts, {}, operators), 20.0, line_down) == stuck


def test_recovered_is_the_first_originate_after_the_fault():
    s = Snapshot([busy(1, 1, at=5), busy(2, 2, at=23), A(3, 3, 1, 21, None, 22, "ERROR"), busy(4, 4, at=25)], {}, {})
    assert inv.recovered_s(s, 20.0) == pytest.approx(3.1)
    assert inv.recovered_s(s, 30.0) is None


def test_dialled_between_finds_originates_inside_the_window_only():
    s = Snapshot([busy(1, 1, at=9.8), busy(2, 2, at=11), A(3, 3, 1, 11, None, 12, "ERROR"), busy(4, 4, at=13)], {}, {})
    assert inv.dialled_between(s, 10.0, 13.0) == [2]


def test_a_report_is_a_problem_for_any_count_and_for_dialling_that_never_resumed():
    clean = {"recovered_s": 1.2, "attempts_lost": 0, "wrapups_lost": 0, "leads_stuck": 0, "double_dials": 0,
             "operators_stuck": 0}
    assert chaos.problems(clean) == {}
    assert chaos.problems({**clean, "leads_stuck": 2}) == {"leads_stuck": 2}
    assert chaos.problems({**clean, "recovered_s": None}) == {"recovered_s": None}
    assert chaos.problems({**clean, "dialled_while_ari_down": 1}) == {"dialled_while_ari_down": 1}


def test_the_summary_adds_the_counts_and_keeps_the_database_recovery():
    reports = [{"fault": "db_restart", "recovered_s": 1.5, "attempts_lost": 1, "wrapups_lost": 0, "leads_stuck": 1,
                "double_dials": 0, "operators_stuck": 0},
               {"fault": "ari_drop", "recovered_s": 0.5, "attempts_lost": 2, "wrapups_lost": 1, "leads_stuck": 0,
                "double_dials": 0, "operators_stuck": 3}]
    assert chaos.summary(reports) == {"faults": 2, "attempts_lost": 3, "wrapups_lost": 1, "leads_stuck": 1,
                                      "double_dials": 0, "operators_stuck": 3, "db_restart_recovered_s": 1.5}
