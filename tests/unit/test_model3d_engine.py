"""The 3D engine on generated meshes, in this process (the service runs it in its
confined workers)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh

from tests import models
from transmute_common.converter import ConversionTask, InputFile, OutputFile
from transmute_common.errors import InvalidArgument, InvalidInput
from transmute_common.model_sniff import sniff_model
from transmute_model3d.engine import Model3dConverter


def run(
    operation: str,
    source: Path,
    target: str,
    work: Path,
    settings: dict[str, Any] | None = None,
    **options: Any,
) -> OutputFile:
    out_dir = work / f"out-{len(list(work.iterdir()))}"
    out_dir.mkdir()
    seen: list[float] = []
    fmt = source.suffix.lstrip(".")
    task = ConversionTask(
        operation, [InputFile(source, source.name, fmt)], target, options, out_dir
    )
    [output] = Model3dConverter(settings).convert(task, lambda f, *_a, **_k: seen.append(f))
    assert seen[-1] == 1.0
    return output


def read(path: Path) -> trimesh.Trimesh:
    mesh = trimesh.load(path, force="mesh")
    assert isinstance(mesh, trimesh.Trimesh)
    return mesh


@pytest.mark.parametrize("source", models.FORMATS)
@pytest.mark.parametrize("target", models.FORMATS)
def test_every_format_converts_to_every_other(source: str, target: str, tmp_path: Path) -> None:
    original = models.sphere(3)
    src = models.write(original, tmp_path / f"in.{source}")
    out = run("convert", src, target, tmp_path)
    assert out.path.suffix == f".{target}"
    assert sniff_model(out.path.read_bytes()[:8192]) == out.media_type
    result = read(out.path)
    # Triangles survive every pair; STL keeps no shared vertices, they are merged again.
    assert len(result.faces) == len(original.faces) == out.details["output"]["faces"]
    assert len(result.vertices) == len(original.vertices)
    assert np.allclose(result.bounds, original.bounds, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("ascii stl", b"solid x\n facet normal 0 0 1\n outer loop\n", "model/stl"),
        ("obj", b"# made by hand\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "model/obj"),
        ("ply", b"ply\nformat ascii 1.0\nelement vertex 3\n", "model/x-ply"),
        ("off", b"OFF\n3 1 0\n", "model/x-off"),
        ("prose", b"very nice text\nthat is not a model\n", None),
        ("obj words", b"v is for vendetta\nand more words here\n", None),
        ("random", bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)), None),
        ("zeros", bytes(4000), None),
        ("long text", b"nothing but words in a row, " * 40, None),
    ],
)
def test_models_are_recognised_by_content(name: str, data: bytes, expected: str | None) -> None:
    assert sniff_model(data) == expected, name


def test_a_binary_stl_is_recognised_by_its_structure(tmp_path: Path) -> None:
    stl = models.write(models.sphere(2), tmp_path / "s.stl")
    assert stl.read_bytes()[:5] != b"solid"
    assert sniff_model(stl.read_bytes()[:8192]) == "model/stl"
    ascii_stl = models.write(models.box(), tmp_path / "a.stl", file_type="stl_ascii")
    assert sniff_model(ascii_stl.read_bytes()) == "model/stl"
    assert run("convert", ascii_stl, "ply", tmp_path).details["input"]["faces"] == 12


def test_analyze_reports_the_shape(tmp_path: Path) -> None:
    out = run("analyze", models.write(models.box(), tmp_path / "b.glb"), "json", tmp_path)
    report = json.loads(out.path.read_text())
    assert report == out.details
    assert report["faces"] == 12 and report["vertices"] == 8 and report["bodies"] == 1
    assert report["watertight"] is True
    assert report["volume"] == pytest.approx(1.0)
    assert report["area"] == pytest.approx(2 * (2 * 1 + 2 * 0.5 + 1 * 0.5))
    assert report["extents"] == [2.0, 1.0, 0.5]


@pytest.mark.parametrize("limit", [2000, 5000])
def test_decimate_meets_the_face_limit(limit: int, tmp_path: Path) -> None:
    src = models.write(models.sphere(5), tmp_path / "sphere.ply")  # 20 480 faces
    out = run("decimate", src, "ply", tmp_path, face_limit=limit)
    faces = len(read(out.path).faces)
    assert limit * 0.99 <= faces <= limit
    report = out.details["decimation"]
    assert report["faces_before"] == 20480 and report["faces_after"] == faces
    assert report["bounds_drift_ratio"] < 0.02  # the sphere keeps its size
    half = run("decimate", src, "stl", tmp_path, ratio=0.5)
    assert half.details["output"]["faces"] == pytest.approx(10240, rel=0.01)
    with pytest.raises(InvalidArgument):
        run("decimate", src, "stl", tmp_path)


def test_repair_closes_a_box_with_a_missing_face(tmp_path: Path) -> None:
    broken = models.box()
    broken.update_faces(np.arange(1, 12))
    assert not broken.is_watertight
    src = models.write(broken, tmp_path / "open.obj")
    out = run("repair", src, "stl", tmp_path)
    assert out.details["repair"]["watertight"] is True
    assert out.details["repair"]["volume"] == pytest.approx(1.0)
    assert read(out.path).is_watertight


def test_center_and_scale(tmp_path: Path) -> None:
    moved = models.box()
    moved.apply_translation((10, 0, 0))
    src = models.write(moved, tmp_path / "m.off")
    out = run("convert", src, "stl", tmp_path, center=True, scale=0.5)
    assert np.allclose(read(out.path).bounds, [[-0.5, -0.25, -0.125], [0.5, 0.25, 0.125]])


HOSTILE_OBJ = {
    "parent path": b"mtllib ../../../etc/passwd\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n",
    "absolute path": b"mtllib /etc/passwd\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n",
    "url": b"mtllib http://127.0.0.1:9/x.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n",
}


@pytest.mark.parametrize("name", list(HOSTILE_OBJ))
def test_references_out_of_the_upload_are_refused(name: str, tmp_path: Path) -> None:
    src = tmp_path / "evil.obj"
    src.write_bytes(HOSTILE_OBJ[name])
    with pytest.raises(InvalidInput) as exc:
        run("convert", src, "stl", tmp_path)
    assert exc.value.code == "external_reference"


@pytest.mark.parametrize("uri", ["file:///etc/passwd", "../secret.bin", "/etc/passwd"])
def test_a_glb_reading_an_outside_buffer_is_refused(uri: str, tmp_path: Path) -> None:
    src = models.glb_with_external_buffer(tmp_path / "evil.glb", uri)
    with pytest.raises(InvalidInput) as exc:
        run("convert", src, "stl", tmp_path)
    assert exc.value.code == "external_reference"


def test_a_reference_inside_the_upload_is_only_missing(tmp_path: Path) -> None:
    src = tmp_path / "plain.obj"
    src.write_bytes(b"mtllib plain.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    assert run("convert", src, "stl", tmp_path).details["output"]["faces"] == 1


def _triangles(n: int) -> np.ndarray:
    return np.tile(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float32), (n, 1, 1))


TRIANGLE = b"v 0 0 0\nv 1 0 0\nv 0 1 0\n"
PLY_HEADER = b"ply\nformat ascii 1.0\nelement vertex 3\n" + b"".join(
    b"property float %s\n" % axis for axis in (b"x", b"y", b"z")
)
HOSTILE: dict[str, tuple[str, bytes, str]] = {
    "nan coordinates": ("n.obj", b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "invalid_model"),
    "inf coordinates": (
        "i.off",
        b"OFF\n3 1 0\ninf 0 0\n1 0 0\n0 1 0\n3 0 1 2\n",
        "invalid_model",
    ),
    "negative index past the start": ("x.obj", TRIANGLE + b"f -1 -2 -9\n", "invalid_model"),
    "ply claiming 10^9 faces": (
        "b.ply",
        PLY_HEADER + b"element face 1000000000\nproperty list uchar int vertex_indices\n"
        b"end_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n",
        "model_too_large",
    ),
    "off claiming 10^9 vertices": ("v.off", b"OFF\n1000000000 1 0\n0 0 0\n", "model_too_large"),
    "glb with no triangles": ("e.glb", b"glTF" + struct.pack("<II", 2, 12), "invalid_model"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_models_fail_with_a_code(name: str, tmp_path: Path) -> None:
    filename, data, code = HOSTILE[name]
    src = tmp_path / filename
    src.write_bytes(data)
    with pytest.raises(InvalidInput) as exc:
        run("convert", src, "glb", tmp_path)
    assert exc.value.code == code, (name, exc.value)


def test_a_truncated_binary_stl_or_one_claiming_2_31_faces_is_refused(tmp_path: Path) -> None:
    cut = models.binary_stl(tmp_path / "t.stl", _triangles(40))
    cut.write_bytes(cut.read_bytes()[:-70])
    with pytest.raises(InvalidInput) as exc:
        run("convert", cut, "glb", tmp_path)
    assert exc.value.code == "invalid_model" and "states 40 triangles" in str(exc.value)
    huge = models.binary_stl(tmp_path / "h.stl", _triangles(2), count=2**31)
    with pytest.raises(InvalidInput) as exc:
        run("convert", huge, "glb", tmp_path)
    assert exc.value.code == "model_too_large"


def test_faces_over_the_limit_are_refused_once_read(tmp_path: Path) -> None:
    src = models.write(models.sphere(3), tmp_path / "s.obj")  # 1280 faces, no header counts
    with pytest.raises(InvalidInput) as exc:
        run("convert", src, "stl", tmp_path, settings={"max_faces": 1000})
    assert exc.value.code == "model_too_large"


def test_a_file_that_changed_type_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "box.glb"
    models.write(models.box(), tmp_path / "box.stl").rename(src)
    with pytest.raises(InvalidInput) as exc:
        run("convert", src, "stl", tmp_path)
    assert exc.value.code == "unsupported_input"
