"""A campaign's default calling window (SPEC C5), in the client's local time, with a weekend variant (pure).

Every selection of the campaign — and the campaign without any selection — dials only inside it; a
selection's own window can only narrow it (both must be open). Calling at any hour needs the explicit
`{"any_hour": true}`, which is a change of the campaign like any other, audited.

    {"from": "09:00", "to": "21:00", "weekend": {"from": "10:00", "to": "20:00"}, "weekend_days": [6, 7]}
    {"from": "09:00", "to": "21:00", "weekend": null, "weekend_days": [6, 7]}   # no calls at the weekend
    {"any_hour": true}
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime

from .evaluate import window_open, zone_names, zones_open
from .model import Limits, Problems, Rule, Window, _clock

DEFAULT = {"from": "09:00", "to": "21:00", "weekend": {"from": "10:00", "to": "20:00"}, "weekend_days": [6, 7]}
ANY_HOUR = {"any_hour": True}


@dataclass(frozen=True)
class CallingWindow:
    """`parts`: the windows of weekdays and of the weekend (each with its own days); () with `any_hour`."""
    parts: tuple[Window, ...] = ()
    any_hour: bool = False


def _hours(p: Problems, path: str, raw) -> tuple | None:
    if not isinstance(raw, dict) or set(raw) - {"from", "to"}:
        p.add(path, "must be an object {from, to}", "должно быть объектом {from, to}")
        return None
    start = _clock(p, f"{path}.from", raw.get("from"))
    end = _clock(p, f"{path}.to", raw.get("to"), allow_24=True)
    if start is not None and end is not None and end <= start:
        p.add(f"{path}.to", "must be later than the start of the window", "должно быть позже начала окна")
        return None
    return (start, end) if start is not None and (end is not None or raw.get("to") == "24:00") else None


def validate(data) -> CallingWindow:
    """The window as data, or `Invalid` naming every mistake (window.from, window.weekend.to, ...)."""
    p = Problems()
    if data == ANY_HOUR:
        return CallingWindow(any_hour=True)
    if not isinstance(data, dict):
        p.add("window", "must be an object", "должно быть объектом")
        p.raise_if_any()
    for key in sorted(set(data) - {"from", "to", "weekend", "weekend_days", "any_hour"}):
        p.add(f"window.{key}" if isinstance(key, str) and len(key) < 40 else "window", "unknown key",
              "неизвестный ключ")
    if data.get("any_hour") not in (None, False):
        p.add("window.any_hour", "must be true alone, or false", "должно быть true (без других полей) или false")
    days = data.get("weekend_days", [6, 7])
    if not isinstance(days, list) or len(days) > 6 or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in days):
        p.add("window.weekend_days", "must be a list of weekdays 1 (Monday) to 7 (Sunday), not all seven",
              "должно быть списком дней недели от 1 (пн) до 7 (вс), не всеми семью")
        days = []
    weekday_hours = _hours(p, "window", {k: data.get(k) for k in ("from", "to")})
    weekend_raw = data.get("weekend")
    weekend_hours = None if weekend_raw is None else _hours(p, "window.weekend", weekend_raw)
    p.raise_if_any()
    weekend = tuple(sorted(set(days)))
    weekdays = tuple(d for d in range(1, 8) if d not in weekend)
    parts = [Window(weekday_hours[0], weekday_hours[1], weekdays)]
    if weekend and weekend_hours is not None:
        parts.append(Window(weekend_hours[0], weekend_hours[1], weekend))
    return CallingWindow(tuple(parts))


def to_json(w: CallingWindow) -> dict:
    """The canonical JSON (what is stored): validate(to_json(w)) == w."""
    if w.any_hour:
        return dict(ANY_HOUR)
    if not w.parts:  # an unreadable stored value (parse_stored): shown as closed
        return {"closed": True}

    def hours(x: Window) -> dict:
        return {"from": x.start.strftime("%H:%M"), "to": "24:00" if x.end is None else x.end.strftime("%H:%M")}

    weekdays = w.parts[0]
    weekend = [d for d in range(1, 8) if d not in weekdays.days]
    return {**hours(weekdays), "weekend": hours(w.parts[1]) if len(w.parts) > 1 else None, "weekend_days": weekend}


def parse_stored(raw) -> CallingWindow:
    """The stored window (text or JSON); a stored value no longer valid closes the campaign rather than
    opening it at every hour."""
    try:
        return validate(json.loads(raw) if isinstance(raw, str) else raw)
    except Exception:  # noqa: BLE001 — any unreadable value: the safe side is "closed"
        return CallingWindow(())


def is_open(w: CallingWindow, zone: str, now: datetime) -> bool:
    """Whether a client in `zone` may be called at `now` by the campaign's window alone."""
    return w.any_hour or any(window_open({"time_zone": zone}, Rule(window=x), now) for x in w.parts)


def open_zones(w: CallingWindow, now: datetime) -> frozenset[str] | None:
    """The zones where the campaign's window is open at `now`; None: every zone (any hour)."""
    if w.any_hour:
        return None
    found: frozenset[str] = frozenset()
    for part in w.parts:
        found |= zones_open(part, now)
    return found


def combined_zones(campaign: CallingWindow, selection: Window | None, now: datetime) -> list[str] | None:
    """Where both the campaign's and the selection's windows are open, sorted; None: every zone, []: none."""
    zones = open_zones(campaign, now)
    if selection is not None:
        own = zones_open(selection, now)
        zones = own if zones is None else zones & own
    if zones is None or len(zones) == len(zone_names()):
        return None
    return sorted(zones)


@dataclass(frozen=True)
class CampaignClaim:
    """What a campaign adds to each of its selections' rules at the claim: its window and its limits."""
    window: CallingWindow
    max_per_day: int | None = None
    min_pause_minutes: int | None = None


def parse_claim(raw) -> CampaignClaim:
    """From the claim's JSON: {"window": ..., "max_per_day": ..., "min_pause_minutes": ...}."""
    data = json.loads(raw) if isinstance(raw, str) else (raw or {})
    return CampaignClaim(parse_stored(data.get("window", ANY_HOUR)), data.get("max_per_day"),
                         data.get("min_pause_minutes"))


def _narrower(a: int | None, b: int | None, pick) -> int | None:
    return b if a is None else a if b is None else pick(a, b)


def narrowed(rule: Rule, campaign: CampaignClaim) -> Rule:
    """The selection's rule under the campaign's limits: the stricter of each (fewer per day, longer pause)."""
    limits = Limits(rule.limits.max_attempts,
                    _narrower(rule.limits.max_per_day, campaign.max_per_day, min),
                    _narrower(rule.limits.min_pause_minutes, campaign.min_pause_minutes, max))
    return rule if limits == rule.limits else replace(rule, limits=limits)
