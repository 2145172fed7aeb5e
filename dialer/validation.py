"""Checks of values that come from outside (API, pages, CLI, files): each raises `Invalid("invalid-field")`
naming the field. Core: the services, the CRM sync and the selection rules all use it, so it imports
nothing above `dialer` itself."""
from __future__ import annotations

import unicodedata

from .errors import Invalid, NotFound
from .models import Campaign, Operator

MAX_ID = 2**63 - 1  # bigint: larger ids cannot exist, and psycopg2 would fail on them
MAX_LIMIT = 1000


def invalid(field: str, message: str, message_ru: str) -> Invalid:
    return Invalid("invalid-field", f"{field}: {message}", field=field, message_ru=f"{field}: {message_ru}")


def has_control(value: str, allow: str = "") -> bool:
    """Control and format characters (C0, C1, DEL, bidi overrides) corrupt logs, CSV and SIP headers."""
    if value.isprintable():  # fast path in C: most values; the exact check below is per character
        return False
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") and ch not in allow for ch in value)


def text(field: str, value, *, max_len: int, min_len: int = 0, multiline: bool = False,
         strip: bool = True) -> str:
    if not isinstance(value, str):
        raise invalid(field, "must be a string", "должно быть строкой")
    if strip:
        value = value.strip()
    if has_control(value, allow="\n\r\t" if multiline else ""):
        raise invalid(field, "must not contain control characters",
                      "не должно содержать управляющих символов")
    if len(value) < min_len:
        if min_len == 1:
            raise invalid(field, "must not be empty", "не может быть пустым")
        raise invalid(field, f"must be at least {min_len} characters", f"не короче {min_len} символов")
    if len(value) > max_len:
        raise invalid(field, f"must be at most {max_len} characters", f"не длиннее {max_len} символов")
    return value


def integer(field: str, value, lo: int, hi: int) -> int:
    # bool is an int subclass in Python: `true` must not pass as 1
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, "must be an integer", "должно быть целым числом")
    if not lo <= value <= hi:
        raise invalid(field, f"must be between {lo} and {hi}", f"должно быть от {lo} до {hi}")
    return value


def optional_integer(field: str, value, lo: int, hi: int) -> int | None:
    return None if value is None else integer(field, value, lo, hi)


def boolean(field: str, value) -> bool:
    if not isinstance(value, bool):
        raise invalid(field, "must be true or false", "должно быть true или false")
    return value


def limit(value, default: int = 100) -> int:
    return default if value is None else integer("limit", value, 1, MAX_LIMIT)


def choice(field: str, value, allowed) -> str:
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(allowed)
        raise invalid(field, f"must be one of: {options}", f"допустимые значения: {options}")
    return value


def is_id(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and 1 <= value <= MAX_ID


def iso(value) -> str | None:
    return None if value is None else value.isoformat()


# ---- ids that must name an existing row: 404 with a stable id, whatever was sent ----------------------
def campaign_not_found(campaign_id) -> NotFound:
    return NotFound("campaign-not-found", f"campaign {campaign_id} does not exist",
                    campaign_id=campaign_id, message_ru=f"кампания {campaign_id} не найдена")


def existing_campaign(campaign_id) -> Campaign:
    if not is_id(campaign_id):
        raise campaign_not_found(campaign_id)
    found = Campaign.get_or_none(Campaign.id == campaign_id)
    if found is None:
        raise campaign_not_found(campaign_id)
    return found


def operator_not_found(operator_id) -> NotFound:
    return NotFound("operator-not-found", f"operator {operator_id} does not exist",
                    operator_id=operator_id, message_ru=f"оператор {operator_id} не найден")


def existing_operator(operator_id, *, lock: bool = False) -> Operator:
    if not is_id(operator_id):
        raise operator_not_found(operator_id)
    query = Operator.select().where(Operator.id == operator_id)
    found = (query.for_update() if lock else query).first()
    if found is None:
        raise operator_not_found(operator_id)
    return found


def database():
    """The database the models are bound to (by `dialer.db.connect`)."""
    return Campaign._meta.database
