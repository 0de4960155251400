"""Entry point: ``transmute-jobs`` (or ``python -m transmute_jobs``)."""

from __future__ import annotations

import asyncio
import signal

import grpc
import uvloop
from grpc_health.v1.health import aio as health_aio

from transmute.jobs.v1 import access_pb2, access_pb2_grpc, jobs_pb2, jobs_pb2_grpc
from transmute_common.bus import Bus
from transmute_common.grpcutil import start_server
from transmute_common.jobstore import open_job_store
from transmute_common.logging import get_logger, setup_logging
from transmute_common.memory import settle_after_start
from transmute_common.metrics import setup_metrics, shutdown_metrics
from transmute_common.objectstore import open_object_store
from transmute_common.readiness import Readiness
from transmute_common.tracing import setup_tracing, shutdown_tracing
from transmute_jobs.access import AccessServicer, bootstrap_key
from transmute_jobs.config import JobsSettings
from transmute_jobs.reconciler import run_reconciler
from transmute_jobs.service import JobService
from transmute_jobs.servicer import JobServicer
from transmute_jobs.sweeper import run_sweeper
from transmute_jobs.webhooks import WebhookSender, run_webhooks

log = get_logger(__name__)


async def serve(settings: JobsSettings) -> None:
    setup_logging("jobs")
    setup_tracing("transmute-jobs")
    setup_metrics("transmute-jobs")
    store = open_job_store(settings.job_store_url, settings.mongo_write_concern)
    await store.start()
    if settings.bootstrap_admin_key:
        await bootstrap_key(store, settings.bootstrap_admin_key, settings.default_tenant)
    objects = open_object_store(settings)
    await objects.start()
    bus = Bus(settings)
    await bus.connect("transmute-jobs")
    await bus.ensure_webhook_stream()
    service = JobService(store, bus, settings.result_ttl_seconds, settings.watch_resync_seconds)

    def register(server: grpc.aio.Server) -> None:
        jobs_pb2_grpc.add_JobServiceServicer_to_server(JobServicer(service), server)
        access_pb2_grpc.add_AccessServiceServicer_to_server(AccessServicer(store), server)

    names = [
        jobs_pb2.DESCRIPTOR.services_by_name["JobService"].full_name,
        access_pb2.DESCRIPTOR.services_by_name["AccessService"].full_name,
    ]
    health = health_aio.HealthServicer()
    # NOT_SERVING while the job store or NATS is away: converters then pull no work.
    readiness = Readiness({"job_store": store.ping, "nats": bus.ping}, health, names)
    server, port = await start_server(
        settings.grpc_host,
        settings.grpc_port,
        register,
        names,
        health=health,
        reflection=settings.grpc_reflection,
    )
    await readiness.check_once()
    stop = asyncio.Event()
    watching = asyncio.create_task(readiness.run(stop))
    background = [
        asyncio.create_task(bus.consume_exhausted(service.fail_exhausted, stop)),
        asyncio.create_task(run_reconciler(service, bus, settings, stop)),
        asyncio.create_task(run_webhooks(WebhookSender(service, store, settings), bus, stop)),
    ]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    settle_after_start()
    log.info("jobs_started", grpc_port=port)
    try:
        await run_sweeper(store, objects, settings.sweep_interval_seconds, stop)
    finally:
        log.info("jobs_stopping")
        stop.set()
        watching.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await server.stop(grace=5)
        await bus.close()
        await store.close()
        await objects.close()
        shutdown_tracing()
        shutdown_metrics()


def main() -> None:
    uvloop.run(serve(JobsSettings()))


if __name__ == "__main__":
    main()
