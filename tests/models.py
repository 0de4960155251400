"""Test meshes, made here with trimesh primitives or written byte by byte for the
hostile cases (nothing binary is committed for these)."""

from __future__ import annotations

import json
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image
from trimesh.exchange.gltf import export_gltf

FORMATS = ["stl", "obj", "ply", "off", "glb", "gltf", "3mf"]


def write(mesh: trimesh.Trimesh, path: Path, file_type: str = "") -> Path:
    file_type = file_type or path.suffix.lstrip(".")
    if file_type == "gltf":  # one file, buffers embedded
        path.write_bytes(export_gltf(trimesh.Scene(mesh), embed_buffers=True)["model.gltf"])
    else:
        mesh.export(path, file_type=file_type)
    return path


def box() -> trimesh.Trimesh:
    return trimesh.creation.box(extents=(2.0, 1.0, 0.5))


def sphere(subdivisions: int = 4) -> trimesh.Trimesh:
    return trimesh.creation.icosphere(subdivisions=subdivisions)


TEXTURE_COLOUR = (200, 40, 40)


def textured_quad_package(path: Path, mtl_edit: tuple[str, str] | None = None) -> Path:
    """A zip of an OBJ quad, its MTL and its PNG texture (in a folder, as exporters
    write them); ``mtl_edit`` replaces a text in the MTL."""
    uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    visual = trimesh.visual.TextureVisuals(uv=uv, image=Image.new("RGB", (64, 32), TEXTURE_COLOUR))
    quad = trimesh.Trimesh(
        [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]],
        [[0, 1, 2], [0, 2, 3]],
        visual=visual,
        process=False,
    )
    with tempfile.TemporaryDirectory() as work:
        quad.export(Path(work) / "quad.obj")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for file in sorted(Path(work).iterdir()):
                data = file.read_bytes()
                if mtl_edit and file.suffix == ".mtl":
                    data = data.replace(mtl_edit[0].encode(), mtl_edit[1].encode())
                z.writestr(f"model/{file.name}", data)
    return path


def textured_grid(cells: int) -> trimesh.Trimesh:
    """A gently waved square of ``cells`` x ``cells`` quads whose texture coordinates
    are its x and y (0..1), textured with TEXTURE_COLOUR."""
    ticks = np.linspace(0.0, 1.0, cells + 1)
    x, y = np.meshgrid(ticks, ticks)
    z = 0.05 * np.sin(6 * x) * np.cos(5 * y)
    vertices = np.column_stack([x.ravel(), y.ravel(), z.ravel()])
    corner = (np.arange(cells)[:, None] * (cells + 1) + np.arange(cells)[None, :]).ravel()
    faces = np.vstack(
        [
            np.column_stack([corner, corner + 1, corner + cells + 2]),
            np.column_stack([corner, corner + cells + 2, corner + cells + 1]),
        ]
    )
    image = Image.new("RGB", (64, 32), TEXTURE_COLOUR)
    visual = trimesh.visual.TextureVisuals(uv=vertices[:, :2].copy(), image=image)
    return trimesh.Trimesh(vertices, faces, visual=visual, process=False)


def torus(faces: int) -> trimesh.Trimesh:
    """A torus subdivided to at least ``faces`` triangles (2 x 250 x 125 times a power
    of 4: 62 500, 250 000, 1 000 000...)."""
    mesh = trimesh.creation.torus(major_radius=1.0, minor_radius=0.3,
                                  major_sections=250, minor_sections=125)  # fmt: skip
    while len(mesh.faces) < faces:
        mesh = mesh.subdivide()
    return mesh


def binary_stl(path: Path, triangles: np.ndarray, count: int | None = None) -> Path:
    """A binary STL of ``triangles`` (n x 3 x 3) whose header states ``count``."""
    data = bytearray(b"binary STL made by the tests".ljust(80, b" "))
    data += struct.pack("<I", len(triangles) if count is None else count)
    for tri in triangles:
        data += struct.pack("<12fH", 0, 0, 0, *np.asarray(tri, dtype=np.float32).ravel(), 0)
    path.write_bytes(bytes(data))
    return path


def glb_with_external_buffer(path: Path, uri: str) -> Path:
    """A GLB (or, named .gltf, a glTF) whose one buffer is read from ``uri`` instead of
    its own BIN chunk."""
    gltf = {
        "asset": {"version": "2.0"},
        "buffers": [{"uri": uri, "byteLength": 36}],
        "bufferViews": [{"buffer": 0, "byteLength": 36}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
             "min": [0, 0, 0], "max": [1, 1, 0]}
        ],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "nodes": [{"mesh": 0}],
        "scenes": [{"nodes": [0]}],
        "scene": 0,
    }  # fmt: skip
    chunk = json.dumps(gltf).encode()
    if path.suffix == ".gltf":
        path.write_bytes(chunk)
        return path
    chunk += b" " * (-len(chunk) % 4)
    body = struct.pack("<II", len(chunk), 0x4E4F534A) + chunk
    path.write_bytes(b"glTF" + struct.pack("<II", 2, 12 + len(body)) + body)
    return path
