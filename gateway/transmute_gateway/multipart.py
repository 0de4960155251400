"""Streaming multipart/form-data: parts are handed over as they arrive, so a file part
goes to the object store without being buffered in memory or on disk."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from python_multipart.multipart import MultipartParser, parse_options_header

from transmute_common.errors import InvalidArgument


@dataclass
class PartStart:
    name: str
    filename: str | None


@dataclass
class PartData:
    data: bytes


class PartEnd:
    pass


Event = PartStart | PartData | PartEnd


def boundary_of(content_type: str) -> bytes:
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data" or b"boundary" not in params:
        raise InvalidArgument(
            "expected multipart/form-data with a boundary", code="invalid_multipart"
        )
    return params[b"boundary"]


async def events(body: AsyncIterable[bytes], content_type: str) -> AsyncIterator[Event]:
    """The parts of a multipart body as a flat stream of start, data and end events."""
    pending: list[Event] = []
    header_field = bytearray()
    header_value = bytearray()
    headers: dict[bytes, bytes] = {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _, params = parse_options_header(headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        pending.append(PartStart(name, filename.decode("utf-8", "replace") if filename else None))
        headers.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        pending.append(PartData(bytes(data[start:end])))

    parser = MultipartParser(
        boundary_of(content_type),
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": lambda: pending.append(PartEnd()),
        },
    )
    async for chunk in body:
        try:
            parser.write(chunk)
        except Exception as exc:
            raise InvalidArgument(
                f"malformed multipart body: {exc}", code="invalid_multipart"
            ) from exc
        for event in pending:
            yield event
        pending.clear()
    parser.finalize()
    for event in pending:
        yield event


async def part_data(stream: AsyncIterator[Event]) -> AsyncIterator[bytes]:
    """The data of the current part, consuming ``stream`` up to the part's end."""
    async for event in stream:
        if isinstance(event, PartEnd):
            return
        if isinstance(event, PartData):
            yield event.data
    raise InvalidArgument("multipart body ended inside a part", code="invalid_multipart")
