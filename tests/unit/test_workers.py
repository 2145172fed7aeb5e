"""The web's worker processes (dialer/workers.py): a domain error raised in a worker is raised to the caller as it
was (class, id, both messages, details); a worker that dies is reported and the pool starts again."""
from __future__ import annotations

import asyncio
import os
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

import pytest

from dialer import tables
from dialer.errors import Invalid
from dialer.workers import Workers

MB = 1024 * 1024


def test_a_domain_error_comes_back_whole_and_a_dead_worker_is_replaced(settings):
    workers = Workers(replace(settings, db_pool_size=1), size=1)

    async def scenario():
        assert await workers.run(tables.sniff_delimiter, "a;b;c") == ";"
        with pytest.raises(Invalid) as e:
            await workers.run(tables.check_size, b"x" * (MB + 1), tables.Limits(file=MB))
        assert e.value.as_dict() == {"error": "file-too-large", "message": "the file is larger than 1 MB: split it",
                                     "message_ru": "файл больше 1 МБ: разделите его", "limit": "file", "max": MB}
        with pytest.raises(BrokenProcessPool):
            await workers.run(os._exit, 3)
        assert await workers.run(tables.sniff_delimiter, "a\tb") == "\t"  # a new pool took over

    try:
        asyncio.run(scenario())
    finally:
        workers.close()
