"""Operator use cases: accounts, campaign pools, and commands to the engine.

The engine is the only writer of operator state; these functions only insert `engine_command`
rows (a trigger NOTIFYs the engine) after checking what can be checked here.
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone

from peewee import IntegrityError

from rules import postpone

from .. import audit
from ..errors import Conflict, NotFound
from ..models import Attempt, Campaign, EngineCommand, Lead, Operator, OperatorCampaign
from . import fields as f

LOGIN_RE = re.compile(r"^[a-z0-9_.-]{2,40}$")
# the password goes into SIP digest auth and softphone configs: printable ASCII, no spaces or quotes
PASSWORD_RE = re.compile(r'^[!#-~]{8,128}$')
REQUESTS = ("ready", "pause", "lunch", "hangup")


def operator_not_found(operator_id) -> NotFound:
    return NotFound("operator-not-found", f"operator {operator_id} does not exist",
                    operator_id=operator_id, message_ru=f"оператор {operator_id} не найден")


def existing_operator(operator_id, *, lock: bool = False) -> Operator:
    if not f.is_id(operator_id):
        raise operator_not_found(operator_id)
    query = Operator.select().where(Operator.id == operator_id)
    found = (query.for_update() if lock else query).first()
    if found is None:
        raise operator_not_found(operator_id)
    return found


def _login(value) -> str:
    value = f.text("login", value, min_len=2, max_len=40)
    if not LOGIN_RE.match(value):
        raise f.invalid("login", "only a-z, 0-9, '_', '.', '-' (2 to 40 characters)",
                        "только a-z, 0-9, «_», «.», «-» (от 2 до 40 символов)")
    return value


def _password(value) -> str:
    if value is None:
        return secrets.token_urlsafe(18)
    if not isinstance(value, str) or not PASSWORD_RE.match(value):
        raise f.invalid("sip_password", "8 to 128 printable ASCII characters without spaces or quotes",
                        "от 8 до 128 печатных символов ASCII без пробелов и кавычек")
    return value


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


def create_operator(name, login, sip_password=None, campaign_ids=()) -> dict:
    """The answer carries the SIP password once, so the softphone can be set up."""
    name = f.text("name", name, min_len=1, max_len=200)
    login, password = _login(login), _password(sip_password)
    try:
        with f.database().atomic():
            ids = _campaign_ids(campaign_ids)
            if Operator.select().where(Operator.login == login).exists():
                raise _login_taken(login)
            operator_id = Operator.insert(name=name, login=login, sip_password=password).execute()
            _replace_pool(operator_id, ids)
            audit.record(f.database(), "created", "operator", operator_id, name="Оператор создан",
                         new={"name": name, "login": login, "sip_password": password, "campaign_ids": ids},
                         secret=frozenset({"sip_password"}))
    except IntegrityError:
        raise _login_taken(login) from None
    return {**get_operator(operator_id), "sip_password": password}


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
    return {"id": o.id, "name": o.name, "login": o.login, "server": o.server, "status": o.status,
            "status_since": f.iso(o.status_since), "attempt_id": o.attempt_id,
            "campaign_ids": campaign_ids, "created_at": f.iso(o.created_at)}


def get_operator(operator_id) -> dict:
    o = existing_operator(operator_id)
    return _as_dict(o, _pools([o.id])[o.id])


def list_operators() -> list[dict]:
    operators = list(Operator.select().order_by(Operator.id))
    pools = _pools([o.id for o in operators]) if operators else {}
    return [_as_dict(o, pools[o.id]) for o in operators]


def _command(operator_id: int, kind: str, payload: dict) -> dict:
    command_id = EngineCommand.insert(operator=operator_id, kind=kind, payload=payload).execute()
    return {"command_id": command_id, "operator_id": operator_id, "kind": kind, "payload": payload}


def request(operator_id, kind) -> dict:
    """Ask the engine to make the operator ready / paused / at lunch, or to hang up the call."""
    kind = f.choice("kind", kind, REQUESTS)
    with f.database().atomic():
        existing_operator(operator_id)
        audit.record(f.database(), "custom", "operator", operator_id, name=f"Команда оператору: {kind}",
                     new={"command": kind})
        return _command(operator_id, kind, {})


def submit_wrap_up(operator_id, result, comment="", postpone_minutes=None, postpone_until=None,
                   do_not_call=False) -> dict:
    """The operator's wrap-up: a result, and optionally when to call again or «Больше не звонить».

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
    with f.database().atomic():
        # the lock keeps the status read and the command insert consistent with the engine's writes
        o = existing_operator(operator_id, lock=True)
        if o.status != "wrap_up" or o.attempt_id is None:
            raise Conflict("operator-not-in-wrap-up", f"operator {o.id} is {o.status}, not in wrap-up",
                           operator_id=o.id, status=o.status,
                           message_ru=f"оператор {o.id} не в постобработке (статус {o.status})")
        payload = {"attempt_id": o.attempt_id, "result": result, "comment": comment,
                   "postpone_minutes": postpone_minutes}
        if postpone_until is not None:
            lead = Lead.select(Lead.time_zone).join(Attempt, on=(Attempt.lead == Lead.id)).where(
                Attempt.id == o.attempt_id).first()
            zone = lead.time_zone if lead is not None else "UTC"
            payload["postpone_until"] = postpone.resolve_until(
                postpone_until, zone, datetime.now(timezone.utc)).isoformat()
        if do_not_call:
            payload["do_not_call"] = True
        return _command(o.id, "wrap_up", payload)


def sip_devices() -> list[tuple[str, str]]:
    """(login, password) of every operator, for the softphone simulator."""
    return list(Operator.select(Operator.login, Operator.sip_password).order_by(Operator.id).tuples())
