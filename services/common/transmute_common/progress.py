"""Sends a job's progress to the jobs service in order without holding up the work."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from transmute_common.errors import TransmuteError
from transmute_common.jobs import Progress
from transmute_common.logging import get_logger

log = get_logger(__name__)


class ProgressReporter:
    """Reports go out one at a time, at most one per ``min_interval``; a newer report
    replaces one still waiting, so a short job sends only its first. A refusal (the job
    was cancelled or is gone) is raised at the next report; a passing outage only loses
    that update."""

    def __init__(self, send: Callable[[Progress], Awaitable[object]], min_interval: float):
        self._send = send
        self._min_interval = min_interval
        self._pending: Progress | None = None
        self._task: asyncio.Task[None] | None = None
        self._sending = False
        self._refusal: TransmuteError | None = None

    async def report(self, progress: Progress) -> None:
        if self._refusal is not None:
            raise self._refusal
        self._pending = progress
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())

    def stop(self) -> None:
        """Drops what is not sent yet; a report already on its way still lands."""
        self._pending = None
        if self._task is not None and not self._sending:
            self._task.cancel()

    async def _drain(self) -> None:
        while self._pending is not None:
            progress, self._pending = self._pending, None
            started = time.monotonic()
            self._sending = True
            try:
                await self._send(progress)
            except TransmuteError as err:
                if not err.retryable:
                    self._refusal = err
                    return
                log.warning("progress_not_reported", error=err.message)
            finally:
                self._sending = False
            await asyncio.sleep(max(0.0, self._min_interval - (time.monotonic() - started)))
