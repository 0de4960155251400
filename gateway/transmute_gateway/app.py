"""Builds the gateway: FastAPI app, gRPC server and their shared dependencies."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
from fastapi import FastAPI
from grpc_health.v1.health import aio as health_aio
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from transmute.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from transmute_common.bus import Bus
from transmute_common.errors import TransmuteError
from transmute_common.grpcutil import start_server
from transmute_common.jobs_client import JobsClient
from transmute_common.logging import get_logger
from transmute_common.memory import settle_after_start
from transmute_common.objectstore import open_object_store
from transmute_common.readiness import Readiness
from transmute_common.tracing import tracing_enabled
from transmute_gateway import rest
from transmute_gateway.catalog import Catalog
from transmute_gateway.config import GatewaySettings
from transmute_gateway.core import Gateway
from transmute_gateway.grpc_api import GatewayServicer
from transmute_gateway.limits import BodyLimit
from transmute_gateway.metrics import RequestMetrics

log = get_logger(__name__)


def create_app(settings: GatewaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_object_store(settings)
        await store.start()
        jobs = JobsClient(settings.jobs_address)
        bus = Bus(settings)
        await bus.connect("transmute-gateway")
        catalog = Catalog(settings.converters, settings.capabilities_ttl_seconds)
        # Learn the converters' capabilities now: jobs can then be queued for a converter
        # that is briefly down later.
        with contextlib.suppress(TransmuteError):
            await catalog.services()
        gw = Gateway(settings, store, jobs, bus, catalog)
        names = [gateway_pb2.DESCRIPTOR.services_by_name["GatewayService"].full_name]
        health = health_aio.HealthServicer()
        # The same checks answer /readyz and gRPC health (NOT_SERVING while one fails).
        checks = {"nats": bus.ping, "object_store": store.ping, "jobs": jobs.ping}
        watch = Readiness(checks, health, names)

        async def readiness() -> dict[str, str]:
            await watch.check_once()
            return {n: "unavailable" if n in watch.failing else "ok" for n in checks}

        def register(server: grpc.aio.Server) -> None:
            gateway_pb2_grpc.add_GatewayServiceServicer_to_server(GatewayServicer(gw), server)

        server, port = await start_server(
            settings.grpc_host,
            settings.grpc_port,
            register,
            names,
            health=health,
            reflection=settings.grpc_reflection,
        )
        stop = asyncio.Event()
        watching = asyncio.create_task(watch.run(stop))
        app.state.gateway = gw
        app.state.readiness = readiness
        app.state.grpc_port = port
        settle_after_start()
        log.info(
            "gateway_started",
            http=f"http://{settings.http_host}:{settings.http_port}",
            grpc_port=port,
        )
        try:
            yield
        finally:
            stop.set()
            watching.cancel()
            await server.stop(grace=5)
            await catalog.close()
            await jobs.close()
            await bus.close()
            await store.close()

    app = FastAPI(
        title="Transmute",
        version="0.1.0",
        description="Self-hosted file conversion: upload, convert, watch progress, download.",
        lifespan=lifespan,
    )
    rest.install(app)
    app.add_middleware(
        BodyLimit, limit=settings.max_json_bytes, exempt=("/v1/files", "/v1/convert")
    )
    app.add_middleware(RequestMetrics)  # outermost: refusals by BodyLimit count too
    if tracing_enabled():
        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")
    return app
