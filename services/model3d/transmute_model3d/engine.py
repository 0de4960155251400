"""The 3D engine: trimesh reads, repairs, measures and writes meshes; fast-simplification
decimates them. Runs in the runtime's worker processes, never in the service."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import trimesh
from trimesh.exchange.gltf import export_gltf

from transmute_common.converter import (
    Capabilities,
    ConversionTask,
    Converter,
    OutputFile,
    ProgressFn,
)
from transmute_common.errors import InvalidArgument
from transmute_common.formats import BY_NAME
from transmute_common.options import parse_options
from transmute_model3d.config import Model3dSettings
from transmute_model3d.decimate import decimate
from transmute_model3d.load import Limits, counts, load
from transmute_model3d.options import Model3dOptions
from transmute_model3d.pictures import PictureModels
from transmute_model3d.repair import repair
from transmute_model3d.thumbnail import write_thumbnail


class Model3dConverter(Converter):
    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self.config = Model3dSettings.model_validate(self.settings)
        self.limits = Limits(
            self.config.max_vertices,
            self.config.max_faces,
            self.config.max_archive_entries,
            self.config.max_archive_bytes,
        )
        self.pictures = PictureModels(self.config, self.limits)

    def available(self, declared: Capabilities) -> Capabilities:
        """Without a hosted API configured, image_to_3d offers the local backend only."""
        if self.config.image_to_3d_url:
            return declared
        options = [
            o.model_copy(update={"choices": ["local"]}) if o.name == "backend" else o
            for o in declared.options
        ]
        return declared.model_copy(update={"options": options})

    def convert(self, task: ConversionTask, progress: ProgressFn) -> list[OutputFile]:
        opts = parse_options(Model3dOptions, task.options)
        if task.operation == "image_to_3d":
            return self.pictures.run(task, opts, progress, self._write)
        source = task.inputs[0]
        mesh = load(source.path, source.format, self.limits)
        progress(0.3, "read")
        if task.operation == "analyze":
            report = analyze(mesh)
            out = task.output_dir / "analysis.json"
            out.write_text(json.dumps(report, indent=2))
            progress(1.0, "analysed")
            return [OutputFile(out, out.name, "application/json", report)]
        if task.operation == "thumbnail":
            out = task.output_dir / "thumbnail.png"
            picture = write_thumbnail(mesh, out, opts.size)
            progress(1.0, "drawn")
            return [OutputFile(out, out.name, "image/png", picture)]
        details: dict[str, Any] = {"input": counts(mesh)}
        if mesh.metadata.get("missing_references"):  # named files the package lacks
            details["missing_references"] = mesh.metadata["missing_references"][:20]
        if task.operation == "decimate":
            mesh, details["decimation"] = decimate(mesh, opts)
        elif task.operation == "repair":
            mesh, details["repair"] = repair(mesh, opts.fill_holes, opts.solid)
        elif task.operation != "convert":
            raise InvalidArgument(
                f"the model3d service has no operation {task.operation}",
                code="unsupported_operation",
            )
        progress(0.7, task.operation)
        place(mesh, opts)
        outputs = self._write(mesh, task, opts, "model", details, "thumbnail")
        progress(1.0, "written")
        return outputs

    @staticmethod
    def _write(
        mesh: trimesh.Trimesh,
        task: ConversionTask,
        opts: Model3dOptions,
        stem: str,
        details: dict[str, Any],
        picture_stem: str,
    ) -> list[OutputFile]:
        """The model in the target format, and its picture when asked."""
        target = BY_NAME[task.target]
        out = task.output_dir / f"{stem}.{target.extension}"
        if task.target == "gltf":  # one file: buffers and images as data URIs
            files = export_gltf(trimesh.Scene(mesh), embed_buffers=True)
            out.write_bytes(files["model.gltf"])
        else:
            mesh.export(out, file_type=task.target)
        details["output"] = counts(mesh)
        outputs = [OutputFile(out, out.name, target.media_type, details)]
        if opts.thumbnail:
            picture = task.output_dir / f"{picture_stem}.png"
            size = write_thumbnail(mesh, picture, opts.size)
            outputs.append(OutputFile(picture, picture.name, "image/png", size))
        return outputs


def place(mesh: trimesh.Trimesh, opts: Model3dOptions) -> None:
    """Centre, scale (and change units), then turn to the asked up axis."""
    if opts.center:
        mesh.apply_translation(-mesh.bounds.mean(axis=0))
    if opts.factor() != 1.0:
        mesh.apply_scale(opts.factor())
    if opts.up_axis != opts.target_up_axis:
        # z-up to y-up turns -90 degrees about x (z becomes y); y-up to z-up the other way.
        angle = -np.pi / 2 if opts.target_up_axis == "y" else np.pi / 2
        mesh.apply_transform(trimesh.transformations.rotation_matrix(angle, [1, 0, 0]))


def analyze(mesh: trimesh.Trimesh) -> dict[str, Any]:
    watertight = bool(mesh.is_watertight)
    return {
        **counts(mesh),
        "bodies": int(mesh.body_count),
        # Corners as two lists, not a list of lists: FerretDB stores no nested arrays.
        "bounds_min": mesh.bounds[0].round(6).tolist(),
        "bounds_max": mesh.bounds[1].round(6).tolist(),
        "extents": mesh.extents.round(6).tolist(),
        "area": round(float(mesh.area), 6),
        # Volume means something only for a closed surface.
        "volume": round(float(mesh.volume), 6) if watertight else None,
        "watertight": watertight,
        "winding_consistent": bool(mesh.is_winding_consistent),
        "has_uv": getattr(mesh.visual, "uv", None) is not None,
    }
