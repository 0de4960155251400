"""Programs an engine starts straight from the service process, confined as a worker is.

Each program runs in a session (process group) of its own, with the scrubbed engine
environment, under the worker's resource limits (address space, file size, CPU time,
process count, no core dumps), and dies with the service (parent-death signal). The
limits and the death signal are set by util-linux's ``prlimit`` and ``setpriv``, which
exec the program: nothing runs in the forked child of the (threaded) service process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from transmute_common.errors import TransmuteError
from transmute_common.worker_process import WorkerLimits

LAUNCHERS = ("setpriv", "prlimit")  # util-linux, on every Debian system
CPU_GRACE = 2  # seconds between SIGXCPU and SIGKILL
LOG_KEPT = 128 * 1024  # bytes of a program's stderr kept from its start and from its end


class LauncherMissing(Exception):
    """The programs that confine an engine's programs are not installed."""


@dataclass(frozen=True)
class Finished:
    returncode: int
    log: str  # what the program wrote on stderr (its start and end, if it wrote a lot)


@dataclass(frozen=True)
class Launcher:
    prefix: list[str]  # the command prefix that confines what follows it
    cpu_seconds: int  # the CPU time each program may use (0: no limit)


def launcher(limits: WorkerLimits) -> Launcher:
    found = {name: shutil.which(name) for name in LAUNCHERS}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise LauncherMissing(f"{', '.join(missing)} not found (Debian package util-linux)")
    prlimit = [str(found["prlimit"]), "--core=0"]
    for option, value in (
        ("as", limits.memory_bytes),
        ("fsize", limits.file_bytes),
        ("nproc", limits.processes),
    ):
        if value > 0:
            prlimit.append(f"--{option}={value}")
    if limits.cpu_seconds > 0:
        # SIGXCPU at the limit (a program may stop cleanly on it), SIGKILL a bit later.
        prlimit.append(f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + CPU_GRACE}")
    prefix = [str(found["setpriv"]), "--pdeathsig", "KILL", "--", *prlimit, "--"]
    return Launcher(prefix, limits.cpu_seconds)


class ProgramRunner:
    """Runs one program at a time for one job, confined, in the job's directory."""

    def __init__(self, launch: Launcher, env: dict[str, str], job_dir: Path):
        self._launch = launch
        self._env = {**env, "TMPDIR": str(job_dir / "tmp")}
        self._job_dir = job_dir

    async def run(
        self,
        argv: Sequence[str],
        on_line: Callable[[str], None] | None = None,
        log_name: str = "program.log",
    ) -> Finished:
        """Runs ``argv`` to its end, handing each line it prints on stdout to
        ``on_line``. Cancelled, the program and all it started are killed. A program
        stopped by a resource limit raises TransmuteError; any other end is returned."""
        (self._job_dir / "tmp").mkdir(exist_ok=True)
        with (self._job_dir / log_name).open("w+b") as log:
            # Started from the event loop's thread, not a helper thread: the parent-death
            # signal fires when the thread that forked ends. The fork (vfork) is quick.
            proc = subprocess.Popen(  # noqa: ASYNC220
                [*self._launch.prefix, *argv],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if on_line else subprocess.DEVNULL,
                stderr=log,
                cwd=self._job_dir,
                env=self._env,
                start_new_session=True,  # its own process group, for killpg
            )
            # Reaped here with wait4, for the CPU time it used (asyncio's own child
            # watching does not tell it).
            exited = _Exit(proc.pid)
            try:
                if on_line is not None:
                    assert proc.stdout is not None
                    await _follow(proc.stdout, on_line)
                status, cpu = await exited.wait()
            finally:
                if not exited.reaped:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    await asyncio.shield(exited.wait())
                exited.close()
                if proc.stdout is not None:
                    proc.stdout.close()
            proc.returncode = status
            text = _kept(log).decode("utf-8", "replace")
        limit = self._launch.cpu_seconds
        # The kernel's CPU accounting and rusage differ by a hair: 1 % of slack.
        if status == -signal.SIGXCPU or (status != 0 and limit and cpu >= 0.99 * limit):
            raise TransmuteError("the conversion used up its CPU time limit", code="cpu_limit")
        if status == -signal.SIGXFSZ:
            raise TransmuteError(
                "the conversion wrote more than its file size limit", code="output_too_large"
            )
        return Finished(status, text)


class _Exit:
    """A child's end, awaited on a pidfd from the event loop."""

    def __init__(self, pid: int):
        self.pid = pid
        self.fd = os.pidfd_open(pid)
        self.reaped = False
        self._result: tuple[int, float] | None = None

    async def wait(self) -> tuple[int, float]:
        """Exit status (negative: the signal that ended it) and CPU seconds used."""
        if self._result is None:
            loop = asyncio.get_running_loop()
            ended: asyncio.Future[None] = loop.create_future()

            def on_exit() -> None:
                if not ended.done():
                    ended.set_result(None)

            loop.add_reader(self.fd, on_exit)
            try:
                await ended
            finally:
                loop.remove_reader(self.fd)
            if self._result is None:
                # The pidfd is readable: the child has ended and wait4 returns at once.
                _, status, usage = os.wait4(self.pid, 0)  # noqa: ASYNC222
                self.reaped = True
                self._result = (
                    os.waitstatus_to_exitcode(status),
                    usage.ru_utime + usage.ru_stime,
                )
        return self._result

    def close(self) -> None:
        os.close(self.fd)


async def _follow(pipe: IO[bytes], on_line: Callable[[str], None]) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        async for raw in reader:
            on_line(raw.decode("utf-8", "replace").strip())
    finally:
        transport.close()


def _kept(log: BinaryIO) -> bytes:
    """The log whole, or its start and its end: a hostile file can make a program
    write warnings without end."""
    size = log.seek(0, os.SEEK_END)
    log.seek(0)
    if size <= 2 * LOG_KEPT:
        return log.read()
    head = log.read(LOG_KEPT)
    log.seek(size - LOG_KEPT)
    return head + b"\n[...]\n" + log.read()
