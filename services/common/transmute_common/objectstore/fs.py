"""Directory-backed object store: the embedded default for local runs."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from transmute_common.errors import NotFound
from transmute_common.objectstore.base import CHUNK, ObjectInfo, ObjectStore, check_key

_TYPE_SUFFIX = ".content-type"


class DirectoryStore(ObjectStore):
    """Objects are files under ``root/data``; writes go to ``root/tmp`` and are renamed
    into place, so a reader never sees a partial object."""

    def __init__(self, root: Path):
        self._data = root / "data"
        self._tmp = root / "tmp"
        self._types = root / "types"

    def _path(self, key: str) -> Path:
        return self._data / check_key(key)

    async def start(self) -> None:
        def make() -> None:
            for d in (self._data, self._tmp, self._types):
                d.mkdir(parents=True, exist_ok=True)

        await asyncio.to_thread(make)

    async def ping(self) -> None:
        if not await asyncio.to_thread(self._data.is_dir):
            raise NotFound(f"object store directory {self._data} is missing")

    async def put(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> ObjectInfo:
        target = self._path(key)
        fd, tmp_name = await asyncio.to_thread(tempfile.mkstemp, dir=self._tmp)
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()

        def flush(data: bytes) -> None:
            os.write(fd, data)
            digest.update(data)

        def finish(data: bytes) -> None:
            nonlocal fd
            flush(data)
            os.close(fd)
            fd = -1
            self._commit(Path(tmp_name), target, key, content_type)

        try:
            async for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= CHUNK:
                    data, buffer = bytes(buffer), bytearray()
                    await asyncio.to_thread(flush, data)
            # Small objects take a single trip to the worker thread.
            await asyncio.to_thread(finish, bytes(buffer))
        except BaseException:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        return ObjectInfo(key, size, digest.hexdigest(), content_type, datetime.now(UTC))

    def _commit(self, tmp: Path, target: Path, key: str, content_type: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        type_file = self._types / (key + _TYPE_SUFFIX)
        type_file.parent.mkdir(parents=True, exist_ok=True)
        type_file.write_text(content_type)
        os.replace(tmp, target)

    async def put_file(self, key: str, path: Path, content_type: str) -> ObjectInfo:
        def copy() -> ObjectInfo:
            target = self._path(key)
            fd, tmp_name = tempfile.mkstemp(dir=self._tmp)
            digest = hashlib.sha256()
            size = 0
            try:
                with open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
                    while block := src.read(CHUNK):
                        digest.update(block)
                        dst.write(block)
                        size += len(block)
                self._commit(Path(tmp_name), target, key, content_type)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
            return ObjectInfo(key, size, digest.hexdigest(), content_type, datetime.now(UTC))

        return await asyncio.to_thread(copy)

    async def concat(self, key: str, sources: list[str], content_type: str) -> ObjectInfo:
        """In one worker thread: the files are copied into a new one and hashed on the way."""

        def join() -> ObjectInfo:
            fd, tmp_name = tempfile.mkstemp(dir=self._tmp)
            digest = hashlib.sha256()
            size = 0
            try:
                with os.fdopen(fd, "wb") as dst:
                    for source in sources:
                        try:
                            src = open(self._path(source), "rb")  # noqa: SIM115
                        except FileNotFoundError:
                            raise NotFound(f"object {source} not found") from None
                        with src:
                            while block := src.read(CHUNK):
                                digest.update(block)
                                dst.write(block)
                                size += len(block)
                self._commit(Path(tmp_name), self._path(key), key, content_type)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
            return ObjectInfo(key, size, digest.hexdigest(), content_type, datetime.now(UTC))

        return await asyncio.to_thread(join)

    async def stat(self, key: str) -> ObjectInfo:
        return await asyncio.to_thread(self._stat, key)

    def _stat(self, key: str) -> ObjectInfo:
        """In a worker thread: the file system may be slow."""
        path = self._path(key)
        try:
            st = path.stat()
            content_type = (self._types / (key + _TYPE_SUFFIX)).read_text()
        except FileNotFoundError:
            raise NotFound(f"object {key} not found", code="object_not_found") from None
        return ObjectInfo(
            key, st.st_size, "", content_type, datetime.fromtimestamp(st.st_mtime, UTC)
        )

    async def read(self, key: str, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        try:
            f = await asyncio.to_thread(open, self._path(key), "rb")
        except FileNotFoundError:
            raise NotFound(f"object {key} not found", code="object_not_found") from None
        try:
            while block := await asyncio.to_thread(f.read, chunk_size):
                yield block
        finally:
            await asyncio.to_thread(f.close)

    async def get_file(self, key: str, path: Path) -> None:
        try:
            await asyncio.to_thread(shutil.copyfile, self._path(key), path)
        except FileNotFoundError:
            raise NotFound(f"object {key} not found", code="object_not_found") from None

    async def delete_prefix(self, prefix: str) -> int:
        def remove() -> int:
            count = 0
            for info in self._walk(prefix):
                (self._data / info).unlink(missing_ok=True)
                (self._types / (info + _TYPE_SUFFIX)).unlink(missing_ok=True)
                count += 1
            return count

        return await asyncio.to_thread(remove)

    def _walk(self, prefix: str) -> list[str]:
        keys = []
        # Only the directory holding the prefix needs walking.
        start = self._data / prefix.rpartition("/")[0] if "/" in prefix else self._data
        for dirpath, _, files in os.walk(start):
            for name in files:
                key = os.path.relpath(os.path.join(dirpath, name), self._data)
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    async def list_objects(self, prefix: str) -> list[ObjectInfo]:
        def collect() -> list[ObjectInfo]:
            found = []
            for key in self._walk(prefix):
                with contextlib.suppress(NotFound):  # removed while listing
                    found.append(self._stat(key))
            return found

        return await asyncio.to_thread(collect)
