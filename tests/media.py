"""Test audio and video files, generated with FFmpeg's own lavfi sources (the static
FFmpeg of the imageio-ffmpeg wheel): nothing binary is committed for these."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import imageio_ffmpeg

from transmute_audio.probe import COVER_CODECS, MediaInfo, open_options

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()

# How each input format is written: codec and muxer arguments, and whether a small
# video track goes in with the audio.
_VIDEO = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10"]
WRITERS: dict[str, tuple[list[str], bool]] = {
    "mp3": (["-c:a", "libmp3lame", "-f", "mp3"], False),
    "aac": (["-c:a", "aac", "-f", "adts"], False),
    "m4a": (["-c:a", "aac", "-f", "ipod"], False),
    "opus": (["-c:a", "libopus", "-f", "opus"], False),
    "ogg": (["-c:a", "libvorbis", "-f", "ogg"], False),
    "flac": (["-c:a", "flac", "-f", "flac"], False),
    "wav": (["-c:a", "pcm_s16le", "-f", "wav"], False),
    "aiff": (["-c:a", "pcm_s16be", "-f", "aiff"], False),
    "wma": (["-c:a", "wmav2", "-f", "asf"], False),
    "amr": (
        ["-ar", "8000", "-ac", "1", "-c:a", "libopencore_amrnb", "-b:a", "12.2k", "-f", "amr"],
        False,
    ),
    "mp4": (["-c:v", "mpeg4", "-c:a", "aac", "-f", "mp4"], True),
    "m4v": (["-c:v", "mpeg4", "-c:a", "aac", "-brand", "M4V ", "-f", "mp4"], True),
    "mov": (["-c:v", "mpeg4", "-c:a", "aac", "-f", "mov"], True),
    "mkv": (["-c:v", "mpeg4", "-c:a", "libvorbis", "-f", "matroska"], True),
    "webm": (["-c:v", "libvpx", "-c:a", "libopus", "-f", "webm"], True),
    "avi": (["-c:v", "mpeg4", "-c:a", "libmp3lame", "-f", "avi"], True),
}


def ffmpeg(*args: str) -> None:
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True
    )


def tone(
    path: Path,
    fmt: str,
    seconds: float = 1.0,
    rate: int = 44100,
    channels: int = 2,
    source: str = "sine=frequency=440",
) -> Path:
    """``seconds`` of a lavfi audio source (sine by default) written as ``fmt``."""
    codec, video = WRITERS[fmt]
    audio = ["-f", "lavfi", "-i", f"{source}:sample_rate={rate}:duration={seconds}"]
    if source.startswith("anoisesrc"):
        audio = ["-f", "lavfi", "-i", f"{source}:r={rate}:d={seconds}"]
    inputs = audio + (_VIDEO if video else [])
    maps = ["-map", "0:a"] + (["-map", "1:v", "-shortest"] if video else [])
    ffmpeg(*inputs, *maps, "-ac", str(channels), *codec, str(path))
    return path


def with_cover(path: Path, work: Path) -> Path:
    """An MP3 with a PNG cover picture and a title tag."""
    cover = work / "cover.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:size=32x32", "-frames:v", "1", str(cover))
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=2",
        "-i",
        str(cover),
        "-map",
        "0:a",
        "-map",
        "1:v",
        "-c:v",
        "copy",
        "-disposition:v",
        "attached_pic",
        "-metadata",
        "title=Cover Song",
        "-c:a",
        "libmp3lame",
        "-id3v2_version",
        "3",
        str(path),
    )
    return path


def measure(path: Path, demuxer: str) -> MediaInfo:
    """What a file holds, read with PyAV (libavformat's parsers, typed results): the
    tests' own measurement, independent of the engine's probe."""
    with av.open(str(path), format=demuxer, options=open_options(demuxer)) as container:
        audio = container.streams.audio[0]
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
