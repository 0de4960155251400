"""The object-store interface. Writes are atomic: a failed put leaves no object."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from transmute_common.errors import InvalidArgument
from transmute_common.settings import Settings

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str = ""
    content_type: str = "application/octet-stream"
    modified: datetime | None = None


def check_key(key: str) -> str:
    """Object keys are relative paths of plain segments: no '..', no absolute paths."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InvalidArgument(f"invalid object key: {key!r}", code="invalid_key")
    return key


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


MIN_PART_BYTES = 5 * 1024 * 1024


class ObjectStore(ABC):
    async def start(self) -> None:
        """Creates the bucket or directory; safe to call on every start."""

    async def close(self) -> None:
        """Releases connections."""

    @abstractmethod
    async def ping(self) -> None:
        """Raises when the store cannot be reached."""

    @abstractmethod
    async def put(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> ObjectInfo:
        """Stores the stream under ``key``. If the stream raises, nothing is stored."""

    @abstractmethod
    async def put_file(self, key: str, path: Path, content_type: str) -> ObjectInfo: ...

    @abstractmethod
    async def stat(self, key: str) -> ObjectInfo:
        """Raises NotFound when there is no such object."""

    @abstractmethod
    def read(self, key: str, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        """Streams the object; raises NotFound on the first iteration if missing."""

    @abstractmethod
    async def get_file(self, key: str, path: Path) -> None: ...

    @abstractmethod
    async def delete_prefix(self, prefix: str) -> int:
        """Deletes every object whose key starts with ``prefix``; returns the count."""

    @abstractmethod
    async def list_objects(self, prefix: str) -> list[ObjectInfo]: ...

    async def presigned_url(self, key: str, filename: str) -> str | None:
        """A time-limited direct download URL, where the store offers one."""
        return None

    async def concat(self, key: str, sources: list[str], content_type: str) -> ObjectInfo:
        """Joins ``sources`` in order into ``key`` (they are left in place); every source
        but the last must hold at least MIN_PART_BYTES (S3's smallest multipart part).
        Here the bytes pass through the process once; a store may do it server-side."""

        async def joined() -> AsyncIterator[bytes]:
            for source in sources:
                async for block in self.read(source):
                    yield block

        return await self.put(key, joined(), content_type)

    async def put_json(self, key: str, value: dict[str, Any]) -> None:
        await self.put(key, _one(json.dumps(value).encode()), "application/json")

    async def get_json(self, key: str) -> dict[str, Any]:
        data = b"".join([c async for c in self.read(key)])
        result: dict[str, Any] = json.loads(data)
        return result


def open_object_store(settings: Settings) -> ObjectStore:
    """Picks the implementation from ``TRANSMUTE_OBJECT_STORE_URL``; every call is traced."""
    from transmute_common.objectstore.traced import TracedObjectStore

    url = settings.object_store_url
    if url.startswith("file://"):
        from transmute_common.objectstore.fs import DirectoryStore

        return TracedObjectStore(DirectoryStore(Path(url.removeprefix("file://"))), "directory", {})
    if url.startswith(("s3://", "s3s://")):
        from transmute_common.objectstore.s3 import S3Store

        parsed = urlparse(url)
        server = {"server.address": parsed.hostname or "", "server.port": parsed.port or 443}
        return TracedObjectStore(S3Store.from_settings(settings), "s3", server)
    raise ValueError(f"unsupported object store URL: {url!r} (use file:///dir or s3://...)")
