"""Removes what has outlived the result TTL: expired jobs with their outputs (found by
the job store's expiry index), and expired uploads (found by their markers in the object
store's expiry index). Neither lists everything, so every replica may sweep. An upload
that a queued or running job still reads is kept and looked at again later."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from transmute_common.bus import output_prefix
from transmute_common.expiry import PREFIX, UploadExpiry, mark_upload, upload_of
from transmute_common.jobs import utcnow
from transmute_common.jobstore import JobStore
from transmute_common.logging import get_logger
from transmute_common.objectstore import ObjectStore

log = get_logger(__name__)
# How long an expired upload that a live job reads is kept before it is checked again.
IN_USE_RECHECK = timedelta(minutes=10)


async def sweep_once(
    jobs: JobStore, objects: ObjectStore, uploads: UploadExpiry, now: datetime | None = None
) -> int:
    now = now or utcnow()
    removed = 0
    while expired := await jobs.take_expired(now):
        for job in expired:
            removed += await objects.delete_prefix(output_prefix(job.tenant, job.id))
    for marker in await uploads.expired(now):
        upload = upload_of(marker.key)
        _, tenant, file_id = marker.key.removeprefix(PREFIX).split("/")
        if await jobs.upload_in_use(tenant, upload):
            await mark_upload(objects, tenant, file_id, now + IN_USE_RECHECK)
            log.info("expired_upload_kept", tenant=tenant, file_id=file_id)
        else:
            removed += await objects.delete_prefix(upload)
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
