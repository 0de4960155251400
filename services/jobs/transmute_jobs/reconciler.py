"""Finds live jobs that nothing will move on and sets them going again.

A queued or running job left unchanged for a while is looked up in the conversion
stream (one subject per job):
* no request there: it was never published (a crash between CreateJob and publish) or
  was removed without an answer; it is published again. The converter reads the job's
  state first, so a request for a job that did finish meanwhile changes nothing.
* a request there and the job's attempts spent long ago: its max-deliveries advisory
  was lost; the job fails as the advisory would have failed it.
* otherwise the request waits for a converter (a backlog, a service down): left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from transmute_common.bus import Bus
from transmute_common.jobs import utcnow
from transmute_common.logging import get_logger
from transmute_common.metrics import meter
from transmute_jobs.config import JobsSettings
from transmute_jobs.service import JobService

log = get_logger(__name__)
_reconciled = meter("transmute.jobs").create_counter(
    "transmute.jobs.reconciled", description="Live jobs set going again or failed by the reconciler"
)


@dataclass
class Reconciled:
    republished: int = 0
    failed: int = 0


async def reconcile_once(
    service: JobService, bus: Bus, settings: JobsSettings, now: datetime | None = None
) -> Reconciled:
    now = now or utcnow()
    done = Reconciled()
    quiet_since = now - timedelta(seconds=settings.reconcile_after_seconds)
    exhausted_since = now - timedelta(seconds=settings.reconcile_exhausted_seconds)
    for job in await service.store.stale_live_jobs(quiet_since, settings.reconcile_batch):
        seq = await bus.conversion_in_stream(job)
        if seq is None:
            # A fresh message id: the first publish's id may still be in the
            # duplicate window. Replicas reconciling at once share this one.
            await bus.publish_conversion(job, message_id=f"{job.id}@{job.version}")
            log.warning("job_republished", job_id=job.id, status=job.status.value)
            done.republished += 1
            _reconciled.add(1, {"service": job.service, "action": "republished"})
        elif job.attempts >= settings.max_deliver and job.last_change <= exhausted_since:
            await service.fail_exhausted(job.tenant, job.id, job.attempts)
            await bus.remove_conversion(seq)
            done.failed += 1
            _reconciled.add(1, {"service": job.service, "action": "failed"})
    return done


async def run_reconciler(
    service: JobService, bus: Bus, settings: JobsSettings, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            await reconcile_once(service, bus, settings)
        except Exception:
            log.exception("reconcile_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.reconcile_interval_seconds)
