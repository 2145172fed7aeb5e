"""The FastAGI routes and the dialplan agree: every AGI() the dialplan calls is served, and nothing is served that
no dialplan calls (a route nobody reaches is a second place deciding about calls)."""
import re
from pathlib import Path

from agi.server import build

DIALPLAN = Path(__file__).resolve().parents[2] / "dialplan"
_AGI = re.compile(r"AGI\(agi://[^/]+/(?P<script>[A-Za-z0-9_]+)")


def called_by_dialplan() -> set[str]:
    return {m.group("script") for f in DIALPLAN.glob("*.conf") for m in _AGI.finditer(f.read_text())}


def test_the_dialplan_calls_the_feature_codes():
    assert called_by_dialplan() >= {"operator_ready", "operator_pause"}


async def test_every_route_is_called_and_every_call_is_routed():  # in a loop: the application asks for one
    assert set(build(db=None)._route) == called_by_dialplan()
