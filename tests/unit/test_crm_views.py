"""Reject reasons of the import log in Russian: every reason the parser and the store write is known."""
from __future__ import annotations

import pytest

from dialer.crm import orders
from dialer.crm.views import reason_ru


@pytest.mark.parametrize("reason,ru", [
    ("expected 5 columns, got 3", "ожидалось столбцов: 5, в строке: 3"),
    ("duplicate external_id 'A-1' (first on line 2)", "повтор номера заказа 'A-1' (впервые в строке 2)"),
    ("phone is empty", "телефон не указан"),
    ("invalid phone number '123' for country RU", "неверный номер телефона '123' для страны RU"),
    ("invalid phone number 'abc'", "неверный номер телефона 'abc'"),
    ("total is not a number: 'сто'", "сумма не число: 'сто'"),
    ("CRM status '7' is not mapped to an action", "статусу CRM '7' не назначено действие"),
    ("something new", "something new"),
])
def test_reasons_in_russian(reason, ru):
    assert reason_ru(reason) == ru


@pytest.mark.parametrize("order", [
    {"phone": ""}, {"phone": "12"}, {"phone": "+79123456789", "total": "сто"},
    {"phone": "+79123456789", "total": "1e400"}, {"phone": "+79123456789", "fio": "x" * 10_000},
])
def test_every_parser_reason_has_a_translation(order):
    with pytest.raises(orders.Rejected) as e:
        orders.parse_order("1", order, "RU")
    assert reason_ru(str(e.value)) != str(e.value)
