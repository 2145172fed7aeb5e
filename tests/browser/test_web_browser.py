"""The web foundation as a person uses it, in headless Chromium."""
from __future__ import annotations

import re

from dialer.services import operators, users

from .conftest import PASSWORD, sign_in


def test_sign_in_and_sign_out(accounts, new_page):
    page = new_page()
    page.goto("/access/users")
    assert page.url.endswith("/login?next=/access/users")
    page.fill("input[name=email]", "admin@example.org")
    page.fill("input[name=password]", "wrong password!")
    page.click("button[type=submit]")
    assert "неверный адрес или пароль" in page.locator("[data-testid=form-error]").inner_text()
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/access/users$"))
    assert page.locator("nav.sections a[data-section=access]").inner_text() == "Доступ"
    page.click("[data-testid=user-menu]")
    page.click("[data-testid=sign-out]")
    page.wait_for_url(re.compile(r"/login$"))
    page.goto("/access/users")
    assert "/login" in page.url  # the session is gone on the server, not only the cookie


def test_new_user_role_and_extra_permission_take_effect(accounts, new_page):
    admin = new_page()
    sign_in(admin)
    admin.goto("/access/users")
    admin.fill("#new-user input[name=email]", "tester@example.org")
    admin.fill("#new-user input[name=name]", "Тестировщик")
    admin.fill("#new-user input[name=password]", "tester-password")
    admin.check(f"#new-user input[name=role_ids][value='{accounts['tester']}']")
    admin.click("#new-user button[type=submit]")
    admin.wait_for_url(re.compile(r"/access/users/\d+\?saved=1"))
    user_url = admin.url.split("?")[0]

    tester = new_page()
    sign_in(tester, "tester@example.org", "tester-password")
    tester.goto("/access/users")
    assert tester.locator("#users").is_visible()          # the read-only role sees users...
    assert tester.locator("#new-user").count() == 0        # ...but may not create them
    assert tester.request.get("/access/roles").status == 200
    response = tester.goto("/access/users/999999")
    assert response.status == 404

    admin.goto(user_url)
    admin.check("#user-permissions input[value='users.create']")
    admin.click("#user-permissions button[type=submit]")
    admin.wait_for_url(re.compile(r"saved=1"))

    tester.goto("/access/users")
    assert tester.locator("#new-user").count() == 1        # the extra grant works at once


def test_audit_entry_shows_old_and_new_values(accounts, new_page):
    with_id = users.create_user("anna@example.org", "Анна", "anna-password-1", [accounts["operator"]])
    admin = new_page()
    sign_in(admin)
    admin.goto(f"/access/users/{with_id['id']}")
    admin.fill("#edit-user input[name=name]", "Анна Петрова")
    admin.click("#edit-user button[type=submit]")
    admin.wait_for_url(re.compile(r"saved=1"))
    admin.goto(f"/access/audit?object_type=user&object_id={with_id['id']}&action=updated")
    row = admin.locator("#audit tbody tr").first
    assert row.locator("td").nth(1).inner_text() == "Админ Тестов"
    assert row.locator("td").nth(2).inner_text() == "admin"
    change = row.locator("table.changes tr", has_text="name")
    assert change.locator("td.old").inner_text() == "Анна"
    assert change.locator("td.new").inner_text() == "Анна Петрова"


def test_live_update_appears_without_reload(accounts, new_page, db):
    op = operators.create_operator("Оператор Live", "live1", "secret-live-1", [])
    page = new_page()
    sign_in(page)
    page.goto("/")
    status = page.locator(f"[data-testid=operator-status-{op['id']}]")
    assert status.inner_text() == "Не в сети"
    page.wait_for_function("document.getElementById('live-status').dataset.state === 'open'")
    page.evaluate("window.notReloaded = true")
    db.execute_sql("UPDATE operator SET status = 'ready', status_since = now() WHERE id = %s", (op["id"],))
    page.wait_for_function(f"document.querySelector('[data-testid=operator-status-{op['id']}]').textContent === 'Готов'",
                           timeout=5000)
    assert page.evaluate("window.notReloaded") is True


def test_a_change_between_reading_the_page_and_connecting_still_reaches_it(accounts, new_page, db):
    """The live stream starts where the page was read, not where the connection happens to start."""
    op = operators.create_operator("Оператор Между", "between1", "secret-between-1", [])
    page = new_page()
    sign_in(page)
    held = []
    page.route("**/events*", lambda route: held.append(route))  # the page is read; its stream waits
    page.goto("/")
    page.wait_for_function("document.body.dataset.liveFrom !== undefined")
    status = page.locator(f"[data-testid=operator-status-{op['id']}]")
    assert status.inner_text() == "Не в сети"
    db.execute_sql("UPDATE operator SET status = 'ready', status_since = now() WHERE id = %s", (op["id"],))
    until_held = 50
    while not held and until_held:  # the EventSource asks once DOMContentLoaded has run
        page.wait_for_timeout(100)
        until_held -= 1
    assert held, "the page never opened its live stream"
    assert "last_id=" in held[0].request.url
    for route in held:
        route.continue_()
    page.unroute("**/events*")
    page.wait_for_function(f"document.querySelector('[data-testid=operator-status-{op['id']}]').textContent === 'Готов'",
                           timeout=5000)


def test_form_post_without_csrf_token_is_refused(accounts, new_page, db):
    page = new_page()
    sign_in(page)
    before = db.execute_sql("SELECT count(*) FROM app_user").fetchone()[0]
    answer = page.request.post("/access/users", form={"email": "evil@example.org", "name": "Evil",
                                                     "password": "evil-password-1"})
    assert answer.status == 403
    page.goto("/access/users")
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    forged = page.request.post("/access/users", form={"email": "evil@example.org", "name": "Evil",
                                                     "password": "evil-password-1", "_csrf": token + "x"})
    assert forged.status == 403
    assert db.execute_sql("SELECT count(*) FROM app_user").fetchone()[0] == before
    denied = db.execute_sql("SELECT count(*) FROM audit_log WHERE name = 'Запрос отклонён'"
                            " AND changes->'permission'->>1 = 'csrf'").fetchone()[0]
    assert denied == 2
