"""Pages as pictures and text (pypdfium2), and pictures as pages (img2pdf)."""

from __future__ import annotations

import io
from pathlib import Path

import img2pdf
import pypdfium2 as pdfium
from PIL import Image

from transmute_common.converter import OutputFile
from transmute_common.errors import InvalidInput
from transmute_pdf import pages
from transmute_pdf.document import bundle, pdf_output
from transmute_pdf.task import PdfTask

IMAGE_TYPES = {"png": ("PNG", "image/png", "png"), "jpeg": ("JPEG", "image/jpeg", "jpg")}


def _open(task: PdfTask) -> pdfium.PdfDocument:
    """pypdfium2's view of the input, which pikepdf has already checked (password,
    damage, page count)."""
    with task.open():
        pass
    try:
        return pdfium.PdfDocument(task.source.path, password=task.options.password)
    except pdfium.PdfiumError as exc:
        raise InvalidInput(f"the PDF cannot be rendered: {exc}", code="invalid_pdf") from None


def to_images(task: PdfTask, target: str) -> list[OutputFile]:
    pil_format, media_type, extension = IMAGE_TYPES[target]
    scale = task.options.dpi / 72
    doc = _open(task)
    try:
        chosen = pages.parse(task.options.pages, len(doc))
        outputs = []
        for n, index in enumerate(chosen):
            page = doc[index]
            width, height = page.get_size()
            pixels = width * scale * height * scale
            if pixels > task.settings.max_page_pixels:
                raise InvalidInput(
                    f"page {index + 1} at {task.options.dpi} DPI would be "
                    f"{pixels / 1e6:.0f} megapixels, over the limit of "
                    f"{task.settings.max_page_pixels / 1e6:.0f}",
                    code="page_too_large",
                )
            image = page.render(scale=scale, may_draw_forms=False).to_pil()
            page.close()
            out = task.output(f"page-{index + 1}.{extension}")
            if out.exists():  # a page named twice in `pages`
                out = task.output(f"page-{index + 1}-{n + 1}.{extension}")
            image.convert("RGB").save(out, pil_format, **_encoder(pil_format, task.intermediate))
            outputs.append(
                OutputFile(out, out.name, media_type, {"page": index + 1, "size": image.size})
            )
            task.progress((n + 1) / len(chosen), f"rendered page {index + 1}")
    finally:
        doc.close()
    if task.options.bundle:
        return [bundle(outputs, task.output("pages.zip"))]
    return outputs


def _encoder(pil_format: str, intermediate: bool) -> dict[str, object]:
    if pil_format == "PNG":
        # zlib level 1 is five times faster than 6 on a rendered page and only about
        # 10 % larger: right for pages the image service decodes a moment later.
        return {"compress_level": 1 if intermediate else 6}
    return {"quality": 90}


def to_text(task: PdfTask) -> list[OutputFile]:
    """The text layer, pages separated by a form feed (as pdftotext does)."""
    texts = page_texts(task)
    out = task.output("text.txt")
    out.write_text("\f".join(texts) + "\n", encoding="utf-8")
    characters = sum(len(text) for text in texts)
    return [
        OutputFile(out, out.name, "text/plain", {"pages": len(texts), "characters": characters})
    ]


def page_texts(task: PdfTask, share: float = 1.0) -> list[str]:
    """The text layer of the chosen pages (``pages`` option), reported as the first
    ``share`` of the job's progress."""
    doc = _open(task)
    try:
        chosen = pages.parse(task.options.pages, len(doc))
        texts = []
        for n, index in enumerate(chosen):
            page = doc[index]
            texts.append(page.get_textpage().get_text_bounded().replace("\r\n", "\n"))
            page.close()
            task.progress(share * (n + 1) / len(chosen), f"read page {index + 1}")
        return texts
    finally:
        doc.close()


def from_images(task: PdfTask) -> list[OutputFile]:
    """Each image one page, in the order given; JPEG and PNG data are embedded as they
    are. Images with transparency are flattened onto white first."""
    Image.MAX_IMAGE_PIXELS = task.settings.max_page_pixels
    sources: list[Path | bytes] = []
    for n, source in enumerate(task.inputs):
        sources.append(_embeddable(source.path, source.name))
        task.progress(0.8 * (n + 1) / len(task.inputs), f"read {n + 1} images")
    out = task.output("images.pdf")
    try:
        data = img2pdf.convert(sources)
    except (img2pdf.ImageOpenError, ValueError, OSError) as exc:
        raise InvalidInput(f"an image cannot be placed: {exc}", code="invalid_image") from None
    out.write_bytes(data)
    return [pdf_output(out, pages=len(sources))]


def _embeddable(path: Path, name: str) -> Path | bytes:
    try:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                flat = Image.new("RGB", image.size, "white")
                flat.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
                buffer = io.BytesIO()
                flat.save(buffer, "PNG")
                return buffer.getvalue()
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InvalidInput(f"{name} is not a readable image: {exc}", code="invalid_image") from None
    return path
