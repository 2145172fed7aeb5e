"""Russian first, English second (gettext catalogues via Babel): one language per request.

Templates are written with English message ids (`{{ _("Users") }}`); `web/locale/<lang>/LC_MESSAGES/
messages.po` translate them. The catalogues are read with Babel at start-up, so no compiled files are
kept in the repository. Update them with `pybabel extract -F web/babel.cfg -o web/locale/messages.pot web`
and `pybabel update -i web/locale/messages.pot -d web/locale`.
"""
from __future__ import annotations

import contextvars
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("ru", "en")
DEFAULT = "ru"
LOCALE_DIR = Path(__file__).parent / "locale"
_language: contextvars.ContextVar[str] = contextvars.ContextVar("language", default=DEFAULT)


@lru_cache(maxsize=None)
def catalogue(language: str) -> dict[str, str]:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        cat = read_po(fh, locale=language)
    return {m.id: m.string for m in cat if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def set_language(language: str) -> None:
    _language.set(language if language in LANGUAGES else DEFAULT)


def language() -> str:
    return _language.get()


def gettext(message: str) -> str:
    return catalogue(_language.get()).get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


def pick(ru: str, en: str) -> str:
    """For texts kept in both languages in data (permission titles, role names, error messages)."""
    return ru if _language.get() == "ru" else en


def error_text(error: dict) -> str:
    """A domain error's message in the user's language."""
    return pick(error.get("message_ru") or error.get("message", ""), error.get("message", ""))


def N_(message: str) -> str:
    """Marks a message id for extraction where it is translated later (navigation, error titles)."""
    return message
