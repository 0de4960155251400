"""Readiness from dependency checks: gRPC health and the pause of work follow them."""

from __future__ import annotations

import asyncio

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio

from transmute_common.readiness import NOT_SERVING, SERVING, Readiness


async def status(health: health_aio.HealthServicer, name: str) -> int:
    class Context:
        async def abort(self, *args: object) -> None:
            raise AssertionError(args)

    resp = await health.Check(health_pb2.HealthCheckRequest(service=name), Context())
    return int(resp.status)


async def test_health_and_readiness_follow_the_dependencies() -> None:
    store_up = True

    async def store() -> None:
        if not store_up:
            raise ConnectionError("refused")

    health = health_aio.HealthServicer()
    r = Readiness({"object_store": store}, health, ["x.v1.Svc"], interval=0.05)
    assert await r.check_once() and r.ready.is_set()
    assert await status(health, "x.v1.Svc") == SERVING

    store_up = False
    r.doubt()  # a failed call pauses work at once, before the next check
    assert not r.ready.is_set()
    assert not await r.check_once()
    assert r.failing == {"object_store": "ConnectionError"}
    assert await status(health, "") == NOT_SERVING
    assert await status(health, "x.v1.Svc") == NOT_SERVING

    stop = asyncio.Event()
    running = asyncio.create_task(r.run(stop))
    store_up = True
    await asyncio.wait_for(r.ready.wait(), 5)
    assert await status(health, "x.v1.Svc") == SERVING
    stop.set()
    await asyncio.wait_for(running, 5)


async def test_a_hanging_check_counts_as_down() -> None:
    async def hangs() -> None:
        await asyncio.sleep(60)

    r = Readiness({"jobs": hangs}, health_aio.HealthServicer(), [], timeout=0.1)
    assert not await r.check_once()
    assert r.failing == {"jobs": "TimeoutError"}
