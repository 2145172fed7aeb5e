"""The «Операторы» section (SPEC F5, F6, C7): the overview, an operator made in one go (device, pools, skills,
user account), linking an account, and the bulk CSV import of operators with their devices.

These compose the single-purpose use cases (operators, devices, rules.skills, users) in one transaction, and
check the permissions each part needs beyond the route's own: creating a device needs `sip.edit`, pools
`operators.pools`, skills `operators.update`, a new account `users.create`, linking one `users.update`.
"""
from __future__ import annotations

from rules import skills as skills_mod

from ..access import Principal, allowed
from ..errors import Forbidden, Invalid, NotFound
from ..models import Campaign, Operator, OperatorCampaign, OperatorSkill
from ..validation import choice, database, existing_operator, invalid, is_id, iso, text
from . import devices, operators, users
from .operator_csv import Line, parse as parse_csv

ACCOUNT_MODES = ("none", "link", "create")


def require(who: Principal | None, permission: str) -> None:
    """`who` None: the system (CLI, tests) may do everything."""
    if who is not None and not allowed(who, permission):
        raise Forbidden("not-permitted", f"this needs the permission {permission}", permission=permission,
                        message_ru=f"для этого нужно право {permission}")


# ---- reading -------------------------------------------------------------------------------------------------
def overview() -> dict:
    """Every operator with status, pools, skills, device and its registration, and user account."""
    ops = list(Operator.select().order_by(Operator.active.desc(), Operator.name, Operator.id))
    campaigns = [{"id": cid, "name": name, "active": active} for cid, name, active in
                 Campaign.select(Campaign.id, Campaign.name, Campaign.active).order_by(Campaign.name, Campaign.id).tuples()]
    pools: dict[int, list[int]] = {}
    for oid, cid in OperatorCampaign.select(OperatorCampaign.operator, OperatorCampaign.campaign).tuples():
        pools.setdefault(oid, []).append(cid)
    skills: dict[int, list[dict]] = {}
    for oid, skill, level in OperatorSkill.select(OperatorSkill.operator, OperatorSkill.skill, OperatorSkill.level) \
            .order_by(OperatorSkill.skill).tuples():
        skills.setdefault(oid, []).append({"skill": skill, "level": level})
    phones = devices.registrations_by_operator()
    accounts = {oid: {"id": uid, "email": email, "active": active} for uid, email, active, oid in database().execute_sql(
        "SELECT id, email, active, operator_id FROM app_user WHERE operator_id IS NOT NULL").fetchall()}
    rows = [{"id": o.id, "name": o.name, "login": o.login, "status": o.status, "since": iso(o.status_since),
             "active": o.active, "server": o.server, "campaign_ids": sorted(pools.get(o.id, [])),
             "skills": skills.get(o.id, []), "device": phones.get(o.id), "user": accounts.get(o.id)}
            for o in ops]
    return {"operators": rows, "campaigns": campaigns}


def operator_card(operator_id) -> dict:
    o = existing_operator(operator_id)
    row = next(r for r in overview()["operators"] if r["id"] == o.id)
    free_users = database().execute_sql(
        "SELECT id, email, name FROM app_user WHERE operator_id IS NULL OR operator_id = %s ORDER BY email",
        (o.id,)).fetchall()
    device = devices.get_device(row["device"]["device_id"]) if row["device"] else None
    return {**row, "device": device, "free_users": [{"id": i, "email": e, "name": n} for i, e, n in free_users]}


# ---- creating in one go ------------------------------------------------------------------------------------
def create(who: Principal | None, name, login, *, device=True, sip_password=None, campaign_ids=(), skills=(),
           account=None) -> dict:
    """An operator, their device (same login), pools, skills and user account, all or nothing. `account`:
    None / {"mode": "none"} · {"mode": "link", "user_id"} · {"mode": "create", "email", "password", "language"}.
    The answer has the SIP password (and nothing else secret) once."""
    account = account or {"mode": "none"}
    mode = choice("account", account.get("mode", "none") if isinstance(account, dict) else None, ACCOUNT_MODES)
    if device:
        require(who, "sip.edit")
    if campaign_ids:
        require(who, "operators.pools")
    if skills:
        require(who, "operators.update")
    if mode == "create":
        require(who, "users.create")
    elif mode == "link":
        require(who, "users.update")
    db = database()
    with db.atomic():
        created = operators.create_operator(name, login, sip_password, list(campaign_ids), device=bool(device))
        if skills:
            skills_mod.set_skills(created["id"], list(skills))
        if mode == "link":
            link_account(who, created["id"], account.get("user_id"))
        elif mode == "create":
            create_account(who, created["id"], account.get("email"), account.get("password"),
                           account.get("language", "ru"), name=name)
    return created


def link_account(who: Principal | None, operator_id, user_id) -> dict:
    """The user who works as this operator (None: nobody). A user linked elsewhere is moved here; the
    operator's previous user is unlinked."""
    require(who, "users.update")
    if user_id is not None and not is_id(user_id):
        raise invalid("user_id", "must be a user id", "должен быть номером пользователя")
    db = database()
    with db.atomic():
        o = existing_operator(operator_id, lock=True)
        current = db.execute_sql("SELECT id FROM app_user WHERE operator_id = %s", (o.id,)).fetchone()
        if user_id is not None and not db.execute_sql("SELECT 1 FROM app_user WHERE id = %s", (user_id,)).fetchone():
            raise NotFound("user-not-found", f"user {user_id} does not exist", field="user_id",
                           message_ru=f"пользователь {user_id} не найден")
        if current and current[0] != user_id:
            users.update_user(current[0], operator_id=None)
        if user_id is not None and (not current or current[0] != user_id):
            users.update_user(user_id, operator_id=o.id)
    return {"operator_id": o.id, "user_id": user_id}


def create_account(who: Principal | None, operator_id, email, password, language="ru", *, name=None) -> dict:
    """A new user account with the Operator role, linked to this operator (who must not have one yet)."""
    require(who, "users.create")
    db = database()
    with db.atomic():
        o = existing_operator(operator_id, lock=True)
        if db.execute_sql("SELECT 1 FROM app_user WHERE operator_id = %s", (o.id,)).fetchone():
            raise users._operator_taken(o.id)
        role = db.execute_sql("SELECT id FROM role WHERE code = 'operator'").fetchone()
        user = users.create_user(email, name or o.name, password, [role[0]] if role else [], o.id, language)
    return {"operator_id": o.id, "user_id": user["id"], "email": user["email"]}


def set_skills(who: Principal | None, operator_id, skills) -> dict:
    require(who, "operators.update")
    return skills_mod.set_skills(operator_id, skills)


# ---- bulk import -------------------------------------------------------------------------------------------
def import_csv(who: Principal | None, data, *, servers=None) -> dict:
    """Operators with their devices from one CSV, all or nothing: any bad line → 422 listing every bad line by
    its number, and nothing is written. Otherwise every line is created in one transaction; the answer lists
    each operator with their SIP password (generated where the file had none), once."""
    require(who, "operators.create")
    require(who, "sip.edit")
    parsed = parse_csv(data)
    if any(line.campaigns for line in parsed.lines):
        require(who, "operators.pools")
    if any(line.skills for line in parsed.lines):
        require(who, "operators.update")
    problems = list(parsed.problems)
    campaigns = _campaigns_by_name()
    taken = {login for (login,) in database().execute_sql(
        "SELECT login FROM operator UNION SELECT login FROM sip_device").fetchall()}
    for line in parsed.lines:
        problems += _line_problems(line, campaigns, taken)
    if problems:
        problems.sort(key=lambda p: p["line"])
        listed = "; ".join(f"line {p['line']}: {p['field']}: {p['message']}" for p in problems[:50])
        listed_ru = "; ".join(f"строка {p['line']}: {p['field']}: {p['message_ru']}" for p in problems[:50])
        raise Invalid("import-invalid", f"{len(problems)} problem(s), nothing imported: {listed}",
                      message_ru=f"ошибок: {len(problems)}, ничего не импортировано: {listed_ru}", problems=problems)
    out = []
    with database().atomic():
        for line in parsed.lines:
            created = operators.create_operator(line.name, line.login, line.sip_password,
                                                [campaigns[c] for c in line.campaigns])
            if line.skills:
                skills_mod.set_skills(created["id"], [{"skill": k, "level": v} for k, v in line.skills.items()])
            out.append({"line": line.number, "id": created["id"], "name": created["name"], "login": created["login"],
                        "sip_password": created["sip_password"], "campaign_ids": created["campaign_ids"]})
    return {"created": len(out), "operators": out}


def _campaigns_by_name() -> dict[str, int]:
    """A campaign in the file is named by its name (any case) or its number."""
    out: dict[str, int] = {}
    for cid, name in Campaign.select(Campaign.id, Campaign.name).tuples():
        out[name.strip().lower()] = cid
        out[str(cid)] = cid
    return out


def _line_problems(line: Line, campaigns: dict[str, int], taken: set[str]) -> list[dict]:
    """Everything the services would refuse for this line, found before anything is written."""
    found = []

    def bad(field, message, message_ru):
        found.append({"line": line.number, "field": field, "message": message, "message_ru": message_ru})

    for field, check in (("name", lambda v: text("name", v, min_len=1, max_len=200)),
                         ("login", devices.check_login)):
        try:
            check(getattr(line, field))
        except Invalid as e:
            bad(field, e.message.split(": ", 1)[-1], e.details.get("message_ru", e.message).split(": ", 1)[-1])
    if line.login in taken:
        bad("login", f"{line.login!r} is already used", f"«{line.login}» уже занят")
    if line.sip_password is not None and devices.password_problem(line.sip_password):
        bad("sip_password", devices.PASSWORD_RULE[0], devices.PASSWORD_RULE[1])
    for c in line.campaigns:
        if c not in campaigns:
            bad("campaigns", f"no campaign {c!r}", f"нет кампании «{c}»")
    return found
