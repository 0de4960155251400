"""Known file formats: short name, media type and file extension."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    extension: str


_FORMATS = [
    Format("jpeg", "image/jpeg", "jpg"),
    Format("png", "image/png", "png"),
    Format("webp", "image/webp", "webp"),
    Format("avif", "image/avif", "avif"),
    Format("gif", "image/gif", "gif"),
    Format("tiff", "image/tiff", "tiff"),
    Format("bmp", "image/bmp", "bmp"),
    Format("heic", "image/heic", "heic"),
    Format("svg", "image/svg+xml", "svg"),
]

BY_NAME = {f.name: f for f in _FORMATS}
BY_MEDIA_TYPE = {f.media_type: f for f in _FORMATS}
BY_MEDIA_TYPE.update({"image/heif": BY_NAME["heic"], "image/x-ms-bmp": BY_NAME["bmp"]})
OCTET_STREAM = "application/octet-stream"


def format_of(media_type: str) -> Format | None:
    return BY_MEDIA_TYPE.get(media_type)


def by_name(name: str) -> Format | None:
    return BY_NAME.get(name.lower().lstrip("."))
