"""Removes what has outlived the result TTL: expired jobs with their outputs (found by
the job store's expiry index), and expired uploads (found by their markers in the object
store's expiry index). Neither lists everything, so every replica may sweep."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from transmute_common.bus import output_prefix
from transmute_common.expiry import UploadExpiry, upload_of
from transmute_common.jobs import utcnow
from transmute_common.jobstore import JobStore
from transmute_common.logging import get_logger
from transmute_common.objectstore import ObjectStore

log = get_logger(__name__)


async def sweep_once(
    jobs: JobStore, objects: ObjectStore, uploads: UploadExpiry, now: datetime | None = None
) -> int:
    now = now or utcnow()
    removed = 0
    while expired := await jobs.take_expired(now):
        for job in expired:
            removed += await objects.delete_prefix(output_prefix(job.tenant, job.id))
    for marker in await uploads.expired(now):
        removed += await objects.delete_prefix(upload_of(marker.key))
        await objects.delete_prefix(marker.key)
    return removed


async def run_sweeper(
    jobs: JobStore, objects: ObjectStore, interval: float, stop: asyncio.Event
) -> None:
    uploads = UploadExpiry(objects)
    while not stop.is_set():
        try:
            removed = await sweep_once(jobs, objects, uploads)
            if removed:
                log.info("expired_objects_removed", count=removed)
        except Exception:
            log.exception("sweep_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
