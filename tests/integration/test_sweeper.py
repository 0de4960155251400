"""Expiry: the jobs service's sweeper removes expired jobs with their outputs, and
expired uploads found by their expiry markers, from every store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.test_object_store_contract import chunks
from transmute_common.errors import NotFound
from transmute_common.expiry import PREFIX, UploadExpiry, mark_upload, marker_key
from transmute_common.jobs import FileRef, Job, utcnow
from transmute_common.jobstore import JobStore
from transmute_common.objectstore import ObjectStore
from transmute_jobs.sweeper import sweep_once


async def test_expired_jobs_outputs_and_stale_uploads_go(
    job_store: JobStore, object_store: ObjectStore
) -> None:
    now = utcnow()
    old = Job(
        tenant="sw",
        service="image",
        target="webp",
        inputs=[FileRef(key="tenants/sw/uploads/a", name="a.jpg")],
    )
    old = old.model_copy(update={"expires_at": now - timedelta(seconds=1)})
    fresh = Job(
        tenant="sw",
        service="image",
        target="webp",
        inputs=[FileRef(key="tenants/sw/uploads/b", name="b.jpg")],
    ).with_ttl(3600)
    for job in (old, fresh):
        await job_store.create(job)
        await object_store.put(f"tenants/sw/jobs/{job.id}/out.webp", chunks(b"out"), "image/webp")
    uploads_expiring = [("stale", now - timedelta(minutes=2)), ("recent", now + timedelta(hours=1))]
    for name, expires in uploads_expiring:
        await object_store.put(f"tenants/sw/uploads/{name}", chunks(b"in"), "image/jpeg")
        await object_store.put_json(f"tenants/sw/uploads/{name}.json", {"id": name})
        await mark_upload(object_store, "sw", name, expires)

    uploads = UploadExpiry(object_store)
    removed = await sweep_once(job_store, object_store, uploads, now)

    assert removed == 3  # the old job's output, the stale upload and its record
    keys = sorted(o.key for o in await object_store.list_objects("tenants/sw/"))
    assert keys == [
        f"tenants/sw/jobs/{fresh.id}/out.webp",
        "tenants/sw/uploads/recent",
        "tenants/sw/uploads/recent.json",
    ]
    with pytest.raises(NotFound):
        await job_store.get("sw", old.id)
    assert (await job_store.get("sw", fresh.id)).id == fresh.id
    markers = [m.key for m in await object_store.list_objects(PREFIX)]
    assert markers == [marker_key("sw", "recent", now + timedelta(hours=1))]


async def test_upload_sweeps_list_only_the_minutes_since_the_last(
    object_store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utcnow()
    uploads = UploadExpiry(object_store)
    await uploads.expired(now)  # the first sweep lists every marker once
    listed: list[str] = []
    real = object_store.list_objects

    async def spy(prefix: str):  # type: ignore[no-untyped-def]
        listed.append(prefix)
        return await real(prefix)

    monkeypatch.setattr(object_store, "list_objects", spy)
    await mark_upload(object_store, "sw2", "x", now + timedelta(seconds=30))
    later = now + timedelta(minutes=3)
    expired = [m.key for m in await uploads.expired(later)]
    assert expired == [marker_key("sw2", "x", now + timedelta(seconds=30))]
    assert "tenants/" not in listed and PREFIX not in listed
    assert all(p.startswith(PREFIX) and p.count("/") == 3 for p in listed)
    assert len(listed) <= 4  # one listing per minute that passed


async def test_an_expired_upload_a_live_job_reads_is_kept(
    job_store: JobStore, object_store: ObjectStore
) -> None:
    """Uploads went by age alone: a job queued behind a long backlog lost its input."""
    from transmute_common import jobs as model
    from transmute_jobs.sweeper import IN_USE_RECHECK

    now = utcnow()
    key = "tenants/use/uploads/queued"
    await object_store.put(key, chunks(b"in"), "image/jpeg")
    await mark_upload(object_store, "use", "queued", now - timedelta(minutes=2))
    job = Job(tenant="use", service="image", target="webp", inputs=[FileRef(key=key, name="q")])
    await job_store.create(job.with_ttl(3600))
    uploads = UploadExpiry(object_store)

    assert await sweep_once(job_store, object_store, uploads, now) == 0
    assert (await object_store.stat(key)).size == 2
    later = now + IN_USE_RECHECK
    markers = [m.key for m in await object_store.list_objects(PREFIX)]
    assert markers == [marker_key("use", "queued", later)]

    await job_store.update("use", job.id, model.cancel)
    after = later + timedelta(minutes=2)
    assert await sweep_once(job_store, object_store, uploads, after) == 1
    with pytest.raises(NotFound):
        await object_store.stat(key)
    assert await object_store.list_objects(PREFIX) == []
