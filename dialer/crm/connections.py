"""CRM connection settings, status mapping and result mapping: validated (every field's problem at once,
in Russian and English), audited in the change's transaction, tokens never shown back in full."""
from __future__ import annotations

import re
import secrets
from urllib.parse import quote, urlsplit

import phonenumbers

from .. import audit
from .. import validation as f
from ..errors import Invalid
from . import policy, store
from .adapters import KINDS

SECRET = frozenset({"token", "inbound_token"})
_KEY_FIELD = re.compile(r"^additional([1-9]|1[0-9]|2[0-5])$")


class Problems:
    def __init__(self):
        self.items: list[dict] = []

    def check(self, field: str, fn, *args, **kwargs):
        try:
            return fn(field, *args, **kwargs)
        except Invalid as e:
            self.add(field, e.message, e.details.get("message_ru", e.message))

    def add(self, field: str, message: str, message_ru: str):
        self.items.append({"field": field, "message": message, "message_ru": message_ru})

    def raise_any(self):
        if self.items:
            raise Invalid("invalid-fields", "; ".join(p["message"] for p in self.items),
                          message_ru="; ".join(p["message_ru"] for p in self.items), problems=self.items)


def _url(field, value):
    value = f.text(field, value, max_len=500)
    parts = urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment):
        raise f.invalid(field, "must be an http(s) URL without query, e.g. https://shop.leadvertex.ru/api/admin",
                        "должен быть адресом http(s) без параметров, например https://shop.leadvertex.ru/api/admin")
    return value


def _country(field, value):
    if not isinstance(value, str) or value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise f.invalid(field, "must be a two-letter country code such as RU", "должен быть кодом страны, например RU")
    return value.upper()


def _key_field(field, value):
    if not isinstance(value, str) or not _KEY_FIELD.match(value):
        raise f.invalid(field, "must be additional1 … additional25", "должно быть additional1 … additional25")
    return value


def _order_url_template(field, value):
    value = f.text(field, value, max_len=500)
    parts = urlsplit(value.replace("{id}", "1"))
    if value and (parts.scheme not in ("http", "https") or not parts.hostname or "{id}" not in value):
        raise f.invalid(field, "must be an http(s) URL containing {id}, e.g. https://shop.example/orders/{id}",
                        "должен быть адресом http(s) с {id}, например https://shop.example/orders/{id}")
    return value


def order_url(template: str, external_id: str) -> str | None:
    """The order in the CRM's UI (SPEC D5); None when the connection has no template."""
    return template.replace("{id}", quote(external_id, safe="")) if template else None


def lead_order_link(db, lead_id: int) -> dict:
    row = db.execute_sql("SELECT l.external_id, c.id, c.name, c.order_url_template FROM lead l"
                         " JOIN crm_connection c ON c.id = l.crm_connection_id WHERE l.id = %s", (lead_id,)).fetchone()
    if row is None:
        return {"lead_id": lead_id, "url": None}
    external_id, connection_id, name, template = row
    return {"lead_id": lead_id, "external_id": external_id, "connection_id": connection_id, "connection": name,
            "url": order_url(template, external_id)}


CHECKS = {"name": lambda k, v: f.text(k, v, max_len=200, min_len=1), "base_url": _url,
          "token": lambda k, v: f.text(k, v, max_len=200), "pull_interval_s": lambda k, v: f.integer(k, v, 5, 86400),
          "alert_after_s": lambda k, v: f.integer(k, v, 30, 86400), "key_field": _key_field,
          "default_country": _country, "enabled": f.boolean, "push_enabled": f.boolean,
          "order_url_template": _order_url_template}


def _validated(values: dict, problems: Problems, creating: bool) -> dict:
    out = {}
    for key, value in values.items():
        if key not in CHECKS:
            problems.add(key, "unknown field", "неизвестное поле")
            continue
        checked = problems.check(key, CHECKS[key], value)
        if checked is not None:
            out[key] = checked
    return out


def public(conn: dict) -> dict:
    """A connection as the API shows it: the CRM token masked, the inbound token never."""
    hidden = {"token", "inbound_token"}
    view = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in conn.items() if k not in hidden}
    return {**view, "token": policy.mask(conn["token"]), "token_set": bool(conn["token"])}


def create_connection(db, values: dict) -> dict:
    problems = Problems()
    kind = problems.check("kind", f.choice, values.get("kind"), KINDS)
    campaign_id = values.get("campaign_id")
    if not f.is_id(campaign_id) or db.execute_sql("SELECT 1 FROM campaign WHERE id = %s",
                                                  (campaign_id,)).fetchone() is None:
        problems.add("campaign_id", f"campaign {campaign_id} does not exist", f"кампания {campaign_id} не найдена")
    rest = _validated({k: v for k, v in values.items() if k not in ("kind", "campaign_id")}, problems, True)
    if "name" not in rest and not any(p["field"] == "name" for p in problems.items):
        problems.add("name", "name: must not be empty", "name: не может быть пустым")
    if kind == "leadvertex":
        for required in ("base_url", "token"):
            if not rest.get(required) and not any(p["field"] == required for p in problems.items):
                problems.add(required, f"{required}: required for LeadVertex", f"{required}: обязательно для LeadVertex")
    if rest.get("name") and db.execute_sql("SELECT 1 FROM crm_connection WHERE name = %s",
                                           (rest["name"],)).fetchone():
        problems.add("name", "name: a connection with this name exists", "name: подключение с таким именем уже есть")
    problems.raise_any()
    inbound = secrets.token_urlsafe(24)
    columns = {"kind": kind, "campaign_id": campaign_id, "inbound_token": inbound, **rest}
    if kind == "generic":
        columns.setdefault("push_enabled", bool(rest.get("base_url")))
    with db.atomic():
        names = list(columns)
        new_id = db.execute_sql(
            f"INSERT INTO crm_connection ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))}) RETURNING id",
            [columns[n] for n in names]).fetchone()[0]  # column names come from CHECKS, never from the request
        audit.record(db, "created", "crm_connection", new_id, name=columns["name"], new=columns, secret=SECRET)
    return {**public(store.connection(db, new_id)), "inbound_token": inbound}  # shown once, at creation


def update_connection(db, connection_id: int, changes: dict) -> dict:
    current = store.connection(db, connection_id)
    problems = Problems()
    changes = dict(changes)
    campaign_id = changes.pop("campaign_id", current["campaign_id"])
    if campaign_id != current["campaign_id"]:
        if not f.is_id(campaign_id) or db.execute_sql("SELECT 1 FROM campaign WHERE id = %s",
                                                      (campaign_id,)).fetchone() is None:
            problems.add("campaign_id", f"campaign {campaign_id} does not exist", f"кампания {campaign_id} не найдена")
    values = _validated(changes, problems, False)
    if campaign_id != current["campaign_id"]:
        values["campaign_id"] = campaign_id  # new orders go there; leads already imported stay where they are
    if current["kind"] == "leadvertex":
        for required in ("base_url", "token"):
            if required in values and not values[required]:
                problems.add(required, f"{required}: required for LeadVertex", f"{required}: обязательно для LeadVertex")
    if values.get("name") and values["name"] != current["name"] and db.execute_sql(
            "SELECT 1 FROM crm_connection WHERE name = %s AND id <> %s", (values["name"], connection_id)).fetchone():
        problems.add("name", "name: a connection with this name exists", "name: подключение с таким именем уже есть")
    problems.raise_any()
    changed = {k: v for k, v in values.items() if current[k] != v}
    if not changed:
        return public(current)
    with db.atomic():
        sets = ", ".join(f"{k} = %s" for k in changed)  # keys are CHECKS' names (and campaign_id) only
        db.execute_sql(f"UPDATE crm_connection SET {sets} WHERE id = %s", [*changed.values(), connection_id])
        audit.record(db, "updated", "crm_connection", connection_id, name=current["name"],
                     old={k: current[k] for k in changed}, new=changed, secret=SECRET)
    return public(store.connection(db, connection_id))


def rotate_inbound_token(db, connection_id: int) -> dict:
    current = store.connection(db, connection_id)
    token = secrets.token_urlsafe(24)
    with db.atomic():
        db.execute_sql("UPDATE crm_connection SET inbound_token = %s WHERE id = %s", (token, connection_id))
        audit.record(db, "updated", "crm_connection", connection_id, name=current["name"],
                     old={"inbound_token": current["inbound_token"]}, new={"inbound_token": token}, secret=SECRET)
    return {"inbound_token": token}


def list_connections(db) -> list[dict]:
    cur = db.execute_sql("SELECT * FROM crm_connection ORDER BY id")
    names = [c[0] for c in cur.description]
    return [public(dict(zip(names, r))) for r in cur.fetchall()]


def status_map(db, connection_id: int) -> list[dict]:
    store.connection(db, connection_id)
    rows = db.execute_sql("SELECT status_id, name, status_group, action, postpone_minutes FROM crm_status_map"
                          " WHERE connection_id = %s ORDER BY status_id", (connection_id,)).fetchall()
    return [{"status_id": s, "name": n, "group": g, "action": a, "postpone_minutes": m,
             "action_title": policy.ACTION_TITLES.get(a)} for s, n, g, a, m in rows]


def set_status_map(db, connection_id: int, items) -> list[dict]:
    """[{status_id, action (call|postpone|hold|final|null), postpone_minutes}] for known statuses."""
    conn = store.connection(db, connection_id)
    known = {r["status_id"]: r for r in status_map(db, connection_id)}
    problems, rows = Problems(), []
    if not isinstance(items, list):
        problems.add("statuses", "must be a list", "должен быть списком")
        items = []
    for i, item in enumerate(items):
        item = item if isinstance(item, dict) else {}
        sid, action = str(item.get("status_id", "")), item.get("action")
        if sid not in known:
            problems.add(f"statuses[{i}].status_id", f"unknown CRM status {sid!r}", f"неизвестный статус CRM {sid!r}")
        if action is not None:
            problems.check(f"statuses[{i}].action", f.choice, action, policy.ACTIONS)
        minutes = problems.check(f"statuses[{i}].postpone_minutes", f.integer, item.get("postpone_minutes", 60),
                                 1, 525600)
        rows.append((sid, action, minutes))
    problems.raise_any()
    with db.atomic():
        for sid, action, minutes in rows:
            db.execute_sql("UPDATE crm_status_map SET action = %s, postpone_minutes = %s"
                           " WHERE connection_id = %s AND status_id = %s", (action, minutes, connection_id, sid))
        audit.record(db, "updated", "crm_status_map", connection_id, name=conn["name"],
                     old={s: [known[s]["action"], known[s]["postpone_minutes"]] for s, _, _ in rows},
                     new={s: [a, m] for s, a, m in rows})
    return status_map(db, connection_id)


def result_map(db, connection_id: int) -> list[dict]:
    store.connection(db, connection_id)
    rows = db.execute_sql("SELECT result_code, status_id, comment_template FROM crm_result_map"
                          " WHERE connection_id = %s ORDER BY result_code", (connection_id,)).fetchall()
    return [{"result_code": r, "status_id": s, "comment_template": t} for r, s, t in rows]


def set_result_map(db, connection_id: int, items) -> list[dict]:
    """Replace the mapping: [{result_code, status_id (or null), comment_template}]."""
    conn = store.connection(db, connection_id)
    statuses = {r["status_id"] for r in status_map(db, connection_id)}
    problems, rows = Problems(), []
    if not isinstance(items, list):
        problems.add("results", "must be a list", "должен быть списком")
        items = []
    for i, item in enumerate(items):
        item = item if isinstance(item, dict) else {}
        code = item.get("result_code")
        if not isinstance(code, str) or not re.fullmatch(r"[a-z0-9_]{1,40}", code):
            problems.add(f"results[{i}].result_code", "must be 1–40 of a-z, 0-9, _", "1–40 символов a-z, 0-9, _")
        sid = item.get("status_id")
        if sid is not None and str(sid) not in statuses:
            problems.add(f"results[{i}].status_id", f"unknown CRM status {sid!r}", f"неизвестный статус CRM {sid!r}")
        template = problems.check(f"results[{i}].comment_template", lambda k, v: f.text(k, v, max_len=2000,
                                  multiline=True), item.get("comment_template", "{result_title}: {comment}"))
        unknown = policy.unknown_placeholders(template or "")
        if unknown:
            problems.add(f"results[{i}].comment_template", f"unknown placeholders: {', '.join(unknown)}; known: "
                         + ", ".join(policy.TEMPLATE_FIELDS), f"неизвестные подстановки: {', '.join(unknown)}")
        rows.append((code, None if sid is None else str(sid), template))
    if len({r[0] for r in rows}) != len(rows):
        problems.add("results", "a result code appears twice", "код результата повторяется")
    problems.raise_any()
    before = {r["result_code"]: [r["status_id"], r["comment_template"]] for r in result_map(db, connection_id)}
    with db.atomic():
        db.execute_sql("DELETE FROM crm_result_map WHERE connection_id = %s", (connection_id,))
        for code, sid, template in rows:
            db.execute_sql("INSERT INTO crm_result_map (connection_id, result_code, status_id, comment_template)"
                           " VALUES (%s, %s, %s, %s)", (connection_id, code, sid, template))
        audit.record(db, "updated", "crm_result_map", connection_id, name=conn["name"], old=before,
                     new={c: [s, t] for c, s, t in rows})
    return result_map(db, connection_id)
