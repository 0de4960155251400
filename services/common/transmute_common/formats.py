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
    # Audio, and containers read for their audio track.
    Format("mp3", "audio/mpeg", "mp3"),
    Format("aac", "audio/aac", "aac"),  # raw ADTS stream
    Format("m4a", "audio/mp4", "m4a"),  # AAC or ALAC in MPEG-4
    Format("alac", "audio/x-alac", "m4a"),  # output only: ALAC in MPEG-4 (.m4a)
    Format("opus", "audio/opus", "opus"),  # Opus in Ogg
    Format("ogg", "audio/ogg", "ogg"),  # Vorbis (or FLAC) in Ogg
    Format("flac", "audio/flac", "flac"),
    Format("wav", "audio/wav", "wav"),
    Format("aiff", "audio/aiff", "aiff"),
    Format("wma", "audio/x-ms-wma", "wma"),  # any ASF file
    Format("amr", "audio/amr", "amr"),
    Format("mp4", "video/mp4", "mp4"),
    Format("m4v", "video/x-m4v", "m4v"),
    Format("mov", "video/quicktime", "mov"),
    Format("mkv", "video/x-matroska", "mkv"),
    Format("webm", "video/webm", "webm"),
    Format("avi", "video/x-msvideo", "avi"),
    # Documents.
    Format("pdf", "application/pdf", "pdf"),
    Format(
        "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"
    ),
    Format("doc", "application/msword", "doc"),
    Format("odt", "application/vnd.oasis.opendocument.text", "odt"),
    Format("rtf", "application/rtf", "rtf"),
    Format("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    Format("ods", "application/vnd.oasis.opendocument.spreadsheet", "ods"),
    Format(
        "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"
    ),
    Format("odp", "application/vnd.oasis.opendocument.presentation", "odp"),
    Format("html", "text/html", "html"),
    Format("txt", "text/plain", "txt"),  # output only: a document's text
    # 3D models (see transmute_common.model_sniff for how each is recognised).
    Format("stl", "model/stl", "stl"),
    Format("obj", "model/obj", "obj"),
    Format("ply", "model/x-ply", "ply"),
    Format("off", "model/x-off", "off"),
    Format("glb", "model/gltf-binary", "glb"),
    Format("3mf", "model/3mf", "3mf"),
    Format("gltf", "model/gltf+json", "gltf"),  # buffers and images embedded
    Format("json", "application/json", "json"),  # output only: a report (analyze)
    Format("zip", "application/zip", "zip"),  # output only: several results in one file
]

BY_NAME = {f.name: f for f in _FORMATS}
BY_MEDIA_TYPE = {f.media_type: f for f in _FORMATS}
BY_MEDIA_TYPE.update(
    {
        "image/heif": BY_NAME["heic"],
        "image/x-ms-bmp": BY_NAME["bmp"],
        "audio/x-wav": BY_NAME["wav"],
        "audio/x-aiff": BY_NAME["aiff"],
        "audio/x-flac": BY_NAME["flac"],
        "audio/x-m4a": BY_NAME["m4a"],
        "audio/x-ms-asf": BY_NAME["wma"],
        "text/rtf": BY_NAME["rtf"],
    }
)
OCTET_STREAM = "application/octet-stream"


def format_of(media_type: str) -> Format | None:
    return BY_MEDIA_TYPE.get(media_type)


def by_name(name: str) -> Format | None:
    return BY_NAME.get(name.lower().lstrip("."))
