"""«Больше не звонить» in headless Chromium at 1366×768: search by a number written the way a client says it, a
wrong number refused with its message, a number added with a reason, a file with wrong lines named by line, a
number removed after the page asks. No sideways scrolling, no console errors but the expected answers of refused forms;
screenshots for review."""
from __future__ import annotations

from dialer.models import DoNotCall
from rules import dnc

from .conftest import fits, shot


def only_expected(errors):
    """A refused form is answered 422 (or 409) by design and Chromium logs each; anything else fails."""
    return [e for e in errors if not any(f"status of {s}" in e for s in (409, 422))]


def test_a_supervisor_keeps_the_do_not_call_list(admin, db, tmp_path):
    page, errors = admin
    dnc.add("+79001000001", "просил не звонить", "operator")
    dnc.add("+79001000002", "жалоба в CRM", "crm")
    page.goto("/dnc")
    assert page.locator("[data-testid=dnc-list] tbody tr").count() == 2
    fits(page)

    page.fill("[data-testid=dnc-q]", "8 (900) 100-00-02")
    page.click("[data-testid=dnc-find]")
    page.wait_for_selector("tr[data-phone='+79001000002']")
    assert page.locator("[data-testid=dnc-list] tbody tr").count() == 1

    page.fill("[data-testid=dnc-phone]", "12-34")
    page.fill("[data-testid=dnc-reason]", "грубил")
    page.click("[data-testid=dnc-add-go]")
    page.wait_for_selector("[data-testid=phone-error]")
    assert "неверный номер" in page.inner_text("[data-testid=phone-error]") and DoNotCall.select().count() == 2
    page.fill("[data-testid=dnc-phone]", "8 912 345-67-89")
    page.click("[data-testid=dnc-add-go]")
    page.wait_for_selector("[data-testid=added]")
    assert DoNotCall.get_by_id("+79123456789").reason == "грубил"

    wrong = tmp_path / "numbers.csv"
    wrong.write_text("телефон;причина\n+79123330000;ok\nабв;x\n", encoding="utf-8")
    page.set_input_files("[data-testid=import-file]", str(wrong))
    page.click("[data-testid=import]")
    page.wait_for_selector("[data-testid=import-problems] tr[data-line='3']")
    assert DoNotCall.select().count() == 3
    fits(page)
    shot(page, "g-dnc-import-problems")

    page.once("dialog", lambda d: d.accept())
    page.click("tr[data-phone='+79001000001'] [data-testid=remove]")
    page.wait_for_selector("[data-testid=removed]")
    assert DoNotCall.get_or_none(DoNotCall.phone == "+79001000001") is None
    fits(page)
    shot(page, "g-dnc")
    assert only_expected(errors) == [], errors
