"""The 3D engine on generated meshes, in this process (the service runs it in its
confined workers)."""

from __future__ import annotations

import json
import struct
import zipfile
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
        ("gltf", b'{"asset": {"version": "2.0"}, "scenes": [{"nodes": []}]}', "model/gltf+json"),
        ("other json", b'{"asset": "a car", "price": 3}', None),
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


@pytest.mark.parametrize("container", ["glb", "gltf"])
@pytest.mark.parametrize("uri", ["file:///etc/passwd", "../secret.bin", "/etc/passwd"])
def test_a_gltf_reading_an_outside_buffer_is_refused(
    container: str, uri: str, tmp_path: Path
) -> None:
    src = models.glb_with_external_buffer(tmp_path / f"evil.{container}", uri)
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


def _drawn(path: Path) -> np.ndarray:
    """Which pixels of a picture are not background."""
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        pixels = np.asarray(image.convert("RGB"))
    return (pixels != 255).any(axis=2)


def test_a_thumbnail_shows_the_model_shaded(tmp_path: Path) -> None:
    sphere = models.write(models.sphere(4), tmp_path / "ball.glb")
    out = run("thumbnail", sphere, "png", tmp_path, size=256)
    assert out.details == {"width": 256, "height": 256}
    drawn = _drawn(out.path)
    assert drawn.shape == (256, 256)
    # A sphere fills a disc of radius 0.44 of the side: pi * 0.44^2 of the picture.
    assert drawn.mean() == pytest.approx(np.pi * 0.44**2, abs=0.03)
    box = models.write(models.box(), tmp_path / "box.stl")
    from PIL import Image

    with Image.open(run("thumbnail", box, "png", tmp_path, size=128).path) as image:
        colours = {c for _n, c in image.convert("RGB").getcolors(128 * 128) or []}
    assert len(colours - {(255, 255, 255)}) >= 3  # three faces seen, each lit differently


def test_a_thumbnail_rides_along_by_option(tmp_path: Path) -> None:
    src = models.write(models.sphere(6), tmp_path / "big.ply")  # 81 920 faces: drawn decimated
    out_dir = tmp_path / "both"
    out_dir.mkdir()
    task = ConversionTask(
        "convert",
        [InputFile(src, src.name, "ply")],
        "glb",
        {"thumbnail": True, "size": 64},
        out_dir,
    )
    model, picture = Model3dConverter({}).convert(task, lambda *_a, **_k: None)
    assert model.media_type == "model/gltf-binary" and len(read(model.path).faces) == 81920
    assert picture.media_type == "image/png" and _drawn(picture.path).mean() > 0.4


def test_a_package_keeps_its_texture_into_glb(tmp_path: Path) -> None:
    package = models.textured_quad_package(tmp_path / "quad.zip")
    out = run("convert", package, "glb", tmp_path)
    assert "missing_references" not in out.details
    scene = trimesh.load(out.path)
    [quad] = scene.geometry.values()
    texture = quad.visual.material.baseColorTexture
    assert texture.size == (64, 32)
    assert texture.convert("RGB").getpixel((10, 10)) == models.TEXTURE_COLOUR
    assert quad.visual.uv.shape == (4, 2)


def test_a_package_names_what_it_lacks(tmp_path: Path) -> None:
    package = models.textured_quad_package(
        tmp_path / "q.zip", ("material_0.png", "textures/gone.png")
    )
    out = run("convert", package, "stl", tmp_path)
    assert out.details["missing_references"] == ["textures/gone.png"]


@pytest.mark.parametrize("escape", ["../../etc/passwd", "/etc/passwd", "file:///etc/passwd"])
def test_a_package_reference_out_of_it_is_refused(escape: str, tmp_path: Path) -> None:
    package = models.textured_quad_package(tmp_path / "q.zip", ("material_0.png", escape))
    with pytest.raises(InvalidInput) as exc:
        run("convert", package, "glb", tmp_path)
    assert exc.value.code == "external_reference"


def test_packages_are_checked_before_unpacking(tmp_path: Path) -> None:
    package = models.textured_quad_package(tmp_path / "q.zip")
    with pytest.raises(InvalidInput) as exc:
        run("convert", package, "glb", tmp_path, settings={"max_archive_entries": 2})
    assert exc.value.code == "archive_too_large"
    with pytest.raises(InvalidInput) as exc:
        run("convert", package, "glb", tmp_path, settings={"max_archive_bytes": 100})
    assert exc.value.code == "archive_too_large"
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as z:
        z.writestr("a.stl", models.write(models.box(), tmp_path / "a.stl").read_bytes())
        z.writestr("b.ply", models.write(models.box(), tmp_path / "b.ply").read_bytes())
    with pytest.raises(InvalidInput) as exc:
        run("convert", two, "glb", tmp_path)
    assert exc.value.code == "invalid_model" and "holds 2" in str(exc.value)


def test_a_3mf_with_its_model_late_is_read_as_a_package(tmp_path: Path) -> None:
    made = models.write(models.sphere(2), tmp_path / "made.3mf")
    late = tmp_path / "late.zip"
    noise = np.random.default_rng(3).integers(0, 256, 20_000, dtype=np.uint8).tobytes()
    with zipfile.ZipFile(made) as src, zipfile.ZipFile(late, "w") as out:
        out.writestr("Metadata/thumbnail.png", noise)  # pushes the model part past 8 KiB
        for entry in src.infolist():
            out.writestr(entry, src.read(entry))
    head = late.read_bytes()[:8192]
    assert sniff_model(head) is None  # the gateway sees a zip
    out = run("convert", late, "stl", tmp_path)
    assert out.details["output"]["faces"] == 320


def test_a_3mf_bomb_is_refused_before_unpacking(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.3mf"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("3D/3dmodel.model", b"<model>" + b" " * 50_000_000 + b"</model>")
    assert bomb.stat().st_size < 200_000
    with pytest.raises(InvalidInput) as exc:
        run("convert", bomb, "stl", tmp_path, settings={"max_archive_bytes": 10_000_000})
    assert exc.value.code == "archive_too_large"


def test_decimation_keeps_texture_coordinates(tmp_path: Path) -> None:
    src = models.write(models.textured_grid(60), tmp_path / "grid.glb")  # 7200 faces
    out = run("decimate", src, "glb", tmp_path, face_limit=1800)
    assert out.details["decimation"]["uv_kept"] is True
    [grid] = trimesh.load(out.path).geometry.values()
    assert 1782 <= len(grid.faces) <= 1800
    assert grid.visual.material.baseColorTexture.size == (64, 32)
    # The grid's texture coordinates are its x and y: each kept vertex still has its own.
    assert np.abs(grid.visual.uv - grid.vertices[:, :2]).mean() < 0.02


def test_units_and_up_axis(tmp_path: Path) -> None:
    # A 2 x 1 x 0.5 mm box standing on z, as a CAD tool writes STL.
    src = models.write(models.box(), tmp_path / "part.stl")
    out = run(
        "convert", src, "glb", tmp_path, unit="mm", target_unit="m", up_axis="z", target_up_axis="y"
    )
    extents = read(out.path).extents
    # Metres now, and what was up (z, 0.5 mm) is y in the y-up glTF.
    assert np.allclose(extents, [0.002, 0.0005, 0.001])
    inches = run("convert", src, "stl", tmp_path, unit="in", target_unit="mm")
    assert np.allclose(read(inches.path).extents, [50.8, 25.4, 12.7])
    with pytest.raises(InvalidArgument) as exc:
        run("convert", src, "stl", tmp_path, unit="mm")
    assert exc.value.code == "invalid_options"


def _gradient_png(path: Path, width: int = 64, height: int = 32) -> Path:
    """Dark on the left, bright on the right."""
    from PIL import Image

    ramp = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))
    Image.fromarray(ramp, "L").save(path)
    return path


def _pictures(tmp_path: Path, sources: list[Path], target: str, **options: Any) -> tuple:
    out_dir = tmp_path / f"out-{len(list(tmp_path.iterdir()))}"
    out_dir.mkdir()
    seen: list[str] = []
    inputs = [InputFile(p, p.name, "png") for p in sources]
    task = ConversionTask("image_to_3d", inputs, target, options, out_dir)
    outputs = Model3dConverter({}).convert(task, lambda _f, message, **_k: seen.append(message))
    return outputs, seen


@pytest.mark.parametrize("mode", ["relief", "lithophane"])
def test_a_picture_becomes_a_closed_height_field(mode: str, tmp_path: Path) -> None:
    picture = _gradient_png(tmp_path / "ramp.png")
    [out], _ = _pictures(tmp_path, [picture], "stl", mode=mode, width=64, depth=5, base=1)
    solid = read(out.path)
    assert solid.is_watertight and out.details["watertight"] is True
    assert out.details["picture"] == {"width": 64, "height": 32}
    assert np.allclose(solid.extents, [64, 64 * 31 / 63, 6], atol=0.05)
    top = solid.vertices[solid.vertices[:, 2] > 0]
    left = top[top[:, 0] < 5][:, 2].mean()
    right = top[top[:, 0] > 59][:, 2].mean()
    # Relief: the bright right side stands high; lithophane: the dark left is thick.
    assert (right > left + 3) if mode == "relief" else (left > right + 3)


def test_a_batch_of_pictures_gives_a_model_each(tmp_path: Path) -> None:
    pictures = [_gradient_png(tmp_path / f"p{n}.png", 40 + 8 * n, 30) for n in range(3)]
    outputs, seen = _pictures(tmp_path, pictures, "glb", face_limit=500)
    assert [o.name for o in outputs] == ["1-p0.glb", "2-p1.glb", "3-p2.glb"]
    assert [m for m in seen if " of " in m] == ["1 of 3", "2 of 3", "3 of 3"]
    for out in outputs:
        assert out.details["decimation"]["faces_after"] <= 500


def test_a_picture_that_is_not_one_fails_with_a_code(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.png"
    bogus.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises(InvalidInput) as exc:
        _pictures(tmp_path, [bogus], "stl")
    assert exc.value.code == "invalid_image"


def test_repair_makes_one_solid_of_overlapping_bodies(tmp_path: Path) -> None:
    first, second = models.box(), models.box()
    second.apply_translation((1.0, 0.5, 0.25))  # overlaps the first by a quarter
    src = models.write(trimesh.util.concatenate([first, second]), tmp_path / "two.ply")
    out = run("repair", src, "stl", tmp_path, solid=True)
    report = out.details["repair"]
    assert report["bodies_before"] == 2 and report["watertight"] is True
    # Two unit-volume boxes sharing 1 x 0.5 x 0.25: the union holds the overlap once.
    assert report["volume"] == pytest.approx(2 - 0.125)
    assert read(out.path).body_count == 1
    # Without solid the two bodies stay two, their volumes simply added.
    apart = run("repair", src, "stl", tmp_path)
    assert apart.details["repair"]["volume"] == pytest.approx(2.0)


def test_a_body_that_stays_open_is_not_made_a_solid(tmp_path: Path) -> None:
    open_box = models.box()
    open_box.update_faces(np.arange(2, 12))  # a whole side missing: two triangles
    src = models.write(open_box, tmp_path / "open.ply")
    with pytest.raises(InvalidInput) as exc:
        run("repair", src, "stl", tmp_path, solid=True, fill_holes=False)
    assert exc.value.code == "not_solid"
