"""The fault tier: the end-to-end set-up (real pbx + sim, PostgreSQL, the engine as its own process) with a
failure injected into a live call centre, then the invariants checked. Runs after tests/e2e, on the same
session's Asterisk instances; `-m "not chaos"` leaves it out."""
from __future__ import annotations

import pytest

from bench import chaos_faults as chaos
from dialer.dev.testing import hang_up_everything
from tests.e2e.conftest import asterisk  # noqa: F401 — one pbx + sim for the whole session


def pytest_configure(config):
    config.addinivalue_line("markers", "chaos: a fault injected into a live call centre (tests/chaos)")


def pytest_collection_modifyitems(config, items):
    """After every other tier but the browser's (tests/conftest.py keeps that one last): the slowest, and
    it restarts PostgreSQL and Asterisk under the tests' feet."""
    def tier(item):
        path = item.nodeid.replace("\\", "/")
        return 2 if "tests/browser/" in path else 1 if "tests/chaos/" in path else 0
    items.sort(key=tier)


@pytest.fixture
def call_centre(asterisk, db, tmp_path):  # noqa: F811 — the shared session fixture
    """Run one fault on a clean database; the engine's log is printed (its warnings first) afterwards."""
    hang_up_everything(asterisk)
    log_path = tmp_path / "engine.log"

    def run(fault: str) -> dict:
        report = chaos.run_fault(fault, asterisk, db, log_path)
        print("report:", report)
        return report
    run.log_path = log_path
    yield run
    if log_path.exists():
        print("\n".join(chaos.engine_log_problems(log_path, limit=60)))
        print(log_path.read_text(errors="replace")[-6000:])
