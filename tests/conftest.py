"""Shared fixtures: a test state directory with its own ports, a real PostgreSQL cluster, a clean schema."""
from __future__ import annotations

import os

import pytest

from dialer.dev.testing import isolate

isolate(os.environ.get("DIALER_TEST_STATE_DIR", "/var/lib/dialer-test"))

from dialer import settings as settings_mod  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """Browser tests last: playwright's sync API keeps an event loop running in this thread while its
    session-wide browser is open, and the asyncio tests of the other tiers cannot start beside it."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid.replace("\\", "/"))


@pytest.fixture(scope="session")
def settings():
    return settings_mod.load()


@pytest.fixture(scope="session")
def pg(settings):
    from dialer import migrate, pg

    pg.start_until_exit(settings)  # stopped again after the run if this run started it
    pg.drop_database(settings)
    migrate.migrate(settings)
    _calling_at_any_hour(settings, True)
    return settings


def _calling_at_any_hour(settings, any_hour: bool) -> None:
    """The campaign table's default calling window in the tests' database (see `_any_hour_unless_marked`)."""
    import json

    from dialer import db as db_mod
    from rules import window

    database = db_mod.connect(settings)
    try:
        default = json.dumps(window.ANY_HOUR if any_hour else window.DEFAULT)
        database.execute_sql(f"ALTER TABLE campaign ALTER COLUMN calling_window SET DEFAULT '{default}'::jsonb")
    finally:
        database.close_all()


@pytest.fixture(autouse=True)
def _any_hour_unless_marked(request, monkeypatch):
    """Tests run at every hour of the day, and campaigns get a 09:00–21:00 window by default: a test that is not
    about the window would pass by day and claim nothing at night. So campaigns made in tests call at any hour,
    except in tests marked `calling_window`, which get the product's default (and fix their own clock)."""
    from rules import window

    if request.node.get_closest_marker("calling_window") is None:
        monkeypatch.setattr(window, "DEFAULT", window.ANY_HOUR)
        yield
        return
    if "pg" not in request.fixturenames:  # no database: the pure window logic only
        yield
        return
    settings = request.getfixturevalue("pg")
    _calling_at_any_hour(settings, False)
    try:
        yield
    finally:
        _calling_at_any_hour(settings, True)


# ps_contacts first: Asterisk writes it while e2e tests run, and its trigger then reads sip_device, operator, alert;
# locking it before those (not last, by the cascade) keeps a registration refresh from deadlocking the TRUNCATE
TABLES = ("ps_contacts, claim_queue, claim_queue_fill, alert, missed_offer, audit_log, do_not_call, operator_skill, selection_version, selection, campaign_result,"
          " attempt_event, engine_command, attempt, operator_campaign, lead, operator, campaign, live_event, web_session,"
          " user_permission, user_role, role_permission, role, app_user, component_health, job_run")


@pytest.fixture(scope="session")
def _emptier(pg):
    emptier = Emptier(pg)
    yield emptier
    emptier.close()


@pytest.fixture
def db(pg, _emptier):
    """A pooled database bound to the models, with every table emptied before the test."""
    from dialer import db as db_mod

    database = db_mod.connect(pg)
    _emptier.empty()
    yield database
    database.close_all()


class Emptier:
    """Leaves the database as `TRUNCATE {TABLES} RESTART IDENTITY CASCADE` would, touching only what a test wrote.

    That TRUNCATE made each of the ~40 tables it reaches a new file (and synced them): 0.3–0.45 s before every
    database test, some ten minutes of the suite. A test writes a few rows in a few tables, so: find the tables
    with a row or a used sequence (one query), delete their rows with triggers and foreign-key checks off (as the
    TRUNCATE fires no row trigger), restart their sequences, and do what the TRUNCATE's own statement triggers do
    (sql/017, 019, 020, 028): the report rollup and the campaigns' lead counts emptied, Asterisk's endpoint tables
    synced with the devices, the leads' in-memory copies told to read them whole. The tables are those the TRUNCATE reaches: TABLES and, by the cascade, every table
    whose foreign keys lead to one of them."""

    DERIVED = ("report_rollup", "campaign_lead_count")  # emptied by the TRUNCATE's triggers on attempt and lead
    SIP = ("operator", "sip_device", "ps_endpoints", "ps_auths", "ps_aors")  # sip_realtime_sync() follows them

    def __init__(self, settings):
        self.settings, self.conn = settings, None
        self._connect()
        cur = self.conn.cursor()
        cur.execute("""
            WITH RECURSIVE reached(oid) AS (
                SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'public' AND c.relname = ANY(%s)
                UNION
                SELECT k.conrelid FROM pg_constraint k JOIN reached r ON k.confrelid = r.oid WHERE k.contype = 'f')
            SELECT c.relname FROM reached r JOIN pg_class c ON c.oid = r.oid
            UNION SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname = ANY(%s)""",
                    ([t.strip() for t in TABLES.split(",")], [*self.DERIVED, *self.SIP]))
        self.tables = sorted(r[0] for r in cur.fetchall())
        cur.execute("""
            SELECT t.relname, s.oid::regclass::text FROM pg_depend d
              JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
              JOIN pg_class t ON t.oid = d.refobjid
             WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
               AND d.deptype IN ('a', 'i') AND t.relname = ANY(%s)""", (self.tables,))
        self.sequences: dict[str, list[str]] = {}
        for table, seq in cur.fetchall():
            self.sequences.setdefault(table, []).append(seq)
        self.dirty_sql = " UNION ALL ".join(
            f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM {t})"
            + "".join(f" OR pg_sequence_last_value('{q}') IS NOT NULL" for q in self.sequences.get(t, ()))
            for t in self.tables)

    def _connect(self):
        from dialer import pg as pg_mod

        self.close()
        self.conn = pg_mod.superuser_conn(self.settings, self.settings.db_name)
        self.conn.autocommit = False

    def close(self):
        if self.conn is not None and not self.conn.closed:
            self.conn.close()

    def empty(self):
        import psycopg2

        try:
            self._empty()
        except (psycopg2.OperationalError, psycopg2.InterfaceError):  # the server was restarted (a fault test)
            self._connect()
            self._empty()

    def _empty(self):
        with self.conn, self.conn.cursor() as cur:
            cur.execute(self.dirty_sql)
            dirty = [r[0] for r in cur.fetchall()]
            if not dirty:
                return
            cur.execute("SET LOCAL session_replication_role = replica")
            for table in dirty:
                cur.execute(f"DELETE FROM {table}")
                for seq in self.sequences.get(table, ()):
                    cur.execute(f"ALTER SEQUENCE {seq} RESTART")
            if set(dirty) & set(self.SIP):
                cur.execute("SELECT sip_realtime_sync()")
            if "lead" in dirty:  # as the TRUNCATE's trigger says (sql/028): the in-memory copies are read whole
                cur.execute("INSERT INTO lead_gone (campaign_id, lead_id) VALUES (NULL, NULL)")
