"""Options the 3D converter accepts, with their limits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from transmute_common.options import option

Unit = Literal["mm", "cm", "m", "in", "ft"]
Axis = Literal["y", "z"]
METRES = {"mm": 0.001, "cm": 0.01, "m": 1.0, "in": 0.0254, "ft": 0.3048}
PLACED = ["convert", "decimate", "repair"]  # the operations that write a model


class Model3dOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    face_limit: int | None = Field(default=None, ge=4, le=100_000_000)
    ratio: float | None = Field(default=None, gt=0, lt=1)
    center: bool = False
    scale: float = Field(default=1.0, gt=0, le=1e6)
    fill_holes: bool = True
    solid: bool = False
    unit: Unit | None = None
    target_unit: Unit | None = None
    up_axis: Axis | None = None
    target_up_axis: Axis | None = None
    backend: Literal["local", "remote"] = "local"
    mode: Literal["relief", "lithophane"] = "relief"
    resolution: int = Field(default=256, ge=16, le=1024)
    width: float = Field(default=100.0, gt=0, le=1e6)
    depth: float = Field(default=3.0, gt=0, le=1e6)
    base: float = Field(default=1.0, gt=0, le=1e6)
    thumbnail: bool = False
    size: int = Field(default=512, ge=32, le=2048)

    @model_validator(mode="after")
    def _target(self) -> Model3dOptions:
        if self.face_limit is not None and self.ratio is not None:
            raise ValueError("give face_limit or ratio, not both")
        if (self.unit is None) != (self.target_unit is None):
            raise ValueError("give unit and target_unit together")
        if (self.up_axis is None) != (self.target_up_axis is None):
            raise ValueError("give up_axis and target_up_axis together")
        return self

    def factor(self) -> float:
        """What every coordinate is multiplied by: ``scale``, and the unit change."""
        if self.unit is None or self.target_unit is None:
            return self.scale
        return self.scale * METRES[self.unit] / METRES[self.target_unit]


OPTION_SPECS = [
    option(
        "face_limit",
        "integer",
        "decimate, image_to_3d: at most this many triangles in the result",
        minimum=4,
        maximum=100_000_000,
        operations=["decimate", "image_to_3d"],
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
        operations=PLACED,
    ),
    option(
        "scale",
        "number",
        "Multiply every coordinate by this (e.g. 0.001 from millimetres to metres)",
        default="1",
        minimum=0,
        maximum=1e6,
        operations=PLACED,
    ),
    option(
        "fill_holes",
        "boolean",
        "repair: close holes bounded by a single loop of edges",
        default="true",
        operations=["repair"],
    ),
    option(
        "solid",
        "boolean",
        "repair: make one watertight solid of every closed body (manifold3d: overlaps "
        "united, self-intersections resolved); a body still open fails as not_solid",
        default="false",
        operations=["repair"],
    ),
    option(
        "unit",
        "string",
        "The unit the input's coordinates are in (with target_unit: scaled between them)",
        choices=list(METRES),
        operations=PLACED,
    ),
    option(
        "target_unit",
        "string",
        "The unit the output's coordinates are in",
        choices=list(METRES),
        operations=PLACED,
    ),
    option(
        "up_axis",
        "string",
        "The input's up axis (glTF is y-up; STL, OBJ and 3MF are usually z-up)",
        choices=["y", "z"],
        operations=PLACED,
    ),
    option(
        "target_up_axis",
        "string",
        "The output's up axis: the model is turned a quarter about x to get it",
        choices=["y", "z"],
        operations=PLACED,
    ),
    option(
        "backend",
        "string",
        "image_to_3d: local (a height field, offline) or remote (the hosted image-to-3D "
        "API the service is configured with; offered only then)",
        default="local",
        choices=["local", "remote"],
        operations=["image_to_3d"],
    ),
    option(
        "mode",
        "string",
        "image_to_3d: relief (bright is high) or lithophane (dark is thick, to be lit from behind)",
        default="relief",
        choices=["relief", "lithophane"],
        operations=["image_to_3d"],
    ),
    option(
        "resolution",
        "integer",
        "image_to_3d: the picture is resized to at most this many pixels a side, one vertex each",
        default="256",
        minimum=16,
        maximum=1024,
        operations=["image_to_3d"],
    ),
    option(
        "width",
        "number",
        "image_to_3d: the model's width in model units (its depth follows the picture)",
        default="100",
        minimum=0,
        maximum=1e6,
        operations=["image_to_3d"],
    ),
    option(
        "depth",
        "number",
        "image_to_3d: height between the darkest and brightest pixel",
        default="3",
        minimum=0,
        maximum=1e6,
        operations=["image_to_3d"],
    ),
    option(
        "base",
        "number",
        "image_to_3d: thickness under the lowest point",
        default="1",
        minimum=0,
        maximum=1e6,
        operations=["image_to_3d"],
    ),
    option(
        "thumbnail",
        "boolean",
        "Also output a PNG picture of the result",
        default="false",
        operations=[*PLACED, "image_to_3d"],
    ),
    option(
        "size",
        "integer",
        "Width and height of the picture in pixels (thumbnail)",
        default="512",
        minimum=32,
        maximum=2048,
        operations=["thumbnail", *PLACED, "image_to_3d"],
    ),
]
