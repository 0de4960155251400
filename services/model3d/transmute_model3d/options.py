"""Options the 3D converter accepts, with their limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from transmute_common.options import option


class Model3dOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    face_limit: int | None = Field(default=None, ge=4, le=100_000_000)
    ratio: float | None = Field(default=None, gt=0, lt=1)
    center: bool = False
    scale: float = Field(default=1.0, gt=0, le=1e6)
    fill_holes: bool = True

    @model_validator(mode="after")
    def _target(self) -> Model3dOptions:
        if self.face_limit is not None and self.ratio is not None:
            raise ValueError("give face_limit or ratio, not both")
        return self


OPTION_SPECS = [
    option(
        "face_limit",
        "integer",
        "decimate: at most this many triangles in the result",
        minimum=4,
        maximum=100_000_000,
        operations=["decimate"],
    ),
    option(
        "ratio",
        "number",
        "decimate: the share of triangles kept (0..1), instead of face_limit",
        minimum=0,
        maximum=1,
        operations=["decimate"],
    ),
    option(
        "center",
        "boolean",
        "Move the model so its bounding box is centred on the origin",
        default="false",
        operations=["convert", "decimate", "repair"],
    ),
    option(
        "scale",
        "number",
        "Multiply every coordinate by this (e.g. 0.001 from millimetres to metres)",
        default="1",
        minimum=0,
        maximum=1e6,
        operations=["convert", "decimate", "repair"],
    ),
    option(
        "fill_holes",
        "boolean",
        "repair: close holes bounded by a single loop of edges",
        default="true",
        operations=["repair"],
    ),
]
