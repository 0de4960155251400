"""Expiry: the jobs service's sweeper removes expired jobs with their outputs, and
uploads older than the TTL, from every store."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.integration.test_object_store_contract import chunks
from transmute_common.errors import NotFound
from transmute_common.jobs import FileRef, Job, utcnow
from transmute_common.jobstore import JobStore
from transmute_common.objectstore import ObjectStore
from transmute_jobs.sweeper import sweep_once


async def test_expired_jobs_outputs_and_stale_uploads_go(
    job_store: JobStore, object_store: ObjectStore
) -> None:
    old = Job(
        tenant="sw",
        service="image",
        target="webp",
        inputs=[FileRef(key="tenants/sw/uploads/a", name="a.jpg")],
    )
    old = old.model_copy(update={"expires_at": utcnow() - timedelta(seconds=1)})
    fresh = Job(
        tenant="sw",
        service="image",
        target="webp",
        inputs=[FileRef(key="tenants/sw/uploads/b", name="b.jpg")],
    ).with_ttl(3600)
    for job in (old, fresh):
        await job_store.create(job)
        await object_store.put(f"tenants/sw/jobs/{job.id}/out.webp", chunks(b"out"), "image/webp")
    await object_store.put("tenants/sw/uploads/stale", chunks(b"in"), "image/jpeg")
    await asyncio.sleep(2.2)
    await object_store.put("tenants/sw/uploads/recent", chunks(b"in"), "image/jpeg")

    removed = await sweep_once(job_store, object_store, ttl_seconds=2)

    assert removed == 2
    keys = sorted(o.key for o in await object_store.list_objects("tenants/sw/"))
    assert keys == [f"tenants/sw/jobs/{fresh.id}/out.webp", "tenants/sw/uploads/recent"]
    with pytest.raises(NotFound):
        await job_store.get("sw", old.id)
    assert (await job_store.get("sw", fresh.id)).id == fresh.id
