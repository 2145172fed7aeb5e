"""The global do-not-call list (SPEC C10): a number on it is never claimed by any campaign.

Functions use the database the models are bound to and join the caller's transaction when there is
one; every change is written to the audit log inside that same transaction.
"""
from __future__ import annotations

from dialer import audit
from dialer import validation as f
from dialer.errors import Invalid
from dialer.models import DoNotCall, Lead

SOURCES = ("operator", "supervisor", "import", "crm")
DEFAULT_REGION = "RU"  # a number written without a country code is read as a Russian one
MAX_REASON = 500


def phone_number(value, region: str = DEFAULT_REGION) -> str:
    """E.164 of a number as people write it, or `Invalid` naming the field `phone`."""
    from dialer.phones import normalise_phone  # phone tables load on first use, not at the engine's start

    if not isinstance(value, str) or not value.strip() or len(value) > 40 or f.has_control(value):
        raise _bad_phone(value)
    phone = normalise_phone(value.strip(), region)
    if phone is None:
        raise _bad_phone(value)
    return phone


def _bad_phone(value) -> Invalid:
    return Invalid("invalid-field", f"phone: {value!r} is not a valid phone number", field="phone",
                   message_ru=f"phone: {value!r} — неверный номер телефона")


def _db():
    return Lead._meta.database


def add(phone: str, reason: str = "", source: str = "operator", attempt_id: int | None = None) -> bool:
    """Put the number on the list; True when it was not there before (a second add changes nothing)."""
    number = phone_number(phone)
    reason = f.text("reason", reason, max_len=MAX_REASON, multiline=True)
    source = f.choice("source", source, SOURCES)
    if attempt_id is not None and not f.is_id(attempt_id):
        raise f.invalid("attempt_id", "must be an attempt id", "должен быть номером попытки")
    db = _db()
    with db.atomic():
        added = (DoNotCall.insert(phone=number, reason=reason, source=source, attempt_id=attempt_id)
                 .on_conflict_ignore().returning(DoNotCall.phone).execute())
        if not list(added):
            return False
        audit.record(db, "created", "do_not_call", number, name="do-not-call: number added",
                     new={"phone": number, "reason": reason, "source": source, "attempt_id": attempt_id})
    return True


def contains(phone: str) -> bool:
    return DoNotCall.select().where(DoNotCall.phone == phone_number(phone)).exists()


def remove(phone: str) -> bool:
    """Take the number off the list; True when it was there."""
    number = phone_number(phone)
    db = _db()
    with db.atomic():
        row = DoNotCall.get_or_none(DoNotCall.phone == number)
        if row is None:
            return False
        DoNotCall.delete().where(DoNotCall.phone == number).execute()
        audit.record(db, "deleted", "do_not_call", number, name="do-not-call: number removed",
                     old={"phone": number, "reason": row.reason, "source": row.source,
                          "attempt_id": row.attempt_id})
    return True


def list_numbers(phone_prefix: str | None = None, limit=100, after: str | None = None) -> list[dict]:
    """Numbers in order; `after` pages forwards (pass the last number of the previous page)."""
    limit = f.limit(limit)
    query = DoNotCall.select()
    if phone_prefix is not None:
        prefix = f.text("phone", phone_prefix, max_len=16)
        if not prefix.lstrip("+").isdigit():
            raise _bad_phone(phone_prefix)
        query = query.where(DoNotCall.phone.startswith("+" + prefix.lstrip("+")))
    if after is not None:
        query = query.where(DoNotCall.phone > f.text("after", after, max_len=16))
    return [{"phone": r.phone, "added_at": f.iso(r.added_at), "reason": r.reason, "source": r.source,
             "attempt_id": r.attempt_id} for r in query.order_by(DoNotCall.phone).limit(limit)]
