"""Lead use cases: CSV import (idempotent by campaign + external_id) and listing."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import phonenumbers
from psycopg2.extras import Json, execute_values

from rules import zones

from .. import audit
from ..models import Lead
from . import fields as f
from . import lead_csv
from .campaigns import LEAD_STATES

# typed CRM columns a file may fill, with the value of a row that lacks them (a closed list, never user input)
CRM_COLUMNS = (("country", ""), ("region", ""), ("city", ""), ("amount", None), ("birth_date", None), ("product", ""),
               ("crm_status", ""), ("priority", 0), ("time_zone", zones.DEFAULT_ZONE), ("time_zone_source", "default"))
MAX_REPORTED_ERRORS = 1000  # a 20 MB file of bad rows must not produce a 20 MB answer
BATCH = 1000


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0  # already in the campaign: left unchanged
    errors: list[dict] = field(default_factory=list)  # [{"line": 1-based file line, "reason": str}]
    rows: int = 0  # data rows read
    errors_omitted: int = 0  # errors beyond MAX_REPORTED_ERRORS, counted but not listed
    do_not_call: int = 0  # numbers the file's do-not-call column newly put on the list

    @property
    def error_count(self) -> int:
        return len(self.errors) + self.errors_omitted

    def as_dict(self) -> dict:
        return {**asdict(self), "error_count": self.error_count}


def _region(value) -> str:
    if not isinstance(value, str) or value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise f.invalid("default_region", "must be a two-letter region code such as RU",
                        "должен быть двухбуквенным кодом региона, например RU")
    return value.upper()


def import_csv(campaign_id, text: str | bytes, default_region="RU") -> ImportReport:
    """Import good rows in one transaction; bad rows are reported by line and skipped."""
    region = _region(default_region)
    campaign = f.existing_campaign(campaign_id)
    parsed = lead_csv.parse(text, region)
    report = ImportReport(rows=parsed.seen, errors=parsed.errors[:MAX_REPORTED_ERRORS],
                          errors_omitted=max(0, len(parsed.errors) - MAX_REPORTED_ERRORS))
    with f.database().atomic() as tx:
        report.imported = _insert_new(tx.db.cursor(), campaign.id, parsed.rows)
        report.duplicates = len(parsed.rows) - report.imported
        report.do_not_call = _list_numbers(tx.db, [r["phone"] for r in parsed.rows if r["crm"].get("do_not_call")])
        # one entry per file, not per row: a 200 000-row import stays one readable line
        audit.record(tx.db, "custom", "campaign", campaign.id, name="Импорт заказов из файла",
                     new={"rows": report.rows, "imported": report.imported, "duplicates": report.duplicates,
                          "errors": len(parsed.errors), "do_not_call": report.do_not_call})
    return report


def _list_numbers(db, phones: list[str]) -> int:
    """The file's do-not-call column: its numbers go on the global list (no campaign dials them again)."""
    if not phones:
        return 0
    return db.execute_sql("INSERT INTO do_not_call (phone, source, reason) SELECT DISTINCT unnest(%s::text[]), "
                          "'import', 'CSV import' ON CONFLICT (phone) DO NOTHING", (phones,)).rowcount


def _insert_new(cursor, campaign_id: int, rows: list[dict]) -> int:
    """Insert rows whose (campaign, external_id) is new; existing leads stay as they are (re-import).

    psycopg2's execute_values rather than peewee's insert_many: building a 200 000-row file's
    statements in peewee took longer than PostgreSQL took to run them.
    """
    values = [(campaign_id, r["external_id"], r["phone"], r["name"], Json(r["attrs"]),
               *(r["crm"].get(c, d) for c, d in CRM_COLUMNS)) for r in rows]
    inserted = execute_values(
        cursor, f"INSERT INTO lead (campaign_id, external_id, phone, name, attrs, {', '.join(c for c, _ in CRM_COLUMNS)})"
                " VALUES %s ON CONFLICT (campaign_id, external_id) DO NOTHING RETURNING id",
        values, page_size=BATCH, fetch=True)
    return len(inserted)


def list_leads(campaign_id, state=None, limit=100, before_id=None) -> list[dict]:
    """Newest first; `before_id` pages backwards."""
    campaign = f.existing_campaign(campaign_id)
    limit = f.limit(limit)
    query = Lead.select().where(Lead.campaign == campaign.id)
    if state is not None:
        query = query.where(Lead.state == f.choice("state", state, LEAD_STATES))
    if before_id is not None:
        query = query.where(Lead.id < f.integer("before_id", before_id, 1, f.MAX_ID))
    return [_as_dict(lead) for lead in query.order_by(Lead.id.desc()).limit(limit)]


def _as_dict(lead: Lead) -> dict:
    return {"id": lead.id, "campaign_id": lead.campaign_id, "external_id": lead.external_id,
            "phone": lead.phone, "name": lead.name, "attrs": lead.attrs, "state": lead.state,
            "attempts": lead.attempts, "next_call_at": f.iso(lead.next_call_at),
            "last_attempt_at": f.iso(lead.last_attempt_at), "last_outcome": lead.last_outcome,
            "created_at": f.iso(lead.created_at), "country": lead.country, "region": lead.region, "city": lead.city,
            "amount": None if lead.amount is None else str(lead.amount), "birth_date": f.iso(lead.birth_date),
            "product": lead.product, "crm_status": lead.crm_status, "priority": lead.priority,
            "attempts_today": lead.attempts_today, "attempts_day": f.iso(lead.attempts_day),
            "assigned_operator_id": lead.assigned_operator_id, "callback": lead.callback,
            "time_zone": lead.time_zone, "time_zone_source": lead.time_zone_source}

