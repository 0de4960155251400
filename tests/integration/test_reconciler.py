"""The jobs service's reconciler against a real nats-server and job store: jobs whose
conversion request never reached the stream, or whose max-deliveries advisory was lost,
are not left queued or running for ever."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.integration.test_jobs_service import create
from transmute_common.bus import Bus
from transmute_common.jobs import JobStatus, Progress, utcnow
from transmute_common.jobstore import open_job_store
from transmute_jobs.config import JobsSettings
from transmute_jobs.reconciler import reconcile_once
from transmute_jobs.service import JobService


@pytest.fixture
async def jobs(nats_url: str, tmp_path: Path) -> AsyncIterator[tuple[JobService, Bus]]:
    # The default stream: another test's may hold `convert.>` already, and two streams
    # cannot share subjects. Each test starts from an empty one.
    settings = JobsSettings(nats_url=nats_url)
    store = open_job_store(f"sqlite:///{tmp_path / 'jobs.db'}")
    await store.start()
    bus = Bus(settings)
    await bus.connect("reconcile-test")
    await bus.js.purge_stream(settings.stream_name)
    yield JobService(store, bus, ttl_seconds=3600, resync_seconds=5), bus
    await bus.close()
    await store.close()


def settings_of(bus: Bus) -> JobsSettings:
    assert isinstance(bus.settings, JobsSettings)
    return bus.settings


async def test_a_job_that_was_never_published_is_published_once(jobs) -> None:  # type: ignore[no-untyped-def]
    svc, bus = jobs
    job = await create(svc)  # as if the gateway died before publishing
    settings = settings_of(bus)

    soon = await reconcile_once(svc, bus, settings)
    assert (soon.republished, soon.failed) == (0, 0)  # not quiet long enough yet
    later = utcnow() + timedelta(seconds=settings.reconcile_after_seconds + 1)
    first = await reconcile_once(svc, bus, settings, later)
    assert first.republished == 1
    assert await bus.conversion_in_stream(job) is not None
    # While the request waits for a converter, nothing more is published.
    again = await reconcile_once(svc, bus, settings, later + timedelta(minutes=5))
    assert again.republished == 0
    info = await bus.js.stream_info(settings.stream_name)
    assert info.state.messages == 1
    assert (await svc.get("acme", job.id)).status is JobStatus.QUEUED


async def test_a_running_job_whose_request_is_gone_runs_again(jobs) -> None:  # type: ignore[no-untyped-def]
    svc, bus = jobs
    job = await create(svc)
    await bus.publish_conversion(job)
    await svc.report_progress("acme", job.id, 1, Progress(percent=20, phase="convert"))
    seq = await bus.conversion_in_stream(job)
    assert seq is not None
    await bus.remove_conversion(seq)  # e.g. acked by a converter that then lost its work
    later = utcnow() + timedelta(seconds=settings_of(bus).reconcile_after_seconds + 1)
    assert (await reconcile_once(svc, bus, settings_of(bus), later)).republished == 1
    assert await bus.conversion_in_stream(job) not in (None, seq)


async def test_a_job_whose_attempts_ran_out_without_an_advisory_fails(jobs) -> None:  # type: ignore[no-untyped-def]
    svc, bus = jobs
    settings = settings_of(bus)
    job = await create(svc)
    await bus.publish_conversion(job)
    await svc.report_progress("acme", job.id, settings.max_deliver, Progress(percent=5))
    quiet = utcnow() + timedelta(seconds=settings.reconcile_after_seconds + 1)
    # Still within the time the last attempt may take: left alone.
    assert (await reconcile_once(svc, bus, settings, quiet)).failed == 0
    assert (await svc.get("acme", job.id)).status is JobStatus.RUNNING

    spent = utcnow() + timedelta(seconds=settings.reconcile_exhausted_seconds + 1)
    assert (await reconcile_once(svc, bus, settings, spent)).failed == 1
    final = await svc.get("acme", job.id)
    assert final.status is JobStatus.FAILED
    assert final.error is not None and final.error.code == "delivery_exhausted"
    assert await bus.conversion_in_stream(job) is None


async def test_finished_jobs_are_left_alone(jobs) -> None:  # type: ignore[no-untyped-def]
    svc, bus = jobs
    job = await create(svc)
    await svc.complete("acme", job.id, [])
    later = utcnow() + timedelta(hours=2)
    result = await reconcile_once(svc, bus, settings_of(bus), later)
    assert (result.republished, result.failed) == (0, 0)
    assert await bus.conversion_in_stream(job) is None
