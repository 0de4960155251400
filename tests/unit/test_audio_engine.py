"""The audio engine with the real FFmpeg on generated files, its programs confined as
the service runs them; outputs measured with PyAV, apart from the engine's own probe."""

from __future__ import annotations

import asyncio
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests import media
from transmute_audio import ffmpeg
from transmute_audio.capabilities import INPUTS, OUTPUTS
from transmute_audio.engine import AudioConverter
from transmute_audio.probe import DEMUXERS, OUTPUT_DEMUXERS, MediaInfo
from transmute_common.confined import ProgramRunner, launcher
from transmute_common.converter import ConversionTask, InputFile, OutputFile
from transmute_common.errors import InvalidArgument, InvalidInput
from transmute_common.worker_process import WorkerLimits
from transmute_common.workers import engine_environment

Ticks = list[tuple[float, str, float | None, float | None]]


def convert(
    src: Path,
    fmt: str,
    target: str,
    work: Path,
    operation: str = "convert",
    settings: dict[str, Any] | None = None,
    ticks: Ticks | None = None,
    **options: Any,
) -> OutputFile:
    job_dir = work / f"job-{target}-{len(list(work.iterdir()))}"
    out_dir = job_dir / "out"
    out_dir.mkdir(parents=True)
    seen: Ticks = [] if ticks is None else ticks

    def progress(
        fraction: float, message: str, rate: float | None = None, eta_seconds: float | None = None
    ) -> None:
        seen.append((fraction, message, rate, eta_seconds))

    task = ConversionTask(operation, [InputFile(src, src.name, fmt)], target, options, out_dir)
    engine = AudioConverter(settings)
    outputs = asyncio.run(engine.convert(task, progress, programs(job_dir)))
    assert len(outputs) == 1 and seen and seen[-1][0] == 1.0
    return outputs[0]


def programs(job_dir: Path) -> ProgramRunner:
    return ProgramRunner(launcher(WorkerLimits()), engine_environment(job_dir), job_dir)


def measured(out: OutputFile, target: str) -> MediaInfo:
    return media.measure(out.path, OUTPUT_DEMUXERS[target])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("audio-inputs")
    return {fmt: media.tone(work / f"in.{fmt}", fmt) for fmt in INPUTS}


def test_the_ffmpeg_build_has_every_encoder_the_targets_need(tmp_path: Path) -> None:
    have = asyncio.run(ffmpeg.encoders(programs(tmp_path), ffmpeg.ffmpeg_program("")))
    assert {"libmp3lame", "libopus", "libvorbis", "aac", "flac", "alac"} <= have
    assert {"pcm_s16le", "pcm_s16be", "pcm_s24le"} <= have


# Inputs whose frames or priming make the decoded length a little longer than 1 s.
_SLACK = {"amr": 0.06, "aac": 0.06, "wma": 0.06, "avi": 0.06}


@pytest.mark.parametrize("fmt", INPUTS)
def test_every_input_converts_to_every_target_and_round_trips(
    fmt: str, inputs: dict[str, Path], tmp_path: Path
) -> None:
    source = media.measure(inputs[fmt], DEMUXERS[fmt])
    for target in OUTPUTS:
        out = convert(inputs[fmt], fmt, target, tmp_path)
        got = measured(out, target)
        assert abs(got.duration_seconds - 1.0) <= 0.05 + _SLACK.get(fmt, 0), (target, got)
        assert got.channels == source.channels, (target, got)
        # The engine's probe (FFmpeg's description) agrees with libav's own parsers;
        # FFmpeg prints the container's length (a video track's, if longer) to the
        # hundredth.
        reported = out.details["output"]
        assert (reported["codec"], reported["sample_rate"], reported["channels"]) == (
            got.codec,
            got.sample_rate,
            got.channels,
        )
        assert reported["duration_seconds"] == pytest.approx(got.duration_seconds, abs=0.05)
        assert reported["size"] == got.size
        assert out.details["input"]["codec"] == source.codec
        assert out.details["input"]["duration_seconds"] == pytest.approx(
            source.duration_seconds, abs=0.015 + _SLACK.get(fmt, 0)
        )
        assert out.details["size_ratio"] == pytest.approx(got.size / source.size, abs=1e-4)


@pytest.mark.parametrize(
    ("target", "rate", "channels"),
    [
        ("mp3", 22050, "mono"),
        ("opus", 16000, "stereo"),
        ("flac", 96000, "mono"),
        ("wav", 8000, "stereo"),
        ("m4a", 48000, "mono"),
        ("ogg", 32000, "keep"),
    ],
)
def test_sample_rate_and_channels_are_as_asked(
    target: str, rate: int, channels: str, inputs: dict[str, Path], tmp_path: Path
) -> None:
    out = convert(inputs["wav"], "wav", target, tmp_path, sample_rate=rate, channels=channels)
    got = measured(out, target)
    # Opus always decodes at 48 kHz; the rate it was made from is in its OpusHead.
    written = _opus_input_rate(out.path) if target == "opus" else got.sample_rate
    assert written == rate
    assert got.channels == {"mono": 1, "stereo": 2, "keep": 2}[channels]


def _opus_input_rate(path: Path) -> int:
    head = path.read_bytes()[:512]
    at = head.index(b"OpusHead")
    return int.from_bytes(head[at + 12 : at + 16], "little")


def test_a_rate_the_codec_cannot_write_is_refused(inputs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="opus cannot be written at 44100 Hz"):
        convert(inputs["wav"], "wav", "opus", tmp_path, sample_rate=44100)


def test_a_96k_input_goes_to_mp3_at_the_highest_rate_mp3_has(tmp_path: Path) -> None:
    src = media.tone(tmp_path / "hi.flac", "flac", rate=96000)
    assert measured(convert(src, "flac", "mp3", tmp_path), "mp3").sample_rate == 48000


def test_trim_is_exact_to_the_sample(tmp_path: Path) -> None:
    src = media.tone(tmp_path / "long.wav", "wav", seconds=3)
    out = convert(src, "wav", "wav", tmp_path, start=0.5, end=1.25)
    got = measured(out, "wav")
    assert round(got.duration_seconds * 44100) == pytest.approx(0.75 * 44100, abs=1)


def test_normalize_reaches_the_target_loudness(tmp_path: Path) -> None:
    src = media.tone(
        tmp_path / "quiet.wav", "wav", seconds=8, source="anoisesrc=color=pink:amplitude=0.02"
    )
    ticks: Ticks = []
    out = convert(src, "wav", "flac", tmp_path, ticks=ticks, normalize=True, loudness=-16)
    assert {"measuring loudness", "encoding"} <= {t[1] for t in ticks}
    assert abs(integrated_loudness(out.path) - -16) <= 1.0
    assert integrated_loudness(src) < -25  # the input really was quiet: the gain was applied


LOUDNESS = "loudnorm=print_format=json"


def integrated_loudness(path: Path) -> float:
    """EBU R128 integrated loudness (LUFS), measured by FFmpeg's loudnorm filter."""
    run = subprocess.run(
        [media.FFMPEG, "-nostdin", "-i", str(path), "-af", LOUDNESS, "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(ffmpeg.loudnorm_measurement(run.stderr)["input_i"])


def test_silence_survives_normalize(tmp_path: Path) -> None:
    src = media.tone(
        tmp_path / "silence.wav", "wav", seconds=2, source="anullsrc=channel_layout=stereo"
    )
    got = measured(convert(src, "wav", "mp3", tmp_path, normalize=True), "mp3")
    assert abs(got.duration_seconds - 2) < 0.05


def test_fades_change_the_ends_not_the_length(tmp_path: Path) -> None:
    src = media.tone(tmp_path / "t.wav", "wav", seconds=3)
    out = convert(src, "wav", "wav", tmp_path, fade_in=1, fade_out=1)
    data = out.path.read_bytes()
    samples = data[data.index(b"data") + 8 :]
    pcm = memoryview(samples[: len(samples) // 2 * 2]).cast("h")
    first, middle = max(abs(s) for s in pcm[:200]), max(abs(s) for s in pcm[len(pcm) // 2 :][:2000])
    last = max(abs(s) for s in pcm[-200:])
    assert first < middle / 50 and last < middle / 50
    assert abs(measured(out, "wav").duration_seconds - 3) < 0.01


def test_cover_and_tags_are_kept_or_stripped(tmp_path: Path) -> None:
    import av

    src = media.with_cover(tmp_path / "cover.mp3", tmp_path)
    for target in ("flac", "m4a", "mp3"):
        kept = convert(src, "mp3", target, tmp_path)
        assert kept.details["output"]["has_cover"], target
        assert media.measure(kept.path, OUTPUT_DEMUXERS[target]).cover_stream is not None
        with av.open(str(kept.path)) as c:
            tags = {k.lower(): v for k, v in c.metadata.items()}
        assert tags.get("title") == "Cover Song", (target, tags)
    stripped = convert(src, "mp3", "flac", tmp_path, metadata="strip")
    assert not stripped.details["output"]["has_cover"]
    assert media.measure(stripped.path, "flac").cover_stream is None
    with av.open(str(stripped.path)) as c:
        assert "title" not in {k.lower() for k in c.metadata}


def test_preview_is_a_short_clip_from_an_offset(tmp_path: Path) -> None:
    src = media.tone(tmp_path / "song.flac", "flac", seconds=6)
    out = convert(src, "flac", "opus", tmp_path, operation="preview", start=2, duration=3)
    assert abs(measured(out, "opus").duration_seconds - 3) < 0.05
    default = convert(src, "flac", "mp3", tmp_path, operation="preview", start=1)
    assert abs(measured(default, "mp3").duration_seconds - 5) < 0.05  # what is left
    with pytest.raises(InvalidArgument, match="preview cannot write flac"):
        convert(src, "flac", "flac", tmp_path, operation="preview")


def test_progress_reports_speed_and_time_left(tmp_path: Path) -> None:
    src = media.tone(tmp_path / "long.wav", "wav", seconds=240)
    ticks: Ticks = []
    convert(src, "wav", "mp3", tmp_path, ticks=ticks)
    fractions = [t[0] for t in ticks]
    assert fractions == sorted(fractions)
    with_rate = [t for t in ticks if t[2] is not None]
    assert with_rate and all(t[2] > 1 and t[3] is not None and t[3] >= 0 for t in with_rate)


# --- hostile and broken input ------------------------------------------------------


def test_an_hls_playlist_claimed_as_mp3_never_reaches_ffmpeg(tmp_path: Path) -> None:
    src = tmp_path / "list.mp3"
    src.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n")
    with pytest.raises(InvalidInput) as err:
        convert(src, "mp3", "wav", tmp_path)
    assert err.value.code == "unsupported_input"


def test_a_concat_list_claimed_as_wav_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "list.wav"
    src.write_text("ffconcat version 1.0\nfile /etc/passwd\n")
    with pytest.raises(InvalidInput) as err:
        convert(src, "wav", "mp3", tmp_path)
    assert err.value.code == "unsupported_input"


def test_an_avi_carrying_a_playlist_reads_no_other_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT\n" * 100)
    playlist = (
        f"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\nconcat:file://{secret}\n"
        f"#EXTINF:10.0,\nfile://{secret}\n#EXT-X-ENDLIST\n"
    ).encode()
    body = b"AVI LIST" + len(playlist).to_bytes(4, "little") + b"hdrl" + playlist
    src = tmp_path / "evil.avi"
    src.write_bytes(b"RIFF" + (len(body)).to_bytes(4, "little") + body)
    with pytest.raises(InvalidInput) as err:
        convert(src, "avi", "wav", tmp_path)
    assert err.value.code == "invalid_audio"
    assert "TOP-SECRET" not in str(err.value.details)


def test_a_file_with_no_audio_track_fails_clearly(tmp_path: Path) -> None:
    src = tmp_path / "silent.mp4"
    media.ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-c:v", "mpeg4", str(src)
    )
    with pytest.raises(InvalidInput, match="no audio track") as err:
        convert(src, "mp4", "mp3", tmp_path)
    assert err.value.code == "invalid_audio"


def _lying_wav(path: Path, claimed_seconds: float) -> Path:
    """One second of real samples (8 kHz mono) under a header claiming ``claimed_seconds``."""
    real = media.tone(path.with_suffix(".real.wav"), "wav", seconds=1, rate=8000, channels=1)
    data = bytearray(real.read_bytes())
    claimed = int(claimed_seconds * 8000 * 2)
    at = data.index(b"data") + 4
    data[4:8] = min(claimed + at + 4 - 8, 2**32 - 1).to_bytes(4, "little")
    data[at : at + 4] = min(claimed, 2**32 - 1).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


def test_audio_longer_than_the_limit_is_refused(tmp_path: Path) -> None:
    src = media.tone(tmp_path / "long.flac", "flac", seconds=5)
    with pytest.raises(InvalidInput) as err:
        convert(src, "flac", "mp3", tmp_path, settings={"max_duration_seconds": 2})
    assert err.value.code == "audio_too_long"


def test_a_header_claiming_ten_hours_converts_what_is_there(tmp_path: Path) -> None:
    src = _lying_wav(tmp_path / "liar.wav", 10 * 3600)
    got = measured(convert(src, "wav", "mp3", tmp_path), "mp3")
    assert abs(got.duration_seconds - 1) < 0.05


def test_a_truncated_file_converts_what_is_there(tmp_path: Path) -> None:
    full = media.tone(tmp_path / "full.mp3", "mp3", seconds=4)
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    got = measured(convert(cut, "mp3", "wav", tmp_path), "wav")
    assert 1.5 < got.duration_seconds < 2.5


def test_the_output_size_limit_stops_ffmpeg(tmp_path: Path) -> None:
    src = media.tone(tmp_path / "t.wav", "wav", seconds=3)
    with pytest.raises(InvalidInput) as err:
        convert(src, "wav", "wav", tmp_path, settings={"max_output_bytes": 100_000})
    assert err.value.code == "output_too_large"


def test_engine_errors_keep_the_end_of_the_log(tmp_path: Path) -> None:
    src = media.tone(tmp_path / "t.flac", "flac", seconds=1)
    data = bytearray(src.read_bytes())
    data[200:] = bytes(len(data) - 200)  # the header survives, the frames do not
    src.write_bytes(bytes(data))
    with pytest.raises(InvalidInput) as err:
        convert(src, "flac", "mp3", tmp_path)
    assert err.value.code == "invalid_audio"
    log = err.value.details["engine_log"]
    assert 0 < len(log) <= 2000 and "\n" in log  # the last lines, not just one
    assert str(tmp_path) not in log and str(tmp_path) not in str(err.value)


def test_invalid_options_are_refused_with_a_reason(inputs: dict[str, Path], tmp_path: Path) -> None:
    for options, reason in [
        ({"start": 2, "end": 1}, "end must be after start"),
        ({"bitrate": 128, "vbr_quality": 2}, "not both"),
        ({"quality": "best"}, "Input should be"),
        ({"loud": True}, "Extra inputs"),
    ]:
        with pytest.raises(InvalidArgument, match=reason):
            convert(inputs["wav"], "wav", "mp3", tmp_path, **options)
    with pytest.raises(InvalidArgument, match="vbr_quality applies"):
        convert(inputs["wav"], "wav", "opus", tmp_path, vbr_quality=3)
    with pytest.raises(InvalidArgument, match="past the end"):
        convert(inputs["wav"], "wav", "mp3", tmp_path, start=5)
    assert math.isfinite(1.0)


@pytest.mark.parametrize("channels", [1, 2, 3, 4, 5, 6, 7, 8])
def test_the_probe_reads_every_channel_layout_as_libav_does(channels: int, tmp_path: Path) -> None:
    src = media.tone(tmp_path / "in.flac", "flac", channels=channels)
    got = asyncio.run(ffmpeg.probe(programs(tmp_path), media.FFMPEG, src, "flac"))
    expected = media.measure(src, "flac")
    assert (got.channels, got.sample_rate, got.codec) == (
        expected.channels,
        expected.sample_rate,
        expected.codec,
    )
    assert got.duration_seconds == pytest.approx(expected.duration_seconds, abs=0.01)


def test_a_tag_posing_as_the_description_fails_the_probe(tmp_path: Path) -> None:
    """A tag name with line breaks can add lines that look like FFmpeg's own: the
    second 'Duration' makes the probe fail instead of believing 9 hours."""
    fake = "evil\n  Duration: 09:00:00.00, bitrate: 1 kb/s\n  Stream #0:0: Audio: pcm_s16le"
    src = tmp_path / "evil.mp3"
    media.ffmpeg("-f", "lavfi", "-i", "sine=d=1", "-metadata", f"{fake}=x", str(src))
    with pytest.raises(InvalidInput, match="describes itself more than once") as err:
        convert(src, "mp3", "wav", tmp_path)
    assert err.value.code == "invalid_audio"
