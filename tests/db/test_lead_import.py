"""CSV import: exact file line numbers for every bad row, good rows imported once, re-import idempotent."""
from __future__ import annotations

import pytest

from dialer.errors import Invalid, NotFound
from dialer.models import Lead
from dialer.services import campaigns, leads


@pytest.fixture
def campaign(db):
    return campaigns.create_campaign("Import")["id"]


def stored(campaign_id) -> dict[str, Lead]:
    return {lead.external_id: lead for lead in Lead.select().where(Lead.campaign == campaign_id)}


def test_good_file_with_bom_semicolons_crlf_and_local_numbers(campaign):
    text = ("\ufeffOrder_ID;Phone;Name;City;Amount\r\n"
            "A-1;8 (916) 123-45-67;Иван Петров;Москва;1500\r\n"
            "A-2;+7 916 123 45 68;;Казань;\r\n"
            "A-3;9161234569;Мария;\"Санкт-Петербург; центр\";20\r\n")
    report = leads.import_csv(campaign, text)
    assert (report.imported, report.duplicates, report.errors, report.rows) == (3, 0, [], 3)
    rows = stored(campaign)
    assert rows["A-1"].phone == "+79161234567" and rows["A-1"].name == "Иван Петров"
    assert rows["A-1"].attrs == {"city": "Москва", "amount": "1500"}
    assert rows["A-2"].phone == "+79161234568" and rows["A-2"].name == ""
    assert rows["A-3"].attrs["city"] == "Санкт-Петербург; центр"
    assert {lead.state for lead in rows.values()} == {"new"}


def test_bytes_and_comma_delimiter_and_region(campaign):
    report = leads.import_csv(campaign, b"id,phone\n1,(202) 555-0143\n", default_region="us")
    assert report.imported == 1 and stored(campaign)["1"].phone == "+12025550143"


def test_malformed_rows_are_reported_with_file_line_numbers(campaign):
    text = ("id,phone,name,city\n"                      # 1
            "1,+79161234567,Ann,Msk\n"                  # 2 good
            "2,12345,Bob,Msk\n"                         # 3 invalid phone
            ",+79161234568,Carl,Msk\n"                  # 4 missing id
            "4,,Dan,Msk\n"                              # 5 missing phone
            "1,+79161234569,Eve,Msk\n"                  # 6 duplicate of line 2
            "6,+79161234570,Fay,Msk,extra\n"            # 7 extra column
            "7,+79161234571\n"                          # 8 missing columns
            "\n"                                        # 9 blank: skipped silently
            "9,+79161234572,\"Multi\nline\",Msk\n"      # 10-11 control char (newline) in a name
            "10,+79161234573,Gus\x07,Msk\n"             # 12 bell
            "11,+79161234574,Hal,\"a\nb\"\n"            # 13-14 newline in a free attribute: fine
            + "12," + "9" * 41 + ",Ivy,Msk\n"           # 15 over-long phone
            + "x" * 101 + ",+79161234575,Joe,Msk\n"     # 16 over-long id
            "17,+79161234576,Kim,Msk,,\n")              # 17 empty trailing separators: fine
    report = leads.import_csv(campaign, text)
    lines = {e["line"]: e["reason"] for e in report.errors}
    assert sorted(lines) == [3, 4, 5, 6, 7, 8, 10, 12, 15, 16]
    assert "invalid phone" in lines[3] and "12345" in lines[3]
    assert lines[4] == "external_id is empty"
    assert lines[5] == "phone is empty"
    assert "duplicate external_id '1'" in lines[6] and "line 2" in lines[6]
    assert lines[7] == "expected 4 columns, got 5" and lines[8] == "expected 4 columns, got 2"
    assert "control characters" in lines[10] and "control characters" in lines[12]
    assert "phone longer" in lines[15] and "external_id longer" in lines[16]
    assert (report.imported, report.duplicates, report.rows) == (3, 0, 13)
    assert sorted(stored(campaign)) == ["1", "11", "17"]
    assert stored(campaign)["11"].attrs == {"city": "a\nb"}


def test_reimport_is_idempotent_and_leaves_existing_rows_unchanged(campaign):
    leads.import_csv(campaign, "id,phone,name\n1,+79161234567,Ann\n")
    before = stored(campaign)["1"]
    report = leads.import_csv(campaign, "id,phone,name\n1,+79169999999,Changed\n2,+79161234568,Bob\n")
    assert (report.imported, report.duplicates, report.errors) == (1, 1, [])
    after = stored(campaign)["1"]
    assert (after.id, after.phone, after.name) == (before.id, "+79161234567", "Ann")


def test_same_external_id_in_another_campaign_is_a_new_lead(campaign):
    other = campaigns.create_campaign("Other")["id"]
    leads.import_csv(campaign, "id,phone\n1,+79161234567\n")
    assert leads.import_csv(other, "id,phone\n1,+79161234567\n").imported == 1


@pytest.mark.parametrize("text,needle", [
    ("", "empty"),
    ("\n\n", "empty"),
    ("name,city\nAnn,Msk\n", "external_id, phone missing"),
    ("id,name\n1,Ann\n", "phone missing"),
    ("phone,name\n+79161234567,Ann\n", "external_id missing"),
    ("+79161234567;1;Ann\n", "missing"),  # data where the header should be
    ("id,phone,id\n1,+79161234567,2\n", "appears twice"),
    ("id,order_id,phone\n1,2,+79161234567\n", "appears twice"),
    ("id,,phone\n1,x,+79161234567\n", "column name"),
    ("id,phone\x07\n1,+79161234567\n", "column name"),
])
def test_file_without_valid_header_is_one_error_and_imports_nothing(campaign, unchanged, text, needle):
    with unchanged(), pytest.raises(Invalid) as e:
        leads.import_csv(campaign, text)
    assert e.value.code == "csv-invalid-header" and e.value.details["line"] == 1
    assert needle in e.value.message


def test_not_utf8(campaign, unchanged):
    with unchanged(), pytest.raises(Invalid) as e:
        leads.import_csv(campaign, "id;phone;name\n1;+79161234567;Иван\n".encode("cp1251"))
    assert e.value.code == "csv-not-utf8"


def test_unknown_campaign_and_bad_region_write_nothing(db, unchanged):
    with unchanged(), pytest.raises(NotFound):
        leads.import_csv(404, "id,phone\n1,+79161234567\n")
    campaign = campaigns.create_campaign("R")["id"]
    with unchanged(), pytest.raises(Invalid) as e:
        leads.import_csv(campaign, "id,phone\n1,+79161234567\n", default_region="XX")
    assert e.value.details["field"] == "default_region"


def test_unterminated_quote_is_reported_on_its_line(campaign):
    report = leads.import_csv(campaign, 'id,phone\n1,+79161234567\n2,"+7916\n')
    assert report.imported == 1 and [e["line"] for e in report.errors] == [3]


def test_error_list_is_capped_but_counted(campaign):
    text = "id,phone\n" + "".join(f"{i},bad\n" for i in range(1500))
    report = leads.import_csv(campaign, text)
    assert len(report.errors) == leads.MAX_REPORTED_ERRORS and report.errors_omitted == 500
    assert report.as_dict()["error_count"] == 1500 and report.imported == 0


def test_list_leads_filters_and_pages(campaign, unchanged):
    leads.import_csv(campaign, "id,phone\n" + "".join(f"{i},+7916123456{i}\n" for i in range(5)))
    Lead.update(state="done").where(Lead.external_id == "0").execute()
    assert [x["external_id"] for x in leads.list_leads(campaign, limit=2)] == ["4", "3"]
    last = leads.list_leads(campaign, limit=2)[-1]["id"]
    assert [x["external_id"] for x in leads.list_leads(campaign, before_id=last)] == ["2", "1", "0"]
    assert [x["external_id"] for x in leads.list_leads(campaign, state="done")] == ["0"]
    for bad in ({"state": "nope"}, {"limit": 0}, {"limit": 1001}, {"limit": "5"}):
        with pytest.raises(Invalid):
            leads.list_leads(campaign, **bad)
