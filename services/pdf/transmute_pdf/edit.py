"""Operations that rearrange or rewrite a PDF with pikepdf: merge, split, rotate,
reorder, delete, linearize, protect, unlock, metadata."""

from __future__ import annotations

from contextlib import ExitStack

import pikepdf

from transmute_common.converter import OutputFile
from transmute_common.errors import InvalidArgument
from transmute_pdf import pages
from transmute_pdf.document import bundle, pdf_output, save
from transmute_pdf.task import PdfTask

DOCINFO_KEYS = {"title": "/Title", "author": "/Author", "subject": "/Subject",
                "keywords": "/Keywords"}  # fmt: skip


def merge(task: PdfTask) -> list[OutputFile]:
    out = task.output("merged.pdf")
    # Every source stays open until the merged file is written: pages are copied lazily.
    with ExitStack() as stack:
        merged = stack.enter_context(pikepdf.Pdf.new())
        for i in range(len(task.inputs)):
            merged.pages.extend(stack.enter_context(task.open(i)).pages)
            task.progress((i + 1) / (len(task.inputs) + 1), f"added {i + 1} documents")
        save(merged, out)
        return [pdf_output(out, pages=len(merged.pages), documents=len(task.inputs))]


def split(task: PdfTask) -> list[OutputFile]:
    with task.open() as src:
        count = len(src.pages)
        spec = task.options.pages
        parts = pages.groups(spec, count) if spec else [[i] for i in range(count)]
        outputs = []
        for n, group in enumerate(parts):
            name = (
                f"page-{group[0] + 1}"
                if len(group) == 1
                else f"pages-{group[0] + 1}-{group[-1] + 1}"
            )
            out = task.output(f"{name}.pdf")
            if out.exists():
                out = task.output(f"{name}-{n + 1}.pdf")
            part = pikepdf.Pdf.new()
            part.pages.extend(src.pages[i] for i in group)
            save(part, out)
            part.close()
            outputs.append(pdf_output(out, pages=len(group)))
            task.progress((n + 1) / len(parts), f"wrote {n + 1} of {len(parts)} parts")
    if task.options.bundle:
        return [bundle(outputs, task.output("parts.zip"))]
    return outputs


def rotate(task: PdfTask) -> list[OutputFile]:
    out = task.output("rotated.pdf")
    with task.open() as src:
        chosen = pages.parse(task.options.pages, len(src.pages))
        for i in set(chosen):
            src.pages[i].rotate(task.options.angle, relative=True)
        save(src, out)
        return [pdf_output(out, pages=len(src.pages), rotated=len(set(chosen)))]


def reorder(task: PdfTask) -> list[OutputFile]:
    if not task.options.order:
        raise InvalidArgument("reorder needs the new page order in `order`", code="missing_order")
    out = task.output("reordered.pdf")
    with task.open() as src:
        order = pages.parse(task.options.order, len(src.pages))
        result = pikepdf.Pdf.new()
        result.pages.extend(src.pages[i] for i in order)
        _copy_docinfo(src, result)
        save(result, out)
        result.close()
        return [pdf_output(out, pages=len(order))]


def delete(task: PdfTask) -> list[OutputFile]:
    if not task.options.pages:
        raise InvalidArgument("delete needs the pages to remove in `pages`", code="missing_pages")
    out = task.output("pages-deleted.pdf")
    with task.open() as src:
        doomed = sorted(set(pages.parse(task.options.pages, len(src.pages))), reverse=True)
        if len(doomed) == len(src.pages):
            raise InvalidArgument("every page would be deleted", code="no_pages_left")
        for i in doomed:
            del src.pages[i]
        src.remove_unreferenced_resources()
        save(src, out)
        return [pdf_output(out, pages=len(src.pages), deleted=len(doomed))]


def linearize(task: PdfTask) -> list[OutputFile]:
    out = task.output("linearized.pdf")
    with task.open() as src:
        save(src, out, linearize=True)
        return [pdf_output(out, pages=len(src.pages), linearized=True)]


def protect(task: PdfTask) -> list[OutputFile]:
    opts = task.options
    if not opts.password:
        raise InvalidArgument("protect needs a `password`", code="missing_password")
    out = task.output("protected.pdf")
    # An already encrypted input is opened with the same password.
    with task.open() as src:
        encryption = pikepdf.Encryption(
            user=opts.password, owner=opts.owner_password or opts.password, R=6, aes=True
        )
        try:
            src.save(out, encryption=encryption)
        except pikepdf.PdfError as exc:
            raise InvalidArgument(f"cannot encrypt: {exc}", code="invalid_pdf") from None
        return [pdf_output(out, pages=len(src.pages), encryption="AES-256")]


def unlock(task: PdfTask) -> list[OutputFile]:
    out = task.output("unlocked.pdf")
    with task.open() as src:
        was_encrypted = src.is_encrypted
        save(src, out, keep_encryption=False)
        return [pdf_output(out, pages=len(src.pages), was_encrypted=was_encrypted)]


def metadata(task: PdfTask) -> list[OutputFile]:
    opts = task.options
    values = {k: getattr(opts, k) for k in DOCINFO_KEYS if getattr(opts, k) is not None}
    if opts.metadata != "strip" and not values:
        raise InvalidArgument(
            "metadata needs `metadata: strip` or a value to set (title, author, subject, keywords)",
            code="missing_metadata",
        )
    out = task.output("metadata.pdf")
    with task.open() as src:
        if opts.metadata == "strip":
            strip_metadata(src)
        for key, value in values.items():
            src.docinfo[DOCINFO_KEYS[key]] = value
        if values and "/Metadata" in src.Root:
            # Keep the XMP packet in step with the document information.
            with src.open_metadata(set_pikepdf_as_editor=False) as meta:
                meta.load_from_docinfo(src.docinfo)
        save(src, out)
        return [pdf_output(out, pages=len(src.pages), set=sorted(values))]


def strip_metadata(pdf: pikepdf.Pdf) -> None:
    if "/Metadata" in pdf.Root:
        del pdf.Root.Metadata
    if "/Info" in pdf.trailer:
        del pdf.trailer.Info


def _copy_docinfo(src: pikepdf.Pdf, dst: pikepdf.Pdf) -> None:
    if "/Info" in src.trailer:
        for key, value in src.docinfo.items():
            if isinstance(value, pikepdf.String):
                dst.docinfo[key] = value
