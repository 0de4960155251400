"""Runs FFmpeg and follows its ``-progress`` output (key=value blocks on stdout)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg

from transmute_common.errors import InvalidInput, scrubbed

STDERR_KEPT = 2000  # characters of FFmpeg's log kept in a failed job's details
# Called with seconds of media done and FFmpeg's speed (x realtime, None before known).
Tick = Callable[[float, float | None], None]


def ffmpeg_program(configured: str) -> str:
    return configured or imageio_ffmpeg.get_ffmpeg_exe()


def encoders(ffmpeg: str) -> set[str]:
    out = subprocess.run(
        [ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True, check=True
    ).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        # Rows look like " A....D libopus   libopus Opus"; the legend above has no dots.
        if len(parts) >= 2 and parts[0].startswith("A") and "." in parts[0]:
            names.add(parts[1])
    return names


def _speed(value: str) -> float | None:
    try:
        speed = float(value.rstrip("x"))
    except ValueError:
        return None  # "N/A" before the first frame
    return speed if speed > 0 else None


def run(args: list[str], log_path: Path, tick: Tick) -> str:
    """Runs FFmpeg to the end; returns its log. A failure is the input's fault unless
    shown otherwise: InvalidInput with the end of the log in its details."""
    with log_path.open("w+b") as log:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        assert proc.stdout is not None
        speed: float | None = None
        for raw in proc.stdout:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "speed":
                speed = _speed(value)
            elif key == "out_time_us" and value.lstrip("-").isdigit():
                tick(max(int(value), 0) / 1e6, speed)
        code = proc.wait()
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
    if code != 0:
        tail = scrubbed(text[-STDERR_KEPT:])
        last = tail.strip().splitlines()[-1] if tail.strip() else f"exit status {code}"
        raise InvalidInput(
            f"cannot convert the audio: {last[:300]}",
            code="invalid_audio",
            details={"engine_log": tail},
        )
    return text


def loudnorm_measurement(log: str) -> dict[str, str]:
    """The JSON block loudnorm prints at the end of its first pass."""
    start, end = log.rfind("{"), log.rfind("}")
    if start < 0 or end < start:
        raise InvalidInput("loudness could not be measured", code="invalid_audio")
    measured: dict[str, str] = json.loads(log[start : end + 1])
    return measured
