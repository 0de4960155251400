"""S3 object store (MinIO in production) through the minio client.

The minio client is synchronous; every call runs in a worker thread. Uploads of unknown
length are streamed as multipart uploads with a bounded number of parts in flight, so
memory stays flat whatever the size. Only minio's public API is used.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import math
import os
from collections.abc import AsyncIterable, AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, ComposeSource, Filter
from minio.error import S3Error
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule
from urllib3.exceptions import HTTPError

from transmute_common.errors import NotFound, Unavailable
from transmute_common.objectstore.base import CHUNK, ObjectInfo, ObjectStore, check_key
from transmute_common.settings import Settings

_MISSING = ("NoSuchKey", "NoSuchObject", "NoSuchBucket")
PARTS_IN_FLIGHT = 2
LIFECYCLE_RULE = "transmute-result-ttl"


class _ReadFailed(OSError):
    """The stream being uploaded failed (the client went away, a limit was hit)."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class _ChunkReader:
    """A blocking ``read(size)`` for minio's upload thread over an async chunk stream
    owned by the event loop. Each read returns ``size`` bytes (fewer only at the end),
    so minio joins no small pieces; the digest is taken here, off the event loop."""

    def __init__(self, chunks: AsyncIterable[bytes], loop: asyncio.AbstractEventLoop):
        self._chunks = aiter(chunks)
        self._loop = loop
        self._pending: concurrent.futures.Future[bytes] | None = None
        self._stopped = False
        self._buffer = bytearray()
        self._eof = False
        self.size = 0
        self.digest = hashlib.sha256()

    async def _next(self) -> bytes:
        try:
            return await anext(self._chunks)
        except StopAsyncIteration:
            return b""

    def stop(self) -> None:
        self._stopped = True
        if self._pending is not None:
            self._pending.cancel()

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self._buffer) < size) and not self._eof:
            if self._stopped:
                raise _ReadFailed(asyncio.CancelledError())
            self._pending = asyncio.run_coroutine_threadsafe(self._next(), self._loop)
            try:
                chunk = self._pending.result()
            except BaseException as exc:
                raise _ReadFailed(exc) from exc
            if not chunk:
                self._eof = True
            self._buffer += chunk
        if size < 0 or size >= len(self._buffer):
            data, self._buffer = bytes(self._buffer), bytearray()
        else:
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
        self.size += len(data)
        self.digest.update(data)
        return data


def _translate(exc: Exception, key: str) -> Exception:
    if isinstance(exc, S3Error) and exc.code in _MISSING:
        return NotFound(f"object {key} not found", code="object_not_found")
    if isinstance(exc, S3Error) and exc.code == "AccessDenied":
        # The service's credentials do not allow this (see the roles' policies).
        return Unavailable(
            f"object store access denied for {key or 'the bucket'}",
            code="object_store_access_denied",
        )
    if isinstance(exc, (HTTPError, OSError, S3Error)):
        return Unavailable(f"object store unavailable: {exc}", code="object_store_unavailable")
    return exc


def _http_client() -> urllib3.PoolManager:
    """minio's own client, but with connect and read timeouts that suit a service (its
    default waits five minutes on an unreachable host). 5xx answers and connection
    errors are retried with exponential backoff."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=5, read=120),
        maxsize=16,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=urllib3.Retry(total=5, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )


class S3Store(ObjectStore):
    def __init__(
        self,
        client: Minio,
        bucket: str,
        part_size: int,
        presign_seconds: int,
        ttl_seconds: int,
        public: Minio | None = None,
        manage_bucket: bool = True,
    ):
        self._client = client
        self._manage = manage_bucket
        self._public = public  # signs download URLs for the public address; no calls
        self._ttl_days = max(1, math.ceil(ttl_seconds / 86400))
        self._bucket = bucket
        self._part_size = part_size
        self._presign = timedelta(seconds=presign_seconds)

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        url = urlparse(settings.object_store_url)
        bucket = url.path.strip("/")
        if not url.netloc or not bucket:
            raise ValueError("object store URL must look like s3://host:port/bucket")
        access = settings.s3_access_key.get_secret_value() if settings.s3_access_key else None
        secret = settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None
        client = Minio(
            url.netloc,
            access_key=access,
            secret_key=secret,
            secure=settings.s3_secure or url.scheme == "s3s",
            region=settings.s3_region,
            http_client=_http_client(),
        )
        public = None
        if settings.s3_public_url:
            address = urlparse(settings.s3_public_url)
            if address.scheme not in ("http", "https") or not address.netloc:
                raise ValueError("TRANSMUTE_S3_PUBLIC_URL must look like https://host[:port]")
            # The region is given so that signing needs no request to the store.
            public = Minio(
                address.netloc,
                access_key=access,
                secret_key=secret,
                secure=address.scheme == "https",
                region=settings.s3_region or "us-east-1",
            )
        return cls(
            client,
            bucket,
            settings.s3_part_size,
            settings.presign_seconds,
            settings.result_ttl_seconds,
            public,
            settings.s3_manage_bucket,
        )

    async def _call(self, key: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except Exception as exc:
            raise _translate(exc, key) from exc

    async def start(self) -> None:
        if not self._manage:
            if not await self._call("", self._client.bucket_exists, self._bucket):
                raise Unavailable(
                    f"bucket {self._bucket} does not exist yet (the jobs service creates it)",
                    code="object_store_unavailable",
                )
            return
        if not await self._call("", self._client.bucket_exists, self._bucket):
            try:
                await self._call("", self._client.make_bucket, self._bucket)
            except Unavailable as exc:
                cause = exc.__cause__
                if not (isinstance(cause, S3Error) and cause.code == "BucketAlreadyOwnedByYou"):
                    raise
        # Everything the services write lives under tenants/ and expires with the result
        # TTL (whole days here; the jobs service's sweeper is exact).
        rule = Rule(
            ENABLED,
            rule_filter=Filter(prefix="tenants/"),
            rule_id=LIFECYCLE_RULE,
            expiration=Expiration(days=self._ttl_days),
        )
        # The bucket may carry rules of its own (set by an operator): ours is added or
        # updated by its id, the others are kept.
        current = await self._call("", self._client.get_bucket_lifecycle, self._bucket)
        others = [r for r in (current.rules if current else []) if r.rule_id != LIFECYCLE_RULE]
        await self._call(
            "",
            self._client.set_bucket_lifecycle,
            self._bucket,
            LifecycleConfig([*others, rule]),
        )

    async def ping(self) -> None:
        await self._call("", self._client.bucket_exists, self._bucket)

    async def put(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> ObjectInfo:
        """Streams into minio's public ``put_object`` (length unknown): it uploads up to
        ``PARTS_IN_FLIGHT`` parts at once while the next one fills and blocks the reader
        beyond that, so memory stays near (PARTS_IN_FLIGHT + 1) x part size. Any failure
        or cancellation aborts the multipart upload: no partial object appears."""
        check_key(key)
        reader = _ChunkReader(chunks, asyncio.get_running_loop())
        upload = asyncio.ensure_future(
            self._call(
                key,
                self._client.put_object,
                self._bucket,
                key,
                reader,
                -1,
                content_type=content_type,
                part_size=self._part_size,
                num_parallel_uploads=PARTS_IN_FLIGHT,
            )
        )
        try:
            await asyncio.shield(upload)
        except asyncio.CancelledError:
            # The thread goes on until its next read: stop it there and let it abort.
            reader.stop()
            await asyncio.gather(upload, return_exceptions=True)
            raise
        except Unavailable as exc:
            if isinstance(exc.__cause__, _ReadFailed):
                raise exc.__cause__.error from None
            raise
        return ObjectInfo(key, reader.size, reader.digest.hexdigest(), content_type)

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

    async def concat(self, key: str, sources: list[str], content_type: str) -> ObjectInfo:
        """Server-side: one multipart upload whose parts are copies of the sources
        (UploadPartCopy), so no byte passes through here on the way in; the digest is
        then taken by reading the result once."""
        check_key(key)
        if len(sources) == 1:
            return await super().concat(key, sources, content_type)
        parts = [ComposeSource(self._bucket, check_key(s)) for s in sources]
        metadata: Any = {"Content-Type": content_type}
        await self._call(key, self._client.compose_object, self._bucket, key, parts, None, metadata)
        digest, size = hashlib.sha256(), 0
        async for block in self.read(key):
            digest.update(block)
            size += len(block)
        return ObjectInfo(key, size, digest.hexdigest(), content_type)

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
        if self._public is None:
            return None  # no address clients can reach: the gateway streams instead
        disposition = f"attachment; filename*=UTF-8''{quote(filename)}"
        url: str = await self._call(
            key,
            self._public.presigned_get_object,
            self._bucket,
            check_key(key),
            expires=self._presign,
            response_headers={"response-content-disposition": disposition},
        )
        return url
