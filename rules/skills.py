"""Operator skills (SPEC C7): a selection may require a skill at level ≥ N."""
from __future__ import annotations

import re

from dialer import audit
from dialer import validation as f
from dialer.models import OperatorSkill
from dialer.validation import existing_operator

SKILL_RE = re.compile(r"^[a-z0-9_]{1,40}$")
MAX_SKILLS = 100


def _skills(value) -> dict[str, int]:
    if not isinstance(value, list) or len(value) > MAX_SKILLS:
        raise f.invalid("skills", f"must be a list of at most {MAX_SKILLS} {{skill, level}} objects",
                        f"должно быть списком не более {MAX_SKILLS} объектов {{skill, level}}")
    out: dict[str, int] = {}
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"skill", "level"}:
            raise f.invalid(f"skills[{i}]", "must be an object {skill, level}", "должно быть объектом {skill, level}")
        skill = item["skill"]
        if not isinstance(skill, str) or not SKILL_RE.match(skill):
            raise f.invalid(f"skills[{i}].skill", "1 to 40 of a-z, 0-9, _", "от 1 до 40 символов a-z, 0-9, _")
        if skill in out:
            raise f.invalid(f"skills[{i}].skill", f"{skill!r} is listed twice", f"{skill!r} указан дважды")
        out[skill] = f.integer(f"skills[{i}].level", item["level"], 1, 10)
    return out


def get_skills(operator_id) -> dict:
    o = existing_operator(operator_id)
    rows = OperatorSkill.select().where(OperatorSkill.operator == o.id).order_by(OperatorSkill.skill)
    return {"operator_id": o.id, "skills": [{"skill": r.skill, "level": r.level} for r in rows]}


def set_skills(operator_id, skills) -> dict:
    """Replace the operator's skills with exactly these."""
    wanted = _skills(skills)
    db = f.database()
    with db.atomic():
        o = existing_operator(operator_id, lock=True)
        before = {r.skill: r.level for r in OperatorSkill.select().where(OperatorSkill.operator == o.id)}
        if before != wanted:
            OperatorSkill.delete().where(OperatorSkill.operator == o.id).execute()
            if wanted:
                OperatorSkill.insert_many([{"operator": o.id, "skill": k, "level": v} for k, v in wanted.items()]).execute()
            audit.record(db, "updated", "operator", o.id, name="operator skills changed",
                         old={"skills": before}, new={"skills": wanted})
    return get_skills(o.id)
