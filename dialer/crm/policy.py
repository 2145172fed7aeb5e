"""Pure decisions of the CRM sync: what a CRM status does to a lead, retry delays, comment templates,
the unreachable alert. Table-tested; the I/O around them lives in sync.py and outbox.py."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

ACTIONS = ("call", "postpone", "hold", "final")
ACTION_TITLES = {"call": ("Звонить", "Call"), "postpone": ("Отложить", "Postpone"),
                 "hold": ("Не трогать", "Don't touch"), "final": ("Финальный", "Final")}
ACTIVE_STATES = ("new", "callable", "held", "in_progress")  # leads whose CRM status the pull re-checks


@dataclass(frozen=True)
class LeadUpdate:
    state: str
    next_call_at: datetime | None = None  # None: keep


def on_new_order(action: str | None, now: datetime, recall_at: datetime | None,
                 postpone_minutes: int) -> LeadUpdate | None:
    """A new order's first state; None: an unmapped status, the order is not imported."""
    match action:
        case "call":
            return LeadUpdate("new", now)
        case "postpone":
            return LeadUpdate("new", _postponed(now, recall_at, postpone_minutes))
        case "hold":
            return LeadUpdate("held", now)
        case "final":
            return LeadUpdate("done", now)
    return None


def on_status(action: str | None, state: str, status_changed: bool, now: datetime,
              recall_at: datetime | None, postpone_minutes: int) -> LeadUpdate | None:
    """What a (re-)read status does to a known lead; None: nothing.

    Only a changed status acts, so a replayed pull never undoes what the engine decided since; a
    lead being called is never disturbed: its status stays unapplied until the attempt has ended."""
    if not status_changed or action is None or state == "in_progress":
        return None
    match action:
        case "call":
            return LeadUpdate("new" if state == "new" else "callable", now)
        case "postpone":
            return LeadUpdate("callable" if state != "new" else "new", _postponed(now, recall_at, postpone_minutes))
        case "hold":
            return LeadUpdate("held")
        case "final":
            return LeadUpdate("done")
    return None


def _postponed(now: datetime, recall_at: datetime | None, minutes: int) -> datetime:
    return recall_at if recall_at is not None and recall_at > now else now + timedelta(minutes=minutes)


def retry_delay(tries: int, base_s: float = 2.0, cap_s: float = 300.0, rnd: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": half the step fixed, half random, so retries after an
    outage spread out instead of arriving together."""
    step = min(cap_s, base_s * 2 ** max(0, tries - 1))
    return step / 2 + (rnd or random).uniform(0, step / 2)


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
TEMPLATE_FIELDS = ("result", "result_title", "comment", "operator", "phone", "at", "attempt_id")


def render(template: str, values: dict) -> str:
    """Fill `{name}` placeholders; unknown names stay as written (no format(): no attribute access)."""
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template).strip()


def unknown_placeholders(template: str) -> list[str]:
    return sorted({name for name in _PLACEHOLDER.findall(template) if name not in TEMPLATE_FIELDS})


def alert_step(unreachable_since: datetime | None, alert_after_s: int, now: datetime, alert_open: bool) -> str | None:
    """'raise' once an outage lasts longer than the limit, 'clear' when the CRM answers again."""
    if unreachable_since is None:
        return "clear" if alert_open else None
    if not alert_open and now - unreachable_since > timedelta(seconds=alert_after_s):
        return "raise"
    return None


def mask(token: str) -> str:
    """A token as it may be shown back: its last four characters only."""
    if not token:
        return ""
    return "••••" + token[-4:] if len(token) > 8 else "••••"
