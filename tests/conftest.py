"""Shared fixtures: a test state directory with its own ports, a real PostgreSQL cluster, a clean schema."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

TEST_ENV = {
    "DIALER_STATE_DIR": os.environ.get("DIALER_TEST_STATE_DIR", "/var/lib/dialer-test"),
    "DIALER_DB_PORT": "5434",
    "DIALER_PBX_SIP_PORT": "5070",
    "DIALER_PBX_HTTP_PORT": "8188",
    "DIALER_WEB_PORT": "8180",
    "DIALER_AGI_PORT": "4574",
}
os.environ.update(TEST_ENV)  # subprocesses (engine, asterisk scripts) see the same settings

from dialer import settings as settings_mod  # noqa: E402

settings_mod.init_secrets(Path(TEST_ENV["DIALER_STATE_DIR"]))


@pytest.fixture(scope="session")
def settings():
    return settings_mod.load()


@pytest.fixture(scope="session")
def pg(settings):
    from dialer import migrate, pg

    pg.start(settings)
    pg.drop_database(settings)
    migrate.migrate(settings)
    return settings


TABLES = "attempt_event, engine_command, attempt, operator_campaign, lead, operator, campaign"


@pytest.fixture
def db(pg):
    """A pooled database bound to the models, with every table emptied before the test."""
    from dialer import db as db_mod

    database = db_mod.connect(pg)
    database.execute_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    yield database
    database.close_all()


def until(predicate, timeout=10.0, interval=0.05, message="condition"):
    """Poll for an expected state instead of sleeping a fixed time."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
