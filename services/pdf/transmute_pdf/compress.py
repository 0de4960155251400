"""compress: lossless (qpdf object streams, unused objects dropped), balanced (also
images downsampled and recompressed as JPEG with Pillow), strong (Ghostscript pdfwrite
under -dSAFER). A result that is not smaller is the original, said so."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
from pathlib import Path

import pikepdf
from pikepdf import Name
from PIL import Image

from transmute_common.converter import OutputFile
from transmute_common.errors import InvalidInput
from transmute_pdf.document import pdf_output, save
from transmute_pdf.edit import strip_metadata
from transmute_pdf.task import PdfTask

MIN_SIDE = 64  # smaller images are left as they are: nothing to gain
RGB_OR_GREY = {"/DeviceRGB": "RGB", "/DeviceGray": "L"}
_PAGE = re.compile(rb"^Page (\d+)")


def compress(task: PdfTask, ghostscript: str | None) -> list[OutputFile]:
    opts = task.options
    started = time.monotonic()
    out = task.output("compressed.pdf")
    with task.open() as pdf:
        count = len(pdf.pages)
        if opts.metadata == "strip":
            strip_metadata(pdf)
        if opts.level == "strong":
            if ghostscript is None:
                raise InvalidInput("Ghostscript is not installed here", code="engine_missing")
            # Ghostscript reads the input as it is when qpdf opened it as it is; an
            # encrypted one, or one whose metadata goes, is rewritten for it first.
            source = task.source.path
            if pdf.is_encrypted or opts.metadata == "strip":
                source = task.output("plain.pdf")
                save(pdf, source, keep_encryption=False)
            _ghostscript(task, ghostscript, source, out, count)
            if source != task.source.path:
                source.unlink()
        else:
            images = _recompress_images(task, pdf) if opts.level == "balanced" else 0
            pdf.remove_unreferenced_resources()
            save(
                pdf,
                out,
                compress_streams=True,
                recompress_flate=True,
                object_stream_mode=pikepdf.ObjectStreamMode.generate,
                progress=lambda pct: task.progress(0.5 + pct / 200, "writing"),
            )
    before, after = task.source.path.stat().st_size, out.stat().st_size
    kept = after >= before
    if kept:
        shutil.copyfile(task.source.path, out)
        after = before
    details = {
        "level": opts.level,
        "input_bytes": before,
        "output_bytes": after,
        "ratio": round(after / before, 4),
        "pages": count,
        "seconds": round(time.monotonic() - started, 3),
        "kept_original": kept,
    }
    if opts.level == "balanced":
        details["images_recompressed"] = images
    return [pdf_output(out, **details)]


def _recompress_images(task: PdfTask, pdf: pikepdf.Pdf) -> int:
    """Each 8-bit RGB or grey image brought down to ``dpi`` over its page and written
    as JPEG when that is smaller. Returns how many were replaced."""
    opts, done, replaced = task.options, set(), 0
    for n, page in enumerate(pdf.pages):
        box = page.mediabox
        width_in = abs(float(box[2]) - float(box[0])) / 72
        height_in = abs(float(box[3]) - float(box[1])) / 72
        for image in page.get_images().values():
            if image.objgen in done:
                continue
            done.add(image.objgen)
            if isinstance(image, pikepdf.Stream) and _shrink(
                image, width_in * opts.dpi, height_in * opts.dpi, opts.image_quality
            ):
                replaced += 1
        task.progress(0.5 * (n + 1) / len(pdf.pages), f"images of page {n + 1}")
    return replaced


def _shrink(image: pikepdf.Stream, max_w: float, max_h: float, quality: int) -> bool:
    mode = RGB_OR_GREY.get(str(image.get("/ColorSpace", "")))
    if (
        mode is None
        or image.get("/BitsPerComponent") != 8
        or "/Decode" in image
        or image.get("/ImageMask", False)
    ):
        return False
    width, height = int(image.Width), int(image.Height)
    if min(width, height) < MIN_SIDE:
        return False
    try:
        pil = pikepdf.PdfImage(image).as_pil_image().convert(mode)
    except (pikepdf.PdfError, NotImplementedError, OSError, ValueError):
        return False  # a filter or layout Pillow cannot read: left as it is
    scale = min(1.0, max_w / width, max_h / height)
    if scale < 0.95:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        pil = pil.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    pil.save(buffer, "JPEG", quality=quality, optimize=True)
    data = buffer.getvalue()
    if len(data) >= len(image.read_raw_bytes()):
        return False
    image.write(data, filter=Name.DCTDecode)
    image.Width, image.Height = pil.size
    image.BitsPerComponent = 8
    if "/DecodeParms" in image:
        del image.DecodeParms
    return True


def ghostscript_command(gs: str, source: Path, out: Path, dpi: int, quality: int) -> list[str]:
    """The Ghostscript command for ``strong``: pdfwrite under -dSAFER, images to ``dpi``
    and recompressed as JPEG at ``quality`` (as a DCT QFactor)."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality  # IJG quality scaling
    qfactor = max(scale / 100, 0.05)
    image_dict = f"<< /QFactor {qfactor:.2f} /Blend 1 /HSamples [2 1 1 2] /VSamples [2 1 1 2] >>"
    return [
        gs,
        "-dSAFER",
        "-dBATCH",
        "-dNOPAUSE",
        "-dNOINTERPOLATE",
        "-sDEVICE=pdfwrite",
        "-dCompatibilityLevel=1.7",
        "-dPDFSETTINGS=/ebook",
        "-dDetectDuplicateImages=true",
        "-dDownsampleColorImages=true",
        "-dDownsampleGrayImages=true",
        "-dDownsampleMonoImages=true",
        f"-dColorImageResolution={dpi}",
        f"-dGrayImageResolution={dpi}",
        f"-dMonoImageResolution={dpi * 2}",
        "-dAutoFilterColorImages=false",
        "-dAutoFilterGrayImages=false",
        "-dColorImageFilter=/DCTEncode",
        "-dGrayImageFilter=/DCTEncode",
        f"-sOutputFile={out}",
        "-c",
        f"<< /ColorImageDict {image_dict} /GrayImageDict {image_dict} >> setdistillerparams",
        "-f",
        str(source),
    ]


def _ghostscript(task: PdfTask, gs: str, source: Path, out: Path, pages: int) -> None:
    args = ghostscript_command(gs, source, out, task.options.dpi, task.options.image_quality)
    log = task.out_dir.parent / "ghostscript.log"
    with log.open("wb") as errors:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
        )
        assert proc.stdout is not None
        for line in proc.stdout:  # "Page 7" as each page is written
            match = _PAGE.match(line)
            if match:
                page = int(match.group(1))
                task.progress(page / pages, f"page {page} of {pages}")
        code = proc.wait()
    if code != 0 or not out.exists():
        tail = log.read_bytes()[-2000:].decode(errors="replace").strip()
        raise InvalidInput(
            "Ghostscript could not rewrite the PDF",
            code="invalid_pdf",
            details={"engine_log": tail},
        )
