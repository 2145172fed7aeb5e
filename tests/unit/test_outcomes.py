"""The six outcomes: one order, one label, one colour everywhere (SPEC A2)."""
from dialer.outcomes import ORDER, Outcome


def test_order_labels_and_colours_are_the_specified_ones():
    assert [(o.value, o.label_ru, o.colour) for o in ORDER] == [
        ("ANSWERED", "Отвечен", "#2e7d32"), ("NO_ANSWER", "Не отвечен", "#8d99a6"), ("BUSY", "Занято", "#f2a900"),
        ("REJECTED", "Отклонён", "#e8590c"), ("LOST", "Клиент упущен", "#7b3fb5"), ("ERROR", "Ошибка", "#c62828")]
    assert Outcome.LOST.label_en == "Lost"


def test_the_database_accepts_exactly_these_outcomes():
    from pathlib import Path
    schema = (Path(__file__).parents[2] / "sql" / "001_init.sql").read_text()
    assert "CHECK (outcome IN ('ANSWERED', 'NO_ANSWER', 'BUSY', 'REJECTED', 'LOST', 'ERROR'))" in schema
