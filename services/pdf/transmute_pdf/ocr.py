"""ocr: a searchable PDF from scanned pages (OCRmyPDF, which runs Tesseract). Pages
that already have text are kept as they are; skewed and sideways pages are set right.

PDF/A output needs Ghostscript, and OCRmyPDF refuses the Ghostscript of Debian 12
(10.0.0) for documents with text: the result is a plain PDF with a text layer."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import ocrmypdf
import pikepdf
import pypdfium2 as pdfium
from ocrmypdf import exceptions as ocr_errors

from transmute_common.converter import OutputFile
from transmute_common.errors import InvalidArgument, InvalidInput, TransmuteError
from transmute_pdf import ocr_progress
from transmute_pdf.task import PdfTask

# OCRmyPDF logs each page at INFO on the root logger: the job's progress says it.
logging.getLogger("ocrmypdf").setLevel(logging.WARNING)


def ocr(task: PdfTask) -> list[OutputFile]:
    languages = task.options.language.split("+")
    unknown = sorted(set(languages) - set(task.settings.ocr_languages))
    if unknown:
        raise InvalidArgument(
            f"no OCR language {', '.join(unknown)} here (installed: "
            f"{', '.join(task.settings.ocr_languages)})",
            code="invalid_options",
        )
    out = task.output("output.pdf")
    task.progress(0.05, "reading pages")
    ocr_progress.report_to(task.progress)
    try:
        with task.clear_source() as (source, pages):
            ocrmypdf.ocr(
                source,
                out,
                language=languages,
                deskew=task.options.deskew,
                rotate_pages=task.options.rotate_pages,
                skip_text=True,
                output_type="pdf",
                jobs=1,
                progress_bar=True,
                plugins=[ocr_progress.__name__],
            )
    except ocr_errors.DigitalSignatureError:
        raise InvalidInput(
            "the PDF is digitally signed: OCR would break the signature", code="pdf_signed"
        ) from None
    except (ocr_errors.InputFileError, ocr_errors.EncryptedPdfError) as exc:
        raise InvalidInput(f"OCR cannot read this PDF: {exc}"[:300], code="invalid_pdf") from None
    except ocr_errors.ExitCodeException as exc:
        raise TransmuteError(f"OCR failed: {exc}"[:300], code="engine_failure") from None
    finally:
        ocr_progress.report_to(None)
    return [OutputFile(out, out.name, "application/pdf", _details(out, pages, languages))]


def _details(out: Path, pages: int, languages: list[str]) -> dict[str, Any]:
    doc = pdfium.PdfDocument(out)
    try:
        chars = sum(len(doc[i].get_textpage().get_text_bounded().strip()) for i in range(len(doc)))
    finally:
        doc.close()
    with pikepdf.open(out) as result:
        assert len(result.pages) == pages
    return {"pages": pages, "languages": languages, "text_characters": chars}
