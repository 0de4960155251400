"""Helpers for byte streams: a size limit enforced while streaming, and peeking."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from transmute_common.errors import TooLarge


async def limited(chunks: AsyncIterable[bytes], limit: int) -> AsyncIterator[bytes]:
    """Passes chunks through, raising TooLarge as soon as more than ``limit`` bytes went by."""
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise TooLarge(
                f"file is larger than the limit of {limit} bytes",
                code="file_too_large",
                details={"limit": limit},
            )
        yield chunk


async def peek(chunks: AsyncIterator[bytes], size: int) -> tuple[bytes, AsyncIterator[bytes]]:
    """Reads at least ``size`` bytes (fewer at the end); returns them and a stream that
    yields everything, those bytes included."""
    head = bytearray()
    exhausted = False
    while len(head) < size:
        try:
            head += await anext(chunks)
        except StopAsyncIteration:
            exhausted = True
            break

    async def replay() -> AsyncIterator[bytes]:
        if head:
            yield bytes(head)
        if not exhausted:
            async for chunk in chunks:
                yield chunk

    return bytes(head), replay()
