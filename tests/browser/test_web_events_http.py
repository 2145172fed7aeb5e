"""/events over real HTTP: Last-Event-ID catches up on reconnect; signed-out clients are refused."""
from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

from dialer.services import operators, users

from .conftest import PASSWORD


def _open(web_url, headers):
    parts = urlsplit(web_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("GET", "/events", headers=headers)
    return conn, conn.getresponse()


def _events(resp, n):
    out, current = [], {}
    while len(out) < n:
        line = resp.readline().decode().rstrip("\n")
        if line.startswith("id: "):
            current["id"] = int(line[4:]) if line[4:].isdigit() else line[4:]  # a cursor with gaps: "12_10"
        elif line.startswith("data: "):
            current["data"] = line[6:]
        elif line == "":  # a message without data only moves the stream's position (its id)
            if "data" in current:
                out.append(current)
            current = {}
    return out


def test_reconnect_with_last_event_id_gets_what_was_missed(accounts, web_url, db):
    op = operators.create_operator("Оператор Catch", "catch1", "secret-catch-1", [])
    session = users.sign_in("admin@example.org", PASSWORD)
    db.execute_sql("UPDATE operator SET status = 'ready' WHERE id = %s", (op["id"],))
    seen = db.execute_sql("SELECT max(id) FROM live_event").fetchone()[0]
    # while "disconnected": two more changes
    db.execute_sql("UPDATE operator SET status = 'paused' WHERE id = %s", (op["id"],))
    db.execute_sql("UPDATE operator SET status = 'lunch' WHERE id = %s", (op["id"],))
    conn, resp = _open(web_url, {"Cookie": f"dialer_session={session['token']}", "Last-Event-ID": str(seen)})
    try:
        assert resp.status == 200 and resp.getheader("content-type").startswith("text/event-stream")
        got = _events(resp, 2)
        assert [e["id"] for e in got] == [seen + 1, seen + 2]
        assert '"status":"paused"' in got[0]["data"] and '"status":"lunch"' in got[1]["data"]
    finally:
        conn.close()


def test_events_need_a_session(accounts, web_url):
    conn, resp = _open(web_url, {})
    assert resp.status == 401
    conn.close()


def test_an_open_stream_follows_role_changes_at_once(accounts, web_url, db):
    """Losing `operators.read` stops the events on the open stream; deactivation ends it."""
    op = operators.create_operator("Оператор Role", "role1", "secret-role-1", [])
    sup = users.create_user("sup@example.org", "Sup", "sup-password-1", [accounts["supervisor"]])
    session = users.sign_in("sup@example.org", "sup-password-1")
    conn, resp = _open(web_url, {"Cookie": f"dialer_session={session['token']}"})
    try:
        assert resp.status == 200
        resp.readline()  # "retry:" line
        resp.readline()
        db.execute_sql("UPDATE operator SET status = 'ready' WHERE id = %s", (op["id"],))
        assert '"status":"ready"' in _events(resp, 1)[0]["data"]
        users.update_user(sup["id"], role_ids=[accounts["tester"]], extra_permissions=[])  # tester: operators.read
        users.set_role_permissions(accounts["tester"], ["users.read"])                    # ... taken away
        time.sleep(0.5)
        db.execute_sql("UPDATE operator SET status = 'paused' WHERE id = %s", (op["id"],))
        users.set_role_permissions(accounts["tester"], ["users.read", "operators.read"])  # back
        time.sleep(0.5)
        db.execute_sql("UPDATE operator SET status = 'lunch' WHERE id = %s", (op["id"],))
        got = _events(resp, 1)
        assert '"status":"lunch"' in got[0]["data"]  # the 'paused' event never came
        users.set_active(sup["id"], False)
        assert resp.readline() == b""  # the server ended the stream
    finally:
        conn.close()
