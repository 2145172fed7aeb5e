"""Parsing LeadVertex orders and id lists, with the captured real answer's shapes."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from dialer.crm.orders import Rejected, parse_batch, parse_order, unique_ids

# the captured real answer of getOrdersByIds (abridged), types as sent
REAL = {"10": {"datetime": "2023-02-24 12:40:06", "timezone": -123, "status": 9, "statusGroup": "spam",
               "price": 0, "total": 59500, "operatorID": None, "lastUpdate": "2023-03-27 09:03:09",
               "goods": {"193651": {"goodID": "193651", "name": "Товар", "quantity": "1", "price": "11900"}},
               "callmodeRecallAt": "0000-00-00 00:00:00", "fio": "Kovács Anna", "country": "HU",
               "postIndex": "47080", "region": "", "city": "Debrecen", "address": "Fő utca 1",
               "phone": "3611234567", "email": "a@example.com", "quantity": "5", "comment": "", "additional1": ""}}


def test_the_real_order_shape():
    orders, rejects = parse_batch(REAL, "RU")
    assert rejects == []
    order = orders[0]
    assert (order.external_id, order.phone, order.country, order.crm_status) == ("10", "+3611234567", "HU", "9")
    assert order.amount == Decimal("59500.00") and order.product == "Товар" and order.recall_at is None
    assert order.attrs["postIndex"] == "47080" and "additional1" not in order.attrs  # empty fields are dropped
    assert "goods" not in order.attrs and order.attrs["timezone"] == "-123"


@pytest.mark.parametrize("phone,country,default,expected", [
    ("79161234567", "RU", "RU", "+79161234567"),      # full number without "+"
    ("9161234567", "RU", "RU", "+79161234567"),       # without the country code: the order's country decides
    ("89161234567", "", "RU", "+79161234567"),        # trunk prefix, no country: the connection's default
    ("3611234567", "HU", "RU", "+3611234567"),
    ("+44 20 7946 0958", "RU", "RU", "+442079460958"),
    (79161234567, "RU", "RU", "+79161234567"),        # a number, not a string
    ("7 (916) 123-45-67", "KZ", "RU", "+79161234567"),
])
def test_phones_become_e164(phone, country, default, expected):
    assert parse_order("1", {"phone": phone, "country": country}, default).phone == expected


@pytest.mark.parametrize("raw,reason", [
    ({"phone": ""}, "phone is empty"),
    ({"phone": None}, "phone is empty"),
    ({"phone": "12"}, "invalid phone number"),
    ({"phone": "79161234567", "total": "много"}, "not a number"),
    ({"phone": "79161234567", "total": "1e400"}, "out of range"),
    ({"phone": "79161234567", "fio": "a\x00b"}, "control characters"),
    ({"phone": ["79161234567"]}, "expected text"),
    ("not an object", "not an object"),
])
def test_malformed_orders_are_rejected_with_a_reason(raw, reason):
    with pytest.raises(Rejected, match=reason):
        parse_order("5", raw)


def test_dates_and_empty_dates():
    order = parse_order("1", {"phone": "79161234567", "callmodeRecallAt": "2026-11-26 15:30:00"})
    assert order.recall_at == datetime(2026, 11, 26, 15, 30, tzinfo=timezone.utc)
    for empty in ("0000-00-00 00:00:00", None, "", "вчера"):
        assert parse_order("1", {"phone": "79161234567", "callmodeRecallAt": empty}).recall_at is None


def test_a_batch_keeps_good_orders_and_lists_bad_ones():
    answer = {"1": {"phone": "79161234567"}, "2": {"phone": "x"}, "3": {"phone": "79161234568"}}
    orders, rejects = parse_batch(answer)
    assert [o.external_id for o in orders] == ["1", "3"] and rejects[0]["external_id"] == "2"
    with pytest.raises(Rejected):
        parse_batch(["1", "2"])


def test_id_lists_strings_or_numbers_duplicates_once():
    assert unique_ids([1, "2", 2, "1", 3, None, True, "", {"x": 1}]) == ["1", "2", "3"]
    with pytest.raises(Rejected):
        unique_ids({"1": 1})
