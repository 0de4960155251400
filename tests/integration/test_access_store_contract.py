"""The identity and tenancy part of every job store: API keys (hashes only), tenant
settings and usage counters, on SQLite and a MongoDB-wire server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from tests.integration.test_job_store_contract import job as make_job
from transmute_common import jobs as model
from transmute_common.jobs import utcnow
from transmute_common.jobstore import JobStore
from transmute_common.keys import key_from_token, new_key


def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


async def test_keys_are_stored_as_hashes_and_found_by_id(job_store: JobStore) -> None:
    owner = tenant()
    key, token = new_key(owner, "user", "ci", expires_at=utcnow() + timedelta(days=1))
    await job_store.put_key(key)
    found = await job_store.get_key(key.id)
    assert found is not None and found.tenant == owner and found.role == "user"
    assert found.expires_at is not None and abs(found.expires_at - key.expires_at) < timedelta(
        seconds=1
    )
    secret = token.split("_", 2)[2]  # tm_<id>_<secret>; the secret may hold "_" itself
    assert len(secret) >= 40 and secret not in str(found.to_doc())  # the secret is not kept
    assert key_from_token(token, found) and found.usable()
    assert await job_store.get_key("0" * 16) is None


async def test_keys_are_listed_per_tenant_and_revoked(job_store: JobStore) -> None:
    one, other = tenant(), tenant()
    first, _ = new_key(one, "admin")
    second, _ = new_key(one, "viewer")
    third, _ = new_key(other, "user")
    for key in (first, second, third):
        await job_store.put_key(key)
    assert [k.id for k in await job_store.list_keys(one)] == [first.id, second.id]
    second.revoked_at = utcnow()
    await job_store.put_key(second)
    stored = await job_store.get_key(second.id)
    assert stored is not None and not stored.usable()


async def test_tenant_settings_round_trip(job_store: JobStore) -> None:
    name = tenant()
    assert await job_store.get_tenant(name) is None
    settings = {"submissions_per_minute": 5, "allowed_targets": ["webp", "png"]}
    await job_store.put_tenant(name, settings)
    assert await job_store.get_tenant(name) == settings


async def test_usage_stops_at_the_limit_and_restarts_each_period(job_store: JobStore) -> None:
    name = tenant()
    results = [await job_store.add_usage(name, "submissions", "p1", 1, 3) for _ in range(5)]
    assert results == [(True, 1), (True, 2), (True, 3), (False, 3), (False, 3)]
    assert await job_store.add_usage(name, "submissions", "p2", 1, 3) == (True, 1)
    assert await job_store.add_usage(name, "bytes", "p2", 500, 1000) == (True, 500)
    assert await job_store.add_usage(name, "bytes", "p2", 600, 1000) == (False, 500)
    assert await job_store.usage(name, {"submissions": "p2", "bytes": "p2", "other": "p2"}) == {
        "submissions": 1,
        "bytes": 500,
        "other": 0,
    }
    assert await job_store.usage(name, {"submissions": "p1"}) == {"submissions": 0}


async def test_concurrent_usage_never_passes_the_limit(atomic_job_store: JobStore) -> None:
    job_store = atomic_job_store
    name = tenant()
    results = await asyncio.gather(
        *(job_store.add_usage(name, "submissions", "p", 1, 10) for _ in range(25))
    )
    assert sum(ok for ok, _ in results) == 10
    assert await job_store.usage(name, {"submissions": "p"}) == {"submissions": 10}


async def test_live_jobs_are_counted_per_tenant(job_store: JobStore) -> None:
    name = tenant()
    first, _ = await job_store.create(make_job(name))
    await job_store.create(make_job(name))
    await job_store.create(make_job(tenant()))
    assert await job_store.count_live(name) == 2
    assert await job_store.replace(model.complete(first, []), first.version)
    assert await job_store.count_live(name) == 1
