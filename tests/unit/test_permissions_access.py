"""The catalogue and the pure access decisions (dialer/access.py), table-tested."""
from datetime import datetime, timedelta, timezone

import pytest

from dialer import access
from dialer.access import SIGNED_IN, Principal
from dialer.cli import main
from dialer.permissions import ALL, BY_NAME, CATALOGUE, PUBLIC, ROLES

T0 = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)


def test_catalogue_has_47_titled_permissions_and_six_roles(capsys):
    assert len(CATALOGUE) == 47 and all(p.title_ru and p.title_en for p in CATALOGUE)
    assert [r[2] for r in ROLES] == ["Administrator", "Supervisor", "Operator", "System administrator",
                                     "System supervisor", "System tester"]
    assert all(perms <= ALL for *_, perms in ROLES)
    tester = dict((r[0], r[3]) for r in ROLES)["tester"]
    assert all(p.endswith(".read") or p in ("supervisor.view",) for p in tester)  # read-only
    assert main(["permissions", "--count"]) == 0
    assert capsys.readouterr().out == "47\n"
    main(["permissions"])
    assert len(capsys.readouterr().out.splitlines()) == 47


def who(perms=(), operator_id=None):
    return Principal(1, "u", ("r",), frozenset(perms), operator_id=operator_id)


@pytest.mark.parametrize("principal,permission,expected", [
    (None, PUBLIC, True), (None, SIGNED_IN, False), (None, "users.read", False),
    (who(), SIGNED_IN, True), (who(), "users.read", False), (who({"users.read"}), "users.read", True),
    (who({"users.read"}), "users.create", False), (access.SYSTEM, "roles.edit", True),
])
def test_allowed(principal, permission, expected):
    assert access.allowed(principal, permission) is expected


@pytest.mark.parametrize("principal,permission,operator_id,expected", [
    (who({"operators.read"}), "operators.read", 5, True),            # a supervisor sees every operator
    (who({"panel.use"}, operator_id=5), "operators.read", 5, True),  # an operator sees themself
    (who({"panel.use"}, operator_id=5), "operators.read", 6, False),  # ... and nobody else
    (who({"panel.use"}, operator_id=5), "calls.read", None, False),
    (who(set(), operator_id=5), "operators.read", 5, False),          # without the panel, not even that
    (who({"calls.read"}), "calls.read", None, True),
])
def test_sees_event(principal, permission, operator_id, expected):
    assert access.sees_event(principal, permission, operator_id) is expected


def test_effective_permissions_union_of_roles_and_grants_only_catalogued():
    got = access.effective_permissions([{"users.read"}, {"audit.read", "gone.perm"}], {"roles.edit"})
    assert got == {"users.read", "audit.read", "roles.edit"} and got <= BY_NAME.keys()


@pytest.mark.parametrize("principal,operator_id,expected", [
    (who({"panel.wrap_up"}, operator_id=5), 5, True),                  # one's own operator
    (who({"panel.wrap_up"}, operator_id=5), 6, False),                 # someone else's
    (who({"panel.wrap_up"}), 5, False),                                # a user with no operator
    (who({"supervisor.operator_control"}), 6, True),                   # the supervisor permission reaches all
    (who({"supervisor.operator_control"}, operator_id=5), 6, True),
    (who(set(ALL - {"supervisor.operator_control"}), operator_id=5), 6, False),  # no other permission does
    (access.SYSTEM, 6, True),                                          # the API token and the CLI
])
def test_may_act_on_own_operator_or_with_the_supervisor_permission(principal, operator_id, expected):
    assert access.may_act_on(access.acting(principal), operator_id) is expected
    assert access.may_act_on(access.ACTING_SYSTEM, operator_id) is True


def test_session_expiry_slides_but_never_past_the_maximum():
    assert access.session_expiry(T0, T0) == T0 + access.SESSION_IDLE
    late = T0 + access.SESSION_MAX - timedelta(hours=1)
    assert access.session_expiry(T0, late) == T0 + access.SESSION_MAX
