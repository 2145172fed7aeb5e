"""Users, roles and sessions (SPEC H): accounts with argon2 passwords, roles seeded from the catalogue,
extra per-user grants, server-side sessions, lockout after repeated failures.

Every change writes an audit entry in its own transaction; the decisions themselves are in
`dialer.access` (pure).
"""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg2.errors import UniqueViolation

from .. import access, audit
from ..errors import Conflict, DomainError, NotFound
from ..permissions import BY_NAME, ROLES
from . import fields as f

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,60}$")
_hasher = PasswordHasher()  # argon2id with the library's current defaults
# verifying against this keeps the time of an unknown e-mail the same as a wrong password
_DUMMY_HASH = _hasher.hash("no such user, constant time")
USER_FIELDS = "id, email, name, active, language, operator_id, failed_logins, locked_until, last_login_at, created_at"


class Unauthorised(DomainError):
    status = 401


def _db():
    return f.database()


def _rows(sql: str, params=()) -> list[dict]:
    cur = _db().execute_sql(sql, params)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- roles -------------------------------------------------------------------------------------------

def seed_roles() -> int:
    """Create the six catalogue roles that are missing, with their permissions; edited roles are kept."""
    made = 0
    with _db().atomic():
        for code, title_ru, title_en, perms in ROLES:
            cur = _db().execute_sql("INSERT INTO role (code, title_ru, title_en) VALUES (%s, %s, %s)"
                                    " ON CONFLICT (code) DO NOTHING RETURNING id", (code, title_ru, title_en))
            row = cur.fetchone()
            if row:
                made += 1
                for name in sorted(perms):
                    _db().execute_sql("INSERT INTO role_permission (role_id, permission) VALUES (%s, %s)",
                                      (row[0], name))
    return made


def list_roles() -> list[dict]:
    roles = _rows("SELECT id, code, title_ru, title_en FROM role ORDER BY id")
    perms: dict[int, list[str]] = {r["id"]: [] for r in roles}
    for row in _rows("SELECT role_id, permission FROM role_permission ORDER BY permission"):
        perms.setdefault(row["role_id"], []).append(row["permission"])
    return [{**r, "permissions": perms[r["id"]]} for r in roles]


def role_not_found(role_id) -> NotFound:
    return NotFound("role-not-found", f"role {role_id} does not exist", role_id=role_id,
                    message_ru=f"роль {role_id} не найдена")


def _permission_names(field: str, value) -> list[str]:
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in value):
        raise f.invalid(field, "must be a list of permission names", "должно быть списком прав")
    unknown = sorted(set(value) - BY_NAME.keys())
    if unknown:
        raise f.invalid(field, f"unknown permissions: {', '.join(unknown)}",
                        f"неизвестные права: {', '.join(unknown)}")
    return sorted(set(value))


def set_role_permissions(role_id, permissions) -> dict:
    names = _permission_names("permissions", permissions)
    if not f.is_id(role_id):
        raise role_not_found(role_id)
    with _db().atomic():
        role = _rows("SELECT id, code FROM role WHERE id = %s FOR UPDATE", (role_id,))
        if not role:
            raise role_not_found(role_id)
        before = [r["permission"] for r in _rows(
            "SELECT permission FROM role_permission WHERE role_id = %s ORDER BY permission", (role_id,))]
        _db().execute_sql("DELETE FROM role_permission WHERE role_id = %s", (role_id,))
        for name in names:
            _db().execute_sql("INSERT INTO role_permission (role_id, permission) VALUES (%s, %s)", (role_id, name))
        audit.record(_db(), "updated", "role", role_id, name=f"Права роли {role[0]['code']} изменены",
                     old={"permissions": before}, new={"permissions": names})
    return next(r for r in list_roles() if r["id"] == role_id)


# --- users -------------------------------------------------------------------------------------------

def user_not_found(user_id) -> NotFound:
    return NotFound("user-not-found", f"user {user_id} does not exist", user_id=user_id,
                    message_ru=f"пользователь {user_id} не найден")


def _email(value) -> str:
    value = f.text("email", value, min_len=3, max_len=254).lower()
    if not EMAIL_RE.match(value):
        raise f.invalid("email", "is not an e-mail address", "не похоже на адрес электронной почты")
    return value


def _password(value, field: str = "password") -> str:
    if not isinstance(value, str):
        raise f.invalid(field, "must be a string", "должно быть строкой")
    if not 10 <= len(value) <= 256:
        raise f.invalid(field, "must be 10 to 256 characters", "должен быть от 10 до 256 символов")
    if f.has_control(value):
        raise f.invalid(field, "must not contain control characters", "не должен содержать управляющих символов")
    return value


def _role_ids(value) -> list[int]:
    if not isinstance(value, (list, tuple)) or not all(f.is_id(v) for v in value):
        raise f.invalid("role_ids", "must be a list of role ids", "должно быть списком номеров ролей")
    ids = sorted(set(value))
    known = {r["id"] for r in _rows("SELECT id FROM role WHERE id = ANY(%s)", (ids,))} if ids else set()
    missing = [i for i in ids if i not in known]
    if missing:
        raise role_not_found(missing[0])
    return ids


def _operator_id(value) -> int | None:
    if value is None:
        return None
    if not f.is_id(value) or not _rows("SELECT id FROM operator WHERE id = %s", (value,)):
        raise NotFound("operator-not-found", f"operator {value} does not exist", operator_id=value,
                       message_ru=f"оператор {value} не найден")
    return value


def _email_taken(email: str) -> Conflict:
    return Conflict("user-email-taken", f"e-mail {email!r} is already used", field="email",
                    message_ru=f"адрес «{email}» уже занят")


def _operator_taken(operator_id: int) -> Conflict:
    return Conflict("operator-has-user", f"operator {operator_id} already has a user", field="operator_id",
                    message_ru=f"у оператора {operator_id} уже есть пользователь")


def _snapshot(user_id: int) -> dict | None:
    """The user as the audit log and the pages see it (never the password hash)."""
    rows = _rows(f"SELECT {USER_FIELDS} FROM app_user WHERE id = %s", (user_id,))
    if not rows:
        return None
    user = rows[0]
    user["roles"] = [r["code"] for r in _rows(
        "SELECT r.code FROM user_role ur JOIN role r ON r.id = ur.role_id WHERE ur.user_id = %s ORDER BY r.id",
        (user_id,))]
    user["role_ids"] = [r["id"] for r in _rows(
        "SELECT role_id AS id FROM user_role WHERE user_id = %s ORDER BY role_id", (user_id,))]
    user["extra_permissions"] = [r["permission"] for r in _rows(
        "SELECT permission FROM user_permission WHERE user_id = %s ORDER BY permission", (user_id,))]
    return user


def _public(user: dict) -> dict:
    out = {k: v for k, v in user.items() if k not in ("failed_logins",)}
    for key in ("locked_until", "last_login_at", "created_at"):
        out[key] = f.iso(out.get(key))
    return out


def get_user(user_id) -> dict:
    user = _snapshot(user_id) if f.is_id(user_id) else None
    if user is None:
        raise user_not_found(user_id)
    return _public(user)


def list_users(query: str = "", limit: int = 200) -> list[dict]:
    """Search by part of the e-mail or name (case-insensitive)."""
    query = f.text("q", query or "", max_len=200)
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    ids = [r["id"] for r in _rows("SELECT id FROM app_user WHERE email ILIKE %s OR name ILIKE %s"
                                  " ORDER BY name, id LIMIT %s", (pattern, pattern, limit))]
    return [get_user(i) for i in ids]


def _set_roles(user_id: int, role_ids: list[int]) -> None:
    _db().execute_sql("DELETE FROM user_role WHERE user_id = %s", (user_id,))
    for rid in role_ids:
        _db().execute_sql("INSERT INTO user_role (user_id, role_id) VALUES (%s, %s)", (user_id, rid))


def _audited(old: dict | None, new: dict | None) -> tuple[dict | None, dict | None]:
    keep = ("email", "name", "active", "language", "operator_id", "roles", "extra_permissions")
    pick = (lambda d: None if d is None else {k: d.get(k) for k in keep})
    return pick(old), pick(new)


def create_user(email, name, password, role_ids=(), operator_id=None, language="ru") -> dict:
    email, name = _email(email), f.text("name", name, min_len=1, max_len=200)
    password = _password(password)
    language = f.choice("language", language, ("ru", "en"))
    try:
        with _db().atomic():
            roles = _role_ids(list(role_ids))
            operator_id = _operator_id(operator_id)
            if _rows("SELECT 1 FROM app_user WHERE email = %s", (email,)):
                raise _email_taken(email)
            if operator_id and _rows("SELECT 1 FROM app_user WHERE operator_id = %s", (operator_id,)):
                raise _operator_taken(operator_id)
            user_id = _db().execute_sql(
                "INSERT INTO app_user (email, name, password_hash, language, operator_id)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (email, name, _hasher.hash(password), language, operator_id)).fetchone()[0]
            _set_roles(user_id, roles)
            old, new = _audited(None, _snapshot(user_id))
            audit.record(_db(), "created", "user", user_id, name=f"Пользователь {email} создан", old=old, new=new)
    except UniqueViolation:
        raise _email_taken(email) from None
    return get_user(user_id)


def update_user(user_id, *, email=None, name=None, role_ids=None, operator_id=..., language=None,
                password=None, extra_permissions=None, keep_session: str | None = None) -> dict:
    """Change only what is given; `operator_id=None` unlinks the operator.

    A new password signs the user out everywhere (an administrator's reset: whoever knew the old one
    is out), except the session `keep_session` (the user changing their own password stays in)."""
    changes: dict = {}
    if email is not None:
        changes["email"] = _email(email)
    if name is not None:
        changes["name"] = f.text("name", name, min_len=1, max_len=200)
    if language is not None:
        changes["language"] = f.choice("language", language, ("ru", "en"))
    if password is not None:
        changes["password_hash"] = _hasher.hash(_password(password))
    extra = None if extra_permissions is None else _permission_names("extra_permissions", extra_permissions)
    if not f.is_id(user_id):
        raise user_not_found(user_id)
    try:
        with _db().atomic():
            if not _rows("SELECT id FROM app_user WHERE id = %s FOR UPDATE", (user_id,)):
                raise user_not_found(user_id)
            before = _snapshot(user_id)
            if operator_id is not ...:
                changes["operator_id"] = _operator_id(operator_id)
                if changes["operator_id"] and _rows("SELECT 1 FROM app_user WHERE operator_id = %s AND id <> %s",
                                                    (changes["operator_id"], user_id)):
                    raise _operator_taken(changes["operator_id"])
            if "email" in changes and _rows("SELECT 1 FROM app_user WHERE email = %s AND id <> %s",
                                            (changes["email"], user_id)):
                raise _email_taken(changes["email"])
            roles = None if role_ids is None else _role_ids(list(role_ids))
            for column in ("email", "name", "language", "password_hash", "operator_id"):  # fixed column names
                if column in changes:
                    _db().execute_sql(f"UPDATE app_user SET {column} = %s WHERE id = %s", (changes[column], user_id))
            if "password_hash" in changes:
                _end_sessions(user_id, keep_session)
            if roles is not None:
                _set_roles(user_id, roles)
            if extra is not None:
                _db().execute_sql("DELETE FROM user_permission WHERE user_id = %s", (user_id,))
                for name_ in extra:
                    _db().execute_sql("INSERT INTO user_permission (user_id, permission) VALUES (%s, %s)",
                                      (user_id, name_))
            old, new = _audited(before, _snapshot(user_id))
            if "password_hash" in changes:
                old["password"], new["password"] = "old", "new"
            if old != new:
                audit.record(_db(), "updated", "user", user_id, name=f"Пользователь {before['email']} изменён",
                             old=old, new=new, secret=frozenset({"password"}))
    except UniqueViolation:
        raise _email_taken(changes.get("email", "")) from None
    return get_user(user_id)


def set_active(user_id, active: bool) -> dict:
    """Deactivating signs the user out everywhere (a trigger deletes their sessions)."""
    f.boolean("active", active)
    if not f.is_id(user_id):
        raise user_not_found(user_id)
    with _db().atomic():
        before = _snapshot(user_id)
        if before is None:
            raise user_not_found(user_id)
        if before["active"] != active:
            _db().execute_sql("UPDATE app_user SET active = %s, failed_logins = 0, locked_until = NULL"
                              " WHERE id = %s", (active, user_id))
            audit.record(_db(), "updated", "user", user_id,
                         name=f"Пользователь {before['email']} {'включён' if active else 'отключён'}",
                         old={"active": before["active"]}, new={"active": active})
    return get_user(user_id)


def delete_user(user_id) -> None:
    if not f.is_id(user_id):
        raise user_not_found(user_id)
    with _db().atomic():
        before = _snapshot(user_id)
        if before is None:
            raise user_not_found(user_id)
        _db().execute_sql("DELETE FROM app_user WHERE id = %s", (user_id,))
        old, _ = _audited(before, None)
        audit.record(_db(), "deleted", "user", user_id, name=f"Пользователь {before['email']} удалён", old=old)


def _end_sessions(user_id: int, keep_token: str | None) -> None:
    _db().execute_sql("DELETE FROM web_session WHERE user_id = %s AND token_hash IS DISTINCT FROM %s",
                      (user_id, _token_hash(keep_token) if keep_token else None))


def change_own_password(user_id: int, current, new, session_token: str | None = None) -> None:
    """A user's own password change: the current password is checked first; every other session of the
    user ends, the one making the change (`session_token`) stays."""
    rows = _rows("SELECT password_hash FROM app_user WHERE id = %s AND active", (user_id,))
    try:
        if not rows or not isinstance(current, str):
            raise VerificationError()
        _hasher.verify(rows[0]["password_hash"], current)
    except (VerificationError, InvalidHashError):
        raise f.invalid("current_password", "is not right", "указан неверно") from None
    update_user(user_id, password=new, keep_session=session_token)


def create_first_admin(email: str = "admin@dialer.local") -> tuple[str, str] | None:
    """The set-up's first administrator: (e-mail, password) once, or None when users already exist."""
    seed_roles()
    if _rows("SELECT 1 FROM app_user LIMIT 1"):
        return None
    password = secrets.token_urlsafe(12)
    admin_role = _rows("SELECT id FROM role WHERE code = 'admin'")[0]["id"]
    create_user(email, "Администратор", password, [admin_role])
    return email, password


def ensure_user(email: str, name: str, password: str, role_code: str, operator_id: int | None = None) -> int:
    """Demo accounts with known passwords: created once, left alone afterwards."""
    found = _rows("SELECT id FROM app_user WHERE email = %s", (email,))
    if found:
        return found[0]["id"]
    role = _rows("SELECT id FROM role WHERE code = %s", (role_code,))
    return create_user(email, name, password, [role[0]["id"]], operator_id)["id"]


# --- principals and sessions -------------------------------------------------------------------------

def principal(user_id: int, csrf: str | None = None) -> access.Principal | None:
    rows = _rows("SELECT id, email, name, active, language, operator_id FROM app_user WHERE id = %s", (user_id,))
    if not rows or not rows[0]["active"]:
        return None
    user = rows[0]
    roles = _rows("SELECT r.id, r.code, r.title_ru, r.title_en FROM user_role ur JOIN role r ON r.id = ur.role_id"
                  " WHERE ur.user_id = %s ORDER BY r.id", (user_id,))
    role_perms: dict[int, set[str]] = {r["id"]: set() for r in roles}
    if roles:
        for row in _rows("SELECT role_id, permission FROM role_permission WHERE role_id = ANY(%s)",
                         ([r["id"] for r in roles],)):
            role_perms[row["role_id"]].add(row["permission"])
    extra = {r["permission"] for r in _rows("SELECT permission FROM user_permission WHERE user_id = %s", (user_id,))}
    return access.Principal(user["id"], user["name"], tuple(r["code"] for r in roles),
                            access.effective_permissions(list(role_perms.values()), extra),
                            operator_id=user["operator_id"], email=user["email"], language=user["language"],
                            session_csrf=csrf,
                            role_titles=tuple(f"{r['title_ru']}|{r['title_en']}" for r in roles))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _bad_sign_in() -> Unauthorised:
    return Unauthorised("sign-in-failed", "wrong e-mail or password",
                        message_ru="неверный адрес или пароль")


# One statement counts a sign-in as failed *before* its password is checked, and the fifth count locks the
# account: a read-then-write let concurrent wrong passwords all read the same count and never lock, and
# counting first also means at most LOCKOUT_AFTER passwords are ever checked per lock, however many arrive
# at once. A right password then clears the count (and a lock its own count set). No row: locked now.
_COUNT_ATTEMPT = """
UPDATE app_user
   SET failed_logins = CASE WHEN failed_logins + 1 >= %(after)s THEN 0 ELSE failed_logins + 1 END,
       locked_until = CASE WHEN failed_logins + 1 >= %(after)s THEN %(until)s ELSE locked_until END
 WHERE id = %(id)s AND (locked_until IS NULL OR locked_until <= %(now)s)
RETURNING failed_logins"""


def _count_attempt(user_id: int, now: datetime) -> bool:
    """Count one sign-in attempt as failed until it succeeds; False when the account is locked."""
    with _db().atomic():  # committed before the password is checked: concurrent attempts see it
        return _db().execute_sql(_COUNT_ATTEMPT, {"after": access.LOCKOUT_AFTER, "until": now + access.LOCKOUT_FOR,
                                                  "id": user_id, "now": now}).fetchone() is not None


def sign_in(email, password, ip: str = "", user_agent: str = "") -> dict:
    """Check the password; a new session on success. Failures and lockouts are audited."""
    if not isinstance(email, str) or not isinstance(password, str) or len(email) > 254 or len(password) > 256:
        raise _bad_sign_in()
    email = email.strip().lower()
    now = _now()
    rows = _rows("SELECT id, name, password_hash, active FROM app_user WHERE email = %s", (email,))
    user = rows[0] if rows else None
    counted = _count_attempt(user["id"], now) if user else False
    try:  # checked even when locked: an unknown, a locked and a known e-mail take the same time
        _hasher.verify(user["password_hash"] if user else _DUMMY_HASH, password)
        good = user is not None
    except (VerificationError, InvalidHashError):
        good = False
    actor = audit.Actor(user["id"] if user else None, email[:254], "-", ip)
    refusal = None
    with audit.acting_as(actor), _db().atomic():  # the failure is recorded even though sign-in is refused
        if user and not counted:
            audit.record(_db(), "custom", "session", "", name="Вход отклонён: учётная запись заблокирована",
                         new={"email": email})
            refusal = Unauthorised("sign-in-locked", "too many failed attempts; try again later",
                                   message_ru="слишком много неудачных попыток; попробуйте позже")
        elif not good or not user["active"]:
            audit.record(_db(), "custom", "session", "", name="Неудачный вход", new={"email": email})
            refusal = _bad_sign_in()
    if refusal is not None:
        raise refusal
    with _db().atomic():
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        _db().execute_sql("UPDATE app_user SET failed_logins = 0, locked_until = NULL, last_login_at = %s"
                          " WHERE id = %s", (now, user["id"]))
        _db().execute_sql("INSERT INTO web_session (token_hash, user_id, csrf_token, expires_at, ip, user_agent)"
                          " VALUES (%s, %s, %s, %s, %s, %s)",
                          (_token_hash(token), user["id"], csrf, access.session_expiry(now, now), ip[:100],
                           user_agent[:300]))
        who = principal(user["id"])
        with audit.acting_as(audit.Actor(user["id"], user["name"], who.role_label, ip)):
            audit.record(_db(), "custom", "session", user["id"], name="Вход в систему")
    return {"token": token, "csrf": csrf, "user_id": user["id"]}


def session_principal(token: str) -> access.Principal | None:
    """The signed-in user of a session cookie, or None (unknown, expired, or the user is inactive)."""
    if not token or len(token) > 200:
        return None
    now = _now()
    rows = _rows("SELECT user_id, csrf_token, created_at, last_seen_at, expires_at FROM web_session"
                 " WHERE token_hash = %s", (_token_hash(token),))
    if not rows or rows[0]["expires_at"] <= now:
        return None
    session = rows[0]
    if (now - session["last_seen_at"]).total_seconds() > 60:  # sliding expiry, written at most once a minute
        _db().execute_sql("UPDATE web_session SET last_seen_at = %s, expires_at = %s WHERE token_hash = %s",
                          (now, access.session_expiry(session["created_at"], now), _token_hash(token)))
    return principal(session["user_id"], session["csrf_token"])


def session_alive(token: str) -> bool:
    rows = _rows("SELECT 1 FROM web_session s JOIN app_user u ON u.id = s.user_id"
                 " WHERE s.token_hash = %s AND s.expires_at > now() AND u.active", (_token_hash(token),))
    return bool(rows)


def sign_out(token: str) -> None:
    with _db().atomic():
        rows = _rows("DELETE FROM web_session WHERE token_hash = %s RETURNING user_id", (_token_hash(token),))
        if rows:
            audit.record(_db(), "custom", "session", rows[0]["user_id"], name="Выход из системы")


def purge_sessions() -> int:
    return _db().execute_sql("DELETE FROM web_session WHERE expires_at < now()").rowcount


def record_denied(method: str, path: str, permission: str) -> None:
    """A request refused for lack of a permission (or of a valid CSRF token) is audited too."""
    with _db().atomic():
        audit.record(_db(), "custom", "request", "", name="Запрос отклонён",
                     new={"method": method, "path": path[:300], "permission": permission})


def operators_for_select() -> list[dict]:
    return _rows("SELECT id, name, login FROM operator ORDER BY name, id")
