"""Operator use cases: accounts, campaign pools, and commands to the engine.

The engine is the only writer of operator state; these functions only insert `engine_command`
rows (a trigger NOTIFYs the engine) after checking what can be checked here.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from peewee import IntegrityError

from rules import postpone

from .. import audit, commands
from ..access import Acting, may_act_on
from ..errors import Conflict, Forbidden, NotFound
from ..models import Attempt, Campaign, CampaignResult, Lead, Operator, OperatorCampaign, SipDevice
from ..validation import existing_operator
from . import devices
from . import fields as f

LOGIN_RE = re.compile(r"^[a-z0-9_.-]{2,40}$")
REQUESTS = ("ready", "pause", "lunch", "hangup")


def _login(value) -> str:
    value = f.text("login", value, min_len=2, max_len=40)
    if not LOGIN_RE.match(value):
        raise f.invalid("login", "only a-z, 0-9, '_', '.', '-' (2 to 40 characters)",
                        "только a-z, 0-9, «_», «.», «-» (от 2 до 40 символов)")
    return value


def _password(value) -> str:
    """The SIP password of the operator's device: generated, or typed and meeting the devices' policy."""
    if value is None:
        return devices.generate_password()
    return devices.check_password(value, field="sip_password")


def _campaign_ids(value) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(f.is_id(v) for v in value):
        raise f.invalid("campaign_ids", "must be a list of campaign ids",
                        "должен быть списком номеров кампаний")
    ids = sorted(set(value))
    known = {c.id for c in Campaign.select(Campaign.id).where(Campaign.id.in_(ids))} if ids else set()
    unknown = [i for i in ids if i not in known]
    if unknown:
        listed = ", ".join(map(str, unknown))
        raise NotFound("campaign-not-found", f"campaign(s) {listed} do not exist",
                       campaign_ids=unknown, message_ru=f"кампании не найдены: {listed}")
    return ids


def _login_taken(login: str) -> Conflict:
    return Conflict("operator-login-taken", f"login {login!r} is already used", field="login",
                    message_ru=f"логин «{login}» уже занят")


def create_operator(name, login, sip_password=None, campaign_ids=(), *, device: bool = True) -> dict:
    """An operator and (by default) their SIP device under the same login, which the engine dials
    (PJSIP/<login>). The answer carries the device's password once, so the softphone can be set up."""
    name = f.text("name", name, min_len=1, max_len=200)
    login = _login(login)
    password = _password(sip_password) if device else None
    try:
        with f.database().atomic():
            ids = _campaign_ids(campaign_ids)
            if Operator.select().where(Operator.login == login).exists() \
                    or SipDevice.select().where(SipDevice.login == login).exists():
                raise _login_taken(login)
            operator_id = Operator.insert(name=name, login=login).execute()
            _replace_pool(operator_id, ids)
            new = {"name": name, "login": login, "campaign_ids": ids}
            audit.record(f.database(), "created", "operator", operator_id, name="Оператор создан",
                         new={**new, "sip_password": password} if device else new, secret=frozenset({"sip_password"}))
            if device:
                devices.create_device(login, password, operator_id=operator_id)
    except IntegrityError:
        raise _login_taken(login) from None
    out = get_operator(operator_id)
    return {**out, "sip_password": password} if device else out


def _replace_pool(operator_id: int, campaign_ids: list[int]):
    OperatorCampaign.delete().where(OperatorCampaign.operator == operator_id).execute()
    if campaign_ids:
        OperatorCampaign.insert_many(
            [{"operator": operator_id, "campaign": cid} for cid in campaign_ids]).execute()


def set_campaigns(operator_id, campaign_ids) -> dict:
    """Replace the operator's campaign pools with exactly `campaign_ids`."""
    with f.database().atomic():
        existing_operator(operator_id)
        before, ids = _pools([int(operator_id)])[int(operator_id)], _campaign_ids(campaign_ids)
        _replace_pool(operator_id, ids)
        audit.record(f.database(), "updated", "operator", operator_id, name="Пулы кампаний оператора изменены",
                     old={"campaign_ids": before}, new={"campaign_ids": sorted(ids)})
    return get_operator(operator_id)


def _pools(operator_ids: list[int]) -> dict[int, list[int]]:
    pools = {oid: [] for oid in operator_ids}
    rows = (OperatorCampaign.select(OperatorCampaign.operator, OperatorCampaign.campaign)
            .where(OperatorCampaign.operator.in_(operator_ids))
            .order_by(OperatorCampaign.campaign).tuples())
    for oid, cid in rows:
        pools[oid].append(cid)
    return pools


def _as_dict(o: Operator, campaign_ids: list[int]) -> dict:
    return {"id": o.id, "name": o.name, "login": o.login, "server": o.server, "status": o.status, "active": o.active,
            "status_since": f.iso(o.status_since), "attempt_id": o.attempt_id,
            "campaign_ids": campaign_ids, "created_at": f.iso(o.created_at)}


def get_operator(operator_id) -> dict:
    o = existing_operator(operator_id)
    return _as_dict(o, _pools([o.id])[o.id])


def list_operators() -> list[dict]:
    operators = list(Operator.select().order_by(Operator.id))
    pools = _pools([o.id for o in operators]) if operators else {}
    return [_as_dict(o, pools[o.id]) for o in operators]


def _command(operator_id: int, payload: commands.Payload) -> dict:
    command_id = commands.enqueue(operator_id, payload)
    return {"command_id": command_id, "operator_id": operator_id, "kind": payload.kind.value,
            "payload": commands.as_json(payload)}


# ---- who may act on an operator or a call: their own, or anyone's with the supervisor permission ------
def not_your_operator(operator_id) -> Forbidden:
    return Forbidden("not-your-operator", f"operator {operator_id} is not yours", operator_id=operator_id,
                     message_ru=f"оператор {operator_id} — не ваш")


def not_your_call(attempt_id) -> Forbidden:
    return Forbidden("not-your-call", f"call {attempt_id} is not yours", message_ru=f"звонок {attempt_id} — не ваш")


def _check_may_act(who: Acting, operator_id) -> None:
    """Before anything is read: a refusal neither changes nor tells anything about the operator."""
    if not may_act_on(who, operator_id):
        raise not_your_operator(operator_id)


def own_current_call(operator: Operator, attempt_id) -> Attempt:
    """The operator's current attempt, which must be `attempt_id`: 403 if that attempt is someone else's,
    409 if it is theirs but no longer current. The operator is locked by the caller."""
    if not f.is_id(attempt_id):
        raise f.invalid("attempt_id", "must be an attempt id", "должен быть номером попытки")
    a = Attempt.get_or_none(Attempt.id == attempt_id)
    if a is None:
        raise NotFound("attempt-not-found", f"attempt {attempt_id} does not exist",
                       message_ru=f"попытка {attempt_id} не найдена")
    if a.operator_id != operator.id:
        raise not_your_call(attempt_id)
    if operator.attempt_id != a.id:
        raise Conflict("call-not-current", f"call {attempt_id} is over", message_ru=f"звонок {attempt_id} уже завершён")
    return a


def request(who: Acting, operator_id, kind) -> dict:
    """Ask the engine to make the operator ready / paused / at lunch, or to hang up the call."""
    kind = f.choice("kind", kind, REQUESTS)
    _check_may_act(who, operator_id)
    with f.database().atomic():
        if kind == "ready" and not existing_operator(operator_id).active:
            raise Conflict("operator-inactive", f"operator {operator_id} is deactivated", operator_id=operator_id,
                           message_ru=f"оператор {operator_id} отключён")
        existing_operator(operator_id)
        audit.record(f.database(), "custom", "operator", operator_id, name=f"Команда оператору: {kind}",
                     new={"command": kind})
        return _command(operator_id, commands.parse(kind, {}))  # the requests have no fields


def _campaign_result(attempt_id: int, result: str) -> None:
    """The result must be one of the call's campaign's results, when the campaign has any."""
    codes = [code for (code,) in CampaignResult.select(CampaignResult.code).join(
        Attempt, on=(Attempt.campaign == CampaignResult.campaign)).where(Attempt.id == attempt_id)
        .order_by(CampaignResult.position, CampaignResult.id).tuples()]
    if codes and result not in codes:
        raise f.invalid("result", f"must be one of the campaign's results: {', '.join(codes)}",
                        f"должен быть одним из результатов кампании: {', '.join(codes)}")


def submit_wrap_up(who: Acting, operator_id, result, comment="", postpone_minutes=None, postpone_until=None,
                   do_not_call=False, *, attempt_id=None) -> dict:
    """The one wrap-up of every door (panel, /api/operators, CLI): a result of the call's campaign, and
    optionally when to call again or «Больше не звонить». `who` must own the operator or hold the supervisor
    permission (403); `attempt_id`, when the door names the call, must be the operator's current one.

    `postpone_until` is ISO 8601: with an offset it is absolute, without one it is the client's local
    time in the lead's time zone; it is stored resolved (UTC) in the command to the engine."""
    result = f.text("result", result, min_len=1, max_len=100)
    comment = f.text("comment", comment, max_len=2000, multiline=True)
    postpone_minutes = f.optional_integer("postpone_minutes", postpone_minutes, 1, 525_600)
    do_not_call = f.boolean("do_not_call", do_not_call)
    if postpone_until is not None and postpone_minutes is not None:
        raise f.invalid("postpone_until", "give either postpone_minutes or postpone_until, not both",
                        "укажите либо postpone_minutes, либо postpone_until, но не оба")
    if do_not_call and (postpone_until is not None or postpone_minutes is not None):
        raise f.invalid("do_not_call", "a number marked do-not-call cannot be postponed",
                        "номер с пометкой «Больше не звонить» нельзя отложить")
    _check_may_act(who, operator_id)
    with f.database().atomic():
        # the lock keeps the status read and the command insert consistent with the engine's writes
        o = existing_operator(operator_id, lock=True)
        if attempt_id is not None:
            own_current_call(o, attempt_id)
        if o.status != "wrap_up" or o.attempt_id is None:
            raise Conflict("operator-not-in-wrap-up", f"operator {o.id} is {o.status}, not in wrap-up",
                           operator_id=o.id, status=o.status,
                           message_ru=f"оператор {o.id} не в постобработке (статус {o.status})")
        _campaign_result(o.attempt_id, result)
        until = None
        if postpone_until is not None:
            lead = Lead.select(Lead.time_zone).join(Attempt, on=(Attempt.lead == Lead.id)).where(
                Attempt.id == o.attempt_id).first()
            zone = lead.time_zone if lead is not None else "UTC"
            until = postpone.resolve_until(postpone_until, zone, datetime.now(timezone.utc))
        return _command(o.id, commands.WrapUp(o.attempt_id, result, comment, postpone_minutes, until, do_not_call))


def sip_devices() -> list[tuple[str, str]]:
    """(login, password) of every SIP device Asterisk may see, for the softphone simulator."""
    return devices.sip_devices()


# ---- editing, deactivating, deleting an operator (the «Операторы» section) --------------------------------
IDLE = ("offline", "paused", "lunch")  # statuses in which nothing is under way for the operator


def update_operator(operator_id, *, name=None) -> dict:
    """The name (the login is fixed: the engine dials the operator by it)."""
    name = None if name is None else f.text("name", name, min_len=1, max_len=200)
    with f.database().atomic():
        o = existing_operator(operator_id, lock=True)
        if name is not None and name != o.name:
            Operator.update(name=name).where(Operator.id == o.id).execute()
            audit.record(f.database(), "updated", "operator", o.id, name="Оператор изменён",
                         old={"name": o.name}, new={"name": name})
    return get_operator(o.id)


def _not_busy(o: Operator, what_en: str, what_ru: str) -> None:
    if o.status not in IDLE or o.attempt_id is not None:
        raise Conflict("operator-busy", f"operator {o.id} is {o.status}: {what_en} when they are offline or paused",
                       operator_id=o.id, status=o.status,
                       message_ru=f"оператор {o.id} сейчас в статусе {o.status}: {what_ru}, "
                                  f"когда он не в сети или на паузе")


def set_active(operator_id, active) -> dict:
    """Deactivate an operator who left (kept for their calls' history): their device disappears from Asterisk
    (registrations dropped) and their user account is switched off too; activating undoes both. Refused while
    the operator is Ready, in a call or in wrap-up (409)."""
    active = f.boolean("active", active)
    db = f.database()
    with db.atomic():
        o = existing_operator(operator_id, lock=True)
        if o.active == active:
            return get_operator(o.id)
        if not active:
            _not_busy(o, "deactivate", "отключить его можно")
        Operator.update(active=active).where(Operator.id == o.id).execute()
        login = SipDevice.select(SipDevice.login).where(SipDevice.operator == o.id).scalar()
        if login and not active:
            db.execute_sql("DELETE FROM ps_contacts WHERE device_login = %s", (login,))
        user = db.execute_sql("SELECT id FROM app_user WHERE operator_id = %s", (o.id,)).fetchone()
        audit.record(db, "updated", "operator", o.id, name="Оператор включён" if active else "Оператор отключён",
                     old={"active": o.active}, new={"active": active})
        if user:
            from . import users
            users.set_active(user[0], active)
    return get_operator(o.id)


def delete_operator(operator_id) -> None:
    """Only an operator without calls (a mistake): one with history is deactivated instead (409), and never
    while something is under way (409). Their own SIP device goes with them; commands they had go too."""
    db = f.database()
    with db.atomic():
        o = existing_operator(operator_id, lock=True)
        _not_busy(o, "delete", "удалить его можно")
        calls = Attempt.select().where(Attempt.operator == o.id).count()
        if calls:
            raise Conflict("operator-has-calls", f"operator {o.id} has {calls} calls in the history: deactivate instead",
                           operator_id=o.id, calls=calls,
                           message_ru=f"у оператора {o.id} в истории звонков: {calls}; отключите его вместо удаления")
        before = {**_as_dict(o, _pools([o.id])[o.id]), "device": SipDevice.select(SipDevice.login).where(
            SipDevice.operator == o.id).scalar()}
        for (device_id,) in SipDevice.select(SipDevice.id).where(SipDevice.operator == o.id).tuples():
            devices.delete_device(device_id)
        db.execute_sql("DELETE FROM engine_command WHERE operator_id = %s", (o.id,))
        Operator.delete().where(Operator.id == o.id).execute()
        audit.record(db, "deleted", "operator", o.id, name=f"Оператор {o.name} удалён",
                     old={k: before[k] for k in ("name", "login", "campaign_ids", "device", "active")})


def set_pools(grid) -> dict:
    """The pools grid (SPEC C7, F5) saved at once: {operator_id: [campaign ids]} replaces the pools of exactly
    the operators named. Everything is checked first; any bad id changes nothing."""
    if not isinstance(grid, dict) or not all(f.is_id(k) for k in grid):
        raise f.invalid("pools", "must map operator ids to lists of campaign ids",
                        "должно сопоставлять номерам операторов списки номеров кампаний")
    db = f.database()
    with db.atomic():
        wanted = {}
        for oid, ids in grid.items():
            existing_operator(oid)
            wanted[oid] = sorted(_campaign_ids(ids))
        before = _pools(list(wanted))
        changed = 0
        for oid, ids in sorted(wanted.items()):
            if before[oid] != ids:
                _replace_pool(oid, ids)
                audit.record(db, "updated", "operator", oid, name="Пулы кампаний оператора изменены",
                             old={"campaign_ids": before[oid]}, new={"campaign_ids": ids})
                changed += 1
    return {"operators": len(wanted), "changed": changed}
