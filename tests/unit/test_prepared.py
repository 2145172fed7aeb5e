"""Server-side prepared statements: psycopg2's placeholders become `$n`, and values give the parameter types."""
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from dialer.prepared import convert, pg_type


@pytest.mark.parametrize("sql, text, order", [
    ("SELECT %s, %s", "SELECT $1, $2", [0, 1]),
    ("SELECT %(a)s + %(b)s * %(a)s", "SELECT $1 + $2 * $1", ["a", "b"]),
    ("SELECT 5 %% 3, %(x)s", "SELECT 5 % 3, $1", ["x"]),
    ("SELECT '%%s' || %s", "SELECT '%s' || $1", [0]),
    ("SELECT 1", "SELECT 1", []),
    ("WHERE id = (SELECT %(pick0)s) AND op = %(operator)s AND x = %(pick1)s",
     "WHERE id = (SELECT $1) AND op = $2 AND x = $3", ["pick0", "operator", "pick1"]),
])
def test_placeholders_become_numbered_parameters(sql, text, order):
    assert convert(sql) == (text, order)


@pytest.mark.parametrize("value, expected", [
    (True, "boolean"), (7, "integer"), (2 ** 31, "bigint"), (-2 ** 31, "integer"), (Decimal("9.5"), "numeric"),
    (1.5, "double precision"), ("x", "text"), (datetime(2026, 1, 1, tzinfo=timezone.utc), "timestamptz"),
    (datetime(2026, 1, 1), "timestamp"), (date(2026, 1, 1), "date"), (["a", "b"], "text[]"), ([1, 2], "integer[]"),
    ([], "unknown"), (None, "unknown"), ([1, "a"], "unknown"),
])
def test_a_values_type_decides_the_parameters_type(value, expected):
    assert pg_type(value) == expected
