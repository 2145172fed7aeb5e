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
    return settings


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
