"""Saved views of the report tables (SPEC G7): a table's filters, hidden columns and sort, saved by a user under a
name and, when the user may, shared with one role.

Who may do what (docs/reports.md): any holder of `reports.read` saves, renames over and deletes their *own* views
(a personal preference, like the language: the read-only tester too); sharing a view with a role publishes a
report definition to other people, so it needs `reports.export` (Supervisor and above; not the tester), and only
with a role that may read reports. A view shared with one of a user's roles is listed and applied for them, but
only its owner changes or deletes it.
"""
from __future__ import annotations

import json
from datetime import date
from urllib.parse import parse_qs

from .. import audit
from ..access import Principal, allowed
from ..errors import Forbidden, NotFound
from ..validation import database, integer, invalid, is_id, text
from . import report_calls, reports
from .reports_export import TABLES

TABLE_KEYS = ("report", "calls")
# which sortable tables each page has, and the columns a view may hide or sort by
PAGE_TABLES = {"report": ("campaigns", "operators"), "calls": ("calls",)}
MAX_QUERY = 4000
MAX_VIEWS = 200           # per user and page


def _columns(table: str) -> set[str]:
    return {c.key for c in TABLES[table][2]}


def check_state(table_key: str, state, zone: str, today: date) -> dict:
    """A view's state as sent by a page: {"query": "...", "hidden": {table: [col]}, "sort": {table: "col:asc"}}.
    The query must be a filter the page itself would accept."""
    if not isinstance(state, dict) or set(state) - {"query", "hidden", "sort"}:
        raise invalid("state", "must be an object with query, hidden and sort", "должно быть объектом с query, hidden и sort")
    query = text("state.query", state.get("query", ""), max_len=MAX_QUERY)
    params = parse_qs(query, keep_blank_values=False, max_num_fields=1000)
    reports.parse_filter(params, zone, today)
    if table_key == "calls" and params.get("sort"):
        report_calls.sort_key(params["sort"][0])
    hidden, sort = state.get("hidden", {}) or {}, state.get("sort", {}) or {}
    if not isinstance(hidden, dict) or not isinstance(sort, dict):
        raise invalid("state", "hidden and sort must be objects", "hidden и sort должны быть объектами")
    tables = PAGE_TABLES[table_key]
    for name, cols in hidden.items():
        if name not in tables or not isinstance(cols, list) or not set(cols) <= _columns(name) or len(cols) > 100:
            raise invalid("state.hidden", f"unknown table or column in {name!r}", f"неизвестная таблица или столбец: {name!r}")
    for name, value in sort.items():
        col, _, way = value.partition(":") if isinstance(value, str) else ("", "", "")
        if name not in tables or col not in _columns(name) or way not in ("asc", "desc"):
            raise invalid("state.sort", f"unknown sort {value!r} for {name!r}", f"неизвестная сортировка {value!r} для {name!r}")
    return {"query": query, "hidden": hidden, "sort": sort}


def _owner(who: Principal) -> int:
    if who.user_id is None:  # the API token is the installation, not a person with views of their own
        raise Forbidden("views-need-a-user", "saved views belong to a signed-in user",
                        message_ru="сохранённые виды принадлежат пользователю, вошедшему в систему")
    return who.user_id


def _table_key(value) -> str:
    if value not in TABLE_KEYS:
        raise invalid("table", "must be one of: " + ", ".join(TABLE_KEYS), "допустимые значения: " + ", ".join(TABLE_KEYS))
    return value


_COLS = "v.id, v.owner_id, u.name, v.table_key, v.name, v.state, v.shared_role_id, r.code, r.title_ru, r.title_en"
_FROM = " FROM report_view v JOIN app_user u ON u.id = v.owner_id LEFT JOIN role r ON r.id = v.shared_role_id"


def _dict(row, who: Principal) -> dict:
    keys = ("id", "owner_id", "owner_name", "table", "name", "state", "shared_role_id", "shared_role", "role_ru", "role_en")
    d = dict(zip(keys, row))
    d["mine"] = d["owner_id"] == who.user_id
    return d


def list_views(who: Principal, table_key) -> list[dict]:
    """The user's own views of a page and those shared with one of their roles; own first, by name."""
    reports.require(who, reports.READ)
    table_key = _table_key(table_key)
    if who.user_id is None:
        return []
    rows = database().execute_sql(
        f"SELECT {_COLS}{_FROM} WHERE v.table_key = %s AND (v.owner_id = %s OR r.code = ANY(%s))"
        " ORDER BY v.owner_id <> %s, lower(v.name), v.id LIMIT %s",
        (table_key, who.user_id, list(who.roles), who.user_id, MAX_VIEWS)).fetchall()
    return [_dict(r, who) for r in rows]


def get_view(who: Principal, view_id) -> dict:
    """A view the user may apply (own, or shared with one of their roles); 404 otherwise."""
    reports.require(who, reports.READ)
    row = None
    if is_id(view_id) and who.user_id is not None:
        row = database().execute_sql(f"SELECT {_COLS}{_FROM} WHERE v.id = %s AND (v.owner_id = %s OR r.code = ANY(%s))",
                                     (view_id, who.user_id, list(who.roles))).fetchone()
    if row is None:
        raise NotFound("view-not-found", f"view {view_id} does not exist", message_ru=f"вид {view_id} не найден")
    return _dict(row, who)


def _shareable_role(who: Principal, role_id) -> int | None:
    if role_id is None:
        return None
    if not allowed(who, reports.EXPORT):
        raise Forbidden("not-permitted", f"sharing a view needs the permission {reports.EXPORT}",
                        permission=reports.EXPORT, message_ru=f"чтобы поделиться видом, нужно право {reports.EXPORT}")
    integer("shared_role_id", role_id, 1, 2**63 - 1)
    found = database().execute_sql(
        "SELECT r.id, bool_or(p.permission = %s) FROM role r LEFT JOIN role_permission p ON p.role_id = r.id"
        " WHERE r.id = %s GROUP BY r.id", (reports.READ, role_id)).fetchone()
    if found is None:
        raise invalid("shared_role_id", f"role {role_id} does not exist", f"роль {role_id} не найдена")
    if not found[1]:
        raise invalid("shared_role_id", "this role cannot read reports", "у этой роли нет права смотреть отчёты")
    return role_id


def save_view(who: Principal, table_key, name, state, shared_role_id=None, *, zone: str, today: date) -> dict:
    """Save (or save over, by name) one of the user's own views."""
    reports.require(who, reports.READ)
    owner = _owner(who)
    table_key = _table_key(table_key)
    name = text("name", name, max_len=100, min_len=1)
    state = check_state(table_key, state, zone, today)
    role_id = _shareable_role(who, shared_role_id)
    db = database()
    with db.atomic():
        old = db.execute_sql("SELECT id, state, shared_role_id FROM report_view WHERE owner_id = %s AND table_key = %s"
                             " AND name = %s FOR UPDATE", (owner, table_key, name)).fetchone()
        if old is None:
            (count,) = db.execute_sql("SELECT count(*) FROM report_view WHERE owner_id = %s AND table_key = %s",
                                      (owner, table_key)).fetchone()
            if count >= MAX_VIEWS:
                raise invalid("name", f"at most {MAX_VIEWS} views per page", f"не больше {MAX_VIEWS} видов на страницу")
            (view_id,) = db.execute_sql(
                "INSERT INTO report_view (owner_id, table_key, name, state, shared_role_id) VALUES (%s, %s, %s, %s, %s)"
                " RETURNING id", (owner, table_key, name, json.dumps(state, ensure_ascii=False), role_id)).fetchone()
            audit.record(db, "created", "report_view", view_id, name=f"Сохранён вид отчёта «{name}»",
                         new={"table": table_key, "name": name, "state": state, "shared_role_id": role_id})
        else:
            view_id = old[0]
            db.execute_sql("UPDATE report_view SET state = %s, shared_role_id = %s, updated_at = now() WHERE id = %s",
                           (json.dumps(state, ensure_ascii=False), role_id, view_id))
            audit.record(db, "updated", "report_view", view_id, name=f"Изменён вид отчёта «{name}»",
                         old={"state": old[1], "shared_role_id": old[2]}, new={"state": state, "shared_role_id": role_id})
    return get_view(who, view_id)


def delete_view(who: Principal, view_id) -> dict:
    """Only the owner deletes a view: a view shared with the user's role is someone else's (403)."""
    view = get_view(who, view_id)
    if not view["mine"]:
        raise Forbidden("view-not-yours", f"view {view_id} belongs to {view['owner_name']}",
                        message_ru=f"вид {view_id} принадлежит пользователю {view['owner_name']}")
    db = database()
    with db.atomic():
        db.execute_sql("DELETE FROM report_view WHERE id = %s", (view["id"],))
        audit.record(db, "deleted", "report_view", view["id"], name=f"Удалён вид отчёта «{view['name']}»",
                     old={"table": view["table"], "name": view["name"], "state": view["state"]})
    return {"id": view["id"], "deleted": True}
