"""bench.supervisor's plain clients of the live path, in a process of their own (so that the benchmark can give it the
browser's share of the cores, and what they measure is the path, not the benchmark's own process waiting for one):

- notified: a LISTEN on `live_event` (dialer.listen's channel): an operator's change → its NOTIFY read here, the
  database's part of arrive_ms (the engine's commit, PostgreSQL's delivery to a listening backend and to us);
- served: the supervisor's /events?batch=1 (the browser's own stream, same cookies): the change → its event read
  here, the database's and the web's parts together.

    python -m bench.supervisor_wire '{"dsn": {...}, "base": "http://host:port", "cookie": "..."}'

Runs until its stdin closes, then prints one JSON object: {"notified": [[t_ms, lag_ms], ...], "served": [...],
"messages": [[t_ms, kinds], ...]}, t the wall-clock ms when read, lag the ms since the change's `since` (the
status_since the engine stamped); `messages`: each message of the stream (one event or a batch) and the kinds it
carried, in order (which of them the page has no use for: bench.supervisor `stream_messages`).
"""
from __future__ import annotations

import json
import select
import sys
import threading
import time
from datetime import datetime


def _lag(since: str | None) -> tuple[float, float] | None:
    if not since:
        return None
    t = time.time() * 1000
    return t, t - datetime.fromisoformat(since).timestamp() * 1000


def notified(dsn: dict, out: list, stop: threading.Event) -> None:
    import psycopg2
    import psycopg2.extensions

    conn = psycopg2.connect(**dsn, application_name="bench-wire")
    conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    conn.cursor().execute('LISTEN "live_event"')
    while not stop.is_set():
        if not select.select([conn], [], [], 0.5)[0]:
            continue
        conn.poll()
        for n in conn.notifies:
            try:
                event = json.loads(n.payload)
            except ValueError:
                continue
            if event.get("kind") == "operator.status" and (lag := _lag((event.get("data") or {}).get("since"))):
                out.append(lag)
        conn.notifies.clear()
    conn.close()


def served(base: str, cookie: str, out: list, stop: threading.Event, messages: list | None = None) -> None:
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    conn.request("GET", "/events?batch=1", headers={"Accept": "text/event-stream", "Cookie": cookie})
    response = conn.getresponse()
    kind = None
    try:
        for raw in response:
            if stop.is_set():
                break
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            if line.startswith("data: ") and messages is not None and kind:
                kinds = [k for k, _ in json.loads(line[6:])] if kind == "batch" else [kind]
                messages.append((time.time() * 1000, kinds))
            if line.startswith("data: ") and kind == "operator.status":
                if lag := _lag(json.loads(line[6:]).get("since")):
                    out.append(lag)
            elif line.startswith("data: ") and kind == "batch":
                for k, data in json.loads(line[6:]):
                    if k == "operator.status" and (lag := _lag(data.get("since"))):
                        out.append(lag)
            elif not line:
                kind = None
    except Exception:  # noqa: BLE001  (closed at the end of the run)
        pass


def main() -> None:
    config = json.loads(sys.argv[1])
    stop = threading.Event()
    got: dict[str, list] = {"notified": [], "served": [], "messages": []}
    threads = [threading.Thread(target=notified, args=(config["dsn"], got["notified"], stop), daemon=True),
               threading.Thread(target=served, daemon=True,
                                args=(config["base"], config["cookie"], got["served"], stop, got["messages"]))]
    for t in threads:
        t.start()
    sys.stdin.read()  # until the benchmark closes it
    stop.set()
    print(json.dumps(got))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
