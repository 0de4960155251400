"""NATS JetStream: the conversion work queue and the job-event fan-out.

* ``convert.<service>`` subjects live in one work-queue stream with file storage.
  Each converter service has one durable pull consumer with explicit acks; publishes
  are de-duplicated by job id (``Nats-Msg-Id``).
* ``jobs.events.<tenant>.<job id>`` (core NATS) carries every job change from the jobs
  service replica that made it to every replica with a watcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError
from pydantic import BaseModel

from transmute_common.errors import Unavailable
from transmute_common.jobs import FileRef, Job
from transmute_common.logging import get_logger
from transmute_common.settings import Settings
from transmute_common.tracing import extracted_context, inject_headers

log = get_logger(__name__)

MSG_ID = "Nats-Msg-Id"
TENANT_HEADER = "Transmute-Tenant"
DUPLICATE_WINDOW_SECONDS = 600.0
MAX_DELIVERIES_ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.*"


class ConversionRequest(BaseModel):
    """The message a converter receives for a job."""

    job_id: str
    tenant: str
    service: str
    operation: str
    inputs: list[FileRef]
    target: str
    options: dict[str, Any] = {}
    output_prefix: str

    @classmethod
    def for_job(cls, job: Job) -> ConversionRequest:
        return cls(
            job_id=job.id,
            tenant=job.tenant,
            service=job.service,
            operation=job.operation,
            inputs=job.inputs,
            target=job.target,
            options=job.options,
            output_prefix=output_prefix(job.tenant, job.id),
        )


def output_prefix(tenant: str, job_id: str) -> str:
    return f"tenants/{tenant}/jobs/{job_id}/"


def job_events_subject(tenant: str, job_id: str) -> str:
    return f"jobs.events.{tenant}.{job_id}"


class Delivery:
    """One delivery of a conversion request, with the means to settle it."""

    def __init__(self, msg: Msg, request: ConversionRequest, max_deliver: int):
        self.msg = msg
        self.request = request
        self.attempt = msg.metadata.num_delivered
        self.last_attempt = self.attempt >= max_deliver

    async def ack(self) -> None:
        await self.msg.ack()

    async def nak(self, delay: float) -> None:
        await self.msg.nak(delay=delay)


class Bus:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    @property
    def nc(self) -> Client:
        if self._nc is None:
            raise Unavailable("not connected to NATS")
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise Unavailable("not connected to NATS")
        return self._js

    async def connect(self, name: str) -> None:
        async def on_error(exc: Exception) -> None:
            log.warning("nats_error", error=str(exc))

        self._nc = await nats.connect(
            self.settings.nats_url,
            name=name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            error_cb=on_error,
        )
        self._js = self._nc.jetstream()
        await self.ensure_stream()

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            try:
                await self._nc.drain()
            except (TimeoutError, nats.errors.Error):
                await self._nc.close()  # NATS is already gone: nothing left to drain

    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def ensure_stream(self) -> None:
        """Creates or updates the conversion stream; every service does this at start."""
        config = StreamConfig(
            name=self.settings.stream_name,
            subjects=["convert.>"],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )
        try:
            await self.js.add_stream(config)
        except BadRequestError:
            await self.js.update_stream(config)

    # --- conversion requests -------------------------------------------------------

    async def publish_conversion(self, job: Job) -> bool:
        """Queues the job's conversion; returns False if it was a duplicate publish."""
        request = ConversionRequest.for_job(job)
        try:
            ack = await self.js.publish(
                f"convert.{job.service}",
                request.model_dump_json().encode(),
                headers=inject_headers({MSG_ID: job.id, TENANT_HEADER: job.tenant}),
                stream=self.settings.stream_name,
            )
        except (TimeoutError, nats.errors.Error) as exc:
            raise Unavailable(f"message bus unavailable: {exc}", code="bus_unavailable") from exc
        return not ack.duplicate

    async def consume(
        self,
        service: str,
        handle: Callable[[Delivery], Awaitable[None]],
        concurrency: int,
        stop: asyncio.Event,
    ) -> None:
        """Pulls conversion requests for ``service`` until ``stop`` is set. Each runs as
        a task while ``in_progress()`` heartbeats keep JetStream from redelivering it."""
        s = self.settings
        config = ConsumerConfig(
            durable_name=service,
            filter_subject=f"convert.{service}",
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=s.ack_wait_seconds,
            max_deliver=s.max_deliver,
            max_ack_pending=max(concurrency * 4, 16),
        )
        try:
            await self.js.add_consumer(s.stream_name, config)
        except BadRequestError:
            await self.js.delete_consumer(s.stream_name, service)
            await self.js.add_consumer(s.stream_name, config)
        sub = await self.js.pull_subscribe_bind(durable=service, stream=s.stream_name)
        slots = asyncio.Semaphore(concurrency)
        tasks: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            await slots.acquire()
            try:
                msgs = await sub.fetch(batch=1, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                slots.release()
                continue
            except nats.errors.Error as exc:
                slots.release()
                log.warning("fetch_failed", error=str(exc))
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                task = asyncio.create_task(self._run_one(msg, handle, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await sub.unsubscribe()

    async def _run_one(
        self, msg: Msg, handle: Callable[[Delivery], Awaitable[None]], slots: asyncio.Semaphore
    ) -> None:
        try:
            request = ConversionRequest.model_validate_json(msg.data)
        except ValueError:
            log.error("malformed_conversion_request", subject=msg.subject)
            await msg.term()
            slots.release()
            return
        delivery = Delivery(msg, request, self.settings.max_deliver)
        heartbeat = asyncio.create_task(self._heartbeat(msg))
        try:
            with extracted_context(msg.headers):
                await handle(delivery)
        except Exception:
            log.exception("conversion_handler_crashed", job_id=request.job_id)
            with contextlib.suppress(Exception):
                await delivery.nak(self.backoff(delivery.attempt))
        finally:
            heartbeat.cancel()
            slots.release()

    async def _heartbeat(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    def backoff(self, attempt: int) -> float:
        steps = self.settings.redelivery_backoff or [1.0]
        return steps[min(attempt - 1, len(steps) - 1)]

    # --- exhausted deliveries --------------------------------------------------------

    async def on_exhausted(
        self, callback: Callable[[str, str, int], Awaitable[None]]
    ) -> Subscription:
        """Calls ``callback(tenant, job_id, deliveries)`` for each conversion request that ran
        out of deliveries without an ack (e.g. a converter crashing on every attempt),
        then removes the message from the stream."""
        stream = self.settings.stream_name

        async def on_advisory(msg: Msg) -> None:
            try:
                advisory = json.loads(msg.data)
                seq = int(advisory["stream_seq"])
                stored = await self.js.get_msg(stream, seq)
            except NotFoundError:
                return  # already acked or removed
            except (ValueError, KeyError, nats.errors.Error) as exc:
                log.warning("advisory_unreadable", error=str(exc))
                return
            headers = stored.headers or {}
            job_id, tenant = headers.get(MSG_ID, ""), headers.get(TENANT_HEADER, "")
            if job_id and tenant:
                await callback(tenant, job_id, int(advisory.get("deliveries", 0)))
            with contextlib.suppress(nats.errors.Error):
                await self.js.delete_msg(stream, seq)

        return await self.nc.subscribe(
            MAX_DELIVERIES_ADVISORY.format(stream=stream), queue="jobs", cb=on_advisory
        )

    # --- job events --------------------------------------------------------------------

    async def publish_job_event(self, job: Job) -> None:
        await self.nc.publish(
            job_events_subject(job.tenant, job.id), job.model_dump_json().encode()
        )

    async def subscribe_job_events(self, tenant: str, job_id: str) -> Subscription:
        return await self.nc.subscribe(job_events_subject(tenant, job_id))
