"""The audio engine: every step (probe, measure, encode) is FFmpeg, started confined
from the service process (transmute_common.program_host); a cancelled job's FFmpeg is
killed with its process group."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from transmute_audio import command, ffmpeg
from transmute_audio.capabilities import OUTPUTS, PREVIEW_OUTPUTS
from transmute_audio.config import AudioSettings
from transmute_audio.options import AudioOptions
from transmute_audio.probe import DEMUXERS, LOG_KEPT, OUTPUT_DEMUXERS, MediaInfo
from transmute_common.confined import ProgramRunner
from transmute_common.converter import (
    Capabilities,
    ConversionTask,
    OutputFile,
    ProgramConverter,
    ProgressFn,
)
from transmute_common.errors import InvalidArgument, InvalidInput, scrubbed_log
from transmute_common.formats import BY_NAME
from transmute_common.media_sniff import sniff_media
from transmute_common.options import parse_options, require_format


class AudioConverter(ProgramConverter):
    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        config = AudioSettings.model_validate(self.settings)
        self.max_seconds = config.max_duration_seconds
        self.max_output_bytes = config.max_output_bytes
        self.ffmpeg = ffmpeg.ffmpeg_program(config.ffmpeg_path)

    async def available(self, declared: Capabilities, programs: ProgramRunner) -> Capabilities:
        have = await ffmpeg.encoders(programs, self.ffmpeg)
        lacking = {t for t, c in command.CODECS.items() if c.encoder not in have}
        return declared.without(set(), lacking)

    async def convert(
        self, task: ConversionTask, progress: ProgressFn, programs: ProgramRunner
    ) -> list[OutputFile]:
        opts = parse_options(AudioOptions, task.options)
        allowed = PREVIEW_OUTPUTS if task.operation == "preview" else OUTPUTS
        if task.target not in allowed:
            raise InvalidArgument(
                f"{task.operation} cannot write {task.target}", code="unsupported_target"
            )
        source = task.inputs[0]
        require_format(source.path, source.format, sniff_media, "audio")
        demuxer = DEMUXERS[source.format]
        info = await ffmpeg.probe(programs, self.ffmpeg, source.path, demuxer)
        if info.duration_seconds > self.max_seconds:
            raise InvalidInput(
                f"the audio is {info.duration_seconds:.0f} s long, over the limit of "
                f"{self.max_seconds:.0f} s",
                code="audio_too_long",
            )
        length, read_limit = command.plan_clip(task.operation, opts, info, self.max_seconds)
        plan = command.Plan(
            source.path,
            demuxer,
            info,
            task.target,
            opts,
            opts.start,
            length,
            self.max_output_bytes,
            read_limit,
        )
        out = task.output_dir / f"output.{BY_NAME[task.target].extension}"
        passes = 2 if opts.normalize else 1
        loudnorm = None
        if opts.normalize:
            measuring = await ffmpeg.run(
                programs,
                command.measure_command(self.ffmpeg, plan),
                _ticker(progress, length, 0, 2),
            )
            measured = ffmpeg.loudnorm_measurement(measuring.log)
            # Silence has no loudness to correct (-inf): it is written as it is.
            if math.isfinite(float(measured.get("input_i", "-inf"))):
                loudnorm = command.loudnorm_filter(opts.loudness, measured)
        encoded = await ffmpeg.run(
            programs,
            command.convert_command(self.ffmpeg, plan, out, loudnorm),
            _ticker(progress, length, passes - 1, passes),
        )
        size = (await asyncio.to_thread(out.stat)).st_size
        if size >= self.max_output_bytes:
            raise InvalidInput(
                f"the output reached the limit of {self.max_output_bytes} bytes",
                code="output_too_large",
            )
        result = await ffmpeg.probe(programs, self.ffmpeg, out, OUTPUT_DEMUXERS[task.target])
        if encoded.media_seconds <= 0 or result.duration_seconds <= 0:
            raise InvalidInput(
                "no audio could be decoded from the input",
                code="invalid_audio",
                details={"engine_log": scrubbed_log(encoded.log, LOG_KEPT)},
            )
        progress(1.0, "encoded")
        media_type = BY_NAME[task.target].media_type
        return [OutputFile(out, out.name, media_type, _details(info, result))]


def _ticker(progress: ProgressFn, length: float, index: int, passes: int) -> ffmpeg.Tick:
    """Progress of pass ``index`` of ``passes`` over ``length`` seconds of media."""

    def tick(done: float, speed: float | None) -> None:
        fraction = (index + min(done / length, 1.0)) / passes if length > 0 else 0.0
        remaining = (passes - index) * length - done
        eta = max(remaining, 0.0) / speed if speed else None
        message = "measuring loudness" if index < passes - 1 else "encoding"
        progress(fraction, message, rate=speed, eta_seconds=eta)

    return tick


def _details(source: MediaInfo, result: MediaInfo) -> dict[str, Any]:
    ratio = result.size / source.size if source.size else 0.0
    return {"input": source.details(), "output": result.details(), "size_ratio": round(ratio, 4)}
