"""A span for every object-store call, whichever store is behind it."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry import trace

from transmute_common.objectstore.base import CHUNK, ObjectInfo, ObjectStore
from transmute_common.tracing import tracer

_tracer = tracer("transmute.objectstore")


class TracedObjectStore(ObjectStore):
    """Delegates to ``inner``; each call is a CLIENT span named ``objectstore <op>``."""

    def __init__(self, inner: ObjectStore, kind: str, attributes: dict[str, Any]):
        self.inner = inner
        self._attributes = {"transmute.object_store": kind, **attributes}

    @contextmanager
    def _span(self, op: str, key: str, **extra: Any) -> Iterator[trace.Span]:
        with _tracer.start_as_current_span(
            f"objectstore {op}",
            kind=trace.SpanKind.CLIENT,
            attributes={**self._attributes, "transmute.object.key": key, **extra},
        ) as span:
            yield span

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def ping(self) -> None:
        await self.inner.ping()

    async def put(self, key: str, chunks: AsyncIterable[bytes], content_type: str) -> ObjectInfo:
        with self._span("put", key) as span:
            info = await self.inner.put(key, chunks, content_type)
            span.set_attribute("transmute.object.size", info.size)
            return info

    async def put_file(self, key: str, path: Path, content_type: str) -> ObjectInfo:
        with self._span("put_file", key) as span:
            info = await self.inner.put_file(key, path, content_type)
            span.set_attribute("transmute.object.size", info.size)
            return info

    async def stat(self, key: str) -> ObjectInfo:
        with self._span("stat", key):
            return await self.inner.stat(key)

    async def read(self, key: str, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        with self._span("read", key) as span:
            size = 0
            async for chunk in self.inner.read(key, chunk_size):
                size += len(chunk)
                yield chunk
            span.set_attribute("transmute.object.size", size)

    async def get_file(self, key: str, path: Path) -> None:
        with self._span("get_file", key):
            await self.inner.get_file(key, path)

    async def delete_prefix(self, prefix: str) -> int:
        with self._span("delete_prefix", prefix) as span:
            count = await self.inner.delete_prefix(prefix)
            span.set_attribute("transmute.object.count", count)
            return count

    async def list_objects(self, prefix: str) -> list[ObjectInfo]:
        with self._span("list", prefix):
            return await self.inner.list_objects(prefix)

    async def concat(self, key: str, sources: list[str], content_type: str) -> ObjectInfo:
        with self._span("concat", key, **{"transmute.object.count": len(sources)}) as span:
            info = await self.inner.concat(key, sources, content_type)
            span.set_attribute("transmute.object.size", info.size)
            return info

    async def presigned_url(self, key: str, filename: str) -> str | None:
        return await self.inner.presigned_url(key, filename)
