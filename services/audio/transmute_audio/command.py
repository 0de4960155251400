"""The FFmpeg command lines of a conversion, built from the probed input and the options.
Pure functions: every argument the engine gives FFmpeg is decided here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transmute_audio.options import AudioOptions
from transmute_audio.probe import MediaInfo
from transmute_audio.probe import input_args as open_args
from transmute_common.errors import InvalidArgument


@dataclass(frozen=True)
class Codec:
    encoder: str
    muxer: str
    rates: tuple[int, ...] = ()  # supported sample rates; empty: any
    max_channels: int = 8


MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
CODECS = {
    "mp3": Codec("libmp3lame", "mp3", MP3_RATES, 2),
    "m4a": Codec("aac", "mp4", AAC_RATES),
    "alac": Codec("alac", "mp4"),
    "opus": Codec("libopus", "opus", OPUS_RATES),
    "ogg": Codec("libvorbis", "ogg"),
    "flac": Codec("flac", "flac"),
    "wav": Codec("pcm_s16le", "wav"),
    "aiff": Codec("pcm_s16be", "aiff"),
}
# Lossless PCM is written with 24-bit samples.
LOSSLESS_PCM = {"wav": "pcm_s24le", "aiff": "pcm_s24be"}
# Targets whose container holds a cover picture FFmpeg can copy in.
COVER_TARGETS = {"mp3", "m4a", "alac", "flac"}
_PRESET = {"low": 0, "medium": 1, "high": 2, "lossless": 3}
_BITRATES = {"m4a": (96, 160, 256, 320), "opus": (48, 96, 160, 256)}
_MP3_VBR = (6, 4, 2, 0)
_VORBIS_Q = (3, 5, 7, 10)
_VBR_RANGE = {"mp3": (0, 9), "ogg": (0, 10)}


def output_rate(target: str, opts: AudioOptions, source: MediaInfo) -> int:
    """The sample rate written: the one asked for (checked against the codec), else the
    input's, else the nearest rate above it the codec has."""
    rates = CODECS[target].rates
    if opts.sample_rate is not None:
        if rates and opts.sample_rate not in rates:
            raise InvalidArgument(
                f"{target} cannot be written at {opts.sample_rate} Hz; use one of "
                + ", ".join(map(str, rates)),
                code="invalid_options",
            )
        return opts.sample_rate
    wanted = source.sample_rate or 48000
    if not rates or wanted in rates:
        return wanted
    return next((r for r in rates if r >= wanted), rates[-1])


def output_channels(target: str, opts: AudioOptions, source: MediaInfo) -> int:
    if opts.channels == "mono":
        return 1
    if opts.channels == "stereo":
        return 2
    return max(1, min(source.channels or 2, CODECS[target].max_channels))


def quality_args(target: str, opts: AudioOptions) -> list[str]:
    level = _PRESET[opts.quality]
    if opts.vbr_quality is not None:
        low, high = _VBR_RANGE.get(target, (None, None))
        if low is None or high is None or not low <= opts.vbr_quality <= high:
            raise InvalidArgument(
                f"vbr_quality applies to mp3 (0-9) and ogg (0-10), not {target} "
                f"with {opts.vbr_quality}",
                code="invalid_options",
            )
        return ["-q:a", str(opts.vbr_quality)]
    if opts.bitrate is not None and target in ("mp3", "m4a", "opus", "ogg"):
        return ["-b:a", f"{opts.bitrate}k"]
    if target == "mp3":
        return ["-q:a", str(_MP3_VBR[level])]
    if target in _BITRATES:
        extra = ["-vbr", "on"] if target == "opus" else []
        return ["-b:a", f"{_BITRATES[target][level]}k", *extra]
    if target == "ogg":
        return ["-q:a", str(_VORBIS_Q[level])]
    if target == "flac":
        return ["-compression_level", "5"]
    if target in LOSSLESS_PCM and opts.quality == "lossless":
        return ["-c:a", LOSSLESS_PCM[target]]
    return []


def keeps_cover(plan: Plan) -> bool:
    keep = plan.opts.metadata == "keep"
    return keep and plan.info.cover_stream is not None and plan.target in COVER_TARGETS


@dataclass(frozen=True)
class Plan:
    """One conversion: the input's part to read and what to write."""

    source: Path
    demuxer: str
    info: MediaInfo
    target: str
    opts: AudioOptions
    start: float
    length: float  # seconds of input converted, as far as the header tells
    max_output_bytes: int
    # At most this much is decoded: a cut asked for, else the limit (the probed length
    # is rounded and may lie, so the end of a whole file is where decoding stops).
    read_limit: float = 0.0


def plan_clip(
    operation: str, opts: AudioOptions, info: MediaInfo, max_seconds: float
) -> tuple[float, float]:
    """Seconds of input to convert from ``opts.start`` (as the header tells), and the
    most that is decoded."""
    if opts.start >= info.duration_seconds > 0:
        raise InvalidArgument(
            f"start {opts.start:g} s is past the end of the audio ({info.duration_seconds:.3f} s)",
            code="invalid_options",
        )
    available = max(info.duration_seconds - opts.start, 0.0)
    if operation == "preview":
        wanted = opts.duration
    elif opts.end is not None:
        wanted = opts.end - opts.start
    else:
        # To the end, whatever the header says; never more than the limit.
        return min(available or max_seconds, max_seconds), max_seconds
    cut = min(wanted, max_seconds)
    return min(cut, available or cut), cut


def input_args(plan: Plan) -> list[str]:
    args = [*open_args(plan.demuxer), "-nostats", "-y"]
    if plan.start > 0:
        args += ["-ss", f"{plan.start:.6f}"]  # sample-accurate: decoded, then trimmed
    args += ["-t", f"{plan.read_limit or plan.length:.6f}", "-i", str(plan.source)]
    return args


def audio_filters(plan: Plan, loudnorm: str | None) -> list[str]:
    filters = []
    if loudnorm:
        filters.append(loudnorm)
    if plan.opts.fade_in > 0:
        filters.append(f"afade=t=in:st=0:d={plan.opts.fade_in:.6f}")
    if plan.opts.fade_out > 0:
        start = max(plan.length - plan.opts.fade_out, 0.0)
        filters.append(f"afade=t=out:st={start:.6f}:d={plan.opts.fade_out:.6f}")
    return filters


def measure_command(ffmpeg: str, plan: Plan) -> list[str]:
    """The first loudnorm pass: measures, writes nothing."""
    target = plan.opts.loudness
    return [
        ffmpeg,
        *input_args(plan),
        "-map",
        "0:a:0",
        "-af",
        f"loudnorm=I={target:g}:TP=-1.5:LRA=11:print_format=json",
        "-progress",
        "pipe:1",
        "-f",
        "null",
        "-",
    ]


def loudnorm_filter(target: float, measured: dict[str, str]) -> str:
    return (
        f"loudnorm=I={target:g}:TP=-1.5:LRA=11"
        f":measured_I={measured['input_i']}:measured_TP={measured['input_tp']}"
        f":measured_LRA={measured['input_lra']}:measured_thresh={measured['input_thresh']}"
        f":offset={measured['target_offset']}:linear=true"
    )


def convert_command(ffmpeg: str, plan: Plan, out: Path, loudnorm: str | None) -> list[str]:
    codec = CODECS[plan.target]
    args = [ffmpeg, *input_args(plan), "-map", "0:a:0"]
    keep = plan.opts.metadata == "keep"
    if keeps_cover(plan):
        args += ["-map", f"0:{plan.info.cover_stream}", "-c:v", "copy"]
        args += ["-disposition:v:0", "attached_pic"]
    else:
        args += ["-vn"]
    args += ["-sn", "-dn", "-map_chapters", "-1"]
    args += ["-map_metadata", "0" if keep else "-1"]
    if not keep:
        args += ["-fflags", "+bitexact", "-flags:a", "+bitexact"]
    if plan.target == "mp3":
        args += ["-id3v2_version", "3"]
    filters = audio_filters(plan, loudnorm)
    if filters:
        args += ["-af", ",".join(filters)]
    args += ["-c:a", codec.encoder, *quality_args(plan.target, plan.opts)]
    args += ["-ar", str(output_rate(plan.target, plan.opts, plan.info))]
    args += ["-ac", str(output_channels(plan.target, plan.opts, plan.info))]
    args += ["-fs", str(plan.max_output_bytes)]
    args += ["-progress", "pipe:1", "-f", codec.muxer, str(out)]
    return args
