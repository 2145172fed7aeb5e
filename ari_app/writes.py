"""One operator's database work, carried out in the order the actor asked for it.

`write`: work that must happen (a timeline stamp, an attempt's end, a wrap-up, a status). Never dropped:
while the database is unreachable the same write is tried again, with back-off from `RETRY_FIRST_S`
doubling up to `RETRY_MAX_S`, and the writes behind it wait, so they keep their order. A write may run
twice (a retry after a commit whose answer was lost), so every store function given here is guarded:
`WHERE ended_at IS NULL`, the first timeline stamp wins, an event is not inserted twice, ...

`ask`: a question whose answer is needed now (a claim, a campaign's offer terms): tried once, in order
behind the writes. While the database is known to be unreachable it is not sent at all (`NotTried`), so the
operator is never held waiting: the actor treats it as "nothing to call now" and asks again later.

A write the database itself refuses (a bug, a broken constraint) would fail the same way on every retry and
hold every write behind it for ever: it is logged with its arguments, counted in `refused`, and the next
write goes on. That is the only way a write leaves the queue uncommitted.

Batches: writes waiting together (a step of the operator's machine often gives two or three: a timeline stamp and
the status, an attempt's end and the status) are carried out by one thread on one pooled connection, each as its
own statement(s) and commit, in order, when the engine gives `run_many` — the same work with fewer thread hops
and connection checkouts. A batch ends after an ask (its caller waits for the answer) and at the first work the
database could not be reached for; what follows it is tried again as before, so the guarantees above hold per
write exactly as without batches.

Memory: writes come only from the calls an operator handles. At `BACKLOG_LIMIT` pending writes the queue is
`full` and the actor takes no new call (a claim is not even asked), so past the limit only the last events of
the call in hand add a few writes; nothing already queued is dropped.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Awaitable, Callable

from dialer.db import unavailable

log = logging.getLogger(__name__)
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 3.0
BACKLOG_LIMIT = 200  # per operator; a call makes about ten writes
# writes carried out in one thread hop, at most: a step gives two or three; a longer batch would hold a database
# thread that long, and every other work queued behind it for one (a bridged client's campaign read) waits
BATCH_MAX = 3
REPORT_EVERY_S = 10.0  # while the outage lasts, one warning per operator this often


class NotTried(Exception):
    """An ask that was not sent: the database is unreachable right now (writes are waiting for it)."""


@dataclass
class _Work:
    fn: Callable
    args: tuple
    future: asyncio.Future
    once: bool  # an ask: never retried


def run_in_order(db, works: list[tuple[Callable, tuple]]) -> list[tuple[bool, object]]:
    """A batch in the calling (database) thread: each `fn(db, *args)` in order, (True, result) or (False, error) for
    each; stops after the first the database could not be reached for (those after it were not tried)."""
    out: list[tuple[bool, object]] = []
    for fn, args in works:
        try:
            out.append((True, fn(db, *args)))
        except Exception as e:
            out.append((False, e))
            if unavailable(e):
                break
    return out


class OrderedWrites:
    def __init__(self, run: Callable[..., Awaitable], label: str, first_s: float = RETRY_FIRST_S,
                 max_s: float = RETRY_MAX_S, limit: int = BACKLOG_LIMIT, on_back: Callable[[], None] | None = None,
                 run_many: Callable[[list], Awaitable[list]] | None = None):
        self._run = run  # (fn, *args) → result of fn(db, *args), in a thread
        self._run_many = run_many  # [(fn, args), ...] → `run_in_order` of them, in a thread; None: one at a time
        self.label = label
        self.first_s, self.max_s, self.limit = first_s, max_s, limit
        self.on_back = on_back  # called when a write commits again after an outage
        self._pending: deque[_Work] = deque()
        self._wake = asyncio.Event()
        self.failing_since: float | None = None  # monotonic time of the outage's first failed write
        self.refused = 0  # writes the database refused (not retried)
        self._delay = first_s
        self._reported = 0.0

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def full(self) -> bool:
        return len(self._pending) >= self.limit

    def write(self, fn, *args) -> asyncio.Future:
        """Queue work that must happen; the future is for callers that want to wait for the commit."""
        return self._add(fn, args, once=False)

    def ask(self, fn, *args) -> asyncio.Future:
        """Queue a question tried once; fails at once with NotTried while the database is unreachable."""
        if self.failing_since is not None:
            future = asyncio.get_running_loop().create_future()
            future.set_exception(NotTried(f"the database is unavailable ({len(self)} writes waiting)"))
            return future
        return self._add(fn, args, once=True)

    def _add(self, fn, args: tuple, once: bool) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._pending.append(_Work(fn, args, future, once))
        if len(self._pending) == self.limit:
            log.error("%s: %d database writes waiting; no new calls until they are written", self.label, self.limit)
        self._wake.set()
        return future

    async def run(self) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._run_many is not None and len(self._pending) > 1 and not self._pending[0].once:
                await self._run_batch()
                continue
            work = self._pending[0]
            try:
                outcome = (True, await self._run(work.fn, *work.args))
            except asyncio.CancelledError:
                raise
            except Exception as e:
                outcome = (False, e)
            await self._settle(work, *outcome)

    async def _run_batch(self) -> None:
        """The writes waiting at the head, up to and including an ask, in one thread hop; each is then settled as
        `run` settles a single one (committed, refused, or waiting for the database again)."""
        batch: list[_Work] = []
        for work in self._pending:
            batch.append(work)
            if work.once or len(batch) == BATCH_MAX:
                break
        try:
            outcomes = await self._run_many([(w.fn, w.args) for w in batch])
        except asyncio.CancelledError:
            raise
        except Exception as e:  # e.g. no pooled connection: nothing was tried
            outcomes = [(False, e)]
        for work, (ok, value) in zip(batch, outcomes):
            if not await self._settle(work, ok, value):
                return

    async def _settle(self, work: _Work, ok: bool, value) -> bool:
        """The head work's outcome: committed (its result), refused (logged, the next goes on), or the database
        unreachable (it stays at the head and is tried again after the back-off). False: it stays."""
        if not ok:
            if work.once or not unavailable(value):
                self._pending.popleft()
                self._failed(work, value)
                return True
            await self._retry_after(work, value)
            return False
        self._pending.popleft()
        if not work.future.done():
            work.future.set_result(value)
        if self.failing_since is not None and not work.once:
            self._back()
        return True

    def _failed(self, work: _Work, e: Exception) -> None:
        if not work.once:  # an ask's failure is its caller's answer; a write's is reported here
            self.refused += 1
            log.error("%s: the database refused %s%r: %s — not retried (it would fail the same way)",
                      self.label, work.fn.__name__, work.args, e, exc_info=e)
        if not work.future.done():
            work.future.set_exception(e)
            work.future.exception()  # retrieved: nobody may be waiting for a write

    async def _retry_after(self, work: _Work, e: Exception) -> None:
        now = time.monotonic()
        if self.failing_since is None:
            self.failing_since, self._delay, self._reported = now, self.first_s, now
            log.warning("%s: database unavailable (%s); %s and %d more writes wait, retried every ≤%g s",
                        self.label, _short(e), work.fn.__name__, len(self) - 1, self.max_s)
            self._drop_asks()
        elif now - self._reported >= REPORT_EVERY_S:
            self._reported = now
            log.warning("%s: database still unavailable after %.0f s (%s); %d writes wait",
                        self.label, now - self.failing_since, _short(e), len(self))
        else:
            log.debug("%s: %s failed again (%s); retry in %.2f s", self.label, work.fn.__name__, _short(e), self._delay)
        await asyncio.sleep(self._delay)
        self._delay = min(self._delay * 2, self.max_s)

    def _drop_asks(self) -> None:
        """Questions queued behind a write that waits for the database get no answer soon: they are told now."""
        for work in [w for w in self._pending if w.once]:
            self._pending.remove(work)
            if not work.future.done():
                work.future.set_exception(NotTried("the database became unavailable"))
                work.future.exception()

    def _back(self) -> None:
        log.info("%s: database back after %.1f s; %d writes still to write", self.label,
                 time.monotonic() - self.failing_since, len(self))
        self.failing_since = None
        self._delay = self.first_s
        if self.on_back:
            self.on_back()


def _short(e: Exception) -> str:
    return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
