"""A campaign's dialling settings (SPEC B2, B3, B4; sql/015_predictive.sql) and its protective autostop.

- `get_pacing` / `update_pacing`: mode, maximum lead ratio, abandon cap and its window, grace, wait-for-operator
  timeout, safe-harbour message, small-sample rule, autostop N errors in T seconds. Validated (both languages),
  audited in the change's transaction; a campaign without its row reads the defaults.
- `autostop_due` (pure): do the last outcomes make N errors in a row within T seconds?
- `stop_automatically`: the campaign stops («остановлена автоматически») with the reason and the errors that
  caused it, and a supervisor alert; `confirm_autostop`: a supervisor's confirmation resumes it. Both audited.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from .. import audit
from ..errors import Conflict, Invalid
from ..outcomes import LOST_WHILE_AWAY
from . import fields as f

MODES = ("progressive", "predictive")
DEFAULTS = {"mode": "progressive", "max_ratio": 2.0, "abandon_cap_percent": 3.0, "window_answered": None,
            "window_day": True, "grace_s": 2.0, "wait_timeout_s": 20, "safe_harbour_message": False,
            "min_sample_calls": 50, "autostop_errors": 5, "autostop_window_s": 30}
AUTOSTOP_ALERT = "campaign_autostop"


def _number(field: str, value, lo: float, hi: float, places: int) -> float:
    """A decimal number in [lo, hi] with at most `places` decimals; a form's "2,5" is read as 2.5."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise f.invalid(field, "must be a number", "должно быть числом")
    try:
        d = Decimal(value.strip().replace(",", ".") if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise f.invalid(field, "must be a number", "должно быть числом") from None
    if not d.is_finite() or not Decimal(str(lo)) <= d <= Decimal(str(hi)):
        raise f.invalid(field, f"must be between {lo:g} and {hi:g}", f"должно быть от {lo:g} до {hi:g}")
    if d != round(d, places):
        raise f.invalid(field, f"at most {places} digit(s) after the point",
                        f"не больше {places} знак(ов) после запятой")
    return float(d)


CHECKS = {
    "mode": lambda v: f.choice("mode", v, MODES),
    "max_ratio": lambda v: _number("max_ratio", v, 1.0, 5.0, 1),
    "abandon_cap_percent": lambda v: _number("abandon_cap_percent", v, 0.0, 10.0, 2),
    "window_answered": lambda v: f.optional_integer("window_answered", v, 20, 100_000),
    "window_day": lambda v: f.boolean("window_day", v),
    "grace_s": lambda v: _number("grace_s", v, 0.0, 10.0, 1),
    "wait_timeout_s": lambda v: f.integer("wait_timeout_s", v, 1, 600),
    "safe_harbour_message": lambda v: f.boolean("safe_harbour_message", v),
    "min_sample_calls": lambda v: f.integer("min_sample_calls", v, 10, 10_000),
    "autostop_errors": lambda v: f.integer("autostop_errors", v, 1, 1000),
    "autostop_window_s": lambda v: f.integer("autostop_window_s", v, 1, 86_400),
}
_COLUMNS = tuple(DEFAULTS)
_SELECT = (f"SELECT {', '.join(_COLUMNS)}, autostopped_at, autostop_reason, autostop_attempts"
           " FROM campaign_pacing WHERE campaign_id = %s")


def _checked(values: dict) -> dict:
    unknown = sorted(set(values) - set(CHECKS))
    if unknown:
        raise Invalid("invalid-field", f"unknown field(s): {', '.join(unknown)}", field=unknown[0],
                      message_ru=f"неизвестные поля: {', '.join(unknown)}")
    return {key: CHECKS[key](value) for key, value in values.items()}


def _read(db, campaign_id: int, lock: bool = False) -> dict:
    row = db.execute_sql(_SELECT + (" FOR UPDATE" if lock else ""), (campaign_id,)).fetchone()
    if row is None:
        return {**DEFAULTS, "autostopped_at": None, "autostop_reason": None, "autostop_attempts": []}
    out = dict(zip(_COLUMNS + ("autostopped_at", "autostop_reason", "autostop_attempts"), row))
    for key in ("max_ratio", "abandon_cap_percent", "grace_s"):
        out[key] = float(out[key])
    if isinstance(out["autostop_attempts"], str):
        out["autostop_attempts"] = json.loads(out["autostop_attempts"])
    return out


def _as_dict(campaign_id: int, s: dict) -> dict:
    return {"campaign_id": campaign_id, **{k: s[k] for k in _COLUMNS},
            "autostop": None if s["autostopped_at"] is None else {
                "at": f.iso(s["autostopped_at"]), "reason": s["autostop_reason"], "attempts": s["autostop_attempts"]}}


def get_pacing(campaign_id) -> dict:
    c = f.existing_campaign(campaign_id)
    return _as_dict(c.id, _read(f.database(), c.id))


def update_pacing(campaign_id, **changes) -> dict:
    """Change only the given settings; bad input changes nothing. The cap's window keeps at least one part."""
    c = f.existing_campaign(campaign_id)
    values = _checked(changes)
    db = f.database()
    with db.atomic():
        old = _read(db, c.id, lock=True)
        new = {**{k: old[k] for k in _COLUMNS}, **values}
        if new["window_answered"] is None and not new["window_day"]:
            raise f.invalid("window_day", "the abandon cap needs a window: the last N answered calls, the day, "
                            "or both", "для лимита брошенных нужно окно: последние N отвеченных, день или оба")
        changed = {k: v for k, v in values.items() if old[k] != v}
        if changed:
            cols = ", ".join(_COLUMNS)
            db.execute_sql(
                f"INSERT INTO campaign_pacing (campaign_id, {cols}) VALUES (%s, {', '.join(['%s'] * len(_COLUMNS))})"
                f" ON CONFLICT (campaign_id) DO UPDATE SET {', '.join(f'{k} = EXCLUDED.{k}' for k in _COLUMNS)}",
                (c.id, *(new[k] for k in _COLUMNS)))
            audit.record(db, "updated", "campaign", c.id, name="Набор кампании изменён",
                         old={k: old[k] for k in changed}, new=changed)
    return get_pacing(c.id)


# ---- B3: protective autostop ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ended:
    """One attempt's end, as the autostop rule sees it."""
    attempt_id: int
    at: float          # epoch seconds
    outcome: str
    error: str | None = None


def autostop_due(recent: list[Ended], errors: int, window_s: float) -> list[Ended] | None:
    """The errors that stop the campaign, or None: the newest `errors` attempts (in end order) all ended ERROR,
    the first and the last of them within `window_s` of each other. Any other outcome between breaks the run.
    Calls that ended while the engine was away from Asterisk count for neither: an engine restart with five calls
    in flight is not a broken line."""
    recent = [e for e in recent if e.error != LOST_WHILE_AWAY]
    if errors < 1 or len(recent) < errors:
        return None
    run = sorted(recent, key=lambda e: (e.at, e.attempt_id))[-errors:]
    if all(e.outcome == "ERROR" for e in run) and run[-1].at - run[0].at <= window_s:
        return run
    return None


def stop_automatically(db, campaign_id: int, cause: list[Ended]) -> bool:
    """Stop the campaign with the reason and its errors, and alert the supervisors; False when it was already
    stopped automatically (the engine may see the run again before its stop is read)."""
    settings = _read(db, campaign_id)
    reason_en = (f"{len(cause)} errors in a row within {settings['autostop_window_s']} s"
                 f" (last: {cause[-1].error or 'ERROR'})")
    reason_ru = (f"{len(cause)} ошибок подряд за {settings['autostop_window_s']} с"
                 f" (последняя: {cause[-1].error or 'ERROR'})")
    errors = [{"attempt_id": e.attempt_id, "at": datetime.fromtimestamp(e.at).astimezone().isoformat(),
               "error": e.error} for e in cause]
    with db.atomic():
        db.execute_sql("INSERT INTO campaign_pacing (campaign_id) VALUES (%s) ON CONFLICT DO NOTHING", (campaign_id,))
        row = db.execute_sql("SELECT autostopped_at FROM campaign_pacing WHERE campaign_id = %s FOR UPDATE",
                             (campaign_id,)).fetchone()
        if row[0] is not None:
            return False
        db.execute_sql("UPDATE campaign_pacing SET autostopped_at = clock_timestamp(), autostop_reason = %s,"
                       " autostop_attempts = %s WHERE campaign_id = %s",
                       (f"{reason_ru} / {reason_en}"[:2000], json.dumps(errors), campaign_id))
        name = db.execute_sql("UPDATE campaign SET active = false WHERE id = %s RETURNING name",
                              (campaign_id,)).fetchone()[0]
        db.execute_sql(
            "INSERT INTO alert (kind, object_key, campaign_id, text_ru, text_en) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (kind, object_key) WHERE cleared_at IS NULL AND object_key IS NOT NULL DO NOTHING",
            (AUTOSTOP_ALERT, f"campaign:{campaign_id}", campaign_id,
             f"Кампания «{name}» остановлена автоматически: {reason_ru}. Наберёт снова после подтверждения.",
             f"Campaign \"{name}\" stopped automatically: {reason_en}. It dials again once confirmed."))
        # the engine acts as the installation itself (audit.SYSTEM, the default actor)
        audit.record(db, "custom", "campaign", campaign_id, name="Кампания остановлена автоматически",
                     new={"reason": reason_en, "attempts": [e.attempt_id for e in cause]})
    return True


def confirm_autostop(campaign_id) -> dict:
    """A supervisor confirms the autostop: the campaign dials again, its alert is cleared. Audited."""
    c = f.existing_campaign(campaign_id)
    db = f.database()
    with db.atomic():
        s = _read(db, c.id, lock=True)
        if s["autostopped_at"] is None:
            raise Conflict("campaign-not-autostopped", "the campaign was not stopped automatically",
                           message_ru="кампания не была остановлена автоматически")
        db.execute_sql("UPDATE campaign_pacing SET autostopped_at = NULL, autostop_reason = NULL,"
                       " autostop_attempts = '[]' WHERE campaign_id = %s", (c.id,))
        db.execute_sql("UPDATE campaign SET active = true WHERE id = %s", (c.id,))
        db.execute_sql("UPDATE alert SET cleared_at = clock_timestamp() WHERE kind = %s AND object_key = %s"
                       " AND cleared_at IS NULL", (AUTOSTOP_ALERT, f"campaign:{c.id}"))
        audit.record(db, "custom", "campaign", c.id, name="Автостоп подтверждён, кампания возобновлена",
                     old={"autostop_reason": s["autostop_reason"]}, new={"active": True})
    return get_pacing(c.id)

