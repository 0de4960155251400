"""Job store on MongoDB (or a MongoDB-wire server) through pymongo's async API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError, PyMongoError
from pymongo.write_concern import WriteConcern

from transmute_common.errors import NotFound, Unavailable
from transmute_common.jobs import Job
from transmute_common.jobstore.base import (
    JobStore,
    clamp_page_size,
    decode_page_token,
    encode_page_token,
)


def _to_doc(job: Job) -> dict[str, Any]:
    doc = job.model_dump(mode="python")
    doc["_id"] = doc.pop("id")
    doc["status"] = job.status.value
    if doc["idempotency_key"] is None:
        del doc["idempotency_key"]  # keeps the partial unique index sparse
    return doc


def _from_doc(doc: dict[str, Any]) -> Job:
    doc = dict(doc)
    doc["id"] = doc.pop("_id")
    return Job.model_validate(doc)


class MongoJobStore(JobStore):
    def __init__(self, url: str, write_concern: str = "majority"):
        self._url = url
        w: int | str = int(write_concern) if write_concern.isdigit() else write_concern
        self._client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            url, tz_aware=True, serverSelectionTimeoutMS=5000, connect=False
        )
        db = self._client.get_default_database("transmute")
        self._jobs = db.get_collection("jobs", write_concern=WriteConcern(w=w))

    async def start(self) -> None:
        try:
            await self._jobs.create_index(
                [("tenant", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="tenant_created",
            )
            await self._jobs.create_index([("status", ASCENDING)], name="status")
            await self._jobs.create_index(
                [("expires_at", ASCENDING)], name="expires_ttl", expireAfterSeconds=0
            )
            await self._jobs.create_index(
                [("tenant", ASCENDING), ("idempotency_key", ASCENDING)],
                name="tenant_idempotency",
                unique=True,
                partialFilterExpression={"idempotency_key": {"$exists": True}},
            )
        except PyMongoError as exc:
            raise Unavailable(f"job store unavailable: {exc}") from exc

    async def close(self) -> None:
        await self._client.close()

    async def ping(self) -> None:
        try:
            await self._client.admin.command("ping")
        except PyMongoError as exc:
            raise Unavailable(f"job store unavailable: {exc}") from exc

    async def create(self, job: Job) -> tuple[Job, bool]:
        try:
            await self._jobs.insert_one(_to_doc(job))
            return job, True
        except DuplicateKeyError:
            doc = await self._jobs.find_one(
                {"tenant": job.tenant, "idempotency_key": job.idempotency_key}
            )
            if doc is None:
                raise
            return _from_doc(doc), False

    async def get(self, tenant: str, job_id: str) -> Job:
        doc = await self._jobs.find_one({"_id": job_id, "tenant": tenant})
        if doc is None:
            raise NotFound(f"job {job_id} not found", code="job_not_found")
        return _from_doc(doc)

    async def list_jobs(
        self, tenant: str, page_size: int, page_token: str
    ) -> tuple[list[Job], str]:
        size = clamp_page_size(page_size)
        query: dict[str, Any] = {"tenant": tenant}
        after = decode_page_token(page_token)
        if after is not None:
            created, job_id = after
            query["$or"] = [
                {"created_at": {"$lt": created}},
                {"created_at": created, "_id": {"$lt": job_id}},
            ]
        cursor = self._jobs.find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        jobs = [_from_doc(d) async for d in cursor.limit(size + 1)]
        if len(jobs) > size:
            return jobs[:size], encode_page_token(jobs[size - 1])
        return jobs, ""

    async def replace(self, job: Job, expected_version: int) -> bool:
        result = await self._jobs.replace_one(
            {"_id": job.id, "tenant": job.tenant, "version": expected_version}, _to_doc(job)
        )
        return result.modified_count == 1

    async def take_expired(self, now: datetime, limit: int = 100) -> list[Job]:
        # The TTL index removes expired documents too; this lets the caller also
        # delete their objects, whichever comes first.
        taken = []
        async for doc in self._jobs.find({"expires_at": {"$lte": now}}).limit(limit):
            result = await self._jobs.delete_one({"_id": doc["_id"]})
            if result.deleted_count:
                taken.append(_from_doc(doc))
        return taken
