"""An operator's ordered writes carried out in batches (one thread hop for the writes waiting together) keep every
guarantee of one at a time: for any failures of the database at any work — unreachable before a statement, a
commit whose answer is lost, a statement the database refuses — the same works run in the same order, each ask
gets the same answer and each write the same outcome as without batches."""
from __future__ import annotations

import asyncio

import peewee
from hypothesis import given, settings
from hypothesis import strategies as st

from ari_app.writes import NotTried, OrderedWrites, run_in_order

UNREACHABLE = peewee.OperationalError("server closed the connection unexpectedly")


class FakeDatabase:
    """Counts every statement run; fails the ones the plan names (by their number)."""

    def __init__(self, plan: dict[int, str]):
        self.plan = plan  # statement number → "before" (unreachable) | "after" (committed, answer lost) | "bug"
        self.runs = 0
        self.effects: list[str] = []
        self.hops = 0

    def statement(self, name: str) -> str:
        number, self.runs = self.runs, self.runs + 1
        fault = self.plan.get(number)
        if fault == "before":
            raise UNREACHABLE
        if fault == "bug":
            raise TypeError("'NoneType' object is not iterable")
        self.effects.append(name)
        if fault == "after":
            raise UNREACHABLE
        return f"answer to {name}"

    async def run(self, fn, *args):
        self.hops += 1
        await asyncio.sleep(0)
        return fn(self, *args)

    async def run_many(self, works):
        self.hops += 1
        await asyncio.sleep(0)
        return run_in_order(self, works)


def work(db, name):
    return db.statement(name)


def outcome(future: asyncio.Future) -> str:
    e = future.exception()
    return type(e).__name__ if e else future.result()


async def play(ops: list[str], plan: dict[int, str], batched: bool) -> tuple[list[str], list[str], int]:
    db = FakeDatabase(plan)
    writes = OrderedWrites(db.run, "operator 7", 0, 0, run_many=db.run_many if batched else None)
    futures = [(writes.ask if op.startswith("ask") else writes.write)(work, op) for op in ops]
    runner = asyncio.create_task(writes.run())
    try:
        await asyncio.wait_for(asyncio.wait(futures), 5)
    finally:
        runner.cancel()
    return db.effects, [outcome(f) for f in futures], db.hops


OPS = st.lists(st.sampled_from(["write", "ask"]), min_size=1, max_size=12).map(
    lambda kinds: [f"{kind}{i}" for i, kind in enumerate(kinds)])
PLANS = st.dictionaries(st.integers(0, 20), st.sampled_from(["before", "after", "bug"]), max_size=6)


@settings(max_examples=120, deadline=None)
@given(OPS, PLANS)
def test_batches_run_the_same_works_in_the_same_order_with_the_same_outcomes(ops, plan):
    one_by_one = asyncio.run(play(ops, plan, batched=False))
    batched = asyncio.run(play(ops, plan, batched=True))
    assert batched[:2] == one_by_one[:2]


def test_writes_waiting_together_take_one_thread_hop_and_an_ask_ends_the_batch():
    effects, outcomes, hops = asyncio.run(play(["write0", "write1", "ask2", "write3", "write4"], {}, batched=True))
    assert effects == ["write0", "write1", "ask2", "write3", "write4"]
    assert outcomes == [f"answer to {op}" for op in effects]
    assert hops == 2  # [write0, write1, ask2], [write3, write4]


def test_a_write_the_database_refuses_is_dropped_and_the_rest_of_its_batch_goes_on():
    effects, outcomes, hops = asyncio.run(play(["write0", "write1", "write2"], {1: "bug"}, batched=True))
    assert effects == ["write0", "write2"]
    assert outcomes == ["answer to write0", "TypeError", "answer to write2"]
    assert hops == 1


def test_while_the_database_is_unreachable_the_batch_stops_and_its_asks_are_not_tried():
    effects, outcomes, _ = asyncio.run(play(["write0", "write1", "ask2", "write3"], {1: "after", 2: "before"},
                                            batched=True))
    assert effects == ["write0", "write1", "write1", "write3"]  # write1 committed twice: its answer was lost once
    assert outcomes == ["answer to write0", "answer to write1", NotTried.__name__, "answer to write3"]
