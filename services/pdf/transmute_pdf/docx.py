"""to_docx: an editable Word document from a PDF's text, tables and images (pdf2docx,
which reads the page layout with PyMuPDF). Scans give pictures, not text: run ocr first."""

from __future__ import annotations

import logging
import re

from pdf2docx import Converter as Pdf2Docx

from transmute_common.converter import OutputFile
from transmute_common.errors import InvalidInput
from transmute_pdf.task import PdfTask

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_PAGE = re.compile(r"^\((\d+)/(\d+)\) Page")


class _PageProgress(logging.Handler):
    """pdf2docx says where it is only in its log: `[3/4] Parsing pages...` then
    `(i/n) Page p` per page, and the same for `[4/4] Creating pages...`."""

    def __init__(self, task: PdfTask) -> None:
        super().__init__(logging.INFO)
        self.task = task
        self.creating = False

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "Creating pages" in message:
            self.creating = True
        found = _PAGE.match(message)
        if found:
            done, total = int(found[1]), int(found[2])
            share = (done / total + (1 if self.creating else 0)) / 2
            what = "writing pages" if self.creating else "reading the layout"
            self.task.progress(0.05 + 0.9 * share, what)


def to_docx(task: PdfTask) -> list[OutputFile]:
    out = task.output("output.docx")
    # pdf2docx logs on the root logger: for this call, only to the progress.
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers, root.level = [_PageProgress(task)], logging.INFO
    try:
        with task.clear_source() as (source, pages):
            converter = Pdf2Docx(str(source))
            try:
                converter.convert(str(out), multi_processing=False)
            finally:
                converter.close()
    except (ValueError, RuntimeError) as exc:  # what PyMuPDF and pdf2docx raise on bad pages
        raise InvalidInput(f"the PDF could not be laid out as a document: {exc}"[:300],
                           code="invalid_pdf") from None  # fmt: skip
    finally:
        root.handlers, root.level = saved
    if not out.is_file():
        raise InvalidInput("no document could be made from this PDF", code="invalid_pdf")
    return [OutputFile(out, out.name, DOCX, {"pages": pages, "size": out.stat().st_size})]
