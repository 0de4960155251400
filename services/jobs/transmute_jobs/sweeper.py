"""Removes what has outlived the result TTL: expired jobs with their outputs, and
uploads nobody converted in time."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from transmute_common.bus import output_prefix
from transmute_common.jobs import utcnow
from transmute_common.jobstore import JobStore
from transmute_common.logging import get_logger
from transmute_common.objectstore import ObjectStore

log = get_logger(__name__)


async def sweep_once(jobs: JobStore, objects: ObjectStore, ttl_seconds: int) -> int:
    removed = 0
    while expired := await jobs.take_expired(utcnow()):
        for job in expired:
            removed += await objects.delete_prefix(output_prefix(job.tenant, job.id))
    cutoff = utcnow() - timedelta(seconds=ttl_seconds)
    for info in await objects.list_objects("tenants/"):
        if "/uploads/" in info.key and info.modified is not None and info.modified < cutoff:
            removed += await objects.delete_prefix(info.key)
    return removed


async def run_sweeper(
    jobs: JobStore, objects: ObjectStore, ttl_seconds: int, interval: float, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            removed = await sweep_once(jobs, objects, ttl_seconds)
            if removed:
                log.info("expired_objects_removed", count=removed)
        except Exception:
            log.exception("sweep_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
