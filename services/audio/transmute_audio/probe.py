"""What a media file holds, read by the same confined FFmpeg that converts it: the
description FFmpeg prints of an input it opens (``Input #0`` with its duration and
streams). So no other parser meets the hostile file and no media library is loaded in
the service (see docs/architecture.md).

That description quotes the file's tags, and a tag's name may carry a line break: a
file could add lines that look like FFmpeg's own. It can only mislead the probe about
itself (limits are enforced on what is decoded, not on what is claimed), and any line
it would repeat (a second duration, a stream number twice) fails the probe."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from transmute_common.errors import InvalidInput, scrubbed, scrubbed_log

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
COVER_CODECS = {"mjpeg", "png"}
LOG_KEPT = 2000  # characters of FFmpeg's log kept in a failed job's details
# Channel counts of the layouts FFmpeg names (libavutil/channel_layout.c); other
# layouts are printed as "N channels".
LAYOUTS = {
    "mono": 1,
    "stereo": 2,
    "downmix": 2,
    "binaural": 2,
    "2.1": 3,
    "3.0": 3,
    "3.0(back)": 3,
    "4.0": 4,
    "quad": 4,
    "quad(side)": 4,
    "3.1": 4,
    "5.0": 5,
    "5.0(side)": 5,
    "4.1": 5,
    "5.1": 6,
    "5.1(side)": 6,
    "6.0": 6,
    "6.0(front)": 6,
    "3.1.2": 6,
    "hexagonal": 6,
    "6.1": 7,
    "6.1(back)": 7,
    "6.1(front)": 7,
    "7.0": 7,
    "7.0(front)": 7,
    "7.1": 8,
    "7.1(wide)": 8,
    "7.1(wide-side)": 8,
    "5.1.2": 8,
    "5.1.2(back)": 8,
    "octagonal": 8,
    "cube": 8,
    "5.1.4": 10,
    "7.1.2": 10,
    "7.1.4": 12,
    "7.2.3": 12,
    "9.1.4": 14,
    "9.1.6": 16,
    "hexadecagonal": 16,
    "22.2": 24,
}
_DURATION = re.compile(r"^  Duration: (?:N/A|(\d+):(\d\d):(\d\d)\.(\d\d))")
_FILE_BITRATE = re.compile(r"bitrate: (\d+) kb/s")
_STREAM = re.compile(r"^  Stream #0:(\d+)(?:\[[^\]]*\])?(?:\([^)]*\))?: (\w+): (\w+)(.*)$")
_RATE_AND_LAYOUT = re.compile(r", (\d+) Hz, ([^,]+)")
_STREAM_BITRATE = re.compile(r", (\d+) kb/s")
_CHANNELS = re.compile(r"^(\d+) channels")


def open_options(demuxer: str) -> dict[str, str]:
    """Input options for every open: local file reads only, and no demuxer but the
    chosen one, even for files nested inside (an AVI or MKV cannot pull in a playlist)."""
    return {"protocol_whitelist": "file", "format_whitelist": demuxer}


def input_args(demuxer: str) -> list[str]:
    opts = open_options(demuxer)
    return [
        "-nostdin",
        "-hide_banner",
        "-protocol_whitelist",
        opts["protocol_whitelist"],
        "-format_whitelist",
        opts["format_whitelist"],
        "-f",
        demuxer,
    ]


def probe_command(ffmpeg: str, path: Path, demuxer: str) -> list[str]:
    """FFmpeg opening the file and describing it, with nothing to write (it then exits
    with 'At least one output file must be specified', having read only the headers)."""
    return [ffmpeg, *input_args(demuxer), "-i", str(path)]


@dataclass(frozen=True)
class MediaInfo:
    duration_seconds: float
    codec: str
    sample_rate: int
    channels: int  # 0: a layout FFmpeg did not name
    bit_rate: int  # bits/s of the audio stream, or of the whole file
    size: int
    cover_stream: int | None = None  # index of an attached picture FFmpeg can copy

    def details(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("cover_stream")
        data["duration_seconds"] = round(self.duration_seconds, 3)
        data["has_cover"] = self.cover_stream is not None
        return data


def _description(log: str) -> list[str]:
    """The lines of FFmpeg's ``Input #0`` description, without its tag blocks."""
    lines = log.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Input #0, ")), None)
    if start is None:
        tail = [line for line in lines if line.strip() and "output file" not in line]
        reason = scrubbed(tail[-1]) if tail else "no description"
        raise InvalidInput(
            f"cannot read the audio: {reason}",
            code="invalid_audio",
            details={"engine_log": scrubbed_log(log, LOG_KEPT)},
        )
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        if not line.startswith("   "):  # two spaces: the input's own entries
            block.append(line)
    return block


def parse_description(log: str, size: int) -> MediaInfo:
    """A MediaInfo from what FFmpeg printed on opening a file of ``size`` bytes."""
    block = _description(log)
    durations = [m for m in map(_DURATION.match, block) if m]
    streams = [m for m in map(_STREAM.match, block) if m]
    indexes = [int(m.group(1)) for m in streams]
    if len(durations) > 1 or len(set(indexes)) < len(indexes):
        raise InvalidInput("the file describes itself more than once", code="invalid_audio")
    audio = next((m for m in streams if m.group(2) == "Audio"), None)
    if audio is None:
        raise InvalidInput("the file has no audio track", code="invalid_audio")
    duration = 0.0
    file_rate = 0
    if durations:
        h, m, s, cs = durations[0].groups()
        if h is not None:
            duration = int(h) * 3600 + int(m) * 60 + int(s) + int(cs) / 100
        found = _FILE_BITRATE.search(durations[0].string)
        file_rate = int(found.group(1)) * 1000 if found else 0
    rest = audio.group(4)
    rate, channels = 0, 0
    if found_rate := _RATE_AND_LAYOUT.search(rest):
        rate = int(found_rate.group(1))
        layout = found_rate.group(2).strip()
        count = _CHANNELS.match(layout)
        channels = int(count.group(1)) if count else LAYOUTS.get(layout, 0)
    stream_rate = _STREAM_BITRATE.search(rest)
    cover = next(
        (
            int(m.group(1))
            for m in streams
            if m.group(2) == "Video"
            and m.group(3) in COVER_CODECS
            and "(attached pic)" in m.group(4)
        ),
        None,
    )
    return MediaInfo(
        duration_seconds=duration,
        codec=audio.group(3),
        sample_rate=rate,
        channels=channels,
        bit_rate=int(stream_rate.group(1)) * 1000 if stream_rate else file_rate,
        size=size,
        cover_stream=cover,
    )
