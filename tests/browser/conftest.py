"""Browser tests: Debian's headless Chromium driven by playwright against a real `dialer run --only web`."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dialer.settings import REPO_ROOT

SHOTS = os.environ.get("DIALER_SCREENSHOTS")  # a folder: full-page screenshots for looking at the pages
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
PASSWORD = "browser-test-password"


def _wait_port(host: str, port: int, proc, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the web process exited with {proc.returncode}")
        try:
            socket.create_connection((host, port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the web process did not listen on {host}:{port}")


@pytest.fixture(scope="session")
def web_url(pg, tmp_path_factory):
    log = open(tmp_path_factory.mktemp("web") / "web.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "dialer.cli", "run", "--only", "web"], cwd=REPO_ROOT,
                            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True)
    try:
        _wait_port(pg.web_host, pg.web_port, proc)
        yield f"http://{pg.web_host}:{pg.web_port}"
    finally:
        proc.terminate()
        proc.wait(15)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: ./scripts/setup.sh installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def accounts(db):
    """Seeded roles and an administrator; {code: role id}."""
    from dialer.services import users

    users.seed_roles()
    roles = {r["code"]: r["id"] for r in users.list_roles()}
    users.create_user("admin@example.org", "Админ Тестов", PASSWORD, [roles["admin"]])
    return roles


@pytest.fixture
def new_page(browser, web_url):
    contexts = []

    def make():
        ctx = browser.new_context(base_url=web_url, viewport={"width": 1280, "height": 900})
        contexts.append(ctx)
        return ctx.new_page()
    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def signed_in_page(browser, web_url):
    """signed_in_page(email, password, **context options) → (page, console errors, context) at 1366×768; what the
    sign-in page itself logged is not in the errors. Closed after the test."""
    contexts = []

    def open_as(email="admin@example.org", password=PASSWORD, **options):
        ctx = browser.new_context(base_url=web_url, viewport={"width": 1366, "height": 768}, **options)
        contexts.append(ctx)
        page = ctx.new_page()
        errors = []
        page.on("console", lambda m: errors.append(f"{m.text} {m.location.get('url')}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, email, password)
        errors.clear()
        return page, errors, ctx
    yield open_as
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def admin(accounts, signed_in_page):
    """The administrator signed in at 1366×768: (page, console errors)."""
    page, errors, _ = signed_in_page()
    return page, errors


def fits(page):
    """Nothing scrolls sideways."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth, location.pathname]")


def shot(page, name):
    """A full-page screenshot into $DIALER_SCREENSHOTS, when it is set."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def sign_in(page, email="admin@example.org", password=PASSWORD):
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
