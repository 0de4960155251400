"""An expiry index for uploads, kept in the object store itself: each upload gets an empty
marker under the minute it expires, ``expiry/uploads/<minute>/<tenant>/<file id>``.
A sweep then lists only the minutes that have passed since the last one, never the
whole of ``tenants/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from transmute_common.objectstore import ObjectInfo, ObjectStore

PREFIX = "expiry/uploads/"
BUCKET_SECONDS = 60
# After a long pause (or at a sweeper's first run), one listing of all markers is cheaper
# than this many per-minute listings.
MAX_BUCKETS_PER_SWEEP = 120


def bucket(moment: datetime) -> int:
    return int(moment.timestamp()) // BUCKET_SECONDS


def marker_key(tenant: str, file_id: str, expires_at: datetime) -> str:
    return f"{PREFIX}{bucket(expires_at):012d}/{tenant}/{file_id}"


async def _empty() -> AsyncIterator[bytes]:
    yield b""


async def mark_upload(store: ObjectStore, tenant: str, file_id: str, expires_at: datetime) -> None:
    await store.put(marker_key(tenant, file_id, expires_at), _empty(), "application/octet-stream")


class UploadExpiry:
    """Finds the markers of uploads that have expired, minute by minute."""

    def __init__(self, store: ObjectStore):
        self.store = store
        self.next_bucket: int | None = None  # the first minute not swept yet

    async def expired(self, now: datetime) -> list[ObjectInfo]:
        done = bucket(now) - 1  # minutes wholly in the past
        start = self.next_bucket
        if start is None or done - start >= MAX_BUCKETS_PER_SWEEP:
            markers = [
                m for m in await self.store.list_objects(PREFIX) if _bucket_of(m.key) <= done
            ]
        else:
            markers = []
            for minute in range(start, done + 1):
                markers += await self.store.list_objects(f"{PREFIX}{minute:012d}/")
        self.next_bucket = done + 1
        return markers


def _bucket_of(key: str) -> int:
    return int(key.removeprefix(PREFIX).split("/", 1)[0])


def upload_of(marker: str) -> str:
    """The upload's key prefix (the file and its record) for a marker key."""
    _, tenant, file_id = marker.removeprefix(PREFIX).split("/")
    return f"tenants/{tenant}/uploads/{file_id}"
