"""Logging for every process (SPEC K4): text for a person at a terminal, or one JSON object per line for journald
and log collectors (`log_format`: `text`, `json`, or `auto` — JSON unless stderr is a terminal).

Each line carries the ids of the work it belongs to, so one call is followed through the engine, the web, the jobs
and AGI with one `grep '"attempt": 17'` or `jq 'select(.attempt == 17)'`: `operator`, `attempt`, `campaign`,
`lead`, `channel`, `request` (the web request's id, also sent back as `X-Request-ID`), `user`, `job`. They live in
a context variable: asyncio gives each task its own copy, so the ids an operator's actor binds never leak into
another operator's lines, and a thread started by `asyncio.to_thread` inherits its caller's.
"""
from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar, Token
from datetime import datetime, timezone

IDS = ("operator", "attempt", "campaign", "lead", "channel", "request", "user", "job")
FORMATS = ("text", "json", "auto")
_ids: ContextVar[dict] = ContextVar("dialer_log_ids", default={})

# which part of the product a logger belongs to (`dialer run` hosts all four in one process)
_PARTS = (("ari_app", "engine"), ("agi", "agi"), ("web", "web"), ("uvicorn", "web"), ("dialer.jobs", "jobs"),
          ("dialer.crm", "jobs"), ("apscheduler", "jobs"), ("dialer.job_history", "jobs"))


def bind(**ids) -> Token:
    """Add ids to the current context (None removes one); returns the token `unbind` takes."""
    current = dict(_ids.get())
    for key, value in ids.items():
        if key not in IDS:
            raise ValueError(f"unknown log id {key!r}")
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    return _ids.set(current)


def unbind(token: Token) -> None:
    _ids.reset(token)


@contextlib.contextmanager
def bound(**ids):
    token = bind(**ids)
    try:
        yield
    finally:
        unbind(token)


def current() -> dict:
    return dict(_ids.get())


def part_of(logger: str) -> str:
    for prefix, part in _PARTS:
        if logger == prefix or logger.startswith(prefix + "."):
            return part
    return "dialer"


class JsonFormatter(logging.Formatter):
    """One object per line: time (UTC, ms), level, part, logger, message, the bound ids, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname, "part": part_of(record.name), "logger": record.name,
               "message": record.getMessage()}
        out.update(getattr(record, "ids", None) or _ids.get())
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The terminal's format, with the bound ids in brackets after the level."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)-5s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = getattr(record, "ids", None) or _ids.get()
        if not ids:
            return text
        tags = " ".join(f"{k}={ids[k]}" for k in IDS if k in ids)
        head, sep, rest = text.partition(f" {record.name}: ")
        return f"{head} [{tags}]{sep}{rest}" if sep else f"{text} [{tags}]"


class _Ids(logging.Filter):
    """Stamp the ids on the record where it is made (a queued or handed-over record keeps its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "ids"):
            record.ids = _ids.get()
        return True


def chosen(fmt: str, stream=None) -> str:
    """`auto`: text on a terminal, JSON otherwise (journald, a pipe, a file)."""
    if fmt not in FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt != "auto":
        return fmt
    stream = stream or sys.stderr
    return "text" if getattr(stream, "isatty", lambda: False)() else "json"


def configure(fmt: str = "text", level: int = logging.INFO, stream=None, force: bool = False) -> str:
    """Set up the root logger for the process; returns the format chosen. Like `logging.basicConfig`, a root
    logger that already has someone else's handlers (a test runner's capture) is left alone unless `force`."""
    kind = chosen(fmt, stream)
    root = logging.getLogger()
    if not force and any(not getattr(h, "dialer_logs", False) for h in root.handlers):
        return kind
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if kind == "json" else TextFormatter())
    handler.addFilter(_Ids())
    handler.dialer_logs = True  # type: ignore[attr-defined]
    for old in [h for h in root.handlers if getattr(h, "dialer_logs", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for chatty in QUIET:
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))
    return kind


# libraries that log their routine work at INFO: a PDF's font subsetting is a dozen lines per file
QUIET = ("fontTools",)


# ---- the web's request ids -------------------------------------------------------------------------------------
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # a proxy's id is kept when it is plain enough to log
_PATH_IDS = {"attempt_id": "attempt", "operator_id": "operator", "campaign_id": "campaign", "lead_id": "lead"}
access_log = logging.getLogger("web.access")


def request_id(offered: str | None) -> str:
    return offered if offered and _REQUEST_ID.match(offered) else uuid.uuid4().hex[:16]


def request_ids(app):
    """ASGI middleware (outermost): a request id for every HTTP request — the caller's `X-Request-ID` or a new one,
    bound for every line the request logs and returned in the answer's `X-Request-ID` — and one access line at its
    end with the method, path, status, time taken, the user and the ids in the route's path (`attempt_id` ...)."""

    async def middleware(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        headers = dict(scope.get("headers") or ())
        rid = request_id(headers.get(b"x-request-id", b"").decode("latin-1"))
        status = {"code": 0}

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        started = time.monotonic()
        token = bind(request=rid)
        try:
            await app(scope, receive, send_with_id)
        finally:
            _access(scope, status["code"], started)
            unbind(token)

    return middleware


def request_user(app):
    """ASGI middleware (after the principal is known, web/auth.py): the user and the route's ids for every line."""

    async def middleware(scope, receive, send):
        principal = scope.get("principal")
        ids = {v: scope.get("path_params", {}).get(k) for k, v in _PATH_IDS.items()}
        with bound(user=getattr(principal, "user_id", None) or getattr(principal, "name", None), **ids):
            await app(scope, receive, send)

    return middleware


def _access(scope, status: int, started: float) -> None:
    path = scope.get("path", "")
    # static files and scrapes would drown the lines that matter; they are there at DEBUG
    quiet = path.startswith("/static/") or path in ("/metrics", "/api/health", "/api/health/web")
    level = logging.DEBUG if quiet and status < 400 else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    principal = scope.get("principal")
    ids = {v: scope.get("path_params", {}).get(k) for k, v in _PATH_IDS.items()}
    ids["user"] = getattr(principal, "user_id", None) or getattr(principal, "name", None)
    with bound(**ids):
        access_log.log(level, "%s %s %s %.0f ms", scope.get("method", ""), path, status or "-",
                       (time.monotonic() - started) * 1000)
