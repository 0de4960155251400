"""NATS JetStream: the conversion work queue and the job-event fan-out.

* ``convert.<service>.<job id>`` subjects live in one work-queue stream with file
  storage. Each converter service has one durable pull consumer with explicit acks;
  publishes are de-duplicated by job id (``Nats-Msg-Id``). One subject per job lets
  the jobs service ask the stream whether a job's request is still there.
* The server's max-deliveries advisories are kept in a second stream, so none is lost
  while no jobs service listens, and each is acked only once its job is failed.
* ``jobs.events.<tenant>.<job id>`` (core NATS) carries every job change from the jobs
  service replica that made it to every replica with a watcher.
* ``webhooks.<tenant>.<job id>`` (a third stream) holds one message per finished job
  with a webhook, until a jobs service replica has delivered it or given up: retries
  wait in the stream (``nak`` with a delay), so they outlive a restart.
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
from nats.js.errors import APIError, BadRequestError, NotFoundError
from opentelemetry import trace
from pydantic import BaseModel

from transmute_common.errors import Unavailable
from transmute_common.jobs import FileRef, Job
from transmute_common.logging import get_logger
from transmute_common.settings import Settings
from transmute_common.tracing import extracted_context, inject_headers, tracer

log = get_logger(__name__)
_tracer = tracer("transmute.bus")

MSG_ID = "Nats-Msg-Id"
TENANT_HEADER = "Transmute-Tenant"
JOB_HEADER = "Transmute-Job"
DUPLICATE_WINDOW_SECONDS = 600.0
MAX_DELIVERIES_ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.*"
ADVISORY_CONSUMER = "jobs-exhausted"
ADVISORY_MAX_AGE_SECONDS = 7 * 86400
WEBHOOK_STREAM = "WEBHOOKS"
WEBHOOK_CONSUMER = "webhooks"
WEBHOOK_MAX_AGE_SECONDS = 2 * 86400  # beyond the 24 h of retries


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


def messaging_attributes(subject: str, message_id: str, operation: str) -> dict[str, str]:
    """OpenTelemetry semantic conventions for messaging spans."""
    return {
        "messaging.system": "nats",
        "messaging.destination.name": subject,
        "messaging.operation.type": operation,
        "messaging.message.id": message_id,
    }


def output_prefix(tenant: str, job_id: str) -> str:
    return f"tenants/{tenant}/jobs/{job_id}/"


def conversion_subject(service: str, job_id: str) -> str:
    return f"convert.{service}.{job_id}"


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

    async def term(self) -> None:
        """Never to be delivered again."""
        await self.msg.term()

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

    async def ping(self) -> None:
        """Raises unless connected to NATS (a readiness check)."""
        if not self.connected():
            raise Unavailable("not connected to NATS", code="bus_unavailable")

    async def ensure_stream(self) -> None:
        """Creates or updates the conversion stream; every service does this at start."""
        config = StreamConfig(
            name=self.settings.stream_name,
            subjects=["convert.>"],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )
        await self._add_or_update(config)
        await self._add_or_update(
            StreamConfig(
                name=self.advisory_stream,
                subjects=[MAX_DELIVERIES_ADVISORY.format(stream=self.settings.stream_name)],
                retention=RetentionPolicy.WORK_QUEUE,
                storage=StorageType.FILE,
                max_age=ADVISORY_MAX_AGE_SECONDS,
            )
        )

    async def ensure_webhook_stream(self) -> None:
        await self._add_or_update(
            StreamConfig(
                name=WEBHOOK_STREAM,
                subjects=["webhooks.>"],
                retention=RetentionPolicy.WORK_QUEUE,
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
                max_age=WEBHOOK_MAX_AGE_SECONDS,
            )
        )

    async def publish_webhook(self, job: Job) -> None:
        """Queues the delivery of a finished job's webhook (once per job: the job id is
        the message id)."""
        try:
            await self.js.publish(
                f"webhooks.{job.tenant}.{job.id}",
                b"",
                headers={MSG_ID: job.id, JOB_HEADER: job.id, TENANT_HEADER: job.tenant},
                stream=WEBHOOK_STREAM,
            )
        except (TimeoutError, nats.errors.Error) as exc:
            raise Unavailable(f"message bus unavailable: {exc}", code="bus_unavailable") from exc

    async def consume_webhooks(
        self,
        deliver: Callable[[str, str], Awaitable[float | None]],
        ack_wait: float,
        stop: asyncio.Event,
    ) -> None:
        """Calls ``deliver(tenant, job_id)`` for each queued webhook: None acks it (done:
        delivered or given up), a number hands it back to be delivered again after that
        many seconds. One durable consumer for every jobs service replica."""
        config = ConsumerConfig(
            durable_name=WEBHOOK_CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=ack_wait,
            max_deliver=-1,
        )

        async def handle(msg: Msg) -> None:
            headers = msg.headers or {}
            tenant, job_id = headers.get(TENANT_HEADER, ""), headers.get(JOB_HEADER, "")
            delay = await deliver(tenant, job_id) if tenant and job_id else None
            if delay is None:
                await msg.ack()
            else:
                await msg.nak(delay=delay)

        await self._pull(WEBHOOK_STREAM, config, handle, stop)

    async def _pull(
        self,
        stream: str,
        config: ConsumerConfig,
        handle: Callable[[Msg], Awaitable[None]],
        stop: asyncio.Event,
    ) -> None:
        """Fetches from a durable pull consumer until ``stop``; a message whose handler
        raised is handed back after the usual backoff."""
        await self._add_or_update_consumer(stream, config)
        sub = await self.js.pull_subscribe_bind(durable=config.durable_name or "", stream=stream)
        while not stop.is_set():
            try:
                msgs = await sub.fetch(batch=10, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except nats.errors.Error as exc:
                log.warning("fetch_failed", stream=stream, error=str(exc))
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                try:
                    await handle(msg)
                except Exception:
                    log.exception("message_not_handled", stream=stream)
                    with contextlib.suppress(Exception):
                        await msg.nak(delay=self.backoff(msg.metadata.num_delivered or 1))
        with contextlib.suppress(Exception):
            await sub.unsubscribe()

    @property
    def advisory_stream(self) -> str:
        return f"{self.settings.stream_name}_EXHAUSTED"

    async def _add_or_update(self, config: StreamConfig) -> None:
        try:
            await self.js.add_stream(config)
        except BadRequestError:
            await self.js.update_stream(config)

    # --- conversion requests -------------------------------------------------------

    async def publish_conversion(self, job: Job, message_id: str = "") -> bool:
        """Queues the job's conversion; returns False if it was a duplicate publish.
        The message id defaults to the job id; a re-publish passes its own."""
        request = ConversionRequest.for_job(job)
        subject = conversion_subject(job.service, job.id)
        # Spans name the service's subject, not the per-job one (bounded cardinality).
        destination = f"convert.{job.service}"
        with _tracer.start_as_current_span(
            f"send {destination}",
            kind=trace.SpanKind.PRODUCER,
            attributes={
                **messaging_attributes(destination, job.id, "send"),
                "transmute.job_id": job.id,
            },
        ) as span:
            try:
                # The trace context is injected inside the PRODUCER span: the consumer's
                # span becomes its child and links to it.
                ack = await self.js.publish(
                    subject,
                    request.model_dump_json().encode(),
                    headers=inject_headers(
                        {
                            MSG_ID: message_id or job.id,
                            JOB_HEADER: job.id,
                            TENANT_HEADER: job.tenant,
                        }
                    ),
                    stream=self.settings.stream_name,
                )
            except (TimeoutError, nats.errors.Error) as exc:
                raise Unavailable(
                    f"message bus unavailable: {exc}", code="bus_unavailable"
                ) from exc
            span.set_attribute("transmute.duplicate", ack.duplicate)
            return not ack.duplicate

    async def consume(
        self,
        service: str,
        handle: Callable[[Delivery], Awaitable[None]],
        concurrency: int,
        stop: asyncio.Event,
        grace_seconds: float = 10.0,
        ready: asyncio.Event | None = None,
    ) -> None:
        """Pulls conversion requests for ``service`` until ``stop`` is set. Each runs as
        a task while ``in_progress()`` heartbeats keep JetStream from redelivering it.
        After ``stop``, work in flight has ``grace_seconds`` to finish; what is still
        running then is cancelled and handed back to the stream at once. While
        ``ready`` is clear (a dependency is down) nothing new is pulled."""
        s = self.settings
        config = ConsumerConfig(
            durable_name=service,
            filter_subject=f"convert.{service}.*",
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=s.ack_wait_seconds,
            max_deliver=s.max_deliver,
            # A fleet-wide cap: every replica of the service shares this consumer.
            max_ack_pending=s.max_ack_pending,
        )
        await self._add_or_update_consumer(s.stream_name, config)
        sub = await self.js.pull_subscribe_bind(durable=service, stream=s.stream_name)
        slots = asyncio.Semaphore(concurrency)
        tasks: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            if ready is not None and not ready.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ready.wait(), 1.0)
                continue
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
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

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
        except asyncio.CancelledError:
            # The service is stopping: another replica (or this one, restarted) takes it.
            with contextlib.suppress(Exception):
                await delivery.nak(0)
            raise
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

    # --- what the stream holds for a job ----------------------------------------------

    async def conversion_in_stream(self, job: Job) -> int | None:
        """The stream sequence of the job's conversion request, or None when the stream
        holds none (never published, or already acked or removed)."""
        try:
            msg = await self.js.get_last_msg(
                self.settings.stream_name, conversion_subject(job.service, job.id)
            )
        except NotFoundError:
            return None
        except (TimeoutError, nats.errors.Error) as exc:
            raise Unavailable(f"message bus unavailable: {exc}", code="bus_unavailable") from exc
        return int(msg.seq or 0) or None

    async def remove_conversion(self, seq: int) -> None:
        with contextlib.suppress(NotFoundError):
            await self.js.delete_msg(self.settings.stream_name, seq)

    # --- exhausted deliveries --------------------------------------------------------

    async def consume_exhausted(
        self, callback: Callable[[str, str, int], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        """Calls ``callback(tenant, job_id, deliveries)`` for each conversion request that
        ran out of deliveries without an ack (e.g. a converter crashing on every attempt),
        then removes the request from the stream. The advisories come from their own
        stream through a durable consumer shared by the jobs service's replicas: one is
        acked only after the callback returned, so a failing callback sees it again."""
        config = ConsumerConfig(
            durable_name=ADVISORY_CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.settings.ack_wait_seconds,
            max_deliver=-1,
        )

        async def handle(msg: Msg) -> None:
            await self._exhausted(msg, callback)
            with contextlib.suppress(Exception):
                await msg.ack()

        await self._pull(self.advisory_stream, config, handle, stop)

    async def _exhausted(
        self, advisory_msg: Msg, callback: Callable[[str, str, int], Awaitable[None]]
    ) -> None:
        try:
            advisory = json.loads(advisory_msg.data)
            seq = int(advisory["stream_seq"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("advisory_unreadable", error=str(exc))
            return
        try:
            stored = await self.js.get_msg(self.settings.stream_name, seq)
        except NotFoundError:
            return  # acked or removed since
        headers = stored.headers or {}
        job_id = headers.get(JOB_HEADER) or headers.get(MSG_ID, "")
        tenant = headers.get(TENANT_HEADER, "")
        if job_id and tenant:
            await callback(tenant, job_id, int(advisory.get("deliveries", 0)))
        await self.remove_conversion(seq)

    async def _add_or_update_consumer(self, stream: str, config: ConsumerConfig) -> None:
        try:
            # Creates the durable, or updates what may change of an existing one.
            await self.js.add_consumer(stream, config)
        except APIError as exc:
            # The durable is shared by every replica: one replica never deletes it. A
            # setting that cannot change on a live consumer keeps its old value.
            log.error("consumer_config_not_applied", consumer=config.durable_name, error=str(exc))

    # --- job events --------------------------------------------------------------------

    async def pending(self, service: str) -> int:
        """Conversion requests for ``service`` not yet delivered, by its consumer's count."""
        info = await self.js.consumer_info(self.settings.stream_name, service)
        return int(info.num_pending or 0)

    async def publish_job_event(self, job: Job) -> None:
        await self.nc.publish(
            job_events_subject(job.tenant, job.id), job.model_dump_json().encode()
        )

    async def subscribe_job_events(self, tenant: str, job_id: str) -> Subscription:
        return await self.nc.subscribe(job_events_subject(tenant, job_id))
