"""The image engine on generated images, in this process (the service runs it in workers)."""

from pathlib import Path

import pytest

from tests import images
from transmute_common.converter import ConversionTask, InputFile
from transmute_common.errors import InvalidArgument, InvalidInput
from transmute_image.capabilities import INPUTS, OUTPUTS
from transmute_image.config import ImageSettings
from transmute_image.engine import ImageConverter


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


def test_a_file_is_read_only_as_the_format_it_was_sniffed_as(tmp_path: Path) -> None:
    # A libvips-native file handed over as a JPEG: libvips' own detection would load it.
    native = tmp_path / "native.v"
    images.gradient(16, 16).vipssave(str(native))
    with pytest.raises(InvalidInput) as err:
        convert(tmp_path, native.read_bytes(), "jpeg", "png")
    assert err.value.code == "invalid_image"


def test_untrusted_loaders_are_blocked_in_the_engine(tmp_path: Path) -> None:
    import pyvips

    ImageConverter()
    native = tmp_path / "native.v"
    images.gradient(8, 8).vipssave(str(native))
    with pytest.raises(pyvips.Error):
        pyvips.Image.new_from_file(str(native))
    svg = convert(tmp_path, images.svg(40, 20), "svg", "png")  # SVG stays, explicitly
    assert images.dimensions(svg)[:2] == (40, 20)


def test_output_pixels_are_capped_like_input_pixels(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as err:
        convert(tmp_path, images.png(4, 4), "png", "png", width=65535, height=65535, fit="fill")
    assert err.value.code == "invalid_options" and "over the limit" in err.value.message
    with pytest.raises(InvalidArgument):
        convert(tmp_path, images.animated_gif(frames=5, size=8), "gif", "gif", width=10000)
    grown = convert(tmp_path, images.png(4, 4), "png", "png", width=400)
    assert images.dimensions(grown)[:2] == (400, 400)


def test_every_frame_within_the_budget_is_converted(tmp_path: Path) -> None:
    out = convert(tmp_path, images.many_frames_gif(300), "gif", "webp")
    assert images.dimensions(out)[2] == 300


@pytest.mark.parametrize("frames", [1001, 12_000])  # libvips itself reports 1 past 10000
def test_more_frames_than_the_budget_fail_instead_of_dropping_some(
    tmp_path: Path, frames: int
) -> None:
    with pytest.raises(InvalidInput) as err:
        convert(tmp_path, images.many_frames_gif(frames), "gif", "gif")
    assert err.value.code == "too_many_frames"
    assert str(frames) in err.value.message


def test_frame_budget_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The service reads its variables; the engine (in a worker with a scrubbed
    # environment) gets them as its settings.
    monkeypatch.setenv("TRANSMUTE_MAX_FRAMES", "20")
    engine = ImageConverter(ImageSettings().engine_settings())
    src = images.write(tmp_path / "in.gif", images.many_frames_gif(21))
    (tmp_path / "out").mkdir()
    inputs = [InputFile(src, "in.gif", "gif")]
    task = ConversionTask("convert", inputs, "webp", {}, tmp_path / "out")
    with pytest.raises(InvalidInput) as err:
        engine.convert(task, lambda f, m: None)
    assert err.value.code == "too_many_frames"


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


def test_grayscale_gives_one_grey_band(tmp_path: Path) -> None:
    import pyvips

    out = convert(tmp_path, images.png(64, 48, alpha=True), "png", "png", grayscale=True)
    image = pyvips.Image.new_from_buffer(out, "")
    assert image.bands == 1 and image.interpretation == "b-w"
    colour = pyvips.Image.new_from_buffer(convert(tmp_path, images.jpeg(64, 48), "jpeg", "png"), "")
    assert colour.bands == 3
