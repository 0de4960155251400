"""Test meshes, made here with trimesh primitives or written byte by byte for the
hostile cases (nothing binary is committed for these)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import trimesh

FORMATS = ["stl", "obj", "ply", "off", "glb"]


def write(mesh: trimesh.Trimesh, path: Path, file_type: str = "") -> Path:
    mesh.export(path, file_type=file_type or path.suffix.lstrip("."))
    return path


def box() -> trimesh.Trimesh:
    return trimesh.creation.box(extents=(2.0, 1.0, 0.5))


def sphere(subdivisions: int = 4) -> trimesh.Trimesh:
    return trimesh.creation.icosphere(subdivisions=subdivisions)


def binary_stl(path: Path, triangles: np.ndarray, count: int | None = None) -> Path:
    """A binary STL of ``triangles`` (n x 3 x 3) whose header states ``count``."""
    data = bytearray(b"binary STL made by the tests".ljust(80, b" "))
    data += struct.pack("<I", len(triangles) if count is None else count)
    for tri in triangles:
        data += struct.pack("<12fH", 0, 0, 0, *np.asarray(tri, dtype=np.float32).ravel(), 0)
    path.write_bytes(bytes(data))
    return path


def glb_with_external_buffer(path: Path, uri: str) -> Path:
    """A GLB whose one buffer is read from ``uri`` instead of its own BIN chunk."""
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
    chunk += b" " * (-len(chunk) % 4)
    body = struct.pack("<II", len(chunk), 0x4E4F534A) + chunk
    path.write_bytes(b"glTF" + struct.pack("<II", 2, 12 + len(body)) + body)
    return path
