"""Error texts fit for clients: bounded, without paths."""

from transmute_common.errors import MAX_MESSAGE, TransmuteError, scrubbed, shown


def test_engine_errors_lose_their_paths() -> None:
    raw = "VipsJpeg: /tmp/image-4711-x1/input-0.jpg: Premature end of JPEG file\nline 2"
    assert scrubbed(raw) == "VipsJpeg: <file>: Premature end of JPEG file"


def test_messages_and_echoes_are_bounded() -> None:
    assert len(TransmuteError("x" * 100_000).message) == MAX_MESSAGE
    assert len(shown("y" * 20_000)) < 80
    assert shown("a\x00b") == "'a?b'"
