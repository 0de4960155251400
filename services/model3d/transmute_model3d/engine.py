"""The 3D engine: trimesh reads, repairs, measures and writes meshes; fast-simplification
decimates them. Runs in the runtime's worker processes, never in the service."""

from __future__ import annotations

import json
from typing import Any

import fast_simplification
import numpy as np
import trimesh

from transmute_common.converter import ConversionTask, Converter, OutputFile, ProgressFn
from transmute_common.errors import InvalidArgument
from transmute_common.formats import BY_NAME
from transmute_common.options import parse_options
from transmute_model3d.config import Model3dSettings
from transmute_model3d.load import load
from transmute_model3d.options import Model3dOptions


class Model3dConverter(Converter):
    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self.config = Model3dSettings.model_validate(self.settings)

    def convert(self, task: ConversionTask, progress: ProgressFn) -> list[OutputFile]:
        opts = parse_options(Model3dOptions, task.options)
        source = task.inputs[0]
        mesh = load(source.path, source.format, self.config.max_vertices, self.config.max_faces)
        progress(0.3, "read")
        if task.operation == "analyze":
            report = analyze(mesh)
            out = task.output_dir / "analysis.json"
            out.write_text(json.dumps(report, indent=2))
            progress(1.0, "analysed")
            return [OutputFile(out, out.name, "application/json", report)]
        details: dict[str, Any] = {"input": counts(mesh)}
        if task.operation == "decimate":
            mesh, details["decimation"] = decimate(mesh, opts)
        elif task.operation == "repair":
            details["repair"] = repair(mesh, opts.fill_holes)
        elif task.operation != "convert":
            raise InvalidArgument(
                f"the model3d service has no operation {task.operation}",
                code="unsupported_operation",
            )
        progress(0.7, task.operation)
        place(mesh, opts)
        target = BY_NAME[task.target]
        out = task.output_dir / f"model.{target.extension}"
        mesh.export(out, file_type=task.target)
        details["output"] = counts(mesh)
        progress(1.0, "written")
        return [OutputFile(out, out.name, target.media_type, details)]


def counts(mesh: trimesh.Trimesh) -> dict[str, int]:
    return {"vertices": len(mesh.vertices), "faces": len(mesh.faces)}


def place(mesh: trimesh.Trimesh, opts: Model3dOptions) -> None:
    if opts.center:
        mesh.apply_translation(-mesh.bounds.mean(axis=0))
    if opts.scale != 1.0:
        mesh.apply_scale(opts.scale)


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


def decimate(mesh: trimesh.Trimesh, opts: Model3dOptions) -> tuple[trimesh.Trimesh, dict[str, Any]]:
    """Fewer triangles by quadric edge collapse; the result's bounding box drift says
    how far the shape moved."""
    before = len(mesh.faces)
    if opts.face_limit is None and opts.ratio is None:
        raise InvalidArgument("decimate needs face_limit or ratio", code="invalid_options")
    wanted = opts.face_limit if opts.face_limit is not None else int(before * (opts.ratio or 1))
    if wanted >= before:
        simplified = mesh
    else:
        points, faces = fast_simplification.simplify(
            mesh.vertices.astype(np.float32),
            mesh.faces.astype(np.int32),
            target_count=wanted,
        )
        simplified = trimesh.Trimesh(points.astype(np.float64), faces, process=False)
    drift = float(np.abs(simplified.bounds - mesh.bounds).max())
    size = float(np.linalg.norm(mesh.extents)) or 1.0
    return simplified, {
        "faces_before": before,
        "faces_after": len(simplified.faces),
        "bounds_drift": round(drift, 6),
        "bounds_drift_ratio": round(drift / size, 6),
    }


def repair(mesh: trimesh.Trimesh, fill_holes: bool) -> dict[str, Any]:
    faces, vertices = len(mesh.faces), len(mesh.vertices)
    mesh.merge_vertices()
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.update_faces(mesh.unique_faces())
    mesh.remove_unreferenced_vertices()
    trimesh.repair.fix_winding(mesh)
    trimesh.repair.fix_normals(mesh)
    if fill_holes:
        trimesh.repair.fill_holes(mesh)
    watertight = bool(mesh.is_watertight)
    return {
        "faces_before": faces,
        "faces_after": len(mesh.faces),
        "vertices_before": vertices,
        "vertices_after": len(mesh.vertices),
        "watertight": watertight,
        "volume": round(float(mesh.volume), 6) if watertight else None,
    }
