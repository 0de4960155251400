"""A pool of worker processes that run a converter engine off the event loop.

Workers are spawned (not forked from a process full of threads), set their own resource
limits, build the engine once, and stream progress back through a queue. A worker that
crashes or overruns its time limit is replaced; the job sees a clear error.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import multiprocessing
import multiprocessing.connection
import os
import resource
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from transmute_common.converter import ConversionTask, Converter, OutputFile
from transmute_common.errors import TransmuteError, Unavailable

_engine: Converter | None = None
_progress_queue: Any = None


def load_factory(path: str) -> Callable[[], Converter]:
    module, _, attr = path.partition(":")
    factory: Callable[[], Converter] = getattr(importlib.import_module(module), attr)
    return factory


def _exit_with_parent() -> None:
    """A worker outlives a service killed with SIGKILL otherwise (it holds its own end
    of the task queue, so it never sees the queue close)."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)


def _init_worker(factory_path: str, memory_bytes: int, progress_queue: Any) -> None:
    global _engine, _progress_queue
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _engine = load_factory(factory_path)()
    _progress_queue = progress_queue


def _warm_up() -> bool:
    return _engine is not None


def _run(token: int, task: ConversionTask) -> list[OutputFile]:
    assert _engine is not None

    def progress(fraction: float, message: str) -> None:
        _progress_queue.put((token, max(0.0, min(1.0, fraction)), message))

    return _engine.convert(task, progress)


class WorkerPool:
    def __init__(self, factory_path: str, size: int, memory_bytes: int, timeout: float):
        self._factory_path = factory_path
        self._size = size
        self._memory = memory_bytes
        self._timeout = timeout
        self._ctx = multiprocessing.get_context("spawn")
        self._queue = self._ctx.Queue()
        self._pool: ProcessPoolExecutor | None = None
        self._listeners: dict[int, Callable[[float, str], None]] = {}
        self._next_token = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: threading.Thread | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._reader = threading.Thread(target=self._read_progress, daemon=True)
        self._reader.start()
        await self._new_pool()

    async def _new_pool(self) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=self._size,
            mp_context=self._ctx,
            initializer=_init_worker,
            initargs=(self._factory_path, self._memory, self._queue),
        )
        # Start every worker now so the first jobs do not pay for imports.
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._pool, _warm_up) for _ in range(self._size))
        )

    def _read_progress(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            token, fraction, message = item
            listener = self._listeners.get(token)
            if listener is not None and self._loop is not None:
                self._loop.call_soon_threadsafe(listener, fraction, message)

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._kill_workers()
        self._queue.put(None)

    def _kill_workers(self) -> None:
        pool = self._pool
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                proc.kill()

    async def run(
        self, task: ConversionTask, on_progress: Callable[[float, str], None]
    ) -> list[OutputFile]:
        pool = self._pool
        assert pool is not None
        self._next_token += 1
        token = self._next_token
        self._listeners[token] = on_progress
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(pool, _run, token, task)
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError:
            if self._pool is pool:
                self._kill_workers()
                await self._new_pool()
            raise TransmuteError(
                f"conversion took longer than {self._timeout:.0f} s", code="timeout"
            ) from None
        except BrokenProcessPool:
            # A worker died (out of memory, a crash in a native library). Jobs that
            # shared the pool are retried; this one too, up to the delivery limit.
            if self._pool is pool:
                await self._new_pool()
            raise Unavailable("the conversion worker crashed", code="worker_crashed") from None
        finally:
            self._listeners.pop(token, None)
