"""JetStream behaviour against a real nats-server: dedup, redelivery, exhausted deliveries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from transmute_common.bus import Bus, Delivery
from transmute_common.jobs import FileRef, Job
from transmute_common.settings import Settings


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    settings = Settings(
        nats_url=nats_url,
        stream_name=f"T{uuid.uuid4().hex[:8]}",
        max_deliver=3,
        redelivery_backoff=[0.1],
        ack_wait_seconds=1.0,
        heartbeat_seconds=0.3,
    )
    b = Bus(settings)
    await b.connect("test")
    yield b
    await b.js.delete_stream(settings.stream_name)
    await b.js.delete_stream(b.advisory_stream)
    await b.close()


def job(service: str = "image") -> Job:
    return Job(
        tenant="t1",
        service=service,
        target="webp",
        inputs=[FileRef(key="tenants/t1/uploads/a", name="a.jpg", content_type="image/jpeg")],
    )


async def consume(bus: Bus, service: str, handle, seconds: float) -> None:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    task = asyncio.create_task(bus.consume(service, handle, 2, stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_publish_is_deduplicated_by_job_id(bus: Bus) -> None:
    j = job()
    assert await bus.publish_conversion(j) is True
    assert await bus.publish_conversion(j) is False
    seen: list[str] = []

    async def handle(d: Delivery) -> None:
        seen.append(d.request.job_id)
        await d.ack()

    await consume(bus, "image", handle, 1.5)
    assert seen == [j.id]


async def test_each_service_gets_only_its_subject(bus: Bus) -> None:
    await bus.publish_conversion(job("image"))
    await bus.publish_conversion(job("audio"))
    seen: list[str] = []

    async def handle(d: Delivery) -> None:
        seen.append(d.request.service)
        await d.ack()

    await consume(bus, "image", handle, 1.5)
    assert seen == ["image"]


async def test_nak_redelivers_with_attempt_numbers(bus: Bus) -> None:
    await bus.publish_conversion(job())
    attempts: list[int] = []

    async def handle(d: Delivery) -> None:
        attempts.append(d.attempt)
        if d.attempt < 2:
            await d.nak(0.1)
        else:
            await d.ack()

    await consume(bus, "image", handle, 2.0)
    assert attempts == [1, 2]


async def test_heartbeats_keep_long_work_from_redelivery(bus: Bus) -> None:
    await bus.publish_conversion(job())
    attempts: list[int] = []

    async def handle(d: Delivery) -> None:
        attempts.append(d.attempt)
        await asyncio.sleep(2.5)  # longer than ack_wait (1 s); heartbeats every 0.3 s
        await d.ack()

    await consume(bus, "image", handle, 4.0)
    assert attempts == [1]


async def exhaust(bus: Bus, j: Job) -> None:
    """Delivers ``j`` until its deliveries run out, as if the worker died every time."""
    await bus.publish_conversion(j)
    attempts: list[int] = []

    async def never_acks(d: Delivery) -> None:
        attempts.append(d.attempt)  # no ack, no nak

    bus.settings.heartbeat_seconds = 60  # no heartbeats either
    await consume(bus, "image", never_acks, 5.0)
    assert attempts == [1, 2, 3]


async def test_exhausted_deliveries_are_reported_and_removed(bus: Bus) -> None:
    j = job()
    exhausted: list[tuple[str, str, int]] = []

    async def on_exhausted(tenant: str, job_id: str, deliveries: int) -> None:
        exhausted.append((tenant, job_id, deliveries))

    stop = asyncio.Event()
    watching = asyncio.create_task(bus.consume_exhausted(on_exhausted, stop))
    await exhaust(bus, j)
    await wait_for(lambda: len(exhausted) == 1)
    stop.set()
    await asyncio.wait_for(watching, 10)
    assert exhausted == [("t1", j.id, 3)]
    info = await bus.js.stream_info(bus.settings.stream_name)
    assert info.state.messages == 0
    assert await bus.conversion_in_stream(j) is None


async def test_an_advisory_waits_for_a_listener_and_a_failed_callback_sees_it_again(
    bus: Bus,
) -> None:
    """Advisories are core NATS messages: without their stream, one raised while no jobs
    service listened, or whose handler failed, was gone and its job ran for ever."""
    j = job()
    await exhaust(bus, j)  # nobody listens yet
    assert await bus.conversion_in_stream(j) is not None
    calls: list[str] = []

    async def flaky(tenant: str, job_id: str, deliveries: int) -> None:
        calls.append(job_id)
        if len(calls) == 1:
            raise RuntimeError("job store away")

    stop = asyncio.Event()
    watching = asyncio.create_task(bus.consume_exhausted(flaky, stop))
    await wait_for(lambda: len(calls) == 2, seconds=15)
    await wait_for_async(lambda: bus.conversion_in_stream(j), None)
    stop.set()
    await asyncio.wait_for(watching, 10)
    assert calls == [j.id, j.id]
    advisories = await bus.js.stream_info(bus.advisory_stream)
    assert advisories.state.messages == 0


async def test_the_stream_says_whether_a_job_is_queued(bus: Bus) -> None:
    queued, other = job(), job()
    assert await bus.conversion_in_stream(queued) is None
    await bus.publish_conversion(queued)
    assert await bus.conversion_in_stream(queued) is not None
    assert await bus.conversion_in_stream(other) is None

    async def handle(d: Delivery) -> None:
        await d.ack()

    await consume(bus, "image", handle, 1.5)
    assert await bus.conversion_in_stream(queued) is None


async def wait_for(check, seconds: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def wait_for_async(read, expected, seconds: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while await read() != expected:
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_a_replica_never_resets_the_shared_consumer(bus: Bus) -> None:
    from nats.js.api import AckPolicy, ConsumerConfig, ReplayPolicy

    stream = bus.settings.stream_name
    # The durable as another replica (an older release) made it, with a setting a live
    # consumer cannot change, and a message in flight there.
    await bus.js.add_consumer(
        stream,
        ConsumerConfig(
            durable_name="image",
            filter_subject="convert.image.*",
            ack_policy=AckPolicy.EXPLICIT,
            replay_policy=ReplayPolicy.ORIGINAL,
            ack_wait=30,
        ),
    )
    await bus.publish_conversion(job())
    sub = await bus.js.pull_subscribe_bind(durable="image", stream=stream)
    [in_flight] = await sub.fetch(1, timeout=5)
    before = await bus.js.consumer_info(stream, "image")

    await consume(bus, "image", lambda d: d.ack(), 0.5)

    after = await bus.js.consumer_info(stream, "image")
    assert after.created == before.created  # the same durable, never deleted
    assert after.num_ack_pending == 1  # the other replica's message is still its own
    await in_flight.ack()


async def test_ack_pending_is_sized_from_settings(nats_url: str) -> None:
    settings = Settings(
        nats_url=nats_url, stream_name=f"T{uuid.uuid4().hex[:8]}", max_ack_pending=5000
    )
    b = Bus(settings)
    await b.connect("test")
    try:
        await consume(b, "image", lambda d: d.ack(), 0.3)
        info = await b.js.consumer_info(settings.stream_name, "image")
        assert info.config.max_ack_pending == 5000
    finally:
        await b.js.delete_stream(settings.stream_name)
        await b.close()
