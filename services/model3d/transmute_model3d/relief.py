"""image_to_3d, offline: a picture becomes a solid whose top is a height field (relief:
bright is high; lithophane: dark is thick, for light shining through). The picture
arrives grey and resized by the image service; the solid is closed (top, walls, flat
bottom) so it can be printed as it is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from transmute_common.errors import InvalidInput

MAX_SIDE = 2048  # pixels; the image service resizes to the resolution option first


def read_grey(path: Path) -> np.ndarray:
    """The picture as heights 0..1 (rows top to bottom)."""
    try:
        with Image.open(path) as image:
            if max(image.size) > MAX_SIDE:
                raise InvalidInput(
                    f"the picture is {image.width}x{image.height}, over {MAX_SIDE} a side",
                    code="image_too_large",
                )
            grey = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"the picture cannot be read: {exc}", code="invalid_image") from None
    if min(grey.shape) < 2:
        raise InvalidInput("the picture needs at least 2 x 2 pixels", code="invalid_image")
    return grey


def height_field_solid(
    heights: np.ndarray, width: float, depth: float, base: float, lithophane: bool
) -> trimesh.Trimesh:
    """A closed mesh: ``width`` wide (model units), as deep as the picture's aspect
    says, ``base`` thick under the lowest point and ``depth`` more at the highest."""
    rows, cols = heights.shape
    levels = 1.0 - heights if lithophane else heights
    x = np.linspace(0.0, width, cols)
    y = np.linspace(width * (rows - 1) / (cols - 1), 0.0, rows)  # row 0 is the top edge
    gx, gy = np.meshgrid(x, y)
    top = np.column_stack([gx.ravel(), gy.ravel(), (base + depth * levels).ravel()])
    index = np.arange(rows * cols).reshape(rows, cols)
    a, b = index[:-1, :-1].ravel(), index[:-1, 1:].ravel()
    c, d = index[1:, :-1].ravel(), index[1:, 1:].ravel()
    # Rows run downwards in y: (a, c, b) turns counter-clockwise seen from above.
    top_faces = np.vstack([np.column_stack([a, c, b]), np.column_stack([b, c, d])])
    # The boundary, counter-clockwise seen from above, and a copy of it on the floor.
    ring = np.concatenate(
        [index[-1, :], index[::-1, -1][1:], index[0, ::-1][1:], index[:, 0][1:-1]]
    )
    floor_start = len(top)
    floor = top[ring].copy()
    floor[:, 2] = 0.0
    centre = len(top) + len(ring)
    n = len(ring)
    here, nxt = np.arange(n), (np.arange(n) + 1) % n
    walls = np.vstack(
        [
            np.column_stack([ring[here], floor_start + here, ring[nxt]]),
            np.column_stack([ring[nxt], floor_start + here, floor_start + nxt]),
        ]
    )
    bottom = np.column_stack([np.full(n, centre), floor_start + nxt, floor_start + here])
    vertices = np.vstack([top, floor, [[width / 2, y[0] / 2, 0.0]]])
    faces = np.vstack([top_faces, walls, bottom])
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    trimesh.repair.fix_normals(mesh)  # outward, whatever the walls' winding above
    return mesh
