"""Operators on several Asterisk servers (sql/021_asterisk_servers.sql, ari_app/servers.py) on a real PostgreSQL."""
from __future__ import annotations

import time

import pytest

from ari_app import servers
from dialer.errors import Invalid
from dialer.models import Operator, SipDevice
from dialer.services import devices, operators

SERVERS = ("pbx", "pbx2")


def server_of(operator_id):
    return Operator.get_by_id(operator_id).server


def test_an_operator_is_on_the_server_of_their_device_whoever_moves_it(db):
    anna = operators.create_operator("Анна", "anna", "secret-anna-1")["id"]
    boris = operators.create_operator("Борис", "boris", "secret-boris-1")["id"]
    assert (server_of(anna), server_of(boris)) == ("pbx", "pbx")
    device = SipDevice.get(SipDevice.login == "anna").id
    devices.update_device(device, servers=SERVERS, server="pbx2")
    assert (server_of(anna), server_of(boris)) == ("pbx2", "pbx")  # only the device's own operator moves
    with pytest.raises(Invalid):
        devices.update_device(device, servers=SERVERS, server="pbx9")  # not one of the installation's servers
    assert server_of(anna) == "pbx2"
    # a seat's phone given to an operator brings them to its server
    seat = devices.create_device("seat-7", "secret-seat-7", servers=SERVERS, seat="Место 7", server="pbx2")["id"]
    SipDevice.update(operator=None).where(SipDevice.login == "boris").execute()
    devices.update_device(seat, servers=SERVERS, operator_id=boris)
    assert server_of(boris) == "pbx2"
    assert servers.operator_server(db, boris) == "pbx2"


def reason_of(db, operator_id):
    return db.execute_sql("SELECT pause_reason FROM operator WHERE id = %s", (operator_id,)).fetchone()[0]


def set_status(db, operator_id, status):
    db.execute_sql("UPDATE operator SET status = %s WHERE id = %s", (status, operator_id))


def test_the_pause_reason_lasts_until_the_operator_works_again(db):
    oid = operators.create_operator("Анна", "anna", "secret-anna-1")["id"]
    set_status(db, oid, "ready")
    servers.note_pause_reason(db, oid, "Asterisk server pbx2 is unreachable")
    assert reason_of(db, oid) is None  # still Ready: the pause it would explain has not been written yet
    set_status(db, oid, "wrap_up")
    servers.note_pause_reason(db, oid, "Asterisk server pbx2 is unreachable")
    for status in ("wrap_up", "paused", "paused"):
        set_status(db, oid, status)
        assert reason_of(db, oid) == "Asterisk server pbx2 is unreachable", status
    set_status(db, oid, "ready")
    assert reason_of(db, oid) is None


def test_operators_whose_line_went_with_the_server_just_before_its_websocket_get_the_reason_too(db):
    ids = [operators.create_operator(f"Оператор {i}", f"op{i}", f"secret-op-{i}")["id"] for i in range(3)]
    set_status(db, ids[0], "paused")  # paused by the shutdown's own hang-ups a moment ago
    set_status(db, ids[1], "lunch")  # went to lunch: not the loss's
    db.execute_sql("UPDATE operator SET status = 'paused', status_since = now() - interval '1 hour' WHERE id = %s",
                   (ids[2],))  # paused long before
    servers.note_recent_pauses(db, ids, "Asterisk server pbx2 is unreachable", time.time() - 3)
    assert [reason_of(db, i) for i in ids] == ["Asterisk server pbx2 is unreachable", None, None]


def test_one_alert_per_lost_server_while_it_is_lost(db):
    def open_alerts():
        return db.execute_sql("SELECT object_key, text_ru FROM alert WHERE kind = 'asterisk_lost' "
                              "AND cleared_at IS NULL ORDER BY 1").fetchall()

    servers.raise_alert(db, "pbx2")
    servers.raise_alert(db, "pbx2")  # the engine finds it lost again (a restart of the engine): still one
    servers.raise_alert(db, "pbx")
    assert [k for k, _ in open_alerts()] == ["asterisk:pbx", "asterisk:pbx2"]
    assert "pbx2" in open_alerts()[1][1] and "недоступен" in open_alerts()[1][1]
    servers.clear_alert(db, "pbx2")
    assert [k for k, _ in open_alerts()] == ["asterisk:pbx"]
    servers.raise_alert(db, "pbx2")  # lost once more: a new alert
    assert [k for k, _ in open_alerts()] == ["asterisk:pbx", "asterisk:pbx2"]


def test_the_pause_reason_reaches_the_supervisors_screen_live_and_on_reading(db):
    from dialer.access import Principal
    from dialer.permissions import ROLES
    from dialer.services import supervisor as sv
    perms = {code: p for code, _, _, p in ROLES}["supervisor"]
    anna = operators.create_operator("Анна", "anna", "secret-anna-1")["id"]
    Operator.update(status="ready").where(Operator.id == anna).execute()
    Operator.update(status="paused").where(Operator.id == anna).execute()
    last = db.execute_sql("SELECT max(id) FROM live_event").fetchone()[0]
    servers.note_pause_reason(db, anna, "сервер pbx2 недоступен")
    [(kind, data)] = db.execute_sql("SELECT kind, data FROM live_event WHERE id > %s", (last,)).fetchall()
    assert kind == "operator.status"
    assert (data["status"], data["pause_reason"]) == ("paused", "сервер pbx2 недоступен")
    board = sv.board(Principal(None, "С", ("supervisor",), perms))
    [row] = [o for o in board["operators"] if o["id"] == anna]
    assert row["pause_reason"] == "сервер pbx2 недоступен"
    # the same reason noted again sends nothing; Ready clears it, and that status event says so
    last = db.execute_sql("SELECT max(id) FROM live_event").fetchone()[0]
    servers.note_pause_reason(db, anna, "сервер pbx2 недоступен")
    assert db.execute_sql("SELECT count(*) FROM live_event WHERE id > %s", (last,)).fetchone()[0] == 0
    Operator.update(status="ready").where(Operator.id == anna).execute()
    [(data,)] = db.execute_sql("SELECT data FROM live_event WHERE id > %s AND kind = 'operator.status'",
                               (last,)).fetchall()
    assert (data["status"], data["pause_reason"]) == ("ready", None)
