"""Detects a file's type from its first bytes; names and declared types are ignored.

Runs on the event loop on at most SNIFF_BYTES of client bytes, so every step is a
bounded, linear scan: no pattern that can backtrack."""

from __future__ import annotations

import filetype

from transmute_common.formats import OCTET_STREAM
from transmute_common.media_sniff import sniff_media
from transmute_common.model_sniff import sniff_model, sniff_model_magic

SNIFF_BYTES = 8192
_SPACE = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"
_AFTER_NAME = (b" ", b"\t", b"\r", b"\n", b">")  # what may follow "<svg"


def _skip_space(data: bytes, pos: int) -> int:
    while pos < len(data) and data[pos] in _SPACE:
        pos += 1
    return pos


def _after(data: bytes, pos: int, opening: bytes, closing: bytes) -> int | None:
    """The position after a construct that starts at ``pos`` with ``opening`` and ends
    with ``closing``; ``pos`` if there is none there; None if it never ends."""
    if not data.startswith(opening, pos):
        return pos
    end = data.find(closing, pos + len(opening))
    return None if end < 0 else end + len(closing)


def is_svg(head: bytes) -> bool:
    """An SVG document: optional XML declaration, comments and an SVG doctype, then
    the ``<svg`` root element."""
    data = head.removeprefix(_BOM)
    pos = _after(data, _skip_space(data, 0), b"<?xml", b"?>")
    while pos is not None:
        pos = _skip_space(data, pos)
        if not data.startswith(b"<!--", pos):
            break
        pos = _after(data, pos, b"<!--", b"-->")
    if pos is None:
        return False
    pos = _after(data, pos, b"<!DOCTYPE svg", b">")
    if pos is None:
        return False
    pos = _skip_space(data, pos)
    return data.startswith(b"<svg", pos) and data[pos + 4 : pos + 5] in _AFTER_NAME


def is_html(head: bytes) -> bool:
    """An HTML document: optional comments, then an HTML doctype or ``<html`` root."""
    data = head.removeprefix(_BOM)
    pos: int | None = _skip_space(data, 0)
    while pos is not None and data.startswith(b"<!--", pos):
        pos = _after(data, pos, b"<!--", b"-->")
        pos = None if pos is None else _skip_space(data, pos)
    if pos is None:
        return False
    start = data[pos : pos + 15].lower()
    return start.startswith(b"<!doctype html") or (
        start.startswith(b"<html") and start[5:6] in _AFTER_NAME
    )


def sniff(head: bytes) -> str:
    """The media type of a file from its first ``SNIFF_BYTES`` bytes."""
    media = sniff_media(head) or sniff_model_magic(head)
    if media is not None:
        return media
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    if is_svg(head):
        return "image/svg+xml"
    if is_html(head):
        return "text/html"
    # Last: OBJ is bare text and binary STL has no magic, only a structure that other
    # types rarely match.
    return sniff_model(head) or OCTET_STREAM
