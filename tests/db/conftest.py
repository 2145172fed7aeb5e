"""Helpers for the control-surface tests: table counts (bad input changes nothing) and an API client."""
from __future__ import annotations

import pytest

from dialer.models import ALL


def table_counts() -> dict[str, int]:
    return {m._meta.table_name: m.select().count() for m in ALL}


@pytest.fixture
def unchanged(db):
    """`with unchanged():` asserts that no table gained or lost a row inside the block."""
    import contextlib

    @contextlib.contextmanager
    def check():
        before = table_counts()
        yield
        assert table_counts() == before

    return check


@pytest.fixture
def roles(db):
    """The six roles seeded from the permission catalogue, by code → id."""
    from dialer.services import users

    users.seed_roles()
    return {r["code"]: r["id"] for r in users.list_roles()}


@pytest.fixture
def client(settings, db):
    from litestar.testing import TestClient

    from web.app import create_app

    with TestClient(create_app(settings, db)) as c:
        c.headers["Authorization"] = f"Bearer {settings.api_token}"
        yield c
