"""What the selection editor needs besides the rules' own use cases (`rules.selections`): the CRM attributes
seen in a campaign's leads with their types (the condition builder's picker) and the skills operators have.
"""
from __future__ import annotations

import re

from rules.model import ATTR_KEY_RE, catalogue

from ..models import OperatorSkill
from . import fields as f

SAMPLE = 5000  # the newest leads are read for attribute keys: enough to see every key a CRM sends
MAX_ATTRIBUTES = 200
EXAMPLES = 5
_NUMBER = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$")  # what rules.compile compares as a number
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

_ATTRS_SQL = """
SELECT key, jsonb_typeof(value) AS kind, count(*) AS n,
       (array_agg(DISTINCT left(value #>> '{}', 60)) FILTER (WHERE jsonb_typeof(value) IN ('string', 'number', 'boolean')))[1:%s]
FROM (SELECT attrs FROM lead WHERE campaign_id = %s ORDER BY id DESC LIMIT %s) newest, jsonb_each(newest.attrs)
GROUP BY key, kind ORDER BY key"""


def attribute_type(kinds: dict[str, int], examples: list[str]) -> str:
    """The type the editor offers for an attribute (pure): a number when every value is one (JSON numbers or
    strings that look like numbers), a date when they all start like one, else text."""
    if set(kinds) <= {"number"}:
        return "number"
    if set(kinds) <= {"string", "number"} and examples and all(_NUMBER.match(e) for e in examples):
        return "number"
    if set(kinds) <= {"string"} and examples and all(_DATE.match(e) for e in examples):
        return "date"
    return "text"


def attributes(campaign_id) -> list[dict]:
    """The CRM attributes (`attrs`) seen in the campaign's newest leads: key, type, how many leads have it,
    a few values; keys a rule could not name are left out."""
    campaign = f.existing_campaign(campaign_id)
    rows = f.database().execute_sql(_ATTRS_SQL, (EXAMPLES, campaign.id, SAMPLE)).fetchall()
    by_key: dict[str, dict] = {}
    for key, kind, n, examples in rows:
        if not ATTR_KEY_RE.match(key):
            continue
        a = by_key.setdefault(key, {"key": key, "kinds": {}, "leads": 0, "examples": []})
        a["kinds"][kind] = n
        a["leads"] += n
        a["examples"] = (a["examples"] + [e for e in (examples or []) if e not in a["examples"]])[:EXAMPLES]
    out = []
    for a in list(by_key.values())[:MAX_ATTRIBUTES]:
        out.append({"key": a["key"], "field": "attrs." + a["key"], "type": attribute_type(a["kinds"], a["examples"]),
                    "leads": a["leads"], "examples": a["examples"]})
    return out


def skills() -> list[str]:
    return [s for (s,) in OperatorSkill.select(OperatorSkill.skill).distinct().order_by(OperatorSkill.skill).tuples()]


def editor_catalogue(campaign_id) -> dict:
    """The rule catalogue with this campaign's CRM attributes and the skills operators have."""
    return {**catalogue(), "attributes": attributes(campaign_id), "skills": skills()}
