"""Server-side prepared statements for the statements run on every call (the claim, opening an attempt).

psycopg2 sends each statement as text with its values filled in, so PostgreSQL plans it every time: 1–2 ms
for the claim's statements, more than running them. `execute` PREPAREs a statement once per server session
(with `$n` parameters, never values in its text) and EXECUTEs it with the values afterwards.

The statement is given as psycopg2 writes it (`%s` or `%(name)s`, `%%` for a percent sign) with its values.
Parameter types come from `types` (by position or name) or from the first call's values; a value whose
type cannot be told (None) is left to PostgreSQL to infer from where it is used.
"""
from __future__ import annotations

import hashlib
import re
import threading
from datetime import date, datetime, time
from decimal import Decimal

_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?s|%%")
_INT4 = 2 ** 31
PER_SESSION = 500  # a session holding more deallocates them all (every saved rule makes new statements)


def pg_type(value) -> str:
    """The PostgreSQL type a value is prepared as ("unknown": inferred from its use)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer" if -_INT4 <= value < _INT4 else "bigint"
    if isinstance(value, Decimal):
        return "numeric"
    if isinstance(value, float):
        return "double precision"
    if isinstance(value, str):
        return "text"
    if isinstance(value, datetime):
        return "timestamptz" if value.tzinfo is not None else "timestamp"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    if isinstance(value, (list, tuple)) and value:
        inner = {pg_type(v) for v in value}
        if len(inner) == 1 and (t := inner.pop()) != "unknown":
            return t + "[]"
    return "unknown"


def convert(sql: str) -> tuple[str, list]:
    """psycopg2's placeholders → `$n`; the list of what each `$n` is (a position or a name)."""
    order: list = []
    names: dict[str, int] = {}

    def place(m: re.Match) -> str:
        if m.group(0) == "%%":
            return "%"
        name = m.group(1)
        if name is None:
            order.append(len(order))
            return f"${len(order)}"
        if name not in names:
            order.append(name)
            names[name] = len(order)
        return f"${names[name]}"

    return _PLACEHOLDER.sub(place, sql), order


class _Statements:
    """What each server session has prepared, by its backend process id (a pooled connection keeps its
    statements; a new connection has a new pid and prepares again)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_session: dict[tuple[int, int], set[str]] = {}
        self.converted: dict[str, tuple[str, list]] = {}

    def session(self, conn) -> set[str]:
        key = (id(conn), conn.get_backend_pid())
        found = self.by_session.get(key)
        if found is None:
            with self.lock:
                if len(self.by_session) > 4096:  # connections come and go over weeks
                    self.by_session.clear()
                found = self.by_session.setdefault(key, set())
        return found


_statements = _Statements()


def execute(db, sql: str, params=(), types: dict | None = None, prepare: bool = True):
    """Run a statement prepared on this connection's server session; returns the cursor. With `prepare`
    false it is sent as it is, planned for these values (for statements whose best plan depends on them)."""
    if not prepare:
        return db.execute_sql(sql, params)
    found = _statements.converted.get(sql)
    if found is None:
        found = convert(sql)
        _statements.converted[sql] = found
    text, order = found
    values = [params[k] for k in order]
    declared = [(types or {}).get(k) or pg_type(v) for k, v in zip(order, values)]
    name = "p_" + hashlib.sha1(f"{text}\0{declared}".encode()).hexdigest()[:20]
    prepared = _statements.session(db.connection())
    if name not in prepared:
        if len(prepared) >= PER_SESSION:
            db.execute_sql("DEALLOCATE ALL", ())
            prepared.clear()
        header = f"({', '.join(declared)})" if declared else ""
        db.execute_sql(f"PREPARE {name}{header} AS {text}".replace("%", "%%"), ())
        prepared.add(name)
    if values:
        return db.execute_sql(f"EXECUTE {name}({', '.join(['%s'] * len(values))})", values)
    return db.execute_sql(f"EXECUTE {name}", ())
