"""Decimation by quadric edge collapse (fast-simplification). A textured mesh keeps its
texture: the collapses are replayed to learn which original vertex each kept vertex
stands for, and that vertex's texture coordinates go with it."""

from __future__ import annotations

from typing import Any

import fast_simplification
import numpy as np
import trimesh

from transmute_common.errors import InvalidArgument
from transmute_model3d.options import Model3dOptions


def decimate(mesh: trimesh.Trimesh, opts: Model3dOptions) -> tuple[trimesh.Trimesh, dict[str, Any]]:
    """Fewer triangles; the result's bounding box drift says how far the shape moved."""
    before = len(mesh.faces)
    if opts.face_limit is None and opts.ratio is None:
        raise InvalidArgument("decimate needs face_limit or ratio", code="invalid_options")
    wanted = opts.face_limit if opts.face_limit is not None else int(before * (opts.ratio or 1))
    uv = getattr(mesh.visual, "uv", None)
    if wanted >= before:
        simplified = mesh
    elif uv is not None and len(uv) == len(mesh.vertices):
        simplified = _with_uv(mesh, np.asarray(uv), wanted)
    else:
        points, faces = fast_simplification.simplify(
            mesh.vertices.astype(np.float32), mesh.faces.astype(np.int32), target_count=wanted
        )
        simplified = trimesh.Trimesh(points.astype(np.float64), faces, process=False)
    before_box, after_box = _box(mesh.vertices), _box(simplified.vertices)
    drift = float(np.abs(after_box - before_box).max())
    size = float(np.linalg.norm(before_box[1] - before_box[0])) or 1.0
    return simplified, {
        "faces_before": before,
        "faces_after": len(simplified.faces),
        "uv_kept": getattr(simplified.visual, "uv", None) is not None,
        "bounds_drift": round(drift, 6),
        "bounds_drift_ratio": round(drift / size, 6),
    }


def _box(points: np.ndarray) -> np.ndarray:
    """Lowest and highest corner, from the plain array (trimesh's cached bounds hash
    the whole array first)."""
    plain = np.asarray(points).view(np.ndarray)
    return np.stack([plain.min(axis=0), plain.max(axis=0)])


def _with_uv(mesh: trimesh.Trimesh, uv: np.ndarray, wanted: int) -> trimesh.Trimesh:
    points, triangles = mesh.vertices.astype(np.float32), mesh.faces.astype(np.int32)
    _p, _f, collapses = fast_simplification.simplify(
        points, triangles, target_count=wanted, return_collapses=True
    )
    kept, faces, mapping = fast_simplification.replay_simplification(points, triangles, collapses)
    new_uv = np.zeros((len(kept), 2))
    stands_for = mapping >= 0
    new_uv[mapping[stands_for]] = uv[stands_for]
    material = getattr(mesh.visual, "material", None)
    visual = trimesh.visual.TextureVisuals(uv=new_uv, material=material)
    return trimesh.Trimesh(kept.astype(np.float64), faces, visual=visual, process=False)
