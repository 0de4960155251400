"""S3 object store (MinIO in production) through the minio client.

The minio client is synchronous; every call runs in a worker thread. Uploads of unknown
length are streamed as multipart uploads: the event loop feeds a bounded queue that a
dedicated thread drains into ``put_object``, so memory stays flat whatever the size.
"""

from __future__ import annotations

import asyncio
import hashlib
import queue
import threading
from collections.abc import AsyncIterable, AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from minio import Minio
from minio.error import S3Error
from urllib3.exceptions import HTTPError

from transmute_common.errors import NotFound, Unavailable
from transmute_common.objectstore.base import CHUNK, ObjectInfo, ObjectStore, check_key
from transmute_common.settings import Settings

_MISSING = ("NoSuchKey", "NoSuchObject", "NoSuchBucket")
_END = object()


def _translate(exc: Exception, key: str) -> Exception:
    if isinstance(exc, S3Error) and exc.code in _MISSING:
        return NotFound(f"object {key} not found", code="object_not_found")
    if isinstance(exc, (HTTPError, OSError, S3Error)):
        return Unavailable(f"object store unavailable: {exc}", code="object_store_unavailable")
    return exc


class _QueueReader:
    """A file-like ``read`` over a queue of byte chunks fed from the event loop."""

    def __init__(self, q: queue.Queue[Any]):
        self._q = q
        self._buf = bytearray()
        self._done = False

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buf) < size):
            item = self._q.get()
            if item is _END:
                self._done = True
            elif isinstance(item, BaseException):
                raise item
            else:
                self._buf += item
        if size < 0:
            size = len(self._buf)
        out = bytes(self._buf[:size])
        del self._buf[:size]
        return out


class S3Store(ObjectStore):
    def __init__(self, client: Minio, bucket: str, part_size: int, presign_seconds: int):
        self._client = client
        self._bucket = bucket
        self._part_size = part_size
        self._presign = timedelta(seconds=presign_seconds)

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        url = urlparse(settings.object_store_url)
        bucket = url.path.strip("/")
        if not url.netloc or not bucket:
            raise ValueError("object store URL must look like s3://host:port/bucket")
        client = Minio(
            url.netloc,
            access_key=settings.s3_access_key.get_secret_value()
            if settings.s3_access_key
            else None,
            secret_key=settings.s3_secret_key.get_secret_value()
            if settings.s3_secret_key
            else None,
            secure=settings.s3_secure or url.scheme == "s3s",
            region=settings.s3_region,
        )
        return cls(client, bucket, settings.s3_part_size, settings.presign_seconds)

    async def _call(self, key: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except Exception as exc:
            raise _translate(exc, key) from exc

    async def start(self) -> None:
        if not await self._call("", self._client.bucket_exists, self._bucket):
            try:
                await self._call("", self._client.make_bucket, self._bucket)
            except Unavailable as exc:
                cause = exc.__cause__
                if not (isinstance(cause, S3Error) and cause.code == "BucketAlreadyOwnedByYou"):
                    raise

    async def ping(self) -> None:
        await self._call("", self._client.bucket_exists, self._bucket)

    async def put(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> ObjectInfo:
        check_key(key)
        q: queue.Queue[Any] = queue.Queue(maxsize=8)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()

        def upload() -> None:
            try:
                result: Any = self._client.put_object(
                    self._bucket,
                    key,
                    _QueueReader(q),  # type: ignore[arg-type]
                    length=-1,
                    part_size=self._part_size,
                    content_type=content_type,
                )
            except BaseException as exc:  # handed to the event loop below
                result = exc
                # Unblock the producer if it is waiting on a full queue.
                while not q.empty():
                    q.get_nowait()
            loop.call_soon_threadsafe(done.set_result, result)

        # A dedicated thread, not the shared executor: it blocks on the queue for the
        # whole upload.
        threading.Thread(target=upload, name=f"s3-put-{key}", daemon=True).start()
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        try:
            async for chunk in chunks:
                if done.done():
                    break
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= CHUNK:
                    data, buffer = bytes(buffer), bytearray()
                    digest.update(data)
                    await self._feed(q, data, done)
            digest.update(buffer)
            await self._feed(q, bytes(buffer), done)
            await self._feed(q, _END, done)
        except BaseException as exc:
            # Makes put_object raise, which aborts the multipart upload.
            await self._feed(
                q, exc if isinstance(exc, Exception) else RuntimeError("aborted"), done
            )
            await asyncio.shield(done)
            raise
        result = await done
        if isinstance(result, BaseException):
            raise _translate(result, key) from result  # type: ignore[arg-type]
        return ObjectInfo(key, size, digest.hexdigest(), content_type)

    @staticmethod
    async def _feed(q: queue.Queue[Any], item: Any, done: asyncio.Future[Any]) -> None:
        while not done.done():
            try:
                q.put_nowait(item)
                return
            except queue.Full:
                await asyncio.sleep(0.002)

    async def put_file(self, key: str, path: Path, content_type: str) -> ObjectInfo:
        check_key(key)

        def digest() -> tuple[int, str]:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                while block := f.read(CHUNK):
                    h.update(block)
            return path.stat().st_size, h.hexdigest()

        size, sha = await asyncio.to_thread(digest)
        await self._call(
            key,
            self._client.fput_object,
            self._bucket,
            key,
            str(path),
            content_type=content_type,
            part_size=self._part_size,
        )
        return ObjectInfo(key, size, sha, content_type)

    async def stat(self, key: str) -> ObjectInfo:
        st = await self._call(key, self._client.stat_object, self._bucket, check_key(key))
        return ObjectInfo(key, st.size or 0, "", st.content_type or "", st.last_modified)

    async def read(self, key: str, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        resp = await self._call(key, self._client.get_object, self._bucket, check_key(key))
        try:
            while True:
                block = await self._call(key, resp.read, chunk_size)
                if not block:
                    break
                yield block
        finally:
            resp.close()
            resp.release_conn()

    async def get_file(self, key: str, path: Path) -> None:
        await self._call(key, self._client.fget_object, self._bucket, check_key(key), str(path))

    async def delete_prefix(self, prefix: str) -> int:
        from minio.deleteobjects import DeleteObject

        def remove() -> int:
            names = [
                o.object_name
                for o in self._client.list_objects(self._bucket, prefix=prefix, recursive=True)
                if o.object_name
            ]
            errors = list(
                self._client.remove_objects(self._bucket, [DeleteObject(n) for n in names])
            )
            if errors:
                raise Unavailable(f"could not delete {len(errors)} objects under {prefix}")
            return len(names)

        result: int = await self._call(prefix, remove)
        return result

    async def list_objects(self, prefix: str) -> list[ObjectInfo]:
        def collect() -> list[ObjectInfo]:
            return [
                ObjectInfo(
                    o.object_name or "", o.size or 0, "", o.content_type or "", o.last_modified
                )
                for o in self._client.list_objects(self._bucket, prefix=prefix, recursive=True)
            ]

        result: list[ObjectInfo] = await self._call(prefix, collect)
        return result

    async def presigned_url(self, key: str, filename: str) -> str | None:
        disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
        url: str = await self._call(
            key,
            self._client.presigned_get_object,
            self._bucket,
            check_key(key),
            expires=self._presign,
            response_headers={"response-content-disposition": disposition},
        )
        return url
