import pytest

from transmute_common.errors import InvalidArgument
from transmute_gateway import multipart

BOUNDARY = "----transmute-test"


def body(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def chunked(data: bytes, size: int):  # type: ignore[no-untyped-def]
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
async def test_parts_stream_in_order(chunk_size: int) -> None:
    payload = bytes(range(256)) * 50
    raw = body([("file", "a.jpg", payload), ("target", None, b"webp")])
    events = multipart.events(chunked(raw, chunk_size), f"multipart/form-data; boundary={BOUNDARY}")
    seen: dict[str, bytes] = {}
    names: dict[str, str | None] = {}
    async for event in events:
        if isinstance(event, multipart.PartStart):
            names[event.name] = event.filename
            seen[event.name] = b"".join([c async for c in multipart.part_data(events)])
    assert seen == {"file": payload, "target": b"webp"}
    assert names == {"file": "a.jpg", "target": None}


async def test_rejects_non_multipart() -> None:
    with pytest.raises(InvalidArgument):
        async for _ in multipart.events(chunked(b"x", 1), "application/json"):
            pass


async def test_truncated_body_is_an_error() -> None:
    raw = body([("file", "a.jpg", b"123456")])[:-30]
    events = multipart.events(chunked(raw, 8), f"multipart/form-data; boundary={BOUNDARY}")
    with pytest.raises(InvalidArgument):
        async for event in events:
            if isinstance(event, multipart.PartStart):
                async for _ in multipart.part_data(events):
                    pass
