"""Reading a hostile model with trimesh: the content checked against the accepted
format, sizes checked from the header where the format states them, no file but the
upload ever read, and the result checked for counts and finite coordinates."""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from trimesh.resolvers import Resolver

from transmute_common.archives import check_archive, read_entry
from transmute_common.errors import InvalidInput
from transmute_common.model_sniff import (
    GLB,
    GLTF,
    OBJ,
    OFF,
    PLY,
    STL,
    binary_stl_count,
    sniff_model,
)
from transmute_common.options import require_format
from transmute_model3d.weld import weld

_MEDIA = {"obj": OBJ, "glb": GLB, "gltf": GLTF, "stl": STL, "ply": PLY, "off": OFF}
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_PLY_ELEMENT = re.compile(rb"^element (vertex|face) (\d+)\s*$", re.MULTILINE)


class UploadOnly(Resolver):
    """What a model may reference (an OBJ's material library and textures, a glTF's
    buffers and images): only files of its own upload, a zip package. References that
    try to leave it (absolute paths, ``..``, URLs) are noted and the model is refused;
    others not in the package are missing."""

    def __init__(
        self, package: zipfile.ZipFile | None = None, base: str = "", entries: dict | None = None
    ) -> None:
        self.package, self.base = package, base
        self.entries: dict[str, zipfile.ZipInfo] = entries or {}
        self.refused: list[str] = []
        self.missing: list[str] = []

    def get(self, key: str) -> bytes:
        if key.startswith(("/", "\\")) or ".." in Path(key).parts or _SCHEME.match(key):
            self.refused.append(key)
            raise KeyError(key)
        entry = self.entries.get(posixpath.normpath(posixpath.join(self.base, key)))
        if self.package is None or entry is None:
            self.missing.append(key)
            raise KeyError(key)
        return read_entry(self.package, entry)

    def write(self, name: str, data: Any) -> None:
        raise KeyError(name)

    def namespaced(self, namespace: str) -> UploadOnly:
        return self

    def keys(self) -> list[str]:
        return [n for n in self.entries if posixpath.dirname(n) == self.base]


@dataclass(frozen=True)
class Limits:
    max_vertices: int
    max_faces: int
    max_archive_entries: int
    max_archive_bytes: int


THREEMF_PART = "3D/3dmodel.model"
# The models a zip package may hold (one), by extension; .gltf is JSON with its
# buffers and images beside it.
PACKAGED = {"obj": "obj", "glb": "glb", "gltf": "gltf", "stl": "stl", "ply": "ply", "off": "off"}


def declared_counts(size: int, fmt: str, head: bytes) -> tuple[int, int] | None:
    """(vertices, faces) as the header states them, where the format has one."""
    if fmt == "stl":
        count = binary_stl_count(head)
        if count is None:
            return None  # ASCII: bounded by the upload's size
        return 3 * count, count
    if fmt == "ply":
        end = head.find(b"end_header")
        if end < 0:
            raise InvalidInput("the PLY header does not end", code="invalid_model")
        counts = {m[0]: int(m[1]) for m in _PLY_ELEMENT.findall(head[:end])}
        return counts.get(b"vertex", 0), counts.get(b"face", 0)
    if fmt == "off":
        lines = [ln.split(b"#")[0].strip() for ln in head.splitlines()[1:8]]
        numbers = next((ln.split() for ln in lines if ln), [])
        if len(numbers) >= 2 and all(n.isdigit() for n in numbers[:2]):
            return int(numbers[0]), int(numbers[1])
        raise InvalidInput("the OFF header has no vertex and face counts", code="invalid_model")
    return None


def counts(mesh: trimesh.Trimesh) -> dict[str, int]:
    return {"vertices": len(mesh.vertices), "faces": len(mesh.faces)}


def check_counts(vertices: int, faces: int, max_vertices: int, max_faces: int) -> None:
    if faces > max_faces or vertices > max_vertices:
        raise InvalidInput(
            f"the model has {vertices} vertices and {faces} faces, over the limits of "
            f"{max_vertices} and {max_faces}",
            code="model_too_large",
        )


def load(path: Path, fmt: str, limits: Limits) -> trimesh.Trimesh:
    """The model as one triangle mesh (a scene's parts are joined)."""
    if fmt == "zip":
        return _load_package(path, limits)
    head = require_format(path, fmt, sniff_model, "model")
    if fmt == "3mf":  # a zip of XML parts, read by trimesh from the archive alone
        _check_package(path, limits)
    with path.open("rb") as f:
        return _load(f, fmt, head, path.stat().st_size, UploadOnly(), limits)


def _load_package(path: Path, limits: Limits) -> trimesh.Trimesh:
    """The one model of a zip package, with the files it references from the package."""
    entries = _check_package(path, limits)
    files = {posixpath.normpath(e.filename): e for e in entries if not e.is_dir()}
    if THREEMF_PART in files:  # a 3MF whose model part comes after the sniffed bytes
        with path.open("rb") as f:
            return _load(f, "3mf", b"", path.stat().st_size, UploadOnly(), limits)
    found = [n for n in files if posixpath.splitext(n)[1].lower().lstrip(".") in PACKAGED]
    if len(found) != 1:
        raise InvalidInput(
            f"a model package holds exactly one model; this one holds {len(found)}",
            code="invalid_model",
        )
    [name] = found
    fmt = PACKAGED[posixpath.splitext(name)[1].lower().lstrip(".")]
    with zipfile.ZipFile(path) as package:
        data = read_entry(package, files[name])
        head = data[:8192]
        if sniff_model(head) != _MEDIA[fmt]:
            raise InvalidInput(f"{name} is not a {fmt} model", code="unsupported_input")
        references = UploadOnly(package, posixpath.dirname(name), files)
        return _load(io.BytesIO(data), fmt, head, len(data), references, limits)


def _check_package(path: Path, limits: Limits) -> list[zipfile.ZipInfo]:
    return check_archive(
        path, limits.max_archive_entries, limits.max_archive_bytes, "package", "invalid_model"
    )


def _load(
    source: Any, fmt: str, head: bytes, size: int, references: UploadOnly, limits: Limits
) -> trimesh.Trimesh:
    declared = declared_counts(size, fmt, head)
    if declared is not None:
        check_counts(*declared, limits.max_vertices, limits.max_faces)
        if fmt == "stl":
            _check_stl_size(size, declared[1])
    try:
        loaded = trimesh.load(
            source,
            file_type=fmt,
            resolver=references,
            # Only STL stores each triangle's corners apart (welded below): the others
            # index shared vertices already, and merging a million again costs seconds.
            process=False,
        )
        if isinstance(loaded, trimesh.Scene):  # glTF, 3MF: the parts joined, placed
            loaded = loaded.to_mesh()
    except (ValueError, KeyError, IndexError, TypeError, OSError, EOFError) as exc:
        _refuse_references(references)
        raise InvalidInput(f"the {fmt} model cannot be read: {exc}", code="invalid_model") from None
    _refuse_references(references)
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise InvalidInput(f"the {fmt} file holds no triangles", code="invalid_model")
    check_counts(len(loaded.vertices), len(loaded.faces), limits.max_vertices, limits.max_faces)
    if not np.isfinite(loaded.vertices).all():
        raise InvalidInput("the model has coordinates that are not numbers", code="invalid_model")
    if fmt == "stl":
        loaded = weld(loaded)
    loaded.metadata["missing_references"] = references.missing
    return loaded


def _check_stl_size(size: int, count: int) -> None:
    if size != 84 + 50 * count:
        raise InvalidInput(
            f"the binary STL states {count} triangles but holds {max(size - 84, 0) // 50}",
            code="invalid_model",
        )


def _refuse_references(references: UploadOnly) -> None:
    if references.refused:
        raise InvalidInput(
            f"the model refers to files outside the upload: {references.refused[:3]}",
            code="external_reference",
        )
