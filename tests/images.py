"""Test images, generated on the fly (nothing binary is committed for these)."""

from __future__ import annotations

import io
from pathlib import Path

import pyvips


def gradient(width: int, height: int) -> pyvips.Image:
    x = pyvips.Image.xyz(width, height)
    r = (x[0] * 255 / max(width - 1, 1)).cast("uchar")
    g = (x[1] * 255 / max(height - 1, 1)).cast("uchar")
    return r.bandjoin([g, (r + g) / 2]).cast("uchar")


def jpeg(width: int = 640, height: int = 480, **save: object) -> bytes:
    data: bytes = gradient(width, height).jpegsave_buffer(Q=85, **save)
    return data


def png(width: int = 64, height: int = 48, alpha: bool = False) -> bytes:
    image = gradient(width, height)
    if alpha:
        image = image.bandjoin(128)
    data: bytes = image.pngsave_buffer()
    return data


def animated_gif(frames: int = 4, size: int = 32) -> bytes:
    pages = [gradient(size, size).linear(1, i * 40).cast("uchar") for i in range(frames)]
    strip = pyvips.Image.arrayjoin(pages, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", size)
    data: bytes = strip.gifsave_buffer()
    return data


def many_frames_gif(frames: int, size: int = 4) -> bytes:
    """A GIF whose frames all differ (so no encoder merges them): frame i shows i in
    binary, one pixel a bit. Pillow writes it fast even with thousands of frames."""
    from PIL import Image

    pages = []
    for i in range(frames):
        page = Image.new("L", (size, size))
        page.putdata([255 if i >> bit & 1 else 0 for bit in range(size * size)])
        pages.append(page)
    buf = io.BytesIO()
    pages[0].save(buf, "GIF", save_all=True, append_images=pages[1:], duration=20, optimize=False)
    return buf.getvalue()


def bmp(width: int = 40, height: int = 30) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(buf, format="BMP")
    return buf.getvalue()


def heic(width: int = 48, height: int = 32) -> bytes:
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 30)).save(buf, format="HEIF")
    return buf.getvalue()


def svg(width: int = 120, height: int = 60) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}"><rect width="{width}" height="{height}" fill="teal"/></svg>'
    ).encode()


def bomb_png(side: int = 30000) -> bytes:
    """A tiny PNG that would decode to side x side pixels."""
    data: bytes = pyvips.Image.black(side, side).pngsave_buffer(compression=9)
    return data


def truncated_jpeg() -> bytes:
    data = jpeg(800, 600)
    return data[: len(data) // 2]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def dimensions(data: bytes) -> tuple[int, int, int]:
    """width, page height and number of pages of an encoded image."""
    try:
        image = pyvips.Image.new_from_buffer(data, "", n=-1)
    except pyvips.Error:  # loaders without pages
        image = pyvips.Image.new_from_buffer(data, "")
    pages = image.get_n_pages() if image.get_typeof("n-pages") else 1
    return image.width, image.get_page_height(), pages


def loader(data: bytes) -> str:
    return str(pyvips.Image.new_from_buffer(data, "").get("vips-loader"))
