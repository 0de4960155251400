"""Worker processes that run a converter engine off the event loop.

Each worker is a spawned process (not forked from a process full of threads) with its
own resource limits; it builds the engine once and then serves one task at a time over
a pipe, sending progress messages before the result. The event loop waits on the pipe
directly, so a task costs one message each way and no helper threads. A worker that
crashes or overruns its time limit is replaced; the job gets a clear error.
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
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from transmute_common.converter import ConversionTask, Converter, OutputFile
from transmute_common.errors import TransmuteError, Unavailable

READY_TIMEOUT = 120.0


def load_factory(path: str) -> Callable[[], Converter]:
    module, _, attr = path.partition(":")
    factory: Callable[[], Converter] = getattr(importlib.import_module(module), attr)
    return factory


# --- inside a worker process -----------------------------------------------------------


def _exit_with_parent() -> None:
    """Without this a worker would outlive a service killed with SIGKILL."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)


def _serve(conn: Connection, factory_path: str, memory_bytes: int) -> None:
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    engine = load_factory(factory_path)()
    conn.send(("ready", None))

    def progress(fraction: float, message: str) -> None:
        conn.send(("progress", (max(0.0, min(1.0, fraction)), message)))

    while True:
        try:
            task: ConversionTask = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("done", engine.convert(task, progress)))
        except TransmuteError as err:
            conn.send(("error", err))
        except Exception as exc:  # an engine bug or a resource limit: fail, do not retry
            conn.send(
                (
                    "error",
                    TransmuteError(
                        f"conversion failed: {type(exc).__name__}: {exc}"[:500],
                        code="conversion_failed",
                    ),
                )
            )


# --- in the service ----------------------------------------------------------------------


class _Worker:
    def __init__(self, proc: BaseProcess, conn: Connection):
        self.proc = proc
        self.conn = conn

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        with contextlib.suppress(Exception):
            self.proc.kill()


class WorkerPool:
    def __init__(self, factory_path: str, size: int, memory_bytes: int, timeout: float):
        self._factory_path = factory_path
        self._size = size
        self._memory = memory_bytes
        self._timeout = timeout
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self._replacing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        workers = await asyncio.gather(*(self._spawn() for _ in range(self._size)))
        for worker in workers:
            self._idle.put_nowait(worker)

    async def close(self) -> None:
        for worker in list(self._all):
            worker.kill()
        self._all.clear()

    async def _spawn(self) -> _Worker:
        parent_conn, child_conn = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=_serve,
            args=(child_conn, self._factory_path, self._memory),
            name="transmute-worker",
            daemon=True,
        )
        await asyncio.to_thread(proc.start)
        child_conn.close()
        worker = _Worker(proc, parent_conn)
        self._all.add(worker)
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                kind, _ = await self._receive(worker)
        except (EOFError, OSError, TimeoutError) as exc:
            self._discard(worker)
            raise Unavailable("a conversion worker failed to start") from exc
        assert kind == "ready"
        return worker

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        self._all.discard(worker)

    async def _receive(self, worker: _Worker) -> tuple[str, Any]:
        """The worker's next message, waiting on its pipe from the event loop."""
        if not worker.conn.poll():
            loop = asyncio.get_running_loop()
            readable = loop.create_future()
            fd = worker.conn.fileno()

            def wake() -> None:
                if not readable.done():
                    readable.set_result(None)

            loop.add_reader(fd, wake)
            try:
                await readable
            finally:
                loop.remove_reader(fd)
        message: tuple[str, Any] = worker.conn.recv()
        return message

    async def run(
        self, task: ConversionTask, on_progress: Callable[[float, str], None]
    ) -> list[OutputFile]:
        worker = await self._idle.get()
        healthy = False
        try:
            worker.conn.send(task)
            async with asyncio.timeout(self._timeout):
                while True:
                    kind, payload = await self._receive(worker)
                    if kind != "progress":
                        break
                    on_progress(*payload)
            healthy = True
            if kind == "error":
                raise payload
            result: list[OutputFile] = payload
            return result
        except TimeoutError:
            raise TransmuteError(
                f"conversion took longer than {self._timeout:.0f} s", code="timeout"
            ) from None
        except (EOFError, OSError):
            # The worker died (out of memory, a crash in a native library). The job is
            # retried, up to its delivery limit.
            raise Unavailable("the conversion worker crashed", code="worker_crashed") from None
        finally:
            if healthy:
                self._idle.put_nowait(worker)
            else:
                self._discard(worker)
                replacement = asyncio.create_task(self._replace())
                self._replacing.add(replacement)
                replacement.add_done_callback(self._replacing.discard)

    async def _replace(self) -> None:
        while True:
            try:
                self._idle.put_nowait(await self._spawn())
                return
            except Unavailable:
                await asyncio.sleep(1)
