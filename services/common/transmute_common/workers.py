"""Worker processes that run a converter engine off the event loop, confined.

Each worker is a fresh Python process (``transmute_common.worker_process``) started with
a scrubbed environment (no credentials, no service settings beyond the engine's own),
in a process group of its own, under resource limits (address space, file size, CPU
time per job, process count). It builds the engine once and then serves one task at a
time over a socket; the event loop waits on that socket directly, so a task costs one
message each way and no helper threads.

A worker that crashes, overruns its time limit or whose job is cancelled is killed with
everything it started (its process group) and replaced; the job gets a clear error.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from transmute_common.converter import Capabilities, ConversionTask, OutputFile, ProgressFn
from transmute_common.errors import TransmuteError, Unavailable
from transmute_common.logging import get_logger
from transmute_common.worker_process import WorkerInit, WorkerLimits

log = get_logger(__name__)
READY_TIMEOUT = 120.0
# What an engine's environment keeps of the service's: where programs are, the locale.
KEPT_VARIABLES = {"PATH", "LANG", "LANGUAGE", "TZ"}


class EngineUnavailable(Exception):
    """The engine cannot be built on this machine (a library or program is missing)."""


def engine_environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in KEPT_VARIABLES or k.startswith("LC_")}
    env.update(HOME=str(home), TMPDIR=str(home), PYTHONDONTWRITEBYTECODE="1")
    return env


class _Worker:
    def __init__(self, proc: subprocess.Popen[bytes], conn: Connection, lifeline: int):
        self.proc = proc
        self.conn = conn
        self.lifeline = lifeline

    def kill(self) -> None:
        """Kills the worker and everything it started (its process group)."""
        with contextlib.suppress(OSError):
            self.conn.close()
        with contextlib.suppress(OSError):
            os.close(self.lifeline)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


class WorkerPool:
    def __init__(
        self,
        factory_path: str,
        size: int,
        limits: WorkerLimits,
        timeout: float,
        declared: Capabilities,
        engine_settings: dict[str, Any] | None = None,
        home: Path | None = None,
    ):
        self._init = WorkerInit(
            factory=factory_path,
            settings=engine_settings or {},
            limits=limits,
            declared=declared,
            sys_path=list(sys.path),
        )
        self._size = size
        self._timeout = timeout
        self._home = home or Path(os.environ.get("TMPDIR", "/tmp"))
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self._replacing: set[asyncio.Task[None]] = set()
        self._closed = False
        # Told why each worker is replaced (timeout, worker_crashed, cpu_limit, cancelled).
        self.on_restart: Callable[[str], None] | None = None
        self.available: Capabilities = declared.model_copy(update={"conversions": []})

    async def start(self) -> None:
        """Starts the workers. If the engine cannot load here, the pool stays empty and
        ``available`` offers nothing; raises EngineUnavailable with the reason."""
        first = await self._spawn()
        self._idle.put_nowait(first)
        for worker in await asyncio.gather(*(self._spawn() for _ in range(self._size - 1))):
            self._idle.put_nowait(worker)

    async def close(self) -> None:
        # Replacements first: a spawn still in flight would otherwise outlive the pool,
        # and its socket's event-loop reader would outlive the socket.
        self._closed = True
        for task in list(self._replacing):
            task.cancel()
        await asyncio.gather(*self._replacing, return_exceptions=True)
        for worker in list(self._all):
            worker.kill()
        await asyncio.gather(*(asyncio.to_thread(w.proc.wait, 5) for w in self._all))
        self._all.clear()

    async def _spawn(self) -> _Worker:
        ours, theirs = socket.socketpair()
        life_read, life_write = os.pipe()
        argv = [
            sys.executable,
            "-m",
            "transmute_common.worker_process",
            str(theirs.fileno()),
            str(life_read),
        ]

        def popen() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                argv,
                pass_fds=(theirs.fileno(), life_read),
                env=engine_environment(self._home),
                cwd="/",
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, for killpg
            )

        starting = asyncio.ensure_future(asyncio.to_thread(popen))
        try:
            proc = await asyncio.shield(starting)
        except BaseException:
            with contextlib.suppress(BaseException):
                proc = await starting  # a process half-started on cancel is still ours
                _Worker(proc, Connection(ours.detach()), life_write).kill()
            raise
        finally:
            theirs.close()
            os.close(life_read)
        worker = _Worker(proc, Connection(ours.detach()), life_write)
        self._all.add(worker)
        try:
            worker.conn.send(self._init)
            async with asyncio.timeout(READY_TIMEOUT):
                kind, payload = await self._receive(worker)
        except (EOFError, OSError, TimeoutError) as exc:
            self._discard(worker)
            raise Unavailable("a conversion worker failed to start") from exc
        if kind == "unavailable":
            self._discard(worker)
            raise EngineUnavailable(payload)
        self.available = payload
        return worker

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        self._all.discard(worker)

    async def _receive(self, worker: _Worker) -> tuple[str, Any]:
        """The worker's next message, waiting on its socket from the event loop."""
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

    async def run(self, task: ConversionTask, on_progress: ProgressFn) -> list[OutputFile]:
        try:
            # Bounded: with every worker gone and none starting, the job goes back to
            # the queue instead of waiting here for ever.
            async with asyncio.timeout(self._timeout):
                worker = await self._idle.get()
        except TimeoutError:
            raise Unavailable("no conversion worker is available", code="no_worker") from None
        healthy = False
        reason = "cancelled"  # what is left if the job is cancelled (or the service stops)
        try:
            worker.conn.send(task)
            async with asyncio.timeout(self._timeout):
                while True:
                    kind, payload = await self._receive(worker)
                    if kind != "progress":
                        break
                    fraction, message, rate, eta = payload
                    on_progress(fraction, message, rate=rate, eta_seconds=eta)
            healthy = True
            if kind == "error":
                raise payload
            result: list[OutputFile] = payload
            return result
        except TimeoutError:
            reason = "timeout"
            raise TransmuteError(
                f"conversion took longer than {self._timeout:.0f} s", code="timeout"
            ) from None
        except (EOFError, OSError):
            death = await self._death(worker)
            reason = death.code
            raise death from None
        finally:
            if healthy:
                self._idle.put_nowait(worker)
            else:
                self._discard(worker)
            if not healthy and not self._closed:
                if self.on_restart is not None:
                    self.on_restart(reason)
                replacement = asyncio.create_task(self._replace(worker))
                self._replacing.add(replacement)
                replacement.add_done_callback(self._replacing.discard)

    async def _death(self, worker: _Worker) -> TransmuteError:
        """Why a worker died mid-job, from its exit status."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(worker.proc.wait, 2)
        if worker.proc.returncode == -signal.SIGXCPU:
            return TransmuteError("the conversion used up its CPU time limit", code="cpu_limit")
        # Out of memory, a crash in a native library: retried, up to the delivery limit.
        return Unavailable("the conversion worker crashed", code="worker_crashed")

    async def _replace(self, dead: _Worker) -> None:
        # Reaped first, so no zombie is left behind; it was killed, so this is quick.
        await asyncio.to_thread(dead.proc.wait, 5)
        while not self._closed:
            try:
                self._idle.put_nowait(await self._spawn())
                return
            except (Unavailable, EngineUnavailable):
                await asyncio.sleep(1)
