"""One contract, every job store: SQLite, and a MongoDB-wire server (FerretDB) both
with version claims (FerretDB's path) and without (MongoDB's path)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from transmute_common import jobs as model
from transmute_common.errors import InvalidArgument, NotFound
from transmute_common.jobs import FileRef, Job, JobStatus, Progress, utcnow
from transmute_common.jobstore import JobStore


@pytest.fixture
def store(job_store: JobStore) -> JobStore:
    return job_store


def job(tenant: str = "t1", key: str | None = None) -> Job:
    return Job(
        id=model.job_id_for(tenant, key),
        tenant=tenant,
        service="image",
        target="webp",
        idempotency_key=key,
        inputs=[FileRef(key=f"tenants/{tenant}/uploads/x", name="x.jpg")],
    ).with_ttl(3600)


async def test_create_and_get(store: JobStore) -> None:
    j, created = await store.create(job())
    assert created
    got = await store.get("t1", j.id)
    assert got.id == j.id and got.status is JobStatus.QUEUED and got.inputs == j.inputs


async def test_not_found_and_tenant_scoping(store: JobStore) -> None:
    j, _ = await store.create(job("t1"))
    with pytest.raises(NotFound):
        await store.get("t2", j.id)
    with pytest.raises(NotFound):
        await store.get("t1", "missing")
    assert [x.id for x in (await store.list_jobs("t2", 10, ""))[0]] == []


async def test_idempotency_key_returns_the_same_job(store: JobStore) -> None:
    first, created = await store.create(job(key="k-1"))
    again, created_again = await store.create(job(key="k-1"))
    other_tenant, created_other = await store.create(job("t2", key="k-1"))
    assert created and not created_again and created_other
    assert again.id == first.id and other_tenant.id != first.id


async def test_paging_newest_first(store: JobStore) -> None:
    ids = []
    for _ in range(7):
        j, _ = await store.create(job("pager"))
        ids.append(j.id)
        await asyncio.sleep(0.002)
    seen, token = [], ""
    while True:
        page, token = await store.list_jobs("pager", 3, token)
        assert len(page) <= 3
        seen += [j.id for j in page]
        if not token:
            break
    assert seen == list(reversed(ids))
    with pytest.raises(InvalidArgument):
        await store.list_jobs("pager", 3, "not-a-token")


async def test_compare_and_set(store: JobStore) -> None:
    j, _ = await store.create(job())
    running = model.report_progress(j, 1, Progress(percent=10, phase="fetch"))
    assert await store.replace(running, j.version)
    stale = model.report_progress(j, 1, Progress(percent=20, phase="convert"))
    assert not await store.replace(stale, j.version)  # someone else won
    assert (await store.get("t1", j.id)).progress.percent == 10


async def test_concurrent_workers_never_move_progress_back(atomic_job_store: JobStore) -> None:
    store = atomic_job_store
    j, _ = await store.create(job())

    async def worker(percents: list[float]) -> None:
        for p in percents:
            while True:
                current = await store.get("t1", j.id)
                if current.status.terminal:
                    return
                nxt = model.report_progress(current, 1, Progress(percent=p, phase="convert"))
                if await store.replace(nxt, current.version):
                    break

    await asyncio.gather(worker([5, 30, 60, 90]), worker([10, 20, 40, 50]))
    final = await store.get("t1", j.id)
    assert final.progress.percent == 90
    assert final.version == 9  # every one of the eight updates landed exactly once


async def test_terminal_state_survives_a_racing_writer(atomic_job_store: JobStore) -> None:
    store = atomic_job_store
    j, _ = await store.create(job())
    done = model.complete(j, [])
    late = model.report_progress(j, 1, Progress(percent=50))
    results = await asyncio.gather(store.replace(done, j.version), store.replace(late, j.version))
    assert sorted(results) == [False, True]
    final = await store.get("t1", j.id)
    assert final.version == j.version + 1


async def test_expired_jobs_are_taken_once(store: JobStore) -> None:
    old = job("exp").model_copy(update={"expires_at": utcnow() - timedelta(seconds=5)})
    fresh = job("exp")
    await store.create(old)
    await store.create(fresh)
    taken = await store.take_expired(utcnow())
    assert [t.id for t in taken if t.tenant == "exp"] == [old.id]
    # Taken once: a second sweep finds nothing of this tenant (other tests' jobs may be
    # in a shared database, hence the filter).
    again = await store.take_expired(utcnow())
    assert [t.id for t in again if t.tenant == "exp"] == []
    with pytest.raises(NotFound):
        await store.get("exp", old.id)
    assert (await store.get("exp", fresh.id)).id == fresh.id


async def test_stale_live_jobs_are_found_oldest_first(store: JobStore) -> None:
    tenant = f"stale{utcnow().timestamp():.0f}"
    old_queued, old_running, old_done, fresh = (job(tenant) for _ in range(4))
    long_ago = utcnow() - timedelta(minutes=10)
    for j in (old_queued, old_running, old_done):
        j.created_at = j.updated_at = long_ago
    old_queued.created_at = long_ago - timedelta(seconds=1)
    for j in (old_queued, old_running, old_done, fresh):
        await store.create(j)
    # The changes below happen now, so they make a job fresh: write them as made then.
    for j, status in ((old_running, JobStatus.RUNNING), (old_done, JobStatus.SUCCEEDED)):
        changed = j.model_copy(update={"status": status, "version": 2, "updated_at": long_ago})
        assert await store.replace(changed, 1)
    found = await store.stale_live_jobs(utcnow() - timedelta(minutes=1))
    assert [j.id for j in found if j.tenant == tenant] == [old_queued.id, old_running.id]
    # Any change counts as activity.
    await store.update(
        tenant, old_running.id, lambda cur: model.report_progress(cur, 1, Progress(percent=5))
    )
    found = await store.stale_live_jobs(utcnow() - timedelta(minutes=1))
    assert [j.id for j in found if j.tenant == tenant] == [old_queued.id]


async def test_an_upload_is_in_use_while_a_live_job_reads_it(store: JobStore) -> None:
    j = job("uses")
    key = j.inputs[0].key
    assert not await store.upload_in_use("uses", key)
    await store.create(j)
    assert await store.upload_in_use("uses", key)
    assert not await store.upload_in_use("uses", key + "x")
    assert not await store.upload_in_use("other", key)
    await store.update("uses", j.id, model.cancel)
    assert not await store.upload_in_use("uses", key)


async def test_update_applies_a_checked_step(store: JobStore) -> None:
    j, _ = await store.create(job())
    updated, changed = await store.update(
        "t1", j.id, lambda cur: model.report_progress(cur, 1, Progress(percent=40))
    )
    assert changed and updated.version == j.version + 1
    same, changed = await store.update("t1", j.id, lambda cur: cur)
    assert not changed and same.version == updated.version
    await store.update("t1", j.id, model.cancel)
    from transmute_common.errors import Conflict

    with pytest.raises(Conflict):
        await store.update("t1", j.id, lambda cur: model.complete(cur, []))
    with pytest.raises(NotFound):
        await store.update("t2", j.id, model.cancel)
    assert (await store.get("t1", j.id)).status is JobStatus.CANCELLED


def test_mongodb_keeps_expired_jobs_until_the_sweeper_had_its_chance() -> None:
    """A TTL index expiring jobs at ``expires_at`` raced the sweeper: MongoDB removed the
    job first and its outputs stayed in the store until the bucket's whole-day rule.
    (FerretDB has no TTL indexes, so the index is checked as MongoDB receives it.)"""
    from transmute_common.jobstore.mongo import INDEXES, TTL_GRACE_SECONDS
    from transmute_jobs.config import JobsSettings

    [ttl] = [options for _, options in INDEXES if "expireAfterSeconds" in options]
    assert ttl["expireAfterSeconds"] == TTL_GRACE_SECONDS
    assert 60 * JobsSettings().sweep_interval_seconds <= TTL_GRACE_SECONDS


async def test_a_claim_left_by_a_failed_writer_does_not_block_the_job(mongo_url: str) -> None:
    """A writer that claimed the next version and then lost the store (or died) before
    writing left its claim behind: every later update lost to it, and the job stayed
    stuck in "contention" for good. An old claim is now taken over; a fresh one still
    wins."""
    from transmute_common.jobstore.mongo import CLAIM_GRACE, MongoJobStore

    url = f"{mongo_url.rsplit('/', 1)[0]}/claims_{uuid.uuid4().hex[:8]}"
    store = MongoJobStore(url, claims=True)
    await store.start()
    try:
        j, _ = await store.create(job())
        claims = store._claims
        left = utcnow() - CLAIM_GRACE - timedelta(seconds=1)
        await claims.insert_one({"_id": f"{j.id}@{j.version + 1}", "job": j.id, "at": left})
        updated, changed = await store.update(
            "t1", j.id, lambda cur: model.report_progress(cur, 1, Progress(percent=40))
        )
        assert changed and updated.version == j.version + 1
        # A claim just taken is a writer at work: its version is not written twice.
        await claims.insert_one(
            {"_id": f"{j.id}@{updated.version + 1}", "job": j.id, "at": utcnow()}
        )
        racing = model.report_progress(updated, 1, Progress(percent=60))
        assert not await store.replace(racing, updated.version)
    finally:
        await store.close()


async def test_a_cached_result_is_found_while_its_outputs_are_kept(store: JobStore) -> None:
    tenant = f"cache{uuid.uuid4().hex[:6]}"
    original = job(tenant).model_copy(update={"cache_key": "k1"})
    await store.create(original)
    assert await store.find_cached(tenant, "k1", utcnow()) is None  # not finished yet
    done = model.complete(original, [FileRef(key=f"tenants/{tenant}/jobs/x/out.webp", name="o")])
    assert await store.replace(done, original.version)
    found = await store.find_cached(tenant, "k1", utcnow())
    assert found is not None and found.id == original.id
    assert await store.find_cached("other", "k1", utcnow()) is None
    assert await store.find_cached(tenant, "k2", utcnow()) is None
    assert done.expires_at is not None
    assert await store.find_cached(tenant, "k1", done.expires_at + timedelta(seconds=1)) is None
    # A job completed from the cache is not itself a source.
    copy = model.from_cache(job(tenant).model_copy(update={"cache_key": "k3"}), found)
    await store.create(copy)
    assert copy.cached and copy.outputs == done.outputs and copy.expires_at == found.expires_at
    assert await store.find_cached(tenant, "k3", utcnow()) is None
