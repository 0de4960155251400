"""The image engine on generated images, in this process (the service runs it in workers)."""

from pathlib import Path

import pytest

from tests import images
from transmute_common.converter import ConversionTask, InputFile
from transmute_common.errors import InvalidArgument, InvalidInput
from transmute_image.engine import INPUTS, OUTPUTS, ImageConverter


def convert(tmp_path: Path, data: bytes, fmt: str, target: str, **options: object) -> bytes:
    src = images.write(tmp_path / f"in.{fmt}", data)
    out_dir = tmp_path / f"out-{target}-{len(list(tmp_path.iterdir()))}"
    out_dir.mkdir()
    calls: list[float] = []
    task = ConversionTask("convert", [InputFile(src, f"in.{fmt}", fmt)], target, options, out_dir)
    outputs = ImageConverter().convert(task, lambda f, m: calls.append(f))
    assert len(outputs) == 1 and calls and calls[-1] == 1.0
    return outputs[0].path.read_bytes()


SAMPLES = {
    "jpeg": lambda: images.jpeg(64, 48),
    "png": lambda: images.png(64, 48, alpha=True),
    "gif": images.animated_gif,
    "bmp": images.bmp,
    "heic": images.heic,
    "svg": images.svg,
}
LOADERS = {
    "jpeg": "jpegload",
    "png": "pngload",
    "webp": "webpload",
    "avif": "heifload",
    "gif": "gifload",
    "tiff": "tiffload",
}


@pytest.mark.parametrize("source", sorted(SAMPLES))
@pytest.mark.parametrize("target", OUTPUTS)
def test_every_input_to_every_output(tmp_path: Path, source: str, target: str) -> None:
    out = convert(tmp_path, SAMPLES[source](), source, target)
    assert images.loader(out).startswith(LOADERS[target])
    assert set(INPUTS) >= set(SAMPLES)


def test_resize_keeps_aspect_ratio(tmp_path: Path) -> None:
    out = convert(tmp_path, images.jpeg(640, 480), "jpeg", "webp", width=320)
    assert images.dimensions(out)[:2] == (320, 240)


@pytest.mark.parametrize(
    ("fit", "expected"), [("contain", (100, 75)), ("cover", (100, 100)), ("fill", (100, 100))]
)
def test_fit_modes(tmp_path: Path, fit: str, expected: tuple[int, int]) -> None:
    out = convert(tmp_path, images.jpeg(640, 480), "jpeg", "png", width=100, height=100, fit=fit)
    assert images.dimensions(out)[:2] == expected


def test_animation_survives_gif_to_webp_with_resize(tmp_path: Path) -> None:
    out = convert(tmp_path, images.animated_gif(frames=5, size=32), "gif", "webp", width=16)
    assert images.dimensions(out) == (16, 16, 5)


def test_animation_to_still_format_keeps_first_frame(tmp_path: Path) -> None:
    out = convert(tmp_path, images.animated_gif(frames=5, size=32), "gif", "png")
    assert images.dimensions(out) == (32, 32, 1)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    import pyvips

    rotated = images.gradient(60, 40).copy()
    rotated.set_type(pyvips.GValue.gint_type, "orientation", 6)  # 90 degrees clockwise
    data = rotated.jpegsave_buffer()
    assert images.dimensions(convert(tmp_path, data, "jpeg", "png"))[:2] == (40, 60)
    kept = convert(tmp_path, data, "jpeg", "png", auto_orient=False)
    assert images.dimensions(kept)[:2] == (60, 40)


def test_metadata_is_stripped_by_default(tmp_path: Path) -> None:
    import pyvips

    tagged = images.gradient(32, 32).copy()
    tagged.set_type(pyvips.GValue.gstr_type, "exif-ifd0-Artist", "Someone Private")
    data = tagged.jpegsave_buffer()
    assert b"Someone Private" in data
    assert b"Someone Private" not in convert(tmp_path, data, "jpeg", "jpeg")
    assert b"Someone Private" in convert(tmp_path, data, "jpeg", "jpeg", strip=False)


def test_truncated_jpeg_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        convert(tmp_path, images.truncated_jpeg(), "jpeg", "webp")
    assert err.value.code == "invalid_image"


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        convert(tmp_path, images.bomb_png(30000), "png", "webp")
    assert err.value.code == "image_too_large"


def test_bad_options_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as err:
        convert(tmp_path, images.jpeg(32, 32), "jpeg", "webp", quality=500)
    assert err.value.code == "invalid_options"
    with pytest.raises(InvalidArgument):
        convert(tmp_path, images.jpeg(32, 32), "jpeg", "webp", colour="red")


def test_garbage_in_a_png_name_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        convert(tmp_path, b"\x89PNG\r\n\x1a\n" + b"garbage" * 100, "png", "webp")


def test_progress_follows_the_encoder(tmp_path: Path) -> None:
    src = images.write(tmp_path / "big.jpg", images.jpeg(3000, 2000))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    seen: list[float] = []
    task = ConversionTask("convert", [InputFile(src, "big.jpg", "jpeg")], "webp", {}, out_dir)
    ImageConverter().convert(task, lambda f, m: seen.append(f))
    assert len(seen) > 3  # intermediate steps, not just the end
    assert seen == sorted(seen) and seen[-1] == 1.0
