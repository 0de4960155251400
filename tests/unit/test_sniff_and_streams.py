import pytest

from tests import images
from transmute_common.errors import TooLarge
from transmute_gateway.sniff import sniff
from transmute_gateway.streams import limited, peek


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (images.jpeg(16, 16), "image/jpeg"),
        (images.png(), "image/png"),
        (images.animated_gif(), "image/gif"),
        (images.bmp(), "image/bmp"),
        (images.heic(), "image/heic"),
        (images.svg(), "image/svg+xml"),
        (b"\xef\xbb\xbf  <svg xmlns='http://www.w3.org/2000/svg'></svg>", "image/svg+xml"),
        (b"just some text, named photo.png by its sender", "application/octet-stream"),
        (b"<html><svg></svg></html>", "text/html"),
        (b"\xef\xbb\xbf<!-- c -->\n<!DOCTYPE HTML><p>x", "text/html"),
        (b"<HTML lang=en>", "text/html"),
        (b"<htmlx>", "application/octet-stream"),
        (b"<p>a fragment is not a document</p>", "application/octet-stream"),
        (
            b'<?xml version="1.0"?>\n<!-- a -->\n<!-- b --><!DOCTYPE svg PUBLIC "x">\n<svg>',
            "image/svg+xml",
        ),
        (b"<!---->" * 1000 + b"<svg>", "image/svg+xml"),
        (b"<svgx>", "application/octet-stream"),
        (b"<?xml version='1.0'", "application/octet-stream"),
        (b"<!-- never closed <svg>", "application/octet-stream"),
    ],
)
def test_types_come_from_content(data: bytes, expected: str) -> None:
    assert sniff(data[:8192]) == expected


@pytest.mark.timeout(10)
@pytest.mark.parametrize("pairs", [22, 1170])
def test_comment_runs_cannot_make_sniffing_backtrack(pairs: int) -> None:
    # 22 empty comments and a stray byte took 0.75 s with a backtracking pattern, and
    # each further pair 4 times as long: 1170 pairs (all of 8 KiB) would never end.
    assert sniff(b"<!---->" * pairs + b"x") == "application/octet-stream"


async def _chunks(*parts: bytes):  # type: ignore[no-untyped-def]
    for p in parts:
        yield p


async def test_limit_is_enforced_while_streaming() -> None:
    seen = []
    with pytest.raises(TooLarge):
        async for chunk in limited(_chunks(b"a" * 4, b"b" * 4, b"c" * 4), 10):
            seen.append(chunk)
    assert seen == [b"a" * 4, b"b" * 4]  # failed on the chunk that crossed the limit


async def test_limit_allows_exact_size() -> None:
    assert [c async for c in limited(_chunks(b"12345", b"67890"), 10)] == [b"12345", b"67890"]


async def test_peek_returns_head_and_replays_everything() -> None:
    head, rest = await peek(_chunks(b"ab", b"cd", b"ef"), 3)
    assert head == b"abcd"
    assert b"".join([c async for c in rest]) == b"abcdef"


async def test_peek_on_short_and_empty_streams() -> None:
    head, rest = await peek(_chunks(b"x"), 10)
    assert head == b"x" and [c async for c in rest] == [b"x"]
    head, rest = await peek(_chunks(), 10)
    assert head == b"" and [c async for c in rest] == []
