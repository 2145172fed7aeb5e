"""When the engine pauses an operator because their Asterisk server was lost (ari_app/servers.py), the operator's
panel says why, and the supervisor's row is marked with the reason on hover — live, from the `operator.status`
event the reason's write sends (sql/022), and on a fresh read; both clear when the operator works again."""
from __future__ import annotations

from ari_app import servers
from dialer.models import Operator
from dialer.services import operators, users

from .conftest import PASSWORD, fits, shot

REASON_RU = "Пауза от системы: сервер Asterisk pbx2 недоступен"


def test_the_operator_and_the_supervisor_see_why_the_dialer_paused_the_operator(db, accounts, signed_in_page):
    me = operators.create_operator("Ольга Панова", "opanova", "secret-opanova-1")
    users.create_user("opanova@example.org", me["name"], PASSWORD, [accounts["operator"]], operator_id=me["id"])
    users.create_user("boss@example.org", "Светлана", PASSWORD, [accounts["supervisor"]])
    Operator.update(status="ready").where(Operator.id == me["id"]).execute()
    panel, panel_errors, _ = signed_in_page("opanova@example.org")
    panel.goto("/panel")
    panel.wait_for_selector("[data-testid=panel-status][data-status=ready]")
    board, board_errors, _ = signed_in_page("boss@example.org")
    board.goto("/supervisor")
    status = board.locator(f"[data-testid=op-status-{me['id']}]")
    status.wait_for()

    # the server is lost: the status first, the reason behind it (as the engine writes them)
    Operator.update(status="paused").where(Operator.id == me["id"]).execute()
    servers.note_pause_reason(db, me["id"], servers.pause_code("pbx2"))
    reason = panel.locator("[data-testid=pause-reason]")
    reason.wait_for(state="visible")
    assert reason.inner_text() == REASON_RU
    board.wait_for_function(f"document.querySelector('[data-testid=op-status-{me['id']}]').title === '{REASON_RU}'")
    assert status.get_attribute("data-reason") == "yes"
    fits(panel), fits(board)
    shot(panel, "panel-pause-reason"), shot(board, "supervisor-pause-reason")

    board.reload()  # read afresh, the same
    board.wait_for_function(f"document.querySelector('[data-testid=op-status-{me['id']}]')?.title === '{REASON_RU}'")

    # Ready again: the reason is gone on both
    Operator.update(status="ready").where(Operator.id == me["id"]).execute()
    reason.wait_for(state="hidden")
    board.wait_for_function(f"document.querySelector('[data-testid=op-status-{me['id']}]').title === ''")
    assert status.get_attribute("data-reason") == ""
    assert panel_errors == [] and board_errors == []
