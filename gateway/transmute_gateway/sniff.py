"""Detects a file's type from its first bytes; names and declared types are ignored."""

from __future__ import annotations

import re

import filetype

from transmute_common.formats import OCTET_STREAM

SNIFF_BYTES = 8192
_SVG = re.compile(
    rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]", re.S
)


def sniff(head: bytes) -> str:
    """The media type of a file from its first ``SNIFF_BYTES`` bytes."""
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    if _SVG.match(head.removeprefix(b"\xef\xbb\xbf")):
        return "image/svg+xml"
    return OCTET_STREAM
