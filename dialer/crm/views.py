"""What the CRM pages read: a connection's health, its outbox, the campaign's wrap-up results, and the
file uploads kept between the column-mapping preview and the import."""
from __future__ import annotations

import json
import re
import secrets
import time
from datetime import datetime
from pathlib import Path

from ..errors import NotFound

OUTBOX_STATES = ("pending", "failed", "delivered")
UPLOAD_TTL_S = 3600
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{24}$")


def _plain(row: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def health(db, conn: dict) -> dict:
    """Last successful pull and push, the last error, what waits for delivery, the open alert."""
    cid = conn["id"]
    last_pull_ok = db.execute_sql("SELECT max(finished_at) FROM crm_import_log WHERE connection_id = %s"
                                  " AND source = 'pull' AND error IS NULL", (cid,)).fetchone()[0]
    last_pull = db.execute_sql("SELECT finished_at, error FROM crm_import_log WHERE connection_id = %s"
                               " AND source = 'pull' ORDER BY id DESC LIMIT 1", (cid,)).fetchone()
    last_push_ok = db.execute_sql("SELECT max(delivered_at) FROM crm_outbox WHERE connection_id = %s",
                                  (cid,)).fetchone()[0]
    counts = dict(db.execute_sql("SELECT state, count(*) FROM crm_outbox WHERE connection_id = %s"
                                 " AND state <> 'delivered' GROUP BY state", (cid,)).fetchall())
    return _plain({"last_pull_ok": last_pull_ok, "last_push_ok": last_push_ok,
                   "last_pull_error": last_pull[1] if last_pull else None,
                   "last_error": conn["last_error"], "unreachable_since": conn["unreachable_since"],
                   "last_ok_at": conn["last_ok_at"], "pending": counts.get("pending", 0),
                   "failed": counts.get("failed", 0), "alert": open_alert(db, cid)})


def open_alert(db, connection_id: int) -> dict | None:
    row = db.execute_sql("SELECT id, raised_at, message, message_ru FROM crm_alert"
                         " WHERE connection_id = %s AND cleared_at IS NULL", (connection_id,)).fetchone()
    if row is None:
        return None
    return _plain(dict(zip(("id", "raised_at", "message", "message_ru"), row)))


def outbox(db, connection_id: int, state: str | None = None, limit: int = 100) -> list[dict]:
    """Newest results first: state, tries, next try, last error, what was (or will be) written."""
    cur = db.execute_sql(
        "SELECT id, attempt_id, lead_id, external_id, result_code, state, tries, next_try_at, last_error,"
        " status_id, comment, created_at, delivered_at FROM crm_outbox WHERE connection_id = %s"
        " AND (%s::text IS NULL OR state = %s) ORDER BY id DESC LIMIT %s", (connection_id, state, state, limit))
    names = [c[0] for c in cur.description]
    return [_plain(dict(zip(names, r))) for r in cur.fetchall()]


def outbox_row_of(db, connection_id: int, outbox_id: int) -> None:
    """A result id that is not this connection's is a 404 (a forged id changes nothing)."""
    if db.execute_sql("SELECT 1 FROM crm_outbox WHERE id = %s AND connection_id = %s",
                      (outbox_id, connection_id)).fetchone() is None:
        raise NotFound("outbox-not-found", f"no result {outbox_id} for this connection",
                       message_ru=f"результат {outbox_id} этого подключения не найден")


def campaign_results(db, campaign_id: int) -> list[dict]:
    rows = db.execute_sql("SELECT code, title FROM campaign_result WHERE campaign_id = %s ORDER BY position, id",
                          (campaign_id,)).fetchall()
    return [{"code": c, "title": t} for c, t in rows]


def campaigns(db) -> list[dict]:
    return [{"id": i, "name": n} for i, n in db.execute_sql("SELECT id, name FROM campaign ORDER BY id").fetchall()]


class Uploads:
    """A file between its preview and its import: kept in the state directory for an hour, readable only
    by the user who uploaded it, for the connection it was uploaded to."""

    def __init__(self, root: Path):
        self.root = root

    def save(self, data: bytes, filename: str, connection_id: int, user_id: int | None) -> str:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.purge()
        upload_id = secrets.token_urlsafe(18)
        (self.root / f"{upload_id}.bin").write_bytes(data)
        (self.root / f"{upload_id}.json").write_text(json.dumps(
            {"filename": filename, "connection_id": connection_id, "user_id": user_id}))
        return upload_id

    def load(self, upload_id: str, connection_id: int, user_id: int | None) -> tuple[bytes, str]:
        gone = NotFound("upload-not-found", "the uploaded file is gone (kept for an hour); upload it again",
                        message_ru="загруженный файл не найден (хранится час); загрузите его снова")
        if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
            raise gone
        try:
            meta = json.loads((self.root / f"{upload_id}.json").read_text())
            data = (self.root / f"{upload_id}.bin").read_bytes()
        except (OSError, ValueError):
            raise gone from None
        if meta.get("connection_id") != connection_id or meta.get("user_id") != user_id:
            raise gone
        return data, meta["filename"]

    def drop(self, upload_id: str) -> None:
        if _UPLOAD_ID.match(upload_id):
            for suffix in (".bin", ".json"):
                (self.root / f"{upload_id}{suffix}").unlink(missing_ok=True)

    def purge(self, now: float | None = None) -> None:
        limit = (now or time.time()) - UPLOAD_TTL_S
        for path in self.root.glob("*.*"):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink(missing_ok=True)
            except OSError:
                continue


_REASONS_RU = [  # the parser's and the store's reject reasons (English in the log) as a Russian reader sees them
    (re.compile(r"^expected (\d+) columns, got (\d+)$"), r"ожидалось столбцов: \1, в строке: \2"),
    (re.compile(r"^duplicate external_id (.*) \(first on line (\d+)\)$"), r"повтор номера заказа \1 (впервые в строке \2)"),
    (re.compile(r"^expected text, got (\w+)$"), r"ожидался текст, получено \1"),
    (re.compile(r"^phone is empty$"), "телефон не указан"),
    (re.compile(r"^invalid phone number (.*) for country (\w+)$"), r"неверный номер телефона \1 для страны \2"),
    (re.compile(r"^invalid phone number (.*)$"), r"неверный номер телефона \1"),
    (re.compile(r"^total is not a number: (.*)$"), r"сумма не число: \1"),
    (re.compile(r"^total out of range: (.*)$"), r"сумма вне допустимого диапазона: \1"),
    (re.compile(r"^order id is empty, too long or has control characters$"),
     "номер заказа пуст, слишком длинный или содержит управляющие символы"),
    (re.compile(r"^order is not an object$"), "заказ не является объектом"),
    (re.compile(r"^name longer than (\d+) characters or has control characters$"),
     r"имя длиннее \1 символов или содержит управляющие символы"),
    (re.compile(r"^CRM status (.*) is not mapped to an action$"), r"статусу CRM \1 не назначено действие"),
    (re.compile(r"^the campaign already has a lead with this id from another source$"),
     "в кампании уже есть заказ с этим номером из другого источника"),
]


def reason_ru(reason: str) -> str:
    """A reject reason in Russian; one the table does not know stays as written."""
    for pattern, replacement in _REASONS_RU:
        if pattern.match(reason):
            return pattern.sub(replacement, reason, count=1)
    return reason
