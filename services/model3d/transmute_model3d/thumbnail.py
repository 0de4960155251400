"""A shaded picture of a model without a GPU or a display: an orthographic view from a
fixed direction above and to the front-right, faces lit by one light and drawn far to
near (painter's algorithm) with Pillow. A model over ``MAX_DRAWN`` faces is decimated
first: at thumbnail sizes the difference does not show."""

from __future__ import annotations

from pathlib import Path

import fast_simplification
import numpy as np
import trimesh
from PIL import Image, ImageDraw

MAX_DRAWN = 50_000
BACKGROUND = (255, 255, 255)
MARGIN = 0.06  # of the picture's side, on each edge
_VIEW = np.array([1.0, -1.4, 1.0]) / np.linalg.norm([1.0, -1.4, 1.0])  # towards the camera
_LIGHT = np.array([0.4, -0.6, 1.0]) / np.linalg.norm([0.4, -0.6, 1.0])
_BASE_COLOUR = np.array([120.0, 150.0, 190.0])


def _camera_axes() -> tuple[np.ndarray, np.ndarray]:
    """Right and up on the picture, for a camera looking along -_VIEW with z up."""
    right = np.cross([0.0, 0.0, 1.0], _VIEW)
    right /= np.linalg.norm(right)
    return right, np.cross(_VIEW, right)


def render(mesh: trimesh.Trimesh, size: int) -> Image.Image:
    if len(mesh.faces) > MAX_DRAWN:
        points, faces = fast_simplification.simplify(
            mesh.vertices.astype(np.float32), mesh.faces.astype(np.int32), target_count=MAX_DRAWN
        )
        mesh = trimesh.Trimesh(points, faces, process=False)
    right, up = _camera_axes()
    vertices = mesh.vertices - mesh.bounds.mean(axis=0)
    x, y, depth = vertices @ right, vertices @ up, vertices @ _VIEW
    span = max(float(np.ptp(x)), float(np.ptp(y))) or 1.0
    scale = size * (1 - 2 * MARGIN) / span
    px = size / 2 + x * scale
    py = size / 2 - y * scale
    normals = mesh.face_normals
    facing = normals @ _VIEW
    # Faces turned away are hidden by nearer ones on a closed, consistently wound mesh.
    shown = facing > 0 if mesh.is_winding_consistent else np.ones(len(mesh.faces), bool)
    faces = mesh.faces[shown]
    light = np.abs(normals[shown] @ _LIGHT)  # two-sided: a flipped face is still lit
    shades = (_BASE_COLOUR * (0.35 + 0.65 * light[:, None])).clip(0, 255).astype(int)
    order = np.argsort(depth[faces].mean(axis=1))  # far first
    image = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for i in order:
        a, b, c = faces[i]
        colour = tuple(int(v) for v in shades[i])
        draw.polygon([(px[a], py[a]), (px[b], py[b]), (px[c], py[c])], fill=colour, outline=colour)
    return image


def write_thumbnail(mesh: trimesh.Trimesh, out: Path, size: int) -> dict[str, int]:
    render(mesh, size).save(out, "PNG", optimize=False, compress_level=6)
    return {"width": size, "height": size}
