"""Is this service ready? Its dependencies, checked on a short interval, decide: while one
is down the service reports NOT_SERVING over gRPC health (so Kubernetes probes and load
balancers see it) and a converter stops pulling work, instead of spending the queued
jobs' deliveries on an outage."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio

from transmute_common.logging import get_logger

log = get_logger(__name__)
Check = Callable[[], Awaitable[object]]
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Readiness:
    """``ready`` is set while every check passes. A caller that meets an outage first
    (a failed store call) says so with ``doubt()``: work pauses at once and the checks
    decide when it resumes."""

    def __init__(
        self,
        checks: Mapping[str, Check],
        health: health_aio.HealthServicer,
        service_names: Iterable[str],
        interval: float = 2.0,
        timeout: float = 3.0,
    ):
        self.checks = checks
        self.health = health
        self.names = ["", *service_names]
        self.interval = interval
        self.timeout = timeout
        self.ready = asyncio.Event()
        self.failing: dict[str, str] = {}
        self._wake = asyncio.Event()

    def doubt(self) -> None:
        self.ready.clear()
        self._wake.set()

    async def check_once(self) -> bool:
        results = await asyncio.gather(
            *(self._check(name, check) for name, check in self.checks.items())
        )
        failing = {name: error for name, error in results if error}
        if failing != self.failing:
            if failing:
                log.warning("dependencies_unavailable", failing=failing)
            else:
                log.info("dependencies_available")
        self.failing = failing
        status = NOT_SERVING if failing else SERVING
        for name in self.names:
            await self.health.set(name, status)
        if failing:
            self.ready.clear()
        else:
            self.ready.set()
        return not failing

    async def _check(self, name: str, check: Check) -> tuple[str, str]:
        try:
            async with asyncio.timeout(self.timeout):
                await check()
        except Exception as exc:  # any failure of a dependency counts as down
            return name, type(exc).__name__
        return name, ""

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.check_once()
            self._wake.clear()
            waits = [asyncio.ensure_future(e.wait()) for e in (stop, self._wake)]
            await asyncio.wait(waits, timeout=self.interval, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*waits, return_exceptions=True)
