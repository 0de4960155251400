"""Reading a hostile model with trimesh: the content checked against the accepted
format, sizes checked from the header where the format states them, no file but the
upload ever read, and the result checked for counts and finite coordinates."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from trimesh.resolvers import Resolver

from transmute_common.errors import InvalidInput
from transmute_common.model_sniff import binary_stl_count, sniff_model
from transmute_common.options import require_format

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_PLY_ELEMENT = re.compile(rb"^element (vertex|face) (\d+)\s*$", re.MULTILINE)


class UploadOnly(Resolver):
    """What a model may reference (an OBJ's material library, a glTF's buffers and
    images): nothing outside the upload. References that try to leave it (absolute
    paths, ``..``, URLs) are noted, and the model is refused; others are missing."""

    def __init__(self) -> None:
        self.refused: list[str] = []
        self.missing: list[str] = []

    def get(self, key: str) -> bytes:
        if key.startswith(("/", "\\")) or ".." in Path(key).parts or _SCHEME.match(key):
            self.refused.append(key)
        else:
            self.missing.append(key)
        raise KeyError(key)

    def write(self, name: str, data: Any) -> None:
        raise KeyError(name)

    def namespaced(self, namespace: str) -> UploadOnly:
        return self

    def keys(self) -> list[str]:
        return []


def declared_counts(path: Path, fmt: str, head: bytes) -> tuple[int, int] | None:
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


def check_counts(vertices: int, faces: int, max_vertices: int, max_faces: int) -> None:
    if faces > max_faces or vertices > max_vertices:
        raise InvalidInput(
            f"the model has {vertices} vertices and {faces} faces, over the limits of "
            f"{max_vertices} and {max_faces}",
            code="model_too_large",
        )


def load(path: Path, fmt: str, max_vertices: int, max_faces: int) -> trimesh.Trimesh:
    """The model as one triangle mesh (a scene's parts are joined)."""
    head = require_format(path, fmt, sniff_model, "model")
    declared = declared_counts(path, fmt, head)
    if declared is not None:
        check_counts(*declared, max_vertices, max_faces)
        if fmt == "stl":
            _check_stl_size(path, declared[1])
    references = UploadOnly()
    try:
        with path.open("rb") as f:
            loaded = trimesh.load(f, file_type=fmt, resolver=references, force="mesh")
    except (ValueError, KeyError, IndexError, TypeError, OSError, EOFError) as exc:
        _refuse_references(references)
        raise InvalidInput(f"the {fmt} model cannot be read: {exc}", code="invalid_model") from None
    _refuse_references(references)
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise InvalidInput(f"the {fmt} file holds no triangles", code="invalid_model")
    check_counts(len(loaded.vertices), len(loaded.faces), max_vertices, max_faces)
    if not np.isfinite(loaded.vertices).all():
        raise InvalidInput("the model has coordinates that are not numbers", code="invalid_model")
    loaded.metadata["missing_references"] = references.missing
    return loaded


def _check_stl_size(path: Path, count: int) -> None:
    size = path.stat().st_size
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
