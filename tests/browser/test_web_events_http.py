"""/events over real HTTP: Last-Event-ID catches up on reconnect; signed-out clients are refused."""
from __future__ import annotations

import http.client
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
        line = resp.fp.readline().decode().rstrip("\n")
        if line.startswith("id: "):
            current["id"] = int(line[4:])
        elif line.startswith("data: "):
            current["data"] = line[6:]
        elif line == "" and "id" in current:
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
