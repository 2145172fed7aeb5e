"""Prepared statements on a real PostgreSQL: prepared once per server session, values never in the text."""
from datetime import datetime, timezone

from dialer import prepared


def prepared_here(db) -> list[tuple[str, int]]:
    return db.execute_sql("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements"
                          " WHERE name LIKE 'p\\_%%' ORDER BY name").fetchall()


def test_a_statement_is_prepared_once_per_session_and_run_with_each_calls_values(db):
    with db.connection_context():
        sql = "SELECT %(a)s::int + %(b)s, %(a)s, 7 %% 4, '%%'"
        assert prepared.execute(db, sql, {"a": 1, "b": 2}).fetchone() == (3, 1, 3, "%")
        assert prepared.execute(db, sql, {"a": 10, "b": 20}).fetchone() == (30, 10, 3, "%")
        [(text, runs)] = prepared_here(db)
        assert runs == 2 and "$1" in text and "10" not in text and "20" not in text


def test_values_that_look_like_sql_stay_values(db):
    with db.connection_context():
        evil = "x'); DROP TABLE lead; --"
        assert prepared.execute(db, "SELECT %s, %s", [evil, None], types={1: "text"}).fetchone() == (evil, None)
        assert db.execute_sql("SELECT to_regclass('lead') IS NOT NULL").fetchone()[0]


def test_declared_types_win_and_a_failed_call_leaves_the_session_usable(db):
    with db.connection_context():
        now = datetime.now(timezone.utc)
        sql = "SELECT %(at)s - make_interval(0, 0, 0, 0, 0, %(m)s) < %(at)s"  # ambiguous without a declared type
        assert prepared.execute(db, sql, {"at": now, "m": 30}, types={"at": "timestamptz"}).fetchone() == (True,)
        try:
            prepared.execute(db, "SELECT 1 / %s", [0]).fetchone()
        except Exception as e:  # division by zero: reported, nothing prepared is lost
            assert "division by zero" in str(e)
        assert prepared.execute(db, sql, {"at": now, "m": 5}, types={"at": "timestamptz"}).fetchone() == (True,)


def test_a_session_holding_too_many_statements_starts_again(db, monkeypatch):
    monkeypatch.setattr(prepared, "PER_SESSION", 2)
    with db.connection_context():
        for n in range(3):
            assert prepared.execute(db, f"SELECT %s + {n}", [1]).fetchone() == (1 + n,)
        assert len(prepared_here(db)) == 1  # the third deallocated the first two
        assert prepared.execute(db, "SELECT %s + 0", [5]).fetchone() == (5,)  # prepared again
