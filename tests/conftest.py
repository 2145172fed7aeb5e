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


@pytest.fixture
def db(pg):
    """A pooled database bound to the models, with every table emptied before the test."""
    from dialer import db as db_mod

    database = db_mod.connect(pg)
    database.execute_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    yield database
    database.close_all()
