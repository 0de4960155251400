"""Runs a ProgramConverter in the service process: its programs are started confined
(transmute_common.confined), at most ``size`` jobs at a time, each within the time limit.

Compared with the worker pool this saves a Python process per slot (tens of MB each)
and a message hop per job; cancelling a job kills the job's program and its group."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from transmute_common.confined import Launcher, LauncherMissing, ProgramRunner, launcher
from transmute_common.converter import (
    Capabilities,
    ConversionTask,
    OutputFile,
    ProgramConverter,
    ProgressFn,
)
from transmute_common.errors import TransmuteError, Unavailable
from transmute_common.worker_process import WorkerLimits, engine_failure, load_factory
from transmute_common.workers import EngineUnavailable, engine_environment


class ProgramHost:
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
        self._factory_path = factory_path
        self._settings = engine_settings or {}
        self._limits = limits
        self._timeout = timeout
        self._declared = declared
        self._home = home or Path(os.environ.get("TMPDIR", "/tmp"))
        self._slots = asyncio.Semaphore(size)
        self._engine: ProgramConverter | None = None
        self._launch: Launcher | None = None
        self.available: Capabilities = declared.model_copy(update={"conversions": []})

    def _runner(self, job_dir: Path) -> ProgramRunner:
        assert self._launch is not None
        return ProgramRunner(self._launch, engine_environment(self._home), job_dir)

    async def start(self) -> None:
        """Builds the engine and asks it what this machine's programs can do; raises
        EngineUnavailable (and offers nothing) when it cannot run here."""
        try:
            self._launch = launcher(self._limits)
            engine = load_factory(self._factory_path)(self._settings)
            if not isinstance(engine, ProgramConverter):
                raise TypeError(f"{self._factory_path} does not build a ProgramConverter")
            self.available = await engine.available(self._declared, self._runner(self._home))
        except (LauncherMissing, TransmuteError, OSError, ImportError, TypeError) as exc:
            raise EngineUnavailable(f"{type(exc).__name__}: {exc}"[:500]) from exc
        self._engine = engine

    async def close(self) -> None:
        """Nothing to stop: a job's programs end with its task, or with this process."""

    async def run(self, task: ConversionTask, on_progress: ProgressFn) -> list[OutputFile]:
        if self._engine is None:
            raise Unavailable("the engine is not available here", code="no_worker")

        def progress(
            fraction: float,
            message: str,
            rate: float | None = None,
            eta_seconds: float | None = None,
        ) -> None:
            on_progress(max(0.0, min(1.0, fraction)), message, rate=rate, eta_seconds=eta_seconds)

        async with self._slots:
            deadline = asyncio.timeout(self._timeout)
            try:
                async with deadline:
                    return await self._engine.convert(
                        task, progress, self._runner(task.output_dir.parent)
                    )
            except TimeoutError:
                if not deadline.expired():
                    raise engine_failure(TimeoutError("an engine step timed out")) from None
                raise TransmuteError(
                    f"conversion took longer than {self._timeout:.0f} s", code="timeout"
                ) from None
            except TransmuteError:
                raise
            except Exception as exc:  # an engine bug: fail the job, do not retry
                raise engine_failure(exc) from exc
