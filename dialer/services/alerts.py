"""Supervisor alerts a job raises (SPEC F3): a CRM connection unreachable, and a campaign with Ready operators
and nothing to dial. They land in the `alert` table the supervisor's screen already shows and follows live.

One alert per cause and object while the cause lasts (`alert.object_key`, unique among alerts not cleared,
sql/011_health_alerts.sql): acknowledging it does not raise it again; when the cause goes away the alert is
marked cleared (`cleared_at`), and a later return of the cause raises a new one. `steps` is the whole rule
and is pure; `Watch.check` reads what is true now and writes what changed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from ..models import Lead

log = logging.getLogger(__name__)
NO_LEADS, CRM_UNREACHABLE = "campaign_no_leads", "crm_unreachable"
KINDS = (NO_LEADS, CRM_UNREACHABLE)
# a cause seen at this many checks in a row is raised (a queue can be empty for a moment between refills;
# the CRM's own alert has already waited for the connection's limit)
CONFIRM = {NO_LEADS: 2, CRM_UNREACHABLE: 1}


@dataclass(frozen=True)
class Cause:
    kind: str
    object_key: str
    campaign_id: int | None
    text_ru: str
    text_en: str

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.object_key


def steps(observed: list[Cause], streaks: dict, open_keys: set) -> tuple[list[Cause], list[tuple], dict]:
    """(causes to raise, open alerts to clear, the streaks for the next check).

    `streaks`: how many checks in a row each cause has been seen; `open_keys`: (kind, object) of the alerts of
    these kinds not cleared yet."""
    now_seen = {c.key: c for c in observed}
    streak = {key: streaks.get(key, 0) + 1 for key in now_seen}
    raise_ = [c for key, c in now_seen.items() if key not in open_keys and streak[key] >= CONFIRM.get(c.kind, 1)]
    clear = sorted(key for key in open_keys if key not in now_seen)
    return raise_, clear, streak


# ---- what is true now ---------------------------------------------------------------------------------------
_CRM_SQL = """
SELECT c.id, c.campaign_id, a.message, a.message_ru
  FROM crm_alert a JOIN crm_connection c ON c.id = a.connection_id
 WHERE a.cleared_at IS NULL AND c.enabled ORDER BY c.id"""
_READY_SQL = """
SELECT c.id, c.name, count(*)
  FROM operator o JOIN operator_campaign oc ON oc.operator_id = o.id JOIN campaign c ON c.id = oc.campaign_id
 WHERE o.status = 'ready' AND c.active GROUP BY c.id, c.name ORDER BY c.id"""


def observe(db, now: datetime) -> list[Cause]:
    from .supervisor import callable_now

    out = [Cause(CRM_UNREACHABLE, f"crm_connection:{cid}", campaign, ru, en)
           for cid, campaign, en, ru in db.execute_sql(_CRM_SQL).fetchall()]
    ready = db.execute_sql(_READY_SQL).fetchall()
    if ready:
        where = callable_now(now, [r[0] for r in ready])
        for cid, name, n in ready:
            if where.get(cid) is None or not Lead.select().where(Lead.campaign == cid, where[cid]).exists():
                out.append(Cause(
                    NO_LEADS, f"campaign:{cid}", cid,
                    f"Кампания «{name}»: нечего набирать — нет заказов, которые можно набрать сейчас; "
                    f"операторов в статусе «Готов»: {n}",
                    f"Campaign \"{name}\": nothing to dial — no lead can be called now; Ready operators: {n}"))
    return out


_OPEN_SQL = "SELECT kind, object_key FROM alert WHERE cleared_at IS NULL AND object_key IS NOT NULL AND kind = ANY(%s)"
_RAISE_SQL = """
INSERT INTO alert (kind, object_key, campaign_id, text_ru, text_en) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (kind, object_key) WHERE cleared_at IS NULL AND object_key IS NOT NULL DO NOTHING"""
_CLEAR_SQL = ("UPDATE alert SET cleared_at = clock_timestamp()"
              " WHERE kind = %s AND object_key = %s AND cleared_at IS NULL")


class Watch:
    """The job's memory between checks: how long each cause has been seen."""

    def __init__(self):
        self.streaks: dict = {}

    def check(self, db, now: datetime) -> tuple[list[Cause], list[tuple]]:
        observed = observe(db, now)
        with db.atomic():
            open_keys = {tuple(r) for r in db.execute_sql(_OPEN_SQL, (list(KINDS),)).fetchall()}
            raised, cleared, self.streaks = steps(observed, self.streaks, open_keys)
            for c in raised:
                db.execute_sql(_RAISE_SQL, (c.kind, c.object_key, c.campaign_id, c.text_ru[:2000], c.text_en[:2000]))
                log.warning("alert raised: %s", c.text_en)
            for kind, key in cleared:
                db.execute_sql(_CLEAR_SQL, (kind, key))
                log.info("alert cleared: %s %s", kind, key)
        return raised, cleared
