"""The audit log (SPEC I1): who changed what, when, with the old and new value of every changed field.

Services call `record(...)` inside the transaction that makes the change, so the entry and the change
commit or roll back together. Who is acting comes from `acting_as(...)`, set once per web request (or
CLI command); without it the entry names the system.
"""
from __future__ import annotations

import contextvars
import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from peewee import Database


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    name: str
    role: str
    ip: str = ""


SYSTEM = Actor(None, "system", "system")
_actor: contextvars.ContextVar[Actor] = contextvars.ContextVar("audit_actor", default=SYSTEM)

ACTIONS = ("created", "updated", "deleted", "custom")


@contextmanager
def acting_as(actor: Actor):
    """Entries recorded inside this block (also in threads started from it) name `actor`."""
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


def current_actor() -> Actor:
    return _actor.get()


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    return value


def changes(old: dict | None, new: dict | None, secret: frozenset[str] = frozenset()) -> dict:
    """{field: [old, new]} for each field that differs; secret fields are masked, never stored."""
    old, new = old or {}, new or {}
    out = {}
    for field in sorted(old.keys() | new.keys()):
        before, after = _plain(old.get(field)), _plain(new.get(field))
        if before != after:
            out[field] = ["***" if field in secret and before is not None else before,
                          "***" if field in secret and after is not None else after]
    return out


_INSERT = ("INSERT INTO audit_log (user_id, user_name, user_role, action, name, object_type, object_id,"
           " changes, ip) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)")


def record(db: Database, action: str, object_type: str, object_id, *, name: str,
           old: dict | None = None, new: dict | None = None, secret: frozenset[str] = frozenset()) -> None:
    """Write one entry; call it inside the transaction of the change it describes."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    who = current_actor()
    db.execute_sql(_INSERT, (who.user_id, who.name, who.role, action, name, object_type,
                             "" if object_id is None else str(object_id),
                             json.dumps(changes(old, new, secret), ensure_ascii=False, default=str), who.ip))
