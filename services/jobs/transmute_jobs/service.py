"""Job state: creation, checked transitions with optimistic concurrency, fan-out of every
change over NATS so watchers on any replica see it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import nats

from transmute_common import jobs as model
from transmute_common.bus import Bus
from transmute_common.errors import (
    Conflict,
    InvalidArgument,
    InvalidInput,
    NotFound,
    Unavailable,
    check_job_id,
    check_tenant,
)
from transmute_common.jobs import (
    FileRef,
    Job,
    JobError,
    JobStatus,
    Progress,
    WebhookAttempt,
    utcnow,
)
from transmute_common.jobstore import JobStore
from transmute_common.logging import get_logger
from transmute_common.metrics import meter

log = get_logger(__name__)
# A cached result is reused only if its outputs are kept at least this much longer.
CACHE_MARGIN = timedelta(minutes=1)


class JobMetrics:
    """Job counts and latencies, recorded by the one writer of job state."""

    def __init__(self) -> None:
        m = meter("transmute.jobs")
        self.created = m.create_counter("transmute.jobs.created", description="Jobs created")
        self.finished = m.create_counter(
            "transmute.jobs.finished", description="Jobs that reached a final state"
        )
        self.duration = m.create_histogram(
            "transmute.job.duration", unit="s", description="Creation to final state"
        )
        self.wait = m.create_histogram(
            "transmute.job.queue_wait", unit="s", description="Creation to start of work"
        )

    def record(self, job: Job) -> None:
        # A queued job (version 1) changes first either by starting or by ending.
        if job.status is JobStatus.RUNNING and job.version == 2 and job.started_at:
            wait = (job.started_at - job.created_at).total_seconds()
            self.wait.record(wait, {"service": job.service})
        if job.status.terminal and job.finished_at:
            attrs = {
                "service": job.service,
                "status": job.status.value,
                "error_code": job.error.code if job.error else "",
            }
            self.finished.add(1, attrs)
            seconds = (job.finished_at - job.created_at).total_seconds()
            self.duration.record(seconds, {"service": job.service, "status": job.status.value})


def _request_of(job: Job) -> tuple[Any, ...]:
    """What a client asked for, to tell a replay from a different request under a used
    idempotency key. Inputs compare by content: a retried upload gets a new file id."""
    return (
        job.service,
        job.operation,
        job.target,
        job.options,
        [(f.name, f.size, f.sha256) for f in job.inputs],
    )


class JobService:
    def __init__(self, store: JobStore, bus: Bus, ttl_seconds: int, resync_seconds: float):
        self.store = store
        self.bus = bus
        self.ttl_seconds = ttl_seconds
        self.resync_seconds = resync_seconds
        self.metrics = JobMetrics()

    async def create(
        self,
        *,
        tenant: str,
        service: str,
        operation: str,
        inputs: list[FileRef],
        target: str,
        options: dict[str, Any],
        idempotency_key: str,
        trace_id: str,
        ttl_seconds: int = 0,
        cache_key: str = "",
        webhook_url: str = "",
    ) -> tuple[Job, bool]:
        check_tenant(tenant)
        if not service or not inputs:
            raise InvalidArgument("a job needs a service and at least one input")
        prefix = f"tenants/{tenant}/"
        if any(not f.key.startswith(prefix) for f in inputs):
            raise InvalidArgument("inputs must belong to the tenant", code="foreign_input")
        job = Job(
            id=model.job_id_for(tenant, idempotency_key),
            tenant=tenant,
            service=service,
            operation=operation,
            inputs=inputs,
            target=target,
            options=options,
            idempotency_key=idempotency_key or None,
            trace_id=trace_id,
            cache_key=cache_key or None,
            webhook_url=webhook_url,
        ).with_ttl(ttl_seconds if ttl_seconds > 0 else self.ttl_seconds)
        if cache_key:
            # Outputs kept a while longer than that are worth reusing.
            earlier = await self.store.find_cached(tenant, cache_key, utcnow() + CACHE_MARGIN)
            if earlier is not None:
                job = model.from_cache(job, earlier)
        stored, created = await self.store.create(job)
        if not created and _request_of(stored) != _request_of(job):
            raise InvalidInput(
                "this Idempotency-Key was already used for a different request",
                code="idempotency_key_reused",
            )
        if created:
            await self.bus.publish_job_event(stored)
            self.metrics.created.add(1, {"service": service})
            if stored.cached:
                self.metrics.record(stored)
                await self._queue_webhook(stored)
        return stored, created

    async def get(self, tenant: str, job_id: str) -> Job:
        return await self.store.get(check_tenant(tenant), check_job_id(job_id))

    async def list_jobs(
        self, tenant: str, page_size: int, page_token: str
    ) -> tuple[list[Job], str]:
        return await self.store.list_jobs(check_tenant(tenant), page_size, page_token)

    async def _transition(self, tenant: str, job_id: str, step: Callable[[Job], Job]) -> Job:
        """Applies ``step`` with compare-and-set, retrying when another writer won."""
        job, changed = await self.store.update(check_tenant(tenant), check_job_id(job_id), step)
        if changed:
            await self.bus.publish_job_event(job)
            self.metrics.record(job)
            if job.status.terminal and job.webhook is None:
                await self._queue_webhook(job)
        return job

    async def _queue_webhook(self, job: Job) -> None:
        """A job that just ended hands its webhook to the delivery stream."""
        if not job.webhook_url:
            return
        try:
            await self.bus.publish_webhook(job)
        except Unavailable as exc:
            log.error("webhook_not_queued", job_id=job.id, tenant=job.tenant, error=exc.message)

    async def record_webhook(
        self, tenant: str, job_id: str, attempt: WebhookAttempt, state: str
    ) -> Job:
        return await self._transition(
            tenant, job_id, lambda j: model.webhook_attempt(j, attempt, state)
        )

    async def report_progress(
        self, tenant: str, job_id: str, attempt: int, progress: Progress
    ) -> Job:
        return await self._transition(
            tenant, job_id, lambda j: model.report_progress(j, attempt, progress)
        )

    async def complete(self, tenant: str, job_id: str, outputs: list[FileRef]) -> Job:
        return await self._transition(tenant, job_id, lambda j: model.complete(j, outputs))

    async def fail(self, tenant: str, job_id: str, error: JobError) -> Job:
        return await self._transition(tenant, job_id, lambda j: model.fail(j, error))

    async def cancel(self, tenant: str, job_id: str) -> Job:
        return await self._transition(tenant, job_id, model.cancel)

    async def fail_exhausted(self, tenant: str, job_id: str, deliveries: int) -> None:
        """A conversion request ran out of deliveries without an answer."""
        error = JobError(
            code="delivery_exhausted",
            message=f"the converter did not finish the job after {deliveries} attempts",
        )
        try:
            await self.fail(tenant, job_id, error)
            log.warning("job_delivery_exhausted", job_id=job_id, deliveries=deliveries)
        except Conflict:
            pass  # it finished after all
        except NotFound:
            pass  # expired or never stored: nothing left to fail

    async def watch(self, tenant: str, job_id: str) -> AsyncIterator[Job]:
        """The current state, then every change in version order, until terminal."""
        sub = await self.bus.subscribe_job_events(check_tenant(tenant), check_job_id(job_id))
        try:
            job = await self.get(tenant, job_id)
            yield job
            last = job.version
            while not job.status.terminal:
                try:
                    msg = await sub.next_msg(timeout=self.resync_seconds)
                    job = Job.model_validate_json(msg.data)
                except (TimeoutError, nats.errors.TimeoutError):
                    # Quiet for a while: re-read, in case an event was lost on the way.
                    job = await self.get(tenant, job_id)
                if job.version > last:
                    last = job.version
                    yield job
        finally:
            await sub.unsubscribe()
