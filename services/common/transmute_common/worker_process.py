"""Inside a conversion worker: ``python -m transmute_common.worker_process CONN LIFELINE``.

The service starts this with a scrubbed environment, in a session (process group) of its
own, and hands over two file descriptors: a connection for messages and a lifeline whose
end-of-file means the service is gone. The worker applies its resource limits, builds
the engine once and then serves one task at a time, sending progress before the result.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import gc
import importlib
import os
import resource
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from transmute_common.converter import Capabilities, ConversionTask, Converter
from transmute_common.errors import TransmuteError, scrubbed


@dataclass(frozen=True)
class WorkerLimits:
    """Resource limits of one worker and of every process its engine starts.

    ``cpu_seconds`` is counted per job; ``processes`` is the kernel's per-user count,
    which root is exempt from. 0 leaves a limit unset."""

    memory_bytes: int = 4 * 1024**3
    file_bytes: int = 8 * 1024**3
    cpu_seconds: int = 0
    processes: int = 256


@dataclass(frozen=True)
class WorkerInit:
    factory: str  # "module:callable" building the engine from its settings
    settings: dict[str, Any]
    limits: WorkerLimits
    declared: Capabilities
    sys_path: list[str]


def load_factory(path: str) -> Callable[[dict[str, Any]], Converter]:
    module, _, attr = path.partition(":")
    factory: Callable[[dict[str, Any]], Converter] = getattr(importlib.import_module(module), attr)
    return factory


def _exit_with_service(lifeline: int) -> None:
    """Without this a worker, and what its engine started, would outlive a service
    killed with SIGKILL: the lifeline's end-of-file kills the whole process group."""
    while os.read(lifeline, 1):
        pass
    os.killpg(0, signal.SIGKILL)


def _set(limit: int, value: int) -> None:
    if value > 0:
        resource.setrlimit(limit, (value, value))


def _apply(limits: WorkerLimits) -> None:
    _set(resource.RLIMIT_AS, limits.memory_bytes)
    _set(resource.RLIMIT_FSIZE, limits.file_bytes)
    _set(resource.RLIMIT_NPROC, limits.processes)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _cpu_budget(seconds: int) -> None:
    """RLIMIT_CPU counts the process's whole life: the budget starts from what it has
    used so far. Past it the kernel sends SIGXCPU, which ends the worker."""
    if seconds <= 0:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    limit = int(usage.ru_utime + usage.ru_stime) + seconds
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    if hard != resource.RLIM_INFINITY and limit > hard:
        limit = hard
    resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))


def _job_environment(task: ConversionTask) -> None:
    """Temp files of the engine (and of what it starts) go to the job's own directory,
    which the service removes whatever happens."""
    tmp = task.output_dir.parent / "tmp"
    tmp.mkdir(exist_ok=True)
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = None
    os.chdir(task.output_dir.parent)


def engine_failure(exc: Exception) -> TransmuteError:
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return TransmuteError(
            "the conversion wrote more than its file size limit", code="output_too_large"
        )
    return TransmuteError(
        f"conversion failed: {type(exc).__name__}: {scrubbed(str(exc))}", code="conversion_failed"
    )


IDLE_SECONDS = 2.0


def _give_back_memory() -> None:
    """Returns what the last jobs freed to the system, so an idle worker is small again:
    glibc keeps freed heap memory for reuse otherwise (a million-face mesh leaves
    hundreds of MB resident)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def serve(conn: Connection) -> None:
    init: WorkerInit = conn.recv()
    sys.path[:] = init.sys_path
    _apply(init.limits)
    try:
        engine = load_factory(init.factory)(init.settings)
        available = engine.available(init.declared)
    except Exception as exc:  # the engine cannot load here: say why, then stop
        conn.send(("unavailable", f"{type(exc).__name__}: {exc}"[:500]))
        return
    conn.send(("ready", available))

    def progress(
        fraction: float,
        message: str,
        rate: float | None = None,
        eta_seconds: float | None = None,
    ) -> None:
        conn.send(("progress", (max(0.0, min(1.0, fraction)), message, rate, eta_seconds)))

    while True:
        # Jobs back to back reuse the heap the last one grew; a worker left idle gives
        # it back.
        if not conn.poll(IDLE_SECONDS):
            _give_back_memory()
        try:
            task: ConversionTask = conn.recv()
        except EOFError:
            return
        _cpu_budget(init.limits.cpu_seconds)
        try:
            _job_environment(task)
            conn.send(("done", engine.convert(task, progress)))
        except TransmuteError as err:
            conn.send(("error", err))
        except Exception as exc:  # an engine bug or a resource limit: fail, do not retry
            conn.send(("error", engine_failure(exc)))
        finally:
            os.chdir("/")


def main() -> None:
    conn_fd, lifeline = int(sys.argv[1]), int(sys.argv[2])
    threading.Thread(target=_exit_with_service, args=(lifeline,), daemon=True).start()
    serve(Connection(conn_fd))


if __name__ == "__main__":
    main()
