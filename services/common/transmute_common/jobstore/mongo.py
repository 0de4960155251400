"""Job store on MongoDB (or a MongoDB-wire server) through pymongo's async API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError
from pymongo.write_concern import WriteConcern

from transmute_common.errors import NotFound, Unavailable
from transmute_common.jobs import LIVE_STATUSES, Job, utcnow
from transmute_common.jobstore.base import (
    JobStore,
    clamp_page_size,
    decode_page_token,
    encode_page_token,
)
from transmute_common.jobstore.mongo_access import ACCESS_INDEXES, MongoAccess, translated
from transmute_common.logging import get_logger

log = get_logger(__name__)
_NOT_IMPLEMENTED = 238
_INDEX_OPTIONS_CONFLICT = 85
_LIVE = [status.value for status in LIVE_STATUSES]


def _to_doc(job: Job) -> dict[str, Any]:
    doc = job.model_dump(mode="python")
    doc["_id"] = doc.pop("id")
    doc["status"] = job.status.value
    return doc


def _from_doc(doc: dict[str, Any]) -> Job:
    doc = dict(doc)
    doc["id"] = doc.pop("_id")
    return Job.model_validate(doc)


# The TTL index is a backstop for when no jobs service runs: MongoDB removing a job at
# its expiry would leave its objects behind, so it waits this long for the sweeper.
TTL_GRACE_SECONDS = 6 * 3600

INDEXES: list[tuple[list[tuple[str, int]], dict[str, Any]]] = [
    (
        [("tenant", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
        {"name": "tenant_created"},
    ),
    ([("status", ASCENDING), ("updated_at", ASCENDING)], {"name": "status_updated"}),
    ([("tenant", ASCENDING), ("cache_key", ASCENDING)], {"name": "tenant_cache"}),
    ([("expires_at", ASCENDING)], {"name": "expires_ttl", "expireAfterSeconds": TTL_GRACE_SECONDS}),
]


# A version claim lives for one conditional write (milliseconds); one this old was left
# by a writer that failed before its write. Claims from before claims carried a time
# have none: "$lt" never matches them, so they are treated as live.
CLAIM_GRACE = timedelta(seconds=30)


class MongoJobStore(MongoAccess, JobStore):
    def __init__(self, url: str, write_concern: str = "majority", claims: bool | None = None):
        """``claims``: take version claims (for servers whose conditional updates are not
        atomic); None detects FerretDB and uses them there only."""
        self._url = url
        self._claims_setting = claims
        w: int | str = int(write_concern) if write_concern.isdigit() else write_concern
        self._client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            url, tz_aware=True, serverSelectionTimeoutMS=5000, connect=False
        )
        db = self._client.get_default_database("transmute")
        self._jobs = db.get_collection("jobs", write_concern=WriteConcern(w=w))
        # Claims of the next version of a job, for servers whose conditional updates are
        # not atomic (FerretDB 1.x reads, then writes). A claim is an insert, and inserts
        # are atomic on the primary key everywhere. MongoDB needs none.
        self._claims = db.get_collection("job_version_claims", write_concern=WriteConcern(w=w))
        self._use_claims = False
        self._keys = db.get_collection("api_keys", write_concern=WriteConcern(w=w))
        self._tenants = db.get_collection("tenants", write_concern=WriteConcern(w=w))
        self._usage = db.get_collection("usage", write_concern=WriteConcern(w=w))

    async def start(self) -> None:
        try:
            info = await self._client.admin.command("buildInfo")
        except PyMongoError as exc:
            raise Unavailable(f"job store unavailable: {exc}") from exc
        detected = "ferretdb" in str(info).lower()
        self._use_claims = detected if self._claims_setting is None else self._claims_setting
        indexes = [(self._jobs, k, o) for k, o in INDEXES]
        indexes += [(self._keys, k, o) for k, o in ACCESS_INDEXES]
        for collection, keys, options in indexes:
            try:
                await self._create_index(collection, keys, options)
            except OperationFailure as exc:
                if exc.code != _NOT_IMPLEMENTED:
                    raise Unavailable(f"job store unavailable: {exc}") from exc
                log.warning("index_not_supported", index=options["name"], error=str(exc))
            except PyMongoError as exc:
                raise Unavailable(f"job store unavailable: {exc}") from exc

    async def _create_index(
        self, collection: Any, keys: list[tuple[str, int]], options: dict[str, Any]
    ) -> None:
        try:
            await collection.create_index(keys, **options)
        except OperationFailure as exc:
            if exc.code != _INDEX_OPTIONS_CONFLICT or "expireAfterSeconds" not in options:
                raise
            # An index made by an older release with another expiry: change it in place.
            expiry = {"name": options["name"], "expireAfterSeconds": options["expireAfterSeconds"]}
            await collection.database.command("collMod", collection.name, index=expiry)

    async def close(self) -> None:
        await self._client.close()

    async def ping(self) -> None:
        try:
            await self._client.admin.command("ping")
        except PyMongoError as exc:
            raise Unavailable(f"job store unavailable: {exc}") from exc

    @translated
    async def create(self, job: Job) -> tuple[Job, bool]:
        try:
            await self._jobs.insert_one(_to_doc(job))
            return job, True
        except DuplicateKeyError:
            doc = await self._jobs.find_one({"_id": job.id})
            if doc is None:
                raise
            return _from_doc(doc), False

    @translated
    async def get(self, tenant: str, job_id: str) -> Job:
        doc = await self._jobs.find_one({"_id": job_id, "tenant": tenant})
        if doc is None:
            raise NotFound(f"job {job_id} not found", code="job_not_found")
        return _from_doc(doc)

    @translated
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

    @translated
    async def replace(self, job: Job, expected_version: int) -> bool:
        if self._use_claims and not await self._claim(job):
            return False
        try:
            result = await self._jobs.replace_one(
                {"_id": job.id, "tenant": job.tenant, "version": expected_version}, _to_doc(job)
            )
        except PyMongoError:
            if self._use_claims:
                await self._claims.delete_one({"_id": f"{job.id}@{job.version}"})
            raise
        if self._use_claims:
            await self._claims.delete_one({"_id": f"{job.id}@{expected_version}"})
        return result.modified_count == 1

    async def _claim(self, job: Job) -> bool:
        return await self._take_claim(f"{job.id}@{job.version}", job.id)

    async def _take_claim(self, claim_id: str, owner: str) -> bool:
        """Claims one version of a document for this write. A claim older than
        CLAIM_GRACE was left by a writer that failed between its claim and its write
        (the store went away, the process died): the document never reached that
        version, so the claim is taken over instead of blocking it for good."""
        for _ in range(2):
            try:
                await self._claims.insert_one({"_id": claim_id, "job": owner, "at": utcnow()})
                return True
            except DuplicateKeyError:
                stale = utcnow() - CLAIM_GRACE
                left = await self._claims.delete_one({"_id": claim_id, "at": {"$lt": stale}})
                if left.deleted_count == 0:
                    return False  # a live writer holds it
        return False

    @translated
    async def stale_live_jobs(self, before: datetime, limit: int = 500) -> list[Job]:
        query = {"status": {"$in": _LIVE}, "updated_at": {"$lte": before}}
        cursor = self._jobs.find(query).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
        return [_from_doc(d) async for d in cursor.limit(limit)]

    @translated
    async def upload_in_use(self, tenant: str, key: str) -> bool:
        query = {"tenant": tenant, "status": {"$in": _LIVE}, "inputs.key": key}
        return await self._jobs.find_one(query, projection={"_id": 1}) is not None

    @translated
    async def find_cached(self, tenant: str, cache_key: str, kept_until: datetime) -> Job | None:
        query = {
            "tenant": tenant,
            "cache_key": cache_key,
            "status": "succeeded",
            "cached": {"$ne": True},
            "expires_at": {"$gt": kept_until},
        }
        cursor = self._jobs.find(query).sort([("created_at", DESCENDING)]).limit(1)
        found = [_from_doc(d) async for d in cursor]
        return found[0] if found else None

    @translated
    async def take_expired(self, now: datetime, limit: int = 100) -> list[Job]:
        # The TTL index removes expired documents too; this lets the caller also
        # delete their objects, whichever comes first.
        taken = []
        async for doc in self._jobs.find({"expires_at": {"$lte": now}}).limit(limit):
            result = await self._jobs.delete_one({"_id": doc["_id"]})
            if self._use_claims:
                await self._claims.delete_many({"job": doc["_id"]})
            if result.deleted_count:
                taken.append(_from_doc(doc))
        return taken
