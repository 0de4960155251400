"""AccessStore on the MongoDB job store, and the error translation both share."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import (
    ConnectionFailure,
    DuplicateKeyError,
    NetworkTimeout,
    ServerSelectionTimeoutError,
)

from transmute_common.errors import Conflict, Unavailable
from transmute_common.jobs import LIVE_STATUSES
from transmute_common.jobstore.access import AccessStore
from transmute_common.keys import ApiKey

F = TypeVar("F", bound=Callable[..., Any])
Doc = dict[str, Any]
MAX_CAS_ATTEMPTS = 50
_LIVE = [status.value for status in LIVE_STATUSES]
ACCESS_INDEXES = [([("tenant", ASCENDING), ("created_at", ASCENDING)], {"name": "tenant_keys"})]


def translated(fn: F) -> F:
    """A server that cannot be reached is ``Unavailable`` (503), not an internal error."""

    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except (ConnectionFailure, ServerSelectionTimeoutError, NetworkTimeout) as exc:
            raise Unavailable(
                f"job store unavailable: {exc}", code="job_store_unavailable"
            ) from exc

    return call  # type: ignore[return-value]


class MongoAccess(AccessStore):
    """Mixed into MongoJobStore, which opens these collections."""

    _jobs: AsyncCollection[Doc]
    _keys: AsyncCollection[Doc]
    _tenants: AsyncCollection[Doc]
    _usage: AsyncCollection[Doc]
    _claims: AsyncCollection[Doc]
    _use_claims: bool
    _take_claim: Callable[[str, str], Awaitable[bool]]

    @translated
    async def put_key(self, key: ApiKey) -> None:
        doc = key.to_doc()
        doc["_id"] = doc.pop("id")
        await self._keys.replace_one({"_id": key.id}, doc, upsert=True)

    @translated
    async def get_key(self, key_id: str) -> ApiKey | None:
        doc = await self._keys.find_one({"_id": key_id})
        return ApiKey.from_doc({**doc, "id": doc["_id"]}) if doc else None

    @translated
    async def list_keys(self, tenant: str) -> list[ApiKey]:
        cursor = self._keys.find({"tenant": tenant}).sort([("created_at", ASCENDING)])
        return [ApiKey.from_doc({**d, "id": d["_id"]}) async for d in cursor]

    @translated
    async def get_tenant(self, tenant: str) -> dict[str, Any] | None:
        doc = await self._tenants.find_one({"_id": tenant})
        return dict(doc["settings"]) if doc else None

    @translated
    async def put_tenant(self, tenant: str, settings: dict[str, Any]) -> None:
        await self._tenants.replace_one(
            {"_id": tenant}, {"_id": tenant, "settings": settings}, upsert=True
        )

    @translated
    async def add_usage(
        self, tenant: str, counter: str, period: str, amount: int, limit: int
    ) -> tuple[bool, int]:
        # One versioned document per tenant and counter, holding the current period's
        # value, changed by compare-and-set on its version (with a claim of the next
        # version where conditional writes are not atomic, as for jobs).
        key = f"{tenant}/{counter}"
        for attempt in range(MAX_CAS_ATTEMPTS):
            doc = await self._usage.find_one({"_id": key})
            version = int(doc["version"]) if doc else 0
            value = int(doc["value"]) if doc and doc["period"] == period else 0
            if value + amount > limit:
                return False, value
            if await self._counted(key, version, {"period": period, "value": value + amount}):
                return True, value + amount
            await asyncio.sleep(0.002 * attempt)  # another replica counted first
        raise Conflict(f"the {counter} counter is contended", code="contention")

    async def _counted(self, key: str, version: int, fields: Doc) -> bool:
        claim = f"usage:{key}@{version + 1}"
        if self._use_claims and not await self._take_claim(claim, key):
            return False
        try:
            doc = {"_id": key, "version": version + 1, **fields}
            if version == 0:
                try:
                    await self._usage.insert_one(doc)
                    return True
                except DuplicateKeyError:
                    return False
            done = await self._usage.replace_one({"_id": key, "version": version}, doc)
            return done.modified_count == 1
        finally:
            if self._use_claims:
                await self._claims.delete_one({"_id": claim})

    @translated
    async def usage(self, tenant: str, periods: dict[str, str]) -> dict[str, int]:
        keys = {f"{tenant}/{counter}": counter for counter in periods}
        found = {
            keys[d["_id"]]: int(d["value"])
            async for d in self._usage.find({"_id": {"$in": list(keys)}})
            if d["period"] == periods[keys[d["_id"]]]
        }
        return {counter: found.get(counter, 0) for counter in periods}

    @translated
    async def count_live(self, tenant: str) -> int:
        return await self._jobs.count_documents({"tenant": tenant, "status": {"$in": _LIVE}})
