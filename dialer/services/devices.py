"""SIP devices (SPEC A4, F6): operators' and seats' softphones, live in Asterisk the moment they are saved.

A device row is read by Asterisk through the realtime views of sql/012_devices.sql on every SIP request (no
sorcery cache), so creating, re-binding, a new password or a deletion need no reload. Registrations are
Asterisk's rows in `ps_contacts`; a trigger there turns each change into a live event and the supervisor's
"device went offline" alert. What this module adds is the checks, the audit, and dropping a device's
registrations when its credentials stop being valid (a new password, deactivation), so it is offline at
once rather than at its next refresh.

The password is returned once, by the call that sets it; no other answer, page, log or audit entry has it.
"""
from __future__ import annotations

import re
import secrets
import string

from peewee import JOIN, IntegrityError, fn

from .. import audit
from ..errors import Conflict, NotFound
from ..models import Operator, SipDevice
from ..validation import boolean, choice, database, invalid, is_id, iso, text

LOGIN_RE = re.compile(r"^[a-z0-9_.-]{2,40}$")
# the password goes into SIP digest auth and softphone configs: printable ASCII, no spaces or double quotes
PASSWORD_CHARS = re.compile(r'^[!#-~]*$')
PASSWORD_MIN, PASSWORD_MAX = 10, 128
PASSWORD_RULE = ("at least 10 and at most 128 printable ASCII characters without spaces or double quotes, "
                 "with a letter and a digit",
                 "от 10 до 128 печатных символов ASCII без пробелов и двойных кавычек, с буквой и цифрой")
GENERATED_LENGTH = 20
CODECS = ("ulaw", "alaw", "g722", "gsm", "opus", "g729")
TRANSPORTS = ("udp", "tcp")
NAT_FLAGS = ("direct_media", "rtp_symmetric", "force_rport", "rewrite_contact")
DEFAULTS = {"codecs": ["ulaw", "alaw"], "transport": "udp", "direct_media": False, "rtp_symmetric": True,
            "force_rport": True, "rewrite_contact": True, "active": True}
EDITABLE = ("operator_id", "seat", "codecs", "transport", *NAT_FLAGS, "active", "server")


# ---- pure checks -----------------------------------------------------------------------------------------
def password_problem(password) -> bool:
    """True when a typed password breaks the policy (PASSWORD_RULE says it in words). Not "not containing the
    login": the foundation's callers (tests, demo, benchmarks) make passwords like `secret-<login>-1`."""
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return True
    if not PASSWORD_CHARS.match(password) or " " in password or '"' in password:
        return True
    return not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password)


def generate_password() -> str:
    """20 characters of letters and digits (no symbols a softphone's keypad or config file might mangle)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(GENERATED_LENGTH))
        if any(c.isdigit() for c in candidate) and any(c.islower() for c in candidate) \
                and any(c.isupper() for c in candidate):
            return candidate


def check_password(value, field: str = "password") -> str:
    if password_problem(value):
        raise invalid(field, PASSWORD_RULE[0], PASSWORD_RULE[1])
    return value


def check_login(value, field: str = "login") -> str:
    value = text(field, value, min_len=2, max_len=40)
    if not LOGIN_RE.match(value):
        raise invalid(field, "only a-z, 0-9, '_', '.', '-' (2 to 40 characters)",
                      "только a-z, 0-9, «_», «.», «-» (от 2 до 40 символов)")
    return value


def check_codecs(value) -> str:
    """An ordered list of known codecs, the first preferred; stored as Asterisk's `allow` (ulaw,alaw)."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not value or len(value) > len(CODECS):
        raise invalid("codecs", f"must be a non-empty list of: {', '.join(CODECS)}",
                      f"должен быть непустым списком из: {', '.join(CODECS)}")
    for codec in value:
        choice("codecs", codec, CODECS)
    if len(set(value)) != len(value):
        raise invalid("codecs", "each codec once", "каждый кодек — один раз")
    return ",".join(value)


def check_seat(value) -> str | None:
    if value is None:
        return None
    value = text("seat", value, max_len=100)
    return value or None


def check_server(value, servers) -> str:
    """One of the installation's Asterisk servers (settings), when the caller knows them."""
    value = text("server", value, min_len=1, max_len=100)
    return choice("server", value, tuple(servers)) if servers else value


# ---- errors ------------------------------------------------------------------------------------------------
def device_not_found(device_id) -> NotFound:
    return NotFound("device-not-found", f"SIP device {device_id} does not exist", device_id=device_id,
                    message_ru=f"SIP-устройство {device_id} не найдено")


def login_taken(login: str) -> Conflict:
    return Conflict("device-login-taken", f"login {login!r} is already used by a SIP device or an operator",
                    field="login", message_ru=f"логин «{login}» уже занят SIP-устройством или оператором")


def _taken(e: IntegrityError, login: str, checked: dict) -> Conflict:
    constraint = getattr(getattr(getattr(e, "orig", None), "diag", None), "constraint_name", "") or str(e)
    if "operator_id" in constraint:
        return Conflict("operator-has-device", f"operator {checked.get('operator')} already has a SIP device",
                        field="operator_id", message_ru=f"у оператора {checked.get('operator')} уже есть SIP-устройство")
    if "seat" in constraint:
        return Conflict("seat-taken", "the seat already has a SIP device", field="seat",
                        message_ru="у места уже есть SIP-устройство")
    return login_taken(login)


def _existing(device_id, lock: bool = False) -> SipDevice:
    if not is_id(device_id):
        raise device_not_found(device_id)
    query = SipDevice.select().where(SipDevice.id == device_id)
    found = (query.for_update() if lock else query).first()
    if found is None:
        raise device_not_found(device_id)
    return found


def _operator_for(operator_id, device_id: int | None) -> int | None:
    """The operator a device is bound to: it must exist and not have another device already."""
    if operator_id is None:
        return None
    if not is_id(operator_id):
        raise invalid("operator_id", "choose an operator (the number of one)", "выберите оператора (его номер)")
    if not Operator.select().where(Operator.id == operator_id).exists():
        raise NotFound("operator-not-found", f"operator {operator_id} does not exist", operator_id=operator_id,
                       field="operator_id", message_ru=f"оператор {operator_id} не найден")
    other = SipDevice.get_or_none((SipDevice.operator == operator_id) & (SipDevice.id != (device_id or 0)))
    if other is not None:
        raise Conflict("operator-has-device", f"operator {operator_id} already has the SIP device {other.login}",
                       field="operator_id", device_id=other.id,
                       message_ru=f"у оператора {operator_id} уже есть SIP-устройство {other.login}")
    return operator_id


def _seat_free(seat: str | None, device_id: int | None) -> None:
    if seat and database().execute_sql("SELECT 1 FROM sip_device WHERE lower(seat) = lower(%s) AND id <> %s",
                                       (seat, device_id or 0)).fetchone():
        raise Conflict("seat-taken", f"the seat {seat!r} already has a SIP device", field="seat",
                       message_ru=f"у места «{seat}» уже есть SIP-устройство")


def _login_free(login: str, operator_id: int | None) -> None:
    """A device's login is also an endpoint name: it must not be another operator's login (the engine dials
    an operator as PJSIP/<their login>, and would reach this device instead)."""
    if SipDevice.select().where(SipDevice.login == login).exists():
        raise login_taken(login)
    owner = Operator.get_or_none(Operator.login == login)
    if owner is not None and owner.id != operator_id:
        raise login_taken(login)


# ---- use cases ---------------------------------------------------------------------------------------------
def _values(given: dict, servers) -> dict:
    """The editable fields present in `given`, checked (422 names the field), bindings resolved."""
    unknown = sorted(set(given) - set(EDITABLE))
    if unknown:
        raise invalid(unknown[0], "is not a field of a SIP device", "не является полем SIP-устройства")
    out: dict = {}
    if "codecs" in given:
        out["codecs"] = check_codecs(given["codecs"])
    if "transport" in given:
        out["transport"] = choice("transport", given["transport"], TRANSPORTS)
    for flag in (*NAT_FLAGS, "active"):
        if flag in given:
            out[flag] = boolean(flag, given[flag])
    if "server" in given:
        out["server"] = check_server(given["server"], servers)
    if "seat" in given:
        out["seat"] = check_seat(given["seat"])
    if "operator_id" in given:
        out["operator"] = given["operator_id"]  # resolved inside the transaction
    if out.get("operator") is not None and out.get("seat"):
        raise invalid("seat", "a device is bound to an operator or to a seat, not both",
                      "устройство привязывается к оператору или к месту, не к обоим")
    return out


def create_device(login, password=None, *, servers=None, **fields) -> dict:
    """A new device; `password` None: a strong one is generated. The answer carries the password, once."""
    login = check_login(login)
    password = generate_password() if password is None else check_password(password)
    values = {**DEFAULTS, **fields}
    values.setdefault("server", (servers or ("pbx",))[0])
    checked = _values(values, servers)
    db = database()
    try:
        with db.atomic():
            checked["operator"] = _operator_for(checked.get("operator"), None)
            _login_free(login, checked["operator"])
            _seat_free(checked.get("seat"), None)
            device_id = SipDevice.insert(login=login, password=password, **checked).execute()
            audit.record(db, "created", "sip_device", device_id, name=f"SIP-устройство {login} создано",
                         new={**_public(_existing(device_id)), "password": password}, secret=frozenset({"password"}))
    except IntegrityError as e:  # a concurrent save won the race for the login, seat or operator
        raise _taken(e, login, checked) from None
    return {**get_device(device_id), "password": password}


def update_device(device_id, *, servers=None, **fields) -> dict:
    """Change the fields given (`login` is fixed: a contact row names it). Deactivating drops its registration."""
    if "login" in fields:
        raise invalid("login", "cannot be changed: create a new device", "нельзя изменить: создайте новое устройство")
    checked = _values(fields, servers)
    db = database()
    with db.atomic():
        d = _existing(device_id, lock=True)
        if "operator" in checked:
            checked["operator"] = _operator_for(checked["operator"], d.id)
            if checked["operator"] is not None:
                checked.setdefault("seat", None)
                owner = Operator.get_or_none(Operator.login == d.login)
                if owner is not None and owner.id != checked["operator"]:
                    raise login_taken(d.login)
        if checked.get("seat"):
            checked.setdefault("operator", None)
            _seat_free(checked["seat"], d.id)
        before = _public(d)
        if checked:
            SipDevice.update(**checked, updated_at=fn.now()).where(SipDevice.id == d.id).execute()
        if checked.get("active") is False:
            _drop_registrations(d.login)
        after = _public(_existing(d.id))
        if before != after:
            audit.record(db, "updated", "sip_device", d.id, name=f"SIP-устройство {d.login} изменено",
                         old=before, new=after)
    return get_device(d.id)


def set_password(device_id, password=None) -> dict:
    """A new password (generated when None), returned once. The old one stops working at once: the device's
    registrations are dropped, so it is offline until the softphone registers with the new one."""
    db = database()
    with db.atomic():
        d = _existing(device_id, lock=True)
        password = generate_password() if password is None else check_password(password)
        SipDevice.update(password=password, password_set_at=fn.now(), updated_at=fn.now()).where(
            SipDevice.id == d.id).execute()
        dropped = _drop_registrations(d.login)
        audit.record(db, "custom", "sip_device", d.id, name=f"Пароль SIP-устройства {d.login} изменён",
                     old={"password": "old"}, new={"password": "new", "registrations_dropped": dropped},
                     secret=frozenset({"password"}))
    return {**get_device(d.id), "password": password}


def delete_device(device_id) -> None:
    """Gone for Asterisk at once; its registrations go with it (the contacts' foreign key)."""
    db = database()
    with db.atomic():
        d = _existing(device_id, lock=True)
        before = _public(d)
        SipDevice.delete().where(SipDevice.id == d.id).execute()
        audit.record(db, "deleted", "sip_device", d.id, name=f"SIP-устройство {d.login} удалено", old=before)


def _drop_registrations(login: str) -> int:
    return database().execute_sql("DELETE FROM ps_contacts WHERE device_login = %s", (login,)).rowcount


# ---- reading -------------------------------------------------------------------------------------------------
def _public(d: SipDevice) -> dict:
    """A device as the audit log and the answers show it: never the password."""
    return {"login": d.login, "server": d.server, "operator_id": d.operator_id, "seat": d.seat,
            "codecs": d.codecs.split(","), "transport": d.transport, "direct_media": d.direct_media,
            "rtp_symmetric": d.rtp_symmetric, "force_rport": d.force_rport, "rewrite_contact": d.rewrite_contact,
            "active": d.active}


def list_devices(device_id: int | None = None) -> list[dict]:
    """Devices with their binding and live registration (`live`: Asterisk sees the device at all)."""
    query = (SipDevice.select(SipDevice, Operator.name.alias("operator_name"), Operator.active.alias("operator_active"),
                              fn.sip_registration(SipDevice.login).coerce(False).alias("registration"))
             .join(Operator, JOIN.LEFT_OUTER).order_by(SipDevice.login).objects())
    if device_id is not None:
        query = query.where(SipDevice.id == device_id)
    return [{"id": d.id, **_public(d), "operator_name": d.operator_name,
             "live": d.active and d.operator_active is not False, "created_at": iso(d.created_at),
             "password_set_at": iso(d.password_set_at), "registration": d.registration} for d in query]


def get_device(device_id) -> dict:
    _existing(device_id)
    found = list_devices(device_id)
    if not found:
        raise device_not_found(device_id)
    return found[0]


def registrations_by_operator(operator_ids=None) -> dict[int, dict]:
    """{operator_id: {device_id, login, registration}} for operators with a device (supervisor, operators page)."""
    rows = database().execute_sql(
        "SELECT operator_id, id, login, sip_registration(login) FROM sip_device WHERE operator_id IS NOT NULL"
        + (" AND operator_id = ANY(%s)" if operator_ids is not None else ""),
        (list(operator_ids),) if operator_ids is not None else ()).fetchall()
    return {oid: {"device_id": did, "login": login, "registration": reg} for oid, did, login, reg in rows}


def sip_devices() -> list[tuple[str, str]]:
    """(login, password) of every device Asterisk may see, for the softphone simulator."""
    return [tuple(r) for r in database().execute_sql(
        "SELECT login, password FROM sip_device_live ORDER BY id").fetchall()]
