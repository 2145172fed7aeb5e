"""Predictive dialling end to end (SPEC B2, B3, B4): real pbx + sim Asterisk, real PostgreSQL, the engine in its
own process. The campaign's measured history is written by the test (440 calls, 20 answered, none abandoned), so
the pacer is past its small-sample rule and, at that answer rate, dials three calls for the one Ready operator; every client the sim gives
here answers and stays on the line (7900000xxxx), so the ones beyond the operator wait on hold."""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest

from dialer.dev.testing import add_leads, command_all, make_operators, poll, until
from dialer.models import Attempt, Campaign, Lead, Operator
from dialer.services import campaigns, pacing

pytestmark = pytest.mark.e2e
STAYS = "7900000"  # answers and stays on the line until pbx hangs up


def predictive_campaign(**settings) -> int:
    cid = campaigns.create_campaign(name="Предиктивная", max_attempts=1, retry_delay_s=3600, ring_timeout_s=10,
                                    wrap_up_limit_s=1)["id"]
    values = dict(mode="predictive", max_ratio=3, abandon_cap_percent=10, wait_timeout_s=60, min_sample_calls=10)
    values.update(settings)
    pacing.update_pacing(cid, **values)
    return cid


def measured_history(cid: int, dialled: int = 440, answered: int = 20) -> None:
    """Calls of the last minutes: `answered` talked 5 s and were joined at once, the rest rang 10 s unanswered."""
    db = Attempt._meta.database
    db.execute_sql(
        "WITH l AS (INSERT INTO lead (campaign_id, external_id, phone, name, state)"
        "           SELECT %(c)s, 'H' || g, '+7999' || lpad(g::text, 7, '0'), 'История', 'done'"
        "             FROM generate_series(1, %(n)s) g RETURNING id, phone, external_id)"
        " INSERT INTO attempt (lead_id, campaign_id, phone, reserved_at, dial_started_at, answered_at, bridged_at,"
        "                      ended_at, wrap_up_at, outcome)"
        " SELECT l.id, %(c)s, l.phone, t, t, CASE WHEN a THEN t + interval '1 s' END,"
        "        CASE WHEN a THEN t + interval '1.2 s' END,"
        "        CASE WHEN a THEN t + interval '6 s' ELSE t + interval '10 s' END,"
        "        CASE WHEN a THEN t + interval '7 s' END, CASE WHEN a THEN 'ANSWERED' ELSE 'NO_ANSWER' END"
        "   FROM (SELECT *, substr(external_id, 2)::int <= %(a)s AS a,"
        "                clock_timestamp() - interval '5 min' + substr(external_id, 2)::int * interval '0.5 s' AS t"
        "           FROM l) l",
        {"c": cid, "n": dialled, "a": answered})


def pbx_bridges(settings, what: str = "bridges") -> list[dict]:
    server = settings.asterisk_servers[0]
    req = urllib.request.Request(server.ari_url + "/" + what)
    req.add_header("Authorization", "Basic " + base64.b64encode(
        f"{server.ari_user}:{server.ari_password}".encode()).decode())
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def on_hold(settings, cid: int) -> set[str]:
    """Client channels in the campaign's holding bridge, as ARI lists it (a holding bridge, music started on it)."""
    return {ch for b in pbx_bridges(settings) if b["id"] == f"hold-c{cid}" and b["bridge_type"] == "holding"
            for ch in b["channels"]}


def calls(cid: int):
    """The campaign's calls of this run (not the measured history)."""
    return Attempt.select().where(Attempt.campaign == cid, Attempt.phone.startswith("+79000"))


def music_in(settings, cid: int) -> bool:
    """Music on hold plays in the holding bridge: ARI's music-on-hold announcer channel sits in it (CLI, field 13:
    the bridge)."""
    from dialer.dev import instances
    rows = [line.split("!") for line in instances.rx(settings, "pbx", "core show channels concise").splitlines()]
    return any(r[0].startswith("Announcer/ARI_MOH") and len(r) > 12 and r[12] == f"hold-c{cid}" for r in rows)


def live(cid: int):
    return calls(cid).where(Attempt.ended_at.is_null())


def ready_with_line(operator_id: int) -> bool:
    return Operator.select().where(Operator.id == operator_id, Operator.status == "ready",
                                   Operator.leg_channel.is_null(False)).exists()


def held_clients(engine, cid: int, count: int) -> list[Attempt]:
    """Wait until `count` answered clients of the campaign sit in its holding bridge; their attempts."""
    until(lambda: len(on_hold(engine.settings, cid)) >= count, 30, message=f"{count} clients on hold")
    channels = list(on_hold(engine.settings, cid))
    until(lambda: Attempt.select().where(Attempt.client_channel.in_(channels), Attempt.answered_at.is_null(False))
          .count() == len(channels), 10, message="their answers written")
    attempts = list(Attempt.select().where(Attempt.client_channel.in_(channels)))
    assert len(attempts) == len(channels) and not any(a.bridged_at for a in attempts)
    assert all(a.operator_id is None for a in attempts)  # no operator holds them yet
    return attempts


def start(engine, wait_timeout_s: int = 60, **settings):
    """The first operator talks to the campaign's first client, then the campaign turns predictive: with that
    operator expected free soon (the history's talks last 5 s), the pacer dials the two other clients, who answer
    at once and wait on hold. (Predictive from the start, the pacer could dial the first client itself, or the
    operator's own claim could: which one won decided whether one or two clients ended up on hold.)"""
    cid = predictive_campaign(wait_timeout_s=wait_timeout_s, mode="progressive", **settings)
    measured_history(cid)
    first, second = make_operators(engine.settings, cid, 2)
    add_leads(cid, [f"{STAYS}{i:04d}" for i in range(3)])
    command_all([first["id"]], "ready")
    until(lambda: calls(cid).where(Attempt.operator == first["id"], Attempt.bridged_at.is_null(False)).exists(), 20,
          message="the first operator talking")
    pacing.update_pacing(cid, mode="predictive")
    return cid, first, second


def test_clients_answered_while_nobody_is_free_wait_with_music_and_join_the_first_operator_to_become_ready(engine):
    cid, first, second = start(engine)
    # the first operator talks to one client; the pacer dials two more for them: both wait on hold
    held = held_clients(engine, cid, 2)
    assert music_in(engine.settings, cid)
    until(lambda: calls(cid).where(Attempt.bridged_at.is_null(False)).count() == 1, 10,
          message="the first client joined to the Ready operator")
    talking = calls(cid).where(Attempt.bridged_at.is_null(False)).get()
    assert talking.operator_id == first["id"] and talking.client_channel not in {a.client_channel for a in held}
    assert calls(cid).count() == 3
    longest = min(held, key=lambda a: (a.answered_at, a.id))
    command_all([second["id"]], "ready")  # the second operator comes: the client waiting longest is theirs
    until(lambda: Attempt.get_by_id(longest.id).bridged_at is not None, 30, message="the held client joined")
    joined = Attempt.get_by_id(longest.id)
    assert joined.operator_id == second["id"] and joined.ended_at is None
    assert joined.client_channel not in on_hold(engine.settings, cid)
    other = next(a for a in held if a.id != longest.id)
    assert Attempt.get_by_id(other.id).bridged_at is None and other.client_channel in on_hold(engine.settings, cid)
    # the clients hang up: the talks are ANSWERED, the one who never reached an operator LOST
    from dialer.dev import instances
    instances.rx(engine.settings, "sim", "channel request hangup all")
    until(lambda: live(cid).count() == 0, 20, message="every call to end")
    outcomes = {a.id: a.outcome for a in calls(cid)}
    assert outcomes == {talking.id: "ANSWERED", joined.id: "ANSWERED", other.id: "LOST"}


def test_past_the_wait_timeout_the_held_client_hears_the_message_and_is_lost(engine):
    cid, first, _ = start(engine, wait_timeout_s=2)
    held = held_clients(engine, cid, 2)
    until(lambda: all(Attempt.get_by_id(a.id).ended_at for a in held), 30, message="the waits to time out")
    for a in (Attempt.get_by_id(a.id) for a in held):
        assert (a.outcome, a.operator_id, a.bridged_at) == ("LOST", None, None)
        assert a.error == "nobody free within 2 s"
        assert (a.ended_at - a.answered_at).total_seconds() >= 2  # held for the whole wait, then the message
    log = open(engine.log_path).read()
    assert log.count("nobody free within 2 s; message and hangup") == 2
    assert not on_hold(engine.settings, cid)
    # counted as abandoned: the day's record now holds the two, and the pacer sees them
    talking = calls(cid).where(Attempt.bridged_at.is_null(False)).get()
    assert talking.operator_id == first["id"]


def playback(settings, playback_id: str) -> dict | None:
    try:
        return pbx_bridges(settings, f"playbacks/{playback_id}")
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def test_after_the_grace_a_held_client_hears_the_safe_harbour_message_over_the_music(engine):
    cid, first, _ = start(engine, safe_harbour_message=True, grace_s=1)
    held = held_clients(engine, cid, 2)
    # ARI's own playback of the message, on each held client's channel, while they stay in the holding bridge
    for a in held:
        seen = until(lambda: playback(engine.settings, f"harbour-{a.client_channel}"), 10,
                     message="the safe-harbour message playing")
        assert (seen["target_uri"], seen["media_uri"]) == (f"channel:{a.client_channel}",
                                                           "sound:queue-periodic-announce")
    assert {a.client_channel for a in held} <= on_hold(engine.settings, cid) and music_in(engine.settings, cid)
    log = open(engine.log_path).read()
    assert log.count("still waiting after the grace, safe-harbour message") == 2  # once each, not the joined one


MIXED = ["7900003", "7900101", "7900003", "7900201", "7900003", "7900003", "7900101", "7900003"]


def test_over_a_run_of_mixed_numbers_the_lost_rate_stays_under_the_cap(engine):
    """Three operators, short talks, busy and declining numbers mixed in: the pacer dials ahead (the log says so)
    and the clients it could not join in time stay within the campaign's cap."""
    cid = predictive_campaign(abandon_cap_percent=10, wait_timeout_s=3)
    measured_history(cid, dialled=48, answered=30)
    ops = make_operators(engine.settings, cid, 3)
    add_leads(cid, [f"{MIXED[i % len(MIXED)]}{i:04d}" for i in range(80)])
    command_all([o["id"] for o in ops], "ready")
    answered = lambda: calls(cid).where(Attempt.answered_at.is_null(False), Attempt.ended_at.is_null(False))
    until(lambda: answered().count() >= 12, 40, 0.2, message="12 answered calls over")
    command_all([o["id"] for o in ops], "pause")
    done = list(answered())
    lost = [a for a in done if a.outcome == "LOST"]
    late = [a for a in done if a.bridged_at is None or (a.bridged_at - a.answered_at).total_seconds() > 2]
    assert len(lost) <= 0.10 * len(done) and len(late) <= 0.10 * len(done), (len(lost), len(late), len(done))
    assert "predictive, predicted" in open(engine.log_path).read()  # it did dial ahead, not only progressively


def test_a_run_over_a_dead_trunk_stops_the_campaign_after_exactly_n_errors_until_a_supervisor_confirms(engine):
    cid = campaigns.create_campaign(name="Мёртвый канал", max_attempts=3, retry_delay_s=3600, ring_timeout_s=5,
                                    wrap_up_limit_s=1)["id"]
    pacing.update_pacing(cid, mode="predictive", autostop_errors=3, autostop_window_s=60)
    add_leads(cid, [f"79004{i:06d}" for i in range(10)])  # the network fails: 503, cause 34 → ERROR
    [op] = make_operators(engine.settings, cid, 1)
    command_all([op["id"]], "ready")
    until(lambda: not Campaign.get_by_id(cid).active, 30, message="the campaign to stop itself")
    assert poll(lambda: Attempt.select().where(Attempt.campaign == cid).count() > 3, 2) is None  # dials nothing more
    attempts = list(Attempt.select().where(Attempt.campaign == cid).order_by(Attempt.id))
    assert [a.outcome for a in attempts] == ["ERROR"] * 3
    state = pacing.get_pacing(cid)["autostop"]
    assert state and [e["attempt_id"] for e in state["attempts"]] == [a.id for a in attempts]
    db = Attempt._meta.database
    alert = db.execute_sql("SELECT text_en FROM alert WHERE kind = 'campaign_autostop' AND campaign_id = %s"
                           " AND cleared_at IS NULL", (cid,)).fetchone()
    assert alert and "3 errors in a row" in alert[0]
    assert db.execute_sql("SELECT count(*) FROM audit_log WHERE object_type = 'campaign' AND object_id = %s"
                          " AND name = 'Кампания остановлена автоматически'", (str(cid),)).fetchone()[0] == 1
    pacing.confirm_autostop(cid)  # the supervisor confirms: it dials again (and stops again after three more)
    until(lambda: Attempt.select().where(Attempt.campaign == cid).count() > 3, 20, message="dialling to resume")
    until(lambda: not Campaign.get_by_id(cid).active, 30, message="the second stop")
    assert Attempt.select().where(Attempt.campaign == cid).count() == 6


def test_engine_killed_while_clients_wait_on_hold_readopts_them_on_restart(engine):
    cid, first, second = start(engine)
    held = held_clients(engine, cid, 2)
    engine.kill()
    engine.restart()
    assert {a.client_channel for a in held} <= on_hold(engine.settings, cid)  # still waiting with music
    assert music_in(engine.settings, cid)
    assert all(Attempt.get_by_id(a.id).ended_at is None for a in held)
    longest = min(held, key=lambda a: (a.answered_at, a.id))
    command_all([second["id"]], "ready")
    until(lambda: Attempt.get_by_id(longest.id).bridged_at is not None, 30, message="a re-adopted client joined")
    assert Attempt.get_by_id(longest.id).operator_id == second["id"]
    from dialer.dev import instances
    instances.rx(engine.settings, "sim", "channel request hangup all")
    until(lambda: live(cid).count() == 0, 20, message="nothing left open")
    outcomes = {a.id: a.outcome for a in calls(cid)}
    other = next(a.id for a in held if a.id != longest.id)
    talking = next(i for i in outcomes if i not in {a.id for a in held})
    # the talk that began before the kill stays a talk; the client who never reached an operator is LOST
    assert outcomes == {talking: "ANSWERED", longest.id: "ANSWERED", other: "LOST"}
    assert Lead.select().where(Lead.campaign == cid, Lead.state == "in_progress").count() == \
        Operator.select().where(Operator.status == "wrap_up").count()
    until(lambda: not on_hold(engine.settings, cid), 5, message="the holding bridge empty")
