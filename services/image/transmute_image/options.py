"""Options the image converter accepts, with their limits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from transmute_common.converter import OptionSpec


class ImageOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int | None = Field(default=None, ge=1, le=65535)
    height: int | None = Field(default=None, ge=1, le=65535)
    fit: Literal["contain", "cover", "fill"] = "contain"
    quality: int = Field(default=80, ge=1, le=100)
    lossless: bool = False
    strip: bool = True
    auto_orient: bool = True
    grayscale: bool = False


OPTION_SPECS = [
    OptionSpec(
        name="width",
        type="integer",
        minimum=1,
        maximum=65535,
        description="Output width in pixels; keeps the aspect ratio unless fit=fill",
    ),
    OptionSpec(
        name="height",
        type="integer",
        minimum=1,
        maximum=65535,
        description="Output height in pixels",
    ),
    OptionSpec(
        name="fit",
        type="string",
        default="contain",
        choices=["contain", "cover", "fill"],
        description="contain: fit inside width x height; cover: fill it and crop the "
        "centre; fill: stretch to it",
    ),
    OptionSpec(
        name="quality",
        type="integer",
        default="80",
        minimum=1,
        maximum=100,
        description="Encoder quality for JPEG, WebP, AVIF",
    ),
    OptionSpec(
        name="lossless",
        type="boolean",
        default="false",
        description="Lossless encoding for WebP and AVIF",
    ),
    OptionSpec(
        name="strip",
        type="boolean",
        default="true",
        description="Remove EXIF, XMP and IPTC metadata (the colour profile is kept)",
    ),
    OptionSpec(
        name="auto_orient",
        type="boolean",
        default="true",
        description="Rotate according to the EXIF orientation tag",
    ),
    OptionSpec(
        name="grayscale",
        type="boolean",
        default="false",
        description="One grey channel (transparency flattened onto white)",
    ),
]
