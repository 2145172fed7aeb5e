"""Uploaded tables are read as a stream with their limits enforced while reading (issue 12, defect 7): a 5 KB
XLSX whose <dimension> claims A1:XFD1048576 is read as the few rows it has, in bounded memory and time; what
is over a limit is refused at the first row over it, with a message in both languages."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap

import pytest

from dialer import tables
from dialer.crm import generic
from dialer.errors import Invalid
from dialer.services import lead_csv
from dialer.settings import REPO_ROOT
from tests import xlsx_files as x

ORDERS = [["external_id", "phone", "name"], ["1", "+79161234567", "Анна"], ["2", "+79161234568", "Пётр"]]
LAST_CELL = '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
HOSTILE = {
    # the dimension alone: openpyxl's read-only mode pads every row to 16 384 cells, up to row 1 048 576
    "dimension": {"dimension": "A1:XFD1048576"},
    # ... and the sheet really reaching its last cell, a million empty rows after the data
    "last cell": {"dimension": "A1:XFD1048576", "extra_rows": [LAST_CELL]},
}


def run_isolated(code: str, timeout: float = 60) -> dict:
    """Run `code` in a child with 2 GB of address space: the old reader needed tens of GB for these files and
    must fail this test (MemoryError or the timeout), not the machine."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    try:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=timeout, preexec_fn=limit, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading the file did not end within {timeout} s")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_sheet_that_claims_a_million_rows_is_read_as_the_rows_it_has(kind):
    result = run_isolated(f"""
        import json, time, tracemalloc
        from dialer.crm import generic
        from tests import xlsx_files as x
        data = x.patched(x.workbook({ORDERS!r}), **{HOSTILE[kind]!r})
        assert len(data) < 10_000, len(data)
        tracemalloc.start()
        started = time.perf_counter()
        preview = generic.preview(data, "orders.xlsx")
        took = time.perf_counter() - started
        print(json.dumps({{"rows": preview["rows"], "columns": preview["columns"], "took": took,
                          "peak": tracemalloc.get_traced_memory()[1]}}))
    """)
    assert result["columns"] == ORDERS[0] and result["rows"] == 2
    assert result["took"] < 10, result  # ~0.1 s here; minutes and gigabytes before
    assert result["peak"] < 20 * 1024 * 1024, result


def refusal(excinfo) -> dict:
    error = excinfo.value.as_dict()
    assert error["error"] == "file-too-large" and error["message"] and error["message_ru"], error
    return error


def test_a_row_over_the_column_limit_is_refused_at_that_row():
    wide = ["x"] * (tables.LIMITS.columns + 1)
    data = x.patched(x.workbook(ORDERS + [wide]), dimension="A1:XFD1048576")
    with pytest.raises(Invalid) as e:
        generic.preview(data, "orders.xlsx")
    error = refusal(e)
    assert (error["limit"], error["line"]) == ("columns", 4)
    assert "256" in error["message"] and "столбцов" in error["message_ru"]


def test_empty_cells_padding_a_row_are_not_columns():
    padded = x.patched(x.workbook(ORDERS), extra_rows=[x.row(4, ["3", "+79161234569"] + [""] * 400)])
    assert generic.preview(padded, "orders.xlsx")["rows"] == 3


def test_a_cell_over_the_size_limit_is_refused():
    data = x.patched(x.workbook(ORDERS), extra_rows=[x.row(4, ["3", "+79161234569", "я" * (tables.LIMITS.cell + 1)])])
    with pytest.raises(Invalid) as e:
        generic.preview(data, "orders.xlsx")
    error = refusal(e)
    assert (error["limit"], error["line"]) == ("cell", 4) and "column 3" in error["message"]


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_rows_over_the_limit_are_refused_at_the_first_one_over(monkeypatch, kind):
    monkeypatch.setattr(tables, "LIMITS", tables.Limits(rows=50))
    rows = ORDERS[:1] + [[str(i), f"+7916{i:07d}", "a"] for i in range(1, 201)]
    if kind == "xlsx":
        data, name = x.patched(x.workbook(rows), dimension="A1:C51"), "orders.xlsx"  # the dimension lies low too
    else:
        data, name = "\n".join(",".join(r) for r in rows).encode(), "orders.csv"
    with pytest.raises(Invalid) as e:
        generic.preview(data, name)
    error = refusal(e)
    assert (error["limit"], error["line"], error["max"]) == ("rows", 52, 50)
    assert "50" in error["message"] and "строк" in error["message_ru"]


def test_a_long_run_of_blank_rows_ends_the_table(monkeypatch):
    monkeypatch.setattr(tables, "LIMITS", tables.Limits(blank_run=100))
    data = x.patched(x.workbook(ORDERS), extra_rows=[f'<row r="{n}"/>' for n in range(4, 5000)])
    assert [n for n, _ in tables.xlsx_rows(data)] == [1, 2, 3]


def test_files_over_the_size_limit_are_refused_before_reading(monkeypatch):
    monkeypatch.setattr(tables, "LIMITS", tables.Limits(file=1000))
    for data, name in ((x.workbook(ORDERS * 100), "orders.xlsx"), (b"id,phone\n" + b"1,+79161234567\n" * 100, "a.csv")):
        with pytest.raises(Invalid) as e:
            generic.preview(data, name)
        assert refusal(e)["limit"] == "file"
    with pytest.raises(Invalid) as e:
        lead_csv.parse(b"id,phone\n" + b"1,+79161234567\n" * 100, "RU")
    assert refusal(e)["limit"] == "file" and "МБ" in e.value.as_dict()["message_ru"]


def test_a_spreadsheet_that_unpacks_too_large_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(tables, "LIMITS", tables.Limits(unpacked=200_000))
    data = x.patched(x.workbook(ORDERS), extra_rows=[x.row(n, ["a" * 100]) for n in range(4, 3000)])
    assert len(data) < 50_000  # small packed: 100 characters repeated compress well
    with pytest.raises(Invalid) as e:
        generic.preview(data, "orders.xlsx")
    assert refusal(e)["limit"] == "unpacked"


@pytest.mark.parametrize("parse", [lambda d: lead_csv.parse(d, "RU"), lambda d: generic.preview(d, "orders.csv")])
def test_a_csv_record_too_long_is_refused_while_read(parse):
    """One line of a million separators would make the csv module build a million cells before any check."""
    data = b"id,phone\n1," + b"," * (tables.LIMITS.record + 10) + b"\n"
    with pytest.raises(Invalid) as e:
        parse(data)
    error = refusal(e)
    assert (error["limit"], error["line"]) == ("record", 2)


def test_the_lead_import_still_reports_bad_lines_one_by_one_within_the_limits():
    parsed = lead_csv.parse("id,phone\n1,+79161234567\n\n2,not-a-phone\n3," + "4," * 10 + "\n", "RU")
    assert [r["line"] for r in parsed.rows] == [2] and parsed.seen == 3
    assert parsed.errors == [{"line": 4, "reason": "invalid phone number 'not-a-phone'"},
                             {"line": 5, "reason": "expected 2 columns, got 12"}]
