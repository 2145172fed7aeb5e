"""What must hold after a fault (DESIGN "Faults we survive"), checked the same way by the chaos test tier
(tests/chaos) and by `python -m bench.chaos`: nothing lost, nothing stuck, nothing twice.

The rules are pure functions over rows read in one snapshot, so each is tested from tables
(tests/chaos/test_invariants.py) and a failure names the attempts, leads and operators concerned.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import psycopg2

from dialer.outcomes import Outcome

WORKING = frozenset({"ready", "in_call", "wrap_up"})
LINE_DOWN = WORKING | {"paused"}  # where the line itself went down, a pause (until Ready) is the contract
CLASSIFIED = frozenset(o.value for o in Outcome)


@dataclass(frozen=True)
class AttemptRow:
    id: int
    lead_id: int
    operator_id: int | None
    reserved_at: float
    dial_started_at: float | None = None
    ended_at: float | None = None
    outcome: str | None = None
    wrap_up_at: float | None = None
    wrap_up_result: str | None = None
    owes_crm: bool = False  # its lead came from a CRM that takes results back
    in_outbox: bool = False


@dataclass(frozen=True)
class Snapshot:
    attempts: list[AttemptRow]
    leads: dict[int, str]  # id → state
    operators: dict[int, str]  # id → status

    @property
    def live(self) -> list[AttemptRow]:
        return [a for a in self.attempts if a.ended_at is None]

    @property
    def unwrapped(self) -> list[AttemptRow]:
        """Answered calls whose wrap-up is still to come (or was lost)."""
        return [a for a in self.attempts if a.outcome == Outcome.ANSWERED and a.wrap_up_at is None]


# ---- the rules ------------------------------------------------------------------------------------
def attempts_lost(s: Snapshot) -> list[int]:
    """Attempts never ended, or ended without one of the six outcomes."""
    return [a.id for a in s.attempts if a.ended_at is None or a.outcome not in CLASSIFIED]


def wrapups_lost(s: Snapshot, submitted: dict[int, str] | None = None) -> list[int]:
    """Answered attempts without their wrap-up, with a wrap-up other than the one the operator submitted,
    or whose result never reached the CRM outbox."""
    submitted = submitted or {}
    return [a.id for a in s.attempts if a.outcome == Outcome.ANSWERED and (
        a.wrap_up_at is None or (a.id in submitted and a.wrap_up_result != submitted[a.id])
        or (a.owes_crm and not a.in_outbox))]


def leads_stuck(s: Snapshot) -> list[int]:
    """Leads `in_progress` that no live attempt holds: nobody will ever move them on."""
    held = {a.lead_id for a in s.live}
    return sorted(lead for lead, state in s.leads.items() if state == "in_progress" and lead not in held)


def double_dials(s: Snapshot) -> list[tuple[int, int]]:
    """Pairs of attempts of one lead whose spans (reserved → ended, open while live) overlap."""
    by_lead: dict[int, list[AttemptRow]] = {}
    for a in s.attempts:
        by_lead.setdefault(a.lead_id, []).append(a)
    pairs = []
    for attempts in by_lead.values():
        attempts.sort(key=lambda a: a.reserved_at)
        for i, a in enumerate(attempts):
            end = math.inf if a.ended_at is None else a.ended_at
            pairs += [(a.id, b.id) for b in attempts[i + 1:] if b.reserved_at < end]
    return pairs


def operators_stuck(s: Snapshot, since: float, line_down: bool = False) -> list[int]:
    """Operators not working again after the fault ended at `since`: not Ready / in a call / in wrap-up,
    or (where their line stayed up) not given a single call since. Where the line went down, a pause is
    what the engine promises instead."""
    if line_down:
        return sorted(op for op, status in s.operators.items() if status not in LINE_DOWN)
    called = {a.operator_id for a in s.attempts if a.reserved_at >= since}
    return sorted(op for op, status in s.operators.items() if status not in WORKING or op not in called)


def dialled_between(s: Snapshot, start: float, end: float) -> list[int]:
    """Clients dialled while the engine could not hear their events (the ARI websocket down)."""
    return [a.id for a in s.attempts if a.dial_started_at is not None and start < a.dial_started_at < end]


def recovered_s(s: Snapshot, since: float) -> float | None:
    """Fault end → the next client originate (None: dialling never resumed)."""
    started = [a.dial_started_at for a in s.attempts if a.dial_started_at is not None and a.dial_started_at >= since]
    return round(min(started) - since, 3) if started else None


def losses(s: Snapshot, submitted: dict[int, str] | None = None) -> dict:
    """The counts of one fault's report, and what they count (for a failing test's message)."""
    found = {"attempts_lost": attempts_lost(s), "wrapups_lost": wrapups_lost(s, submitted),
             "leads_stuck": leads_stuck(s), "double_dials": double_dials(s)}
    return {**{k: len(v) for k, v in found.items()}, "details": {k: v[:20] for k, v in found.items() if v}}


# ---- reading the snapshot --------------------------------------------------------------------------
_ATTEMPTS_SQL = """
SELECT a.id, a.lead_id, a.operator_id, extract(epoch FROM a.reserved_at), extract(epoch FROM a.dial_started_at),
       extract(epoch FROM a.ended_at), a.outcome, extract(epoch FROM a.wrap_up_at), a.wrap_up_result,
       coalesce(c.push_enabled, false), o.id IS NOT NULL
  FROM attempt a JOIN lead l ON l.id = a.lead_id
  LEFT JOIN crm_connection c ON c.id = l.crm_connection_id
  LEFT JOIN crm_outbox o ON o.attempt_id = a.id
 ORDER BY a.id"""


def snapshot(dsn: dict) -> Snapshot | None:
    """One consistent read on a connection of its own (the pools of the process under test may hold
    connections a database restart killed); None while PostgreSQL does not answer."""
    try:
        conn = psycopg2.connect(connect_timeout=3, **dsn)
    except psycopg2.OperationalError:
        return None
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cur:
            cur.execute(_ATTEMPTS_SQL)
            attempts = [AttemptRow(r[0], r[1], r[2], *(None if v is None else float(v) for v in r[3:6]), r[6],
                                   None if r[7] is None else float(r[7]), *r[8:]) for r in cur.fetchall()]
            cur.execute("SELECT id, state FROM lead")
            leads = dict(cur.fetchall())
            cur.execute("SELECT id, status FROM operator")
            operators = dict(cur.fetchall())
        return Snapshot(attempts, leads, operators)
    except psycopg2.Error:
        return None
    finally:
        conn.close()
