"""The client's time zone from the order (pure): city, then region, then the number, then the default."""
import pytest

from dialer.services import lead_csv
from rules import zones
from rules.model import valid_zone


@pytest.mark.parametrize("region,city,phone,expected", [
    ("", "г. Новосибирск", "+79001234567", ("Asia/Novosibirsk", "city")),
    ("Приморский край", "", "+79001234567", ("Asia/Vladivostok", "region")),
    ("Свердловская обл.", "Неизвестноград", None, ("Asia/Yekaterinburg", "region")),
    ("", "Екатеринбург", "+74232123456", ("Asia/Yekaterinburg", "city")),  # the order beats the number
    ("", "", "+74232123456", ("Asia/Vladivostok", "phone")),  # a Vladivostok landline
    ("", "", "+4930123456", ("Europe/Berlin", "phone")),
    ("", "", "+79001234567", ("Europe/Moscow", "default")),  # a mobile number says nothing about the zone
    ("", "", None, ("Europe/Moscow", "default")),
])
def test_resolve(region, city, phone, expected):
    assert zones.resolve(region, city, phone) == expected


def test_every_known_name_maps_to_a_real_iana_zone():
    assert all(valid_zone(z) for z in {*zones.CITIES.values(), *zones.REGIONS.values()})


@pytest.mark.parametrize("values,expected", [
    ({"страна": "de", "сумма": "1 500,50", "дата рождения": "31.05.1980", "город": "Berlin", "приоритет": "3"},
     {"country": "DE", "amount": "1500.50", "birth_date": "1980-05-31", "city": "Berlin", "priority": 3}),
    ({"amount": "", "region": "  Тверская   область "}, {"region": "Тверская область"}),
])
def test_crm_fields_are_typed(values, expected):
    crm, reason = lead_csv.crm_fields(values, "RU")
    assert reason is None
    assert {k: str(v) if k in ("amount", "birth_date") else v for k, v in crm.items()} == expected


@pytest.mark.parametrize("values,word", [
    ({"country": "XX"}, "country"), ({"amount": "12.345"}, "amount"), ({"amount": "1e99"}, "amount"),
    ({"birth_date": "2999-01-01"}, "birth_date"), ({"birth_date": "31.02.1980"}, "birth_date"),
    ({"priority": "high"}, "priority"), ({"product": "x" * 201}, "product"),
])
def test_bad_crm_fields_refuse_the_row(values, word):
    crm, reason = lead_csv.crm_fields(values, "RU")
    assert word in reason


def test_a_row_phone_is_read_with_the_orders_country():
    row, reason = lead_csv.check_row({"external_id": "1", "phone": "030 123456", "country": "DE"}, "RU")
    assert reason is None and row["phone"] == "+4930123456"
    assert (row["crm"]["time_zone"], row["crm"]["time_zone_source"]) == ("Europe/Berlin", "phone")
