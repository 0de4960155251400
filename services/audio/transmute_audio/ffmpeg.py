"""Runs FFmpeg (confined, through the service's ProgramRunner) and follows its
``-progress`` output: key=value blocks on stdout."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

from transmute_audio.probe import LOG_KEPT, MediaInfo, parse_description, probe_command
from transmute_common.confined import ProgramRunner
from transmute_common.errors import InvalidInput, scrubbed, scrubbed_log

# Called with seconds of media done and FFmpeg's speed (x realtime, None before known).
Tick = Callable[[float, float | None], None]


def ffmpeg_program(configured: str) -> str:
    return configured or imageio_ffmpeg.get_ffmpeg_exe()


async def encoders(programs: ProgramRunner, ffmpeg: str) -> set[str]:
    lines: list[str] = []
    done = await programs.run([ffmpeg, "-hide_banner", "-encoders"], lines.append)
    if done.returncode != 0:
        raise OSError(f"{ffmpeg} -encoders failed: {scrubbed(done.log)}")
    names = set()
    for line in lines:
        parts = line.split()
        # Rows look like "A....D libopus   libopus Opus"; the legend above has no dots.
        if len(parts) >= 2 and parts[0].startswith("A") and "." in parts[0]:
            names.add(parts[1])
    return names


async def probe(programs: ProgramRunner, ffmpeg: str, path: Path, demuxer: str) -> MediaInfo:
    done = await programs.run(probe_command(ffmpeg, path, demuxer), log_name="probe.log")
    size = (await asyncio.to_thread(path.stat)).st_size
    return parse_description(done.log, size)


def _speed(value: str) -> float | None:
    try:
        speed = float(value.rstrip("x"))
    except ValueError:
        return None  # "N/A" before the first frame
    return speed if speed > 0 else None


@dataclass(frozen=True)
class Finished:
    log: str
    media_seconds: float  # how much FFmpeg wrote, by its last progress report


async def run(programs: ProgramRunner, args: list[str], tick: Tick) -> Finished:
    """Runs FFmpeg to the end. A failure is the input's fault unless shown otherwise:
    InvalidInput with the end of the log in its details."""
    speed: float | None = None
    written = 0.0

    def on_line(line: str) -> None:
        nonlocal speed, written
        key, _, value = line.partition("=")
        if key == "speed":
            speed = _speed(value)
        elif key == "out_time_us" and value.lstrip("-").isdigit():
            written = max(int(value), 0) / 1e6
            tick(written, speed)

    done = await programs.run(args, on_line, log_name="ffmpeg.log")
    if done.returncode != 0:
        tail = scrubbed_log(done.log, LOG_KEPT)
        lines = done.log.strip().splitlines()
        last = scrubbed(lines[-1]) if lines else f"exit status {done.returncode}"
        raise InvalidInput(
            f"cannot convert the audio: {last[:300]}",
            code="invalid_audio",
            details={"engine_log": tail},
        )
    return Finished(done.log, written)


def loudnorm_measurement(log: str) -> dict[str, str]:
    """The JSON block loudnorm prints at the end of its first pass."""
    start, end = log.rfind("{"), log.rfind("}")
    if start < 0 or end < start:
        raise InvalidInput("loudness could not be measured", code="invalid_audio")
    measured: dict[str, str] = json.loads(log[start : end + 1])
    return measured
