"""Postponing a lead from the wrap-up: 30 min / 1 h / 2 h / 3 h, or a chosen date-time (pure).

A date-time with an offset is absolute; without one it is the client's wall-clock time in the
lead's IANA time zone, which is what the operator agreed with the client on the phone.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dialer.errors import Invalid

PRESETS_MINUTES = (30, 60, 120, 180)  # the wrap-up's buttons
MAX_AHEAD = timedelta(days=366)


def _invalid(message: str, message_ru: str) -> Invalid:
    return Invalid("invalid-field", f"postpone_until: {message}", field="postpone_until",
                   message_ru=f"postpone_until: {message_ru}")


def resolve_until(value, client_zone: str, now: datetime) -> datetime:
    """The absolute (UTC) moment of `postpone_until`; it must be in the future and within a year."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40 or not value.isprintable():
        raise _invalid("must be an ISO 8601 date-time such as 2026-03-01T10:30",
                       "должно быть датой и временем ISO 8601, например 2026-03-01T10:30")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _invalid(f"{value!r} is not an ISO 8601 date-time", f"{value!r} — не дата и время ISO 8601") from None
    if len(value.strip()) <= 10:  # a bare date: the operator must choose a time too
        raise _invalid("a time of day is needed, not only a date", "нужно время, а не только дата")
    if parsed.tzinfo is None:
        parsed = local_to_utc(parsed, client_zone)
    moment = parsed.astimezone(timezone.utc)
    if moment <= now:
        raise _invalid("must be in the future", "должно быть в будущем")
    if moment > now + MAX_AHEAD:
        raise _invalid("must be within a year", "должно быть не позже чем через год")
    return moment


def local_to_utc(local: datetime, zone: str) -> datetime:
    """A wall-clock time in `zone` as UTC; a time skipped by a clock change is refused, a repeated
    one means its first occurrence."""
    tz = ZoneInfo(zone)
    aware = local.replace(tzinfo=tz, fold=0)
    utc = aware.astimezone(timezone.utc)
    if utc.astimezone(tz).replace(tzinfo=None) != local:
        raise _invalid(f"{local.isoformat()} does not exist in {zone} (the clocks change then)",
                       f"{local.isoformat()} не существует в зоне {zone} (перевод часов)")
    return utc


def next_call_at(now: datetime, postpone_minutes: int | None, postpone_until: datetime | None) -> datetime | None:
    if postpone_until is not None:
        return postpone_until
    if postpone_minutes:
        return now + timedelta(minutes=postpone_minutes)
    return None
