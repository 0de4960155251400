"""The directory store never blocks the event loop: every file-system call runs in a
worker thread, so a slow disk delays that call, not every other request."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from transmute_common.objectstore.fs import DirectoryStore


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def longest_stall(work: object) -> float:
    """The longest the event loop went without running a 10 ms ticker during ``work``."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.05)
    try:
        await work  # type: ignore[misc]
    finally:
        done.set()
        await ticker
    return max(gaps)


@pytest.fixture
async def slow_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DirectoryStore:
    store = DirectoryStore(tmp_path)
    await store.start()
    await store.put("tenants/t/a.txt", _one(b"hello"), "text/plain")
    real_stat, real_read = Path.stat, Path.read_text

    def stat(self: Path, **kw: object) -> os.stat_result:
        time.sleep(0.3)
        return real_stat(self, **kw)  # type: ignore[arg-type]

    def read_text(self: Path, *a: object, **kw: object) -> str:
        time.sleep(0.3)
        return real_read(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "stat", stat)
    monkeypatch.setattr(Path, "read_text", read_text)
    monkeypatch.setattr(Path, "is_dir", lambda self: time.sleep(0.3) or True)
    return store


@pytest.mark.parametrize("call", ["stat", "list", "ping"])
async def test_a_slow_disk_does_not_stall_the_event_loop(
    slow_disk: DirectoryStore, call: str
) -> None:
    work = {
        "stat": lambda: slow_disk.stat("tenants/t/a.txt"),
        "list": lambda: slow_disk.list_objects("tenants/"),
        "ping": lambda: slow_disk.ping(),
    }[call]()
    assert await longest_stall(work) < 0.2
