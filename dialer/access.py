"""Access decisions (SPEC H, L1), pure: who may do what, who sees which live event, when to lock out.

No I/O here: the services load a `Principal` from the database; the web guard and the live hub ask
these functions. Table-tested in tests/unit/test_permissions_access.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .permissions import ALL, BY_NAME, PUBLIC

SIGNED_IN = "signed-in"  # a route any signed-in user may open (home, own profile, live events)
LOCKOUT_AFTER = 5  # failed sign-ins in a row; counted by one UPDATE (users.sign_in), so concurrency cannot skip it
LOCKOUT_FOR = timedelta(minutes=15)
SESSION_IDLE = timedelta(hours=12)  # a shift and some
SESSION_MAX = timedelta(days=7)


@dataclass(frozen=True)
class Principal:
    """Who is making a request: a signed-in user, or the installation's API token (the system)."""
    user_id: int | None
    name: str
    roles: tuple[str, ...]          # role codes
    permissions: frozenset[str]
    operator_id: int | None = None
    email: str = ""
    language: str = "ru"
    session_csrf: str | None = None  # set when signed in through a browser session
    role_titles: tuple[str, ...] = field(default=())

    @property
    def role_label(self) -> str:
        """The role as the audit log records it at that moment."""
        return ", ".join(self.roles) or "-"

    def may(self, permission: str) -> bool:
        return allowed(self, permission)


SYSTEM = Principal(None, "api-token", ("system",), ALL)

# the supervisor-level permission that reaches every operator: force a status, wrap up their call
ACTS_ON_ANY_OPERATOR = "supervisor.operator_control"


@dataclass(frozen=True)
class Acting:
    """Who acts on an operator or a call, as the use cases see it: the operator the user is linked to
    (None: no operator) and whether they hold the permission that reaches every operator."""
    operator_id: int | None
    supervisor: bool


def acting(principal: Principal) -> Acting:
    return Acting(principal.operator_id, ACTS_ON_ANY_OPERATOR in principal.permissions)


ACTING_SYSTEM = acting(SYSTEM)  # the CLI: whoever runs it on the server acts for the installation


def may_act_on(who: Acting, operator_id) -> bool:
    """One's own operator (the user is linked to it), or any operator with the supervisor permission."""
    return who.supervisor or (who.operator_id is not None and who.operator_id == operator_id)


def effective_permissions(role_permissions: list[set[str] | frozenset[str]],
                          extra: set[str] | frozenset[str]) -> frozenset[str]:
    """A user's permissions: the union of their roles' and their own extra grants (catalogue names only)."""
    out = set(extra)
    for perms in role_permissions:
        out |= perms
    return frozenset(out & BY_NAME.keys())


def allowed(principal: Principal | None, permission: str) -> bool:
    """May `principal` (None: not signed in) open a route that declares `permission`?"""
    if permission == PUBLIC:
        return True
    if principal is None:
        return False
    if permission == SIGNED_IN:
        return True
    return permission in principal.permissions


def sees_event(principal: Principal, permission: str, operator_id: int | None) -> bool:
    """A live event reaches holders of its permission, and the operator it concerns (panel users)."""
    if permission in principal.permissions:
        return True
    return (operator_id is not None and operator_id == principal.operator_id
            and "panel.use" in principal.permissions)


def session_expiry(created_at: datetime, now: datetime) -> datetime:
    """A session lives SESSION_IDLE past its last use, never longer than SESSION_MAX in all."""
    return min(now + SESSION_IDLE, created_at + SESSION_MAX)
