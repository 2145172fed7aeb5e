"""Where a lead goes after a manual dial (pure): a lead out of the queue stays out unless the call is answered."""
from datetime import datetime, timezone

import pytest

from rules.callable import LeadChange, after_attempt, after_manual_attempt

NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize("before,outcome,placed,expected", [
    (None, "NO_ANSWER", True, ("callable", True)),  # not a manual dial: the usual rules
    ("callable", "BUSY", True, ("callable", True)),
    ("new", "ERROR", False, ("callable", True)),
    ("done", "NO_ANSWER", True, ("done", False)),  # closed stays closed, nothing to call at
    ("exhausted", "BUSY", True, ("exhausted", False)),
    ("held", "REJECTED", True, ("held", False)),  # the CRM said "don't touch"
    ("done", "ERROR", False, ("done", False)),  # never placed: given back, still closed
    ("done", "ANSWERED", True, ("in_progress", False)),  # answered: the wrap-up decides
])
def test_after_manual_attempt(before, outcome, placed, expected):
    usual = after_attempt(1, 3, 60, outcome, NOW, placed=placed)
    change = after_manual_attempt(before, usual)
    assert (change.state, change.next_call_at is not None) == expected
    assert change.uncount == usual.uncount  # an attempt never placed is given back either way


def test_a_change_not_about_a_closed_lead_is_returned_as_it_is():
    change = LeadChange("callable", NOW, uncount=True)
    assert after_manual_attempt("callable", change) is change
