"""The image engine. Runs inside a worker process (see transmute_common.workers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyvips

from transmute_common.converter import (
    Capabilities,
    ConversionTask,
    Converter,
    OutputFile,
    ProgressFn,
)
from transmute_common.errors import InvalidArgument, InvalidInput, scrubbed
from transmute_common.formats import BY_NAME
from transmute_common.options import parse_options
from transmute_image.capabilities import OUTPUTS
from transmute_image.config import ImageSettings
from transmute_image.options import ImageOptions

ANIMATED_OUTPUTS = {"gif", "webp"}
# libvips in the pyvips-binary wheel has no BMP loader and no HEVC decoder.
PILLOW_INPUTS = {"bmp", "heic"}
# The libvips operation each format needs, to check the libvips at hand has it.
LOADERS = {
    "jpeg": "jpegload",
    "png": "pngload",
    "webp": "webpload",
    "avif": "heifload",
    "gif": "gifload",
    "tiff": "tiffload",
    "svg": "svgload",
}
SAVERS = {
    "jpeg": "jpegsave",
    "png": "pngsave",
    "webp": "webpsave",
    "avif": "heifsave",
    "gif": "gifsave",
    "tiff": "tiffsave",
}


def _describe(exc: pyvips.Error) -> str:
    return scrubbed(exc.detail or exc.message or "") or "unreadable image"


def _has(operation: str) -> bool:
    return bool(pyvips.type_find("VipsOperation", operation))


class ImageConverter(Converter):
    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        config = ImageSettings.model_validate(self.settings)
        self.max_pixels = config.max_pixels
        self.max_frames = config.max_frames
        # Every job reads fresh files; libvips' operation cache would only hold memory.
        pyvips.cache_set_max(0)
        # The operations libvips itself marks untrusted (vipsload, csvload, rawload,
        # matload, ...) are refused; SVG stays, but only through its explicit loader,
        # called for files sniffed as SVG, in this confined worker.
        pyvips.block_untrusted_set(True)
        pyvips.operation_block_set("VipsForeignLoadSvg", False)

    def available(self, declared: Capabilities) -> Capabilities:
        lacking_in = {f for f, op in LOADERS.items() if not _has(op)}
        lacking_out = {f for f, op in SAVERS.items() if not _has(op)}
        return declared.without(lacking_in, lacking_out)

    def convert(self, task: ConversionTask, progress: ProgressFn) -> list[OutputFile]:
        opts = parse_options(ImageOptions, task.options)
        if task.target not in OUTPUTS:
            raise InvalidArgument(f"cannot write {task.target}", code="unsupported_target")
        source = task.inputs[0]
        out = task.output_dir / f"output.{BY_NAME[task.target].extension}"
        try:
            image = self._load(source.path, source.format, task.target, opts)
            image = self._resize(image, opts)
            if opts.grayscale:
                if image.hasalpha():
                    image = image.flatten(background=[255, 255, 255])
                image = image.colourspace("b-w")
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
        # The loader of the sniffed format, never libvips' own detection: a file is read
        # only as what it was accepted as.
        loader = getattr(pyvips.Image, LOADERS[fmt])
        # The header alone is read here: the size check happens before any decoding.
        header = loader(str(path), access="sequential", fail_on="truncated")
        # The raw count: libvips' get_n_pages() says 1 for more than 10000 pages.
        frames = int(header.get("n-pages")) if header.get_typeof("n-pages") else 1
        animate = target in ANIMATED_OUTPUTS and frames > 1
        if animate and frames > self.max_frames:
            raise InvalidInput(
                f"the animation has {frames} frames, over the limit of {self.max_frames}",
                code="too_many_frames",
            )
        page_height = header.get_page_height()
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
        image = loader(str(path), **load)
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
            raise InvalidInput(
                f"cannot decode image: {scrubbed(str(exc))}", code="invalid_image"
            ) from exc
        return pyvips.Image.new_from_memory(data, width, height, bands, "uchar")

    # --- transform and save -------------------------------------------------------------

    def _resize(self, image: pyvips.Image, opts: ImageOptions) -> pyvips.Image:
        if opts.width is None and opts.height is None:
            return image
        page_height = image.get_page_height()
        width = opts.width or round(image.width * (opts.height or 0) / page_height)
        height = opts.height or round(page_height * width / image.width)
        # The output is held to the same pixel budget as the input: a tiny image asked
        # to grow to 65535 x 65535 is refused, not rendered.
        pages = image.height // page_height
        if width * height * pages > self.max_pixels:
            raise InvalidArgument(
                f"the output would be {width}x{height}x{pages} pixels, over the limit of "
                f"{self.max_pixels}",
                code="invalid_options",
            )
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
