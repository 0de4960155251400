"""Options the audio converter accepts, with their limits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from transmute_common.options import option


class AudioOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quality: Literal["low", "medium", "high", "lossless"] = "medium"
    bitrate: int | None = Field(default=None, ge=8, le=512)  # kbit/s
    vbr_quality: int | None = Field(default=None, ge=0, le=10)
    sample_rate: int | None = Field(default=None, ge=8000, le=192000)
    channels: Literal["mono", "stereo", "keep"] = "keep"
    start: float = Field(default=0.0, ge=0, le=86400)
    end: float | None = Field(default=None, gt=0, le=86400)
    duration: float = Field(default=30.0, gt=0, le=600)  # preview only
    normalize: bool = False
    loudness: float = Field(default=-16.0, ge=-70, le=-5)
    fade_in: float = Field(default=0.0, ge=0, le=600)
    fade_out: float = Field(default=0.0, ge=0, le=600)
    metadata: Literal["keep", "strip"] = "keep"

    @model_validator(mode="after")
    def _range(self) -> AudioOptions:
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        if self.bitrate is not None and self.vbr_quality is not None:
            raise ValueError("give bitrate or vbr_quality, not both")
        return self


OPTION_SPECS = [
    option(
        "quality",
        "string",
        "Preset mapped per codec: mp3 VBR V6/V4/V2/V0, aac 96/160/256/320k, opus "
        "48/96/160/256k, vorbis q3/q5/q7/q10; wav and aiff are 24-bit at lossless; "
        "flac and alac are always lossless",
        default="medium",
        choices=["low", "medium", "high", "lossless"],
    ),
    option(
        "bitrate",
        "integer",
        "Constant target bit rate in kbit/s (lossy targets)",
        minimum=8,
        maximum=512,
    ),
    option(
        "vbr_quality",
        "integer",
        "VBR quality on the encoder's scale: mp3 0 (best) to 9, ogg 0 to 10 (best)",
        minimum=0,
        maximum=10,
    ),
    option(
        "sample_rate",
        "integer",
        "Output sample rate in Hz (opus: 8000, 12000, 16000, 24000 or 48000; mp3: at most 48000)",
        minimum=8000,
        maximum=192000,
    ),
    option(
        "channels",
        "string",
        "mono, stereo, or keep the input's (mp3: at most 2)",
        default="keep",
        choices=["mono", "stereo", "keep"],
    ),
    option(
        "start",
        "number",
        "Seconds to skip at the start (convert: trim; preview: offset)",
        default="0",
        minimum=0,
        maximum=86400,
    ),
    option(
        "end", "number", "Convert only up to this second of the input", minimum=0, maximum=86400
    ),
    option(
        "duration",
        "number",
        "Length of a preview clip in seconds",
        default="30",
        minimum=0,
        maximum=600,
    ),
    option(
        "normalize",
        "boolean",
        "EBU R128 loudness normalization, measured in a first "
        "pass and applied linearly in a second",
        default="false",
    ),
    option(
        "loudness",
        "number",
        "Target integrated loudness in LUFS for normalize",
        default="-16",
        minimum=-70,
        maximum=-5,
    ),
    option("fade_in", "number", "Fade-in length in seconds", default="0", minimum=0, maximum=600),
    option("fade_out", "number", "Fade-out length in seconds", default="0", minimum=0, maximum=600),
    option(
        "metadata",
        "string",
        "keep: tags and cover art where the target holds them; strip: none",
        default="keep",
        choices=["keep", "strip"],
    ),
]
