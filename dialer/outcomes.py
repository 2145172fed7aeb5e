"""The six outcomes of an attempt (SPEC A2): one order, one label, one colour everywhere."""
from __future__ import annotations

from enum import Enum


# the error of a call whose channel ended while the engine was not connected to Asterisk (a restart, a lost
# socket): counted as ERROR, never silently, but it says nothing of the line, so the autostop leaves it out
LOST_WHILE_AWAY = "channel ended while the engine was away"


class Outcome(str, Enum):
    ANSWERED = "ANSWERED"
    NO_ANSWER = "NO_ANSWER"
    BUSY = "BUSY"
    REJECTED = "REJECTED"
    LOST = "LOST"
    ERROR = "ERROR"

    @property
    def label_ru(self) -> str:
        return _LABELS[self][0]

    @property
    def label_en(self) -> str:
        return _LABELS[self][1]

    @property
    def colour(self) -> str:
        return _LABELS[self][2]


_LABELS = {
    Outcome.ANSWERED: ("Отвечен", "Answered", "#2e7d32"),
    Outcome.NO_ANSWER: ("Не отвечен", "No answer", "#8d99a6"),
    Outcome.BUSY: ("Занято", "Busy", "#f2a900"),
    Outcome.REJECTED: ("Отклонён", "Rejected", "#e8590c"),
    Outcome.LOST: ("Клиент упущен", "Lost", "#7b3fb5"),
    Outcome.ERROR: ("Ошибка", "Error", "#c62828"),
}
ORDER = list(Outcome)
