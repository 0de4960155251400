"""What a media file holds, read with PyAV (libavformat's own parsers, typed results):
no text output of a program is parsed for it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av

from transmute_common.errors import InvalidInput, scrubbed

# The only libavformat demuxer a file of each accepted format is opened with: never
# FFmpeg's own detection, which would follow a playlist or a concat list.
DEMUXERS = {
    "mp3": "mp3",
    "aac": "aac",
    "m4a": "mov",
    "mp4": "mov",
    "m4v": "mov",
    "mov": "mov",
    "opus": "ogg",
    "ogg": "ogg",
    "flac": "flac",
    "wav": "wav",
    "aiff": "aiff",
    "wma": "asf",
    "amr": "amr",
    "mkv": "matroska",
    "webm": "matroska",
    "avi": "avi",
}
# How the files each target writes are read back (to measure the result).
OUTPUT_DEMUXERS = {**DEMUXERS, "alac": "mov"}
# Input options for every open: local file reads only, and no demuxer but the chosen
# one, even for files nested inside (an AVI or MKV cannot pull in a playlist).
COVER_CODECS = {"mjpeg", "png"}


def open_options(demuxer: str) -> dict[str, str]:
    return {"protocol_whitelist": "file", "format_whitelist": demuxer}


@dataclass(frozen=True)
class MediaInfo:
    duration_seconds: float
    codec: str
    sample_rate: int
    channels: int
    bit_rate: int  # bits/s of the audio stream, or of the whole file
    size: int
    cover_stream: int | None = None  # index of an attached picture FFmpeg can copy

    def details(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("cover_stream")
        data["duration_seconds"] = round(self.duration_seconds, 3)
        data["has_cover"] = self.cover_stream is not None
        return data


def probe(path: Path, demuxer: str) -> MediaInfo:
    try:
        with av.open(str(path), format=demuxer, options=open_options(demuxer)) as container:
            audio = next((s for s in container.streams.audio), None)
            if audio is None:
                raise InvalidInput("the file has no audio track", code="invalid_audio")
            ctx = audio.codec_context
            if audio.duration is not None and audio.time_base is not None:
                duration = float(audio.duration * audio.time_base)
            else:
                duration = (container.duration or 0) / av.time_base
            cover = next(
                (
                    s.index
                    for s in container.streams.video
                    if s.disposition & av.stream.Disposition.attached_pic
                    and s.codec_context.name in COVER_CODECS
                ),
                None,
            )
            return MediaInfo(
                duration_seconds=max(duration, 0.0),
                codec=ctx.codec.canonical_name,
                sample_rate=int(ctx.sample_rate or 0),
                channels=int(ctx.channels or 0),
                bit_rate=int(audio.bit_rate or ctx.bit_rate or container.bit_rate or 0),
                size=path.stat().st_size,
                cover_stream=cover,
            )
    except av.FFmpegError as exc:
        raise InvalidInput(
            f"cannot read the audio: {scrubbed(str(exc))}", code="invalid_audio"
        ) from exc
