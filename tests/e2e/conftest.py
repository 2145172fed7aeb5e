"""End-to-end fixtures: real Asterisk (pbx + sim), real PostgreSQL, the engine as its own process."""
from __future__ import annotations

import signal

import pytest

from dialer.dev.testing import EngineProcess, hang_up_everything
from tests.conftest import TABLES

@pytest.fixture(scope="session")
def asterisk(pg):
    from dialer.dev import instances, sandbox

    sandbox.ensure_root(pg)
    for name in ("pbx", "sim"):
        instances.start(pg, name)
    yield pg
    for name in ("sim", "pbx"):
        instances.stop(pg, name)


@pytest.fixture
def engine(asterisk, db, tmp_path):
    """A clean database, calls of earlier tests hung up, and a fresh engine."""
    from dialer.dev import instances

    hang_up_everything(asterisk)
    db.execute_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    proc = EngineProcess(asterisk, tmp_path / "engine.log")
    proc.mark()
    proc.start()
    yield proc
    proc.kill(signal.SIGTERM)
    print(open(proc.log_path).read()[-6000:])
    instances.rx(asterisk, "pbx", "channel request hangup all")


