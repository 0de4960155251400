"""Resumable uploads kept in the object store: the state behind the tus routes (tus.py).

An upload in progress lives beside the file it becomes, under
``tenants/<tenant>/uploads/<id>.tus/``: ``info.json`` (declared length, name, expiry,
sizes of the stored segments, bytes in the tail), fixed-size segments ``seg-<n>``, and a
``tail`` holding what arrived after the last whole segment. Each PATCH starts from the
tail, stores every whole segment as it fills (so at most one segment per upload is held
in memory) and leaves the rest as the new tail, also when the connection breaks: the
offset a client resumes from counts every byte that arrived. The last byte joins the
segments and the tail into the file (server-side on S3: a multipart upload of part
copies), sniffs its type and registers it like any other upload; the id is the file id.

Writes are ordered so that ``info.json`` never names bytes that are not stored: a crash
loses at most what arrived since the last segment, and the offset says so. The whole
prefix expires like an upload (``expiry`` markers), so abandoned uploads are swept.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from transmute_common.errors import Conflict, InvalidArgument, NotFound, TooLarge, TransmuteError
from transmute_common.expiry import mark_upload, marker_key
from transmute_common.jobs import new_id, utcnow
from transmute_common.objectstore import ObjectStore
from transmute_common.objectstore.base import MIN_PART_BYTES
from transmute_gateway.core import FILE_ID, Gateway, UploadedFile, upload_key
from transmute_gateway.identity import Principal
from transmute_gateway.sniff import SNIFF_BYTES, sniff
from transmute_gateway.streams import limited

OCTET = "application/octet-stream"
LOCK_WAIT_SECONDS = 10.0  # a PATCH waits this long for the one before it to notice its end


@dataclass
class Resumable:
    id: str
    length: int
    filename: str
    expires_at: str  # ISO 8601, UTC
    segments: list[int] = field(default_factory=list)  # sizes of seg-1, seg-2, ...
    tail: int = 0
    file: dict[str, object] | None = None  # the registered file, once complete

    @property
    def offset(self) -> int:
        return sum(self.segments) + self.tail

    @property
    def complete(self) -> bool:
        return self.file is not None

    @property
    def expires(self) -> datetime:
        return datetime.fromisoformat(self.expires_at)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


class ResumableUploads:
    def __init__(self, gateway: Gateway, segment_bytes: int, expiry_seconds: int):
        self.gw = gateway
        self.store: ObjectStore = gateway.store
        self.segment = max(segment_bytes, MIN_PART_BYTES)
        self.expiry = timedelta(seconds=expiry_seconds)
        self._locks: dict[str, asyncio.Lock] = {}

    def _prefix(self, tenant: str, upload_id: str) -> str:
        return upload_key(tenant, upload_id) + ".tus/"

    async def create(self, who: Principal, length: int, filename: str) -> Resumable:
        """Checks the declared length against the size limits and today's bytes (which
        it counts now: the bytes are promised), and stores the empty upload."""
        if length <= 0:
            raise InvalidArgument("the file is empty", code="empty_file")
        limit = await self.gw.quotas.upload_limit(who, self.gw.settings.max_upload_bytes)
        if length > limit:
            raise TooLarge(
                f"file is larger than the limit of {limit} bytes",
                code="file_too_large",
                details={"limit": limit},
            )
        await self.gw.quotas.count_upload(who, length)
        expires = utcnow() + self.expiry
        upload = Resumable(new_id(), length, filename, expires.isoformat())
        await self._save(who.tenant, upload)
        # Swept with the rest of the upload if never finished.
        await mark_upload(self.store, who.tenant, upload.id, expires)
        return upload

    async def get(self, tenant: str, upload_id: str) -> Resumable:
        if not FILE_ID.match(upload_id):
            raise NotFound("no such upload", code="upload_not_found")
        try:
            info = await self.store.get_json(self._prefix(tenant, upload_id) + "info.json")
        except NotFound:
            raise NotFound("no such upload", code="upload_not_found") from None
        upload = Resumable(**info)
        if not upload.complete and upload.expires <= utcnow():
            raise TransmuteError("the upload has expired", code="upload_expired").with_status(410)
        return upload

    async def settled(self, tenant: str, upload_id: str) -> Resumable:
        """The upload once no PATCH is writing it: a client resuming after a broken
        connection learns the offset that counts the bytes of the broken request."""
        async with self._locked(tenant, upload_id):
            return await self.get(tenant, upload_id)

    async def _save(self, tenant: str, upload: Resumable) -> None:
        await self.store.put_json(self._prefix(tenant, upload.id) + "info.json", asdict(upload))

    @contextlib.asynccontextmanager
    async def _locked(self, tenant: str, upload_id: str) -> AsyncIterator[None]:
        """One PATCH at a time per upload (on this replica)."""
        key = f"{tenant}/{upload_id}"
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            await asyncio.wait_for(lock.acquire(), LOCK_WAIT_SECONDS)
        except TimeoutError:
            raise Conflict("another request is writing this upload", code="upload_busy") from None
        try:
            yield
        finally:
            lock.release()
            if not lock.locked():
                self._locks.pop(key, None)

    async def append(
        self, who: Principal, upload_id: str, offset: int, body: AsyncIterable[bytes]
    ) -> tuple[Resumable, UploadedFile | None]:
        """Adds the body at ``offset`` (which must be the upload's offset: 409 else).
        Returns the upload and, when this was its last byte, the registered file."""
        async with self._locked(who.tenant, upload_id):
            upload = await self.get(who.tenant, upload_id)
            if offset != upload.offset:
                raise Conflict(
                    f"the upload is at offset {upload.offset}, not {offset}",
                    code="offset_mismatch",
                    details={"offset": upload.offset},
                )
            prefix = self._prefix(who.tenant, upload_id)
            buffer = bytearray()
            if upload.tail:
                async for block in self.store.read(prefix + "tail"):
                    buffer += block
                del buffer[upload.tail :]  # a tail written after the last info.json
            try:
                # Bytes past the declared Upload-Length are refused (413) as they arrive.
                async for chunk in limited(body, upload.length - upload.offset):
                    buffer += chunk
                    while len(buffer) >= self.segment:
                        piece = bytes(buffer[: self.segment])
                        name = f"seg-{len(upload.segments) + 1}"
                        await self.store.put(prefix + name, _one(piece), OCTET)
                        del buffer[: self.segment]
                        upload.segments.append(len(piece))
                        upload.tail = 0
                        await self._save(who.tenant, upload)
            except BaseException:
                # Kept whatever ended the body: a broken connection resumes from here.
                # Shielded: a cancelled request still records what arrived.
                await asyncio.shield(self._keep_tail(who.tenant, upload, bytes(buffer)))
                raise
            if sum(upload.segments) + len(buffer) < upload.length:
                await self._keep_tail(who.tenant, upload, bytes(buffer))
                return upload, None
            return upload, await self._finish(who, upload, bytes(buffer))

    async def _keep_tail(self, tenant: str, upload: Resumable, data: bytes) -> None:
        if data:
            await self.store.put(self._prefix(tenant, upload.id) + "tail", _one(data), OCTET)
        upload.tail = len(data)
        await self._save(tenant, upload)

    async def _finish(self, who: Principal, upload: Resumable, last: bytes) -> UploadedFile:
        """Joins what is stored and ``last`` (the bytes since the last segment) into the
        file. A file smaller than a segment is in memory whole: it is written at once."""
        prefix = self._prefix(who.tenant, upload.id)
        key = upload_key(who.tenant, upload.id)
        sources = [f"{prefix}seg-{n}" for n in range(1, len(upload.segments) + 1)]
        if not sources:
            media_type = sniff(last[:SNIFF_BYTES])
            info = await self.store.put(key, _one(last), media_type)
        else:
            if last:
                await self._keep_tail(who.tenant, upload, last)
                sources.append(prefix + "tail")
            head = bytearray()
            async for block in self.store.read(sources[0]):
                head += block
                if len(head) >= SNIFF_BYTES:
                    break
            media_type = sniff(bytes(head[:SNIFF_BYTES]))
            info = await self.store.concat(key, sources, media_type)
        if info.size != upload.length:  # cannot happen unless the store lost a part
            await self.store.delete_prefix(key)
            raise TransmuteError("the upload's parts do not add up", code="upload_corrupt")
        uploaded = await self.gw.register(who, upload.id, upload.filename, info, media_type)
        # The upload's own expiry gives way to the file's (register marked it).
        await self.store.delete_prefix(marker_key(who.tenant, upload.id, upload.expires))
        upload.file = asdict(uploaded)
        upload.segments, upload.tail = [upload.length], 0
        await self._save(who.tenant, upload)
        for name in [*sources, prefix + "tail"]:
            await self.store.delete_prefix(name)
        return uploaded

    async def terminate(self, who: Principal, upload_id: str) -> None:
        async with self._locked(who.tenant, upload_id):
            await self.get(who.tenant, upload_id)
            await self.gw.discard(who.tenant, upload_id)
