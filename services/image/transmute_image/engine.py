"""The image engine. Runs inside a worker process (see transmute_common.workers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyvips
from pydantic import ValidationError

from transmute_common.converter import (
    Capabilities,
    Conversion,
    ConversionTask,
    Converter,
    OutputFile,
    ProgressFn,
)
from transmute_common.errors import InvalidArgument, InvalidInput
from transmute_common.formats import BY_NAME
from transmute_image.config import ImageSettings
from transmute_image.options import OPTION_SPECS, ImageOptions

INPUTS = ["jpeg", "png", "webp", "avif", "gif", "tiff", "bmp", "heic", "svg"]
OUTPUTS = ["jpeg", "png", "webp", "avif", "gif", "tiff"]
ANIMATED_OUTPUTS = {"gif", "webp"}
# libvips in the pyvips-binary wheel has no BMP loader and no HEVC decoder.
PILLOW_INPUTS = {"bmp", "heic"}


def _describe(exc: pyvips.Error) -> str:
    detail = (exc.detail or exc.message or "").strip().splitlines()
    return detail[0][:200] if detail else "unreadable image"


class ImageConverter(Converter):
    def __init__(self) -> None:
        self.max_pixels = ImageSettings().max_pixels
        # Every job reads fresh files; libvips' operation cache would only hold memory.
        pyvips.cache_set_max(0)

    def capabilities(self) -> Capabilities:
        return Capabilities(
            service="image",
            conversions=[Conversion(operation="convert", inputs=INPUTS, outputs=OUTPUTS)],
            options=OPTION_SPECS,
        )

    def convert(self, task: ConversionTask, progress: ProgressFn) -> list[OutputFile]:
        try:
            opts = ImageOptions.model_validate(task.options)
        except ValidationError as exc:
            raise InvalidArgument(
                f"invalid options: {exc.errors()[0]['msg']}", code="invalid_options"
            ) from exc
        if task.target not in OUTPUTS:
            raise InvalidArgument(f"cannot write {task.target}", code="unsupported_target")
        source = task.inputs[0]
        out = task.output_dir / f"output.{BY_NAME[task.target].extension}"
        try:
            image = self._load(source.path, source.format, task.target, opts)
            image = self._resize(image, opts)
            # libvips decodes, transforms and encodes in one streaming pass while it
            # saves: its evaluation progress is the conversion's progress.
            image.set_progress(True)
            image.signal_connect("eval", lambda _img, p: progress(p.percent / 100, "encoding"))
            self._save(image, out, task.target, opts)
        except pyvips.Error as exc:
            raise InvalidInput(
                f"cannot decode {source.format} image: {_describe(exc)}", code="invalid_image"
            ) from exc
        progress(1.0, "encoded")
        return [OutputFile(path=out, name=out.name, media_type=BY_NAME[task.target].media_type)]

    # --- load ----------------------------------------------------------------------------

    def _check_pixels(self, width: int, height: int, frames: int) -> None:
        if width * height * max(frames, 1) > self.max_pixels:
            raise InvalidInput(
                f"image is {width}x{height}x{frames} pixels, over the limit of {self.max_pixels}",
                code="image_too_large",
            )

    def _load(self, path: Path, fmt: str, target: str, opts: ImageOptions) -> pyvips.Image:
        if fmt in PILLOW_INPUTS:
            return self._load_with_pillow(path, opts)
        # The header alone is read here: the size check happens before any decoding.
        header = pyvips.Image.new_from_file(str(path), access="sequential", fail_on="truncated")
        frames = header.get_n_pages() if header.get_typeof("n-pages") else 1
        page_height = header.get_page_height()
        animate = target in ANIMATED_OUTPUTS and frames > 1
        self._check_pixels(header.width, page_height, frames if animate else 1)
        load: dict[str, Any] = {"fail_on": "truncated"}
        if animate:
            load["n"] = -1
        rotates = (
            opts.auto_orient
            and header.get_typeof("orientation")
            and header.get("orientation") not in (0, 1)
        )
        # Sequential access streams the image; rotation needs random access.
        load["access"] = "random" if rotates else "sequential"
        image = pyvips.Image.new_from_file(str(path), **load)
        if rotates:
            image = image.autorot()
        return image

    def _load_with_pillow(self, path: Path, opts: ImageOptions) -> pyvips.Image:
        import pillow_heif
        from PIL import Image, ImageOps

        pillow_heif.register_heif_opener()
        Image.MAX_IMAGE_PIXELS = None  # our own check below runs before decoding
        try:
            with Image.open(path) as im:
                self._check_pixels(im.width, im.height, 1)
                img: Image.Image = ImageOps.exif_transpose(im) if opts.auto_orient else im
                has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
                img = img.convert("RGBA" if has_alpha else "RGB")
                data = img.tobytes()
                width, height, bands = img.width, img.height, len(img.getbands())
        except (OSError, ValueError, SyntaxError) as exc:
            raise InvalidInput(f"cannot decode image: {exc}", code="invalid_image") from exc
        return pyvips.Image.new_from_memory(data, width, height, bands, "uchar")

    # --- transform and save -------------------------------------------------------------

    @staticmethod
    def _resize(image: pyvips.Image, opts: ImageOptions) -> pyvips.Image:
        if opts.width is None and opts.height is None:
            return image
        page_height = image.get_page_height()
        width = opts.width or round(image.width * (opts.height or 0) / page_height)
        height = opts.height or round(page_height * width / image.width)
        if opts.fit == "fill":
            return image.thumbnail_image(width, height=height, size="force")
        crop = "centre" if opts.fit == "cover" else "none"
        return image.thumbnail_image(width, height=height, crop=crop)

    @staticmethod
    def _save(image: pyvips.Image, out: Path, target: str, opts: ImageOptions) -> None:
        keep: dict[str, Any] = {"keep": "icc"} if opts.strip else {}
        if target == "jpeg":
            if image.hasalpha():
                image = image.flatten(background=[255, 255, 255])
            image.jpegsave(str(out), Q=opts.quality, optimize_coding=True, **keep)
        elif target == "png":
            image.pngsave(str(out), compression=6, **keep)
        elif target == "webp":
            image.webpsave(str(out), Q=opts.quality, lossless=opts.lossless, effort=4, **keep)
        elif target == "avif":
            image.heifsave(
                str(out),
                Q=opts.quality,
                lossless=opts.lossless,
                compression="av1",
                effort=2,
                **keep,
            )
        elif target == "gif":
            image.gifsave(str(out), **keep)
        elif target == "tiff":
            image.tiffsave(str(out), compression="deflate", **keep)
