"""Leads into one campaign from a CSV or XLSX file with a column mapping (SPEC D, the «Импорт» tab of a campaign).

Nothing here is a second importer: the file is read and the mapping checked as the CRM file import does
(`dialer.crm.generic`: `read_table`, `check_mapping`), then the mapped columns are handed as a leads CSV to the
campaign import the CLI uses (`dialer.services.leads.import_csv`: its row checks, typed CRM columns, do-not-call
column, one audit entry). Bad rows come back with the line of the user's own file, not of the text in between.
"""
from __future__ import annotations

import csv
import io

from .. import audit
from ..crm import generic
from . import lead_csv, leads

# generic's targets that are typed lead columns, named as the leads parser reads them
_NAMED = {"external_id", "phone", "name", "country", "region", "city", "amount", "product", "crm_status"}


def _attr_name(column: str, taken: set[str]) -> str:
    """An extra field keeps its column's name unless the leads parser would read that name as one of its own
    columns (`id`, `phone`, …), which the mapping already placed elsewhere."""
    name = column.strip() or "column"
    while name.lower() in lead_csv.ALIASES or name.lower() in _NAMED or name.lower() in taken:
        name += "_"
    taken.add(name.lower())
    return name


def mapped_csv(header: list[str], rows: list[tuple[int, list[str]]], mapping: dict[str, str]):
    """→ (leads CSV text, {its line: the file's line}, [rows refused before the parser: wrong column count]).
    Pure; `mapping` is the full one `generic.check_mapping` returns."""
    kept, names, taken = [], [], set()
    for index, column in enumerate(header):
        target = mapping[column]
        if target == "skip":
            continue
        kept.append(index)
        names.append(target if target in _NAMED else _attr_name(column, taken))
    out, lines, refused, at = io.StringIO(), {}, [], 1

    def write(cells) -> int:
        one = io.StringIO()
        csv.writer(one, delimiter=",", lineterminator="\n").writerow(cells)
        text = one.getvalue()
        out.write(text)
        return len(io.StringIO(text, newline="").readlines())  # physical lines, as the leads parser counts them

    at += write(names)
    for line, cells in rows:
        cells = [str(c) for c in cells]
        if len(cells) > len(header) and not any(c.strip() for c in cells[len(header):]):
            cells = cells[:len(header)]
        if len(cells) != len(header):
            refused.append({"line": line, "reason": f"expected {len(header)} columns, got {len(cells)}"})
            continue
        lines[at] = line
        at += write([cells[i] for i in kept])
    return out.getvalue(), lines, refused


def import_file(campaign_id, data: bytes, filename: str, mapping, actor: audit.Actor | None = None,
                default_region: str = "RU") -> dict:
    """The leads import's report (`leads.ImportReport.as_dict`), lines those of the uploaded file. The web runs it
    in a worker process inside the worker's database (`dialer.workers.Workers.run_in_db`); `actor` is who the audit
    entry names there (the web's own context does not cross into another process)."""
    header, rows = generic.read_table(data, filename)
    full = generic.check_mapping(header, mapping or {})
    text, lines, refused = mapped_csv(header, rows, full)
    with audit.acting_as(actor or audit.current_actor()):
        report = leads.import_csv(campaign_id, text, default_region).as_dict()
    errors = refused + [{**e, "line": lines.get(e["line"], e["line"])} for e in report["errors"]]
    report["errors"] = sorted(errors, key=lambda e: e["line"])[:leads.MAX_REPORTED_ERRORS]
    report["errors_omitted"] += max(0, len(errors) - leads.MAX_REPORTED_ERRORS)
    report["rows"] += len(refused)
    report["error_count"] = len(report["errors"]) + report["errors_omitted"]
    return report
