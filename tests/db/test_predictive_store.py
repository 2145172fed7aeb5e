"""The engine's database side of predictive dialling against a real PostgreSQL (ari_app/predictive_store.py): the
campaign's claim with no operator, the abandon record the pacer is given, the hand-over, the autostop check."""
from __future__ import annotations

import time

import pytest

from ari_app import pacer
from ari_app import predictive_store as ps
from dialer.dev.testing import add_leads
from dialer.models import Attempt, Campaign, Lead
from dialer.outcomes import LOST_WHILE_AWAY
from dialer.services import campaigns, operators, pacing


@pytest.fixture
def campaign(db):
    cid = campaigns.create_campaign("Предиктивная", max_attempts=3, retry_delay_s=3600)["id"]
    pacing.update_pacing(cid, mode="predictive", window_answered=20)
    return cid


def attempt(db, cid, n, *, answered=None, bridged=None, ended=None, outcome=None, error=None, ago=60.0):
    """One attempt `ago` seconds back; answered/bridged/ended: seconds after its dial (None: not)."""
    lead = Lead.create(campaign=cid, external_id=f"X{n}", phone=f"+7999{n:07d}", name="", state="done")
    stamp = lambda s: None if s is None else f"{s - ago} seconds"  # noqa: E731 — offsets from now
    return db.execute_sql(
        "INSERT INTO attempt (lead_id, campaign_id, phone, reserved_at, dial_started_at, answered_at, bridged_at,"
        " ended_at, outcome, error) VALUES (%s, %s, %s, now() - %s::interval, now() - %s::interval,"
        " now() + %s::interval, now() + %s::interval, now() + %s::interval, %s, %s) RETURNING id",
        (lead.id, cid, lead.phone, f"{ago} seconds", f"{ago} seconds", stamp(answered), stamp(bridged), stamp(ended),
         outcome, error)).fetchone()[0]


def settings(cid) -> ps.CampaignPacing:
    [c] = [c for c in ps.campaigns(Campaign._meta.database) if c.campaign_id == cid]
    return c


def test_predictive_campaigns_with_their_pool_and_only_the_active_ones(db, campaign):
    op = operators.create_operator("Анна", "anna", "secret-anna-1", [campaign])
    c = settings(campaign)
    assert (c.pool, c.cap, c.grace_s, c.wait_timeout_s, c.window_answered) == (frozenset({op["id"]}), 0.03, 2.0, 20, 20)
    progressive = campaigns.create_campaign("Прогрессивная")["id"]
    assert progressive not in {c.campaign_id for c in ps.campaigns(db)}
    db.execute_sql("UPDATE campaign SET active = false WHERE id = %s", (campaign,))
    assert ps.campaigns(db) == []


def test_abandoned_is_answered_and_not_joined_within_the_grace(db, campaign):
    attempt(db, campaign, 1, answered=1, bridged=1.5, ended=30, outcome="ANSWERED")    # joined in 0.5 s
    attempt(db, campaign, 2, answered=1, bridged=4, ended=30, outcome="ANSWERED")      # joined after 3 s
    attempt(db, campaign, 3, answered=1, ended=21, outcome="LOST")                     # never joined
    attempt(db, campaign, 4, answered=59, ago=60)                                      # on hold for 1 s
    attempt(db, campaign, 5, answered=50, ago=60)                                      # on hold for 10 s
    attempt(db, campaign, 6, ended=10, outcome="NO_ANSWER")
    m = ps.measures(db, settings(campaign))
    assert m.windows == (pacer.Abandons(5, 3, last_n=20), pacer.Abandons(5, 3))  # last 20 answered (its size), the day
    assert (m.dialled, m.answered) == (4, 3)  # ended calls only
    assert sorted(round(t, 1) for t in m.talk) == [26.0, 28.5] and sorted(m.answer_delays) == [1.0, 1.0, 1.0]


def test_the_campaign_claim_opens_an_attempt_with_no_operator(db, campaign):
    add_leads(campaign, ["79000000001"])
    lead = ps.claim(db, campaign, "pbx", "n0", time.time())
    a = Attempt.get_by_id(lead.attempt_id)
    assert (a.operator_id, a.operator_answered_at, a.client_channel) == (None, None, f"at{a.id}-n0")
    assert Lead.get(Lead.phone == "+79000000001").state == "in_progress"
    assert ps.claim(db, campaign, "pbx", "n0", time.time()) is None  # the only lead is taken
    assert [r[0] for r in ps.open_calls(db)] == [a.id]
    op = operators.create_operator("Анна", "anna", "secret-anna-1", [campaign])
    ps.joined(db, a.id, op["id"], time.time(), 1.5)
    assert Attempt.get_by_id(a.id).operator_id == op["id"] and ps.open_calls(db) == []


def test_no_claim_for_a_stopped_campaign(db, campaign):
    add_leads(campaign, ["79000000001"])
    db.execute_sql("UPDATE campaign SET active = false WHERE id = %s", (campaign,))
    assert ps.claim(db, campaign, "pbx", "n0", time.time()) is None


def test_autostop_after_n_errors_in_a_row_and_a_confirmation_counts_afresh(db, campaign):
    pacing.update_pacing(campaign, autostop_errors=3, autostop_window_s=60)
    ids = [attempt(db, campaign, n, ended=1 + n, outcome="ERROR", error="503") for n in (1, 2)]
    assert not ps.check_autostop(db, ids[-1], pacing)  # two errors: not yet
    ids.append(attempt(db, campaign, 3, ended=4, outcome="ERROR", error="503"))
    assert ps.check_autostop(db, ids[-1], pacing)
    assert [e["attempt_id"] for e in pacing.get_pacing(campaign)["autostop"]["attempts"]] == ids
    assert not Campaign.get_by_id(campaign).active
    assert not ps.check_autostop(db, ids[-1], pacing)  # already stopped: once
    pacing.confirm_autostop(campaign)
    more = attempt(db, campaign, 4, ended=1, outcome="ERROR", ago=0)  # one more error after the confirmation
    assert not ps.check_autostop(db, more, pacing)


def test_another_outcome_breaks_the_run(db, campaign):
    pacing.update_pacing(campaign, autostop_errors=2, autostop_window_s=60)
    attempt(db, campaign, 1, ended=1, outcome="ERROR")
    attempt(db, campaign, 2, ended=2, outcome="BUSY")
    last = attempt(db, campaign, 3, ended=3, outcome="ERROR")
    assert not ps.check_autostop(db, last, pacing)


def test_calls_that_ended_while_the_engine_was_away_do_not_stop_the_campaign(db, campaign):
    """An engine restart with calls in flight ends each as ERROR (LOST_WHILE_AWAY): they neither count nor hide
    the real errors around them."""
    pacing.update_pacing(campaign, autostop_errors=3, autostop_window_s=60)
    away = [attempt(db, campaign, n, ended=n, outcome="ERROR", error=LOST_WHILE_AWAY) for n in (1, 2, 3, 4)]
    assert not ps.check_autostop(db, away[-1], pacing)
    assert Campaign.get_by_id(campaign).active
    real = [attempt(db, campaign, n, ended=n - 10, outcome="ERROR", error="503") for n in (5, 6)]
    assert not ps.check_autostop(db, real[-1], pacing)  # two real errors: not yet
    real.append(attempt(db, campaign, 7, ended=-3, outcome="ERROR", error="503"))
    assert ps.check_autostop(db, real[-1], pacing)
    assert [e["attempt_id"] for e in pacing.get_pacing(campaign)["autostop"]["attempts"]] == real

