"""The lead store fills the columns the rules use: typed CRM fields, E.164 phones by the order's country,
and the client's IANA zone with its source."""
from dialer.models import Lead
from dialer.services import campaigns, leads


def test_import_fills_crm_columns_and_the_zone(db):
    cid = campaigns.create_campaign("Import")["id"]
    text = ("id;phone;country;region;city;amount;birth_date;product;status;priority;colour\n"
            "1;8 (383) 212-34-56;;Новосибирская обл.;;1500,50;31.05.1980;loan;debt;2;red\n"
            "2;030 123456;DE;;;;;;;;\n"
            "3;+7 900 123 45 67;;;;;;;;;\n"
            "4;+7 900 123 45 68;;;;много;;;;;\n")
    report = leads.import_csv(cid, text)
    assert report.imported == 3 and report.errors[0]["line"] == 5 and "amount" in report.errors[0]["reason"]
    rows = {r.external_id: r for r in Lead.select()}
    one = rows["1"]
    assert (one.phone, one.region, str(one.amount), one.birth_date.isoformat(), one.product, one.crm_status,
            one.priority) == ("+73832123456", "Новосибирская обл.", "1500.50", "1980-05-31", "loan", "debt", 2)
    assert (one.time_zone, one.time_zone_source) == ("Asia/Novosibirsk", "region")
    assert one.attrs["colour"] == "red" and one.attrs["amount"] == "1500,50"  # as the file had it
    assert (rows["2"].phone, rows["2"].country, rows["2"].time_zone, rows["2"].time_zone_source) == (
        "+4930123456", "DE", "Europe/Berlin", "phone")
    assert (rows["3"].time_zone, rows["3"].time_zone_source) == ("Europe/Moscow", "default")
    listed = leads.list_leads(cid)
    assert {x["time_zone_source"] for x in listed} == {"region", "phone", "default"}


def test_a_fixed_offset_is_never_stored_as_a_zone(db):
    import pytest
    from peewee import DataError, IntegrityError
    from dialer.models import Campaign
    c = Campaign.create(name="z")
    for zone in ("UTC+3", "Etc/GMT-3", "MSK-3", "Europe/Nowhere"):
        with pytest.raises((IntegrityError, DataError)), db.atomic():  # an unknown name fails the CHECK itself
            Lead.insert(campaign=c.id, external_id=zone, phone="+79001234567", time_zone=zone).execute()


def test_a_do_not_call_column_lists_the_numbers_and_no_claim_dials_them(db):
    import time

    from ari_app import events as ev
    from ari_app import store
    from ari_app.classifier import AttemptFacts
    from dialer.models import DoNotCall, Operator, OperatorCampaign
    cid = campaigns.create_campaign("Import", retry_delay_s=3600)["id"]
    text = ("id;phone;Не звонить\n"
            "1;+79001230001;да\n"
            "2;+79001230002;\n"
            "3;+79001230003;0\n"
            "4;+79001230004;1\n"
            "5;+79001230005;может быть\n")
    report = leads.import_csv(cid, text)
    assert (report.imported, report.do_not_call) == (4, 2)
    assert report.errors[0]["line"] == 6 and "не звонить" in report.errors[0]["reason"].lower()
    assert {(d.phone, d.source) for d in DoNotCall.select()} == {("+79001230001", "import"), ("+79001230004", "import")}
    again = leads.import_csv(cid, text)  # listed once: a second import adds nothing
    assert (again.imported, again.do_not_call) == (0, 0)
    op = Operator.create(name="o", login="o-dnc", sip_password="secret-123")
    OperatorCampaign.create(operator=op.id, campaign=cid)
    called = []
    while (claimed := store.claim(db, op.id, "pbx", "t", time.time(), None)) is not None:
        called.append(claimed.phone)
        store.record(db, claimed.attempt_id, "dial_started_at", time.time())  # unanswered: retried in an hour
        store.end_attempt(db, ev.EndAttempt(claimed.attempt_id, "NO_ANSWER", AttemptFacts(cause=19), time.time()))
    assert sorted(called) == ["+79001230002", "+79001230003"]
