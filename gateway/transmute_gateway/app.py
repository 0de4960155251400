"""Builds the gateway: FastAPI app, gRPC server and their shared dependencies."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
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
from transmute_gateway import admin, rest, tus, webapp
from transmute_gateway.authn import Authenticator
from transmute_gateway.catalog import Catalog
from transmute_gateway.config import GatewaySettings
from transmute_gateway.core import Gateway
from transmute_gateway.grpc_api import GatewayServicer
from transmute_gateway.headers import SecurityHeaders
from transmute_gateway.limits import BodyLimit
from transmute_gateway.links import Links
from transmute_gateway.metrics import RequestMetrics
from transmute_gateway.oidc import JwksCache, OidcVerifier
from transmute_gateway.resumable import ResumableUploads

log = get_logger(__name__)


def oidc_verifier(settings: GatewaySettings, http: httpx.AsyncClient) -> OidcVerifier | None:
    if not settings.oidc_issuer:
        return None
    jwks = JwksCache(
        http, settings.oidc_issuer, settings.oidc_jwks_url, settings.oidc_jwks_refetch_seconds
    )
    return OidcVerifier(
        jwks, settings.oidc_issuer, settings.oidc_audience, settings.oidc_algorithms
    )


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
        signing_key = settings.signing_key.get_secret_value().encode() or secrets.token_bytes(32)
        http = httpx.AsyncClient(timeout=10.0)
        auth = Authenticator(settings, jobs.access, signing_key, oidc_verifier(settings, http))
        app.state.auth = auth
        app.state.links = Links(signing_key, settings.presign_seconds)
        names = [gateway_pb2.DESCRIPTOR.services_by_name["GatewayService"].full_name]
        health = health_aio.HealthServicer()
        # The same checks answer /readyz and gRPC health (NOT_SERVING while one fails).
        checks = {"nats": bus.ping, "object_store": store.ping, "jobs": jobs.ping}
        watch = Readiness(checks, health, names)

        async def readiness() -> dict[str, str]:
            await watch.check_once()
            return {n: "unavailable" if n in watch.failing else "ok" for n in checks}

        def register(server: grpc.aio.Server) -> None:
            servicer = GatewayServicer(gw, auth)
            gateway_pb2_grpc.add_GatewayServiceServicer_to_server(servicer, server)

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
        app.state.resumable = ResumableUploads(
            gw, settings.s3_part_size, settings.tus_expiry_seconds
        )
        app.state.readiness = readiness
        app.state.grpc_port = port
        settle_after_start()
        log.info(
            "gateway_started",
            http=f"http://{settings.http_host}:{settings.http_port}",
            grpc_port=port,
            auth="on" if settings.auth_enabled else "off",
            oidc=bool(settings.oidc_issuer),
            guests=settings.guest_enabled,
        )
        try:
            yield
        finally:
            stop.set()
            watching.cancel()
            await server.stop(grace=5)
            await catalog.close()
            await http.aclose()
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
    app.include_router(admin.router)
    app.include_router(tus.router)
    webapp.install(app, settings.web_dir)
    app.add_middleware(
        BodyLimit,
        limit=settings.max_json_bytes,
        exempt=("/v1/files", "/v1/convert", "/v1/uploads"),
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "idempotency-key", *tus.REQUEST],
            expose_headers=["retry-after", "location", "www-authenticate", *tus.RESPONSE],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders, hsts=settings.hsts, store_url=settings.s3_public_url)
    app.add_middleware(RequestMetrics)  # outermost: refusals by BodyLimit count too
    if tracing_enabled():
        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")
    return app
