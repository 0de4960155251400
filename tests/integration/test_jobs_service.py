"""The jobs service with two replicas sharing one store: watchers on one replica see every
change made through the other (fan-out through NATS, not process memory)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from transmute_common.bus import Bus
from transmute_common.errors import Conflict, InvalidArgument, NotFound
from transmute_common.jobs import FileRef, JobError, JobStatus, Progress
from transmute_common.jobstore import open_job_store
from transmute_common.settings import Settings
from transmute_jobs.service import JobService


@pytest.fixture
async def replicas(nats_url: str, tmp_path: Path) -> AsyncIterator[tuple[JobService, JobService]]:
    services, closers = [], []
    for _ in range(2):
        store = open_job_store(f"sqlite:///{tmp_path / 'jobs.db'}")
        await store.start()
        bus = Bus(Settings(nats_url=nats_url))
        await bus.connect("jobs-test")
        services.append(JobService(store, bus, ttl_seconds=3600, resync_seconds=5))
        closers += [bus.close, store.close]
    yield services[0], services[1]
    for close in closers:
        await close()


async def create(svc: JobService, key: str = ""):  # type: ignore[no-untyped-def]
    job, _ = await svc.create(
        tenant="acme",
        service="image",
        operation="convert",
        inputs=[FileRef(key="tenants/acme/uploads/f", name="f.jpg")],
        target="webp",
        options={"width": 10},
        idempotency_key=key,
        trace_id="",
    )
    return job


async def test_watch_on_one_replica_sees_changes_made_on_the_other(replicas) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas
    job = await create(a)
    seen: list[tuple[str, float]] = []

    async def watch() -> None:
        async for j in b.watch("acme", job.id):
            seen.append((j.status.value, j.progress.percent))

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.3)
    for pct in (10, 50, 90):
        await a.report_progress("acme", job.id, 1, Progress(percent=pct, phase="convert"))
    await a.complete("acme", job.id, [FileRef(key="tenants/acme/jobs/x/f.webp", name="f.webp")])
    await asyncio.wait_for(watcher, 10)
    assert seen == [
        ("queued", 0),
        ("running", 10),
        ("running", 50),
        ("running", 90),
        ("succeeded", 100),
    ]


async def test_watch_of_a_finished_job_ends_at_once(replicas) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas
    job = await create(a)
    await a.cancel("acme", job.id)
    states = [j.status async for j in b.watch("acme", job.id)]
    assert states == [JobStatus.CANCELLED]


async def test_transitions_are_checked(replicas) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas
    job = await create(a)
    await a.fail("acme", job.id, JobError(code="invalid_image", message="broken"))
    with pytest.raises(Conflict):
        await b.complete("acme", job.id, [])
    with pytest.raises(Conflict):
        await b.report_progress("acme", job.id, 1, Progress(percent=5))
    assert (await b.get("acme", job.id)).error == JobError(code="invalid_image", message="broken")


async def test_concurrent_reports_from_two_replicas(replicas) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas
    job = await create(a)
    await asyncio.gather(
        *(
            svc.report_progress("acme", job.id, 1, Progress(percent=p, phase="convert"))
            for p, svc in zip(range(5, 100, 5), [a, b] * 10, strict=False)
        )
    )
    final = await a.get("acme", job.id)
    assert final.progress.percent == 95
    assert final.version == 1 + len(range(5, 100, 5))


async def test_idempotent_create_and_scoping(replicas) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas
    first = await create(a, key="order-1")
    again = await create(b, key="order-1")
    assert again.id == first.id
    with pytest.raises(NotFound):
        await a.get("other", first.id)
    with pytest.raises(InvalidArgument):
        await a.get("Bad Tenant!", first.id)


async def test_exhausted_delivery_fails_the_job(replicas) -> None:  # type: ignore[no-untyped-def]
    a, _ = replicas
    job = await create(a)
    await a.fail_exhausted("acme", job.id, 4)
    failed = await a.get("acme", job.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None and failed.error.code == "delivery_exhausted"
