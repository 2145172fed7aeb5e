"""Helpers for the control-surface tests: table counts (bad input changes nothing), an API client and page clients
signed in as a role."""
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


PAGE_PASSWORD = "page-password-1"


@pytest.fixture
def signed_in(settings, db, roles, monkeypatch):
    """signed_in("admin") → a new user with that role, signed in on a TestClient of an app of its own that sends the
    session's CSRF token (lang: also a language cookie); closed after the test. Another call with the same role
    signs in another user of that role."""
    from argon2 import PasswordHasher
    from litestar.testing import TestClient

    from dialer.services import users
    from web import auth
    from web.app import create_app

    # sign-ins are not what these tests check: a cheap argon2 keeps the many sessions fast
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    opened = []

    def open_as(code: str, lang: str | None = None, operator_id: int | None = None):
        email = f"{code}.{len(opened) + 1}@example.org"
        users.create_user(email, f"Пользователь {code}", PAGE_PASSWORD, [roles[code]], operator_id)
        s = users.sign_in(email, PAGE_PASSWORD)
        client = TestClient(create_app(settings, db))  # one app per client: each has its own lifespan
        client.__enter__()
        opened.append(client)
        client.cookies.set(auth.Cookies.SESSION, s["token"])
        if lang:
            client.cookies.set(auth.Cookies.LANG, lang)
        client.headers["X-CSRF-Token"] = s["csrf"]
        return client

    yield open_as
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(settings, db):
    from litestar.testing import TestClient

    from web.app import create_app

    with TestClient(create_app(settings, db)) as c:
        c.headers["Authorization"] = f"Bearer {settings.api_token}"
        yield c
