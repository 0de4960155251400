"""Opening hostile PDFs with pikepdf (qpdf): passwords, damage, page limits, and the
result that is written back."""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pikepdf

from transmute_common.converter import OutputFile
from transmute_common.errors import InvalidInput

PDF = "application/pdf"


def _reason(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


@contextmanager
def open_pdf(path: Path, password: str | None, max_pages: int) -> Iterator[pikepdf.Pdf]:
    """The document, checked: it opens (with ``password`` if encrypted), it has pages
    and no more than ``max_pages``. qpdf repairs what it can (a broken or looping xref
    table); what it cannot is ``invalid_pdf``."""
    try:
        with warnings.catch_warnings():  # a password given for a document without one
            warnings.simplefilter("ignore", UserWarning)
            pdf = pikepdf.open(path, password=password or "")
    except pikepdf.PasswordError:
        if password:
            raise InvalidInput(
                "the password does not open this PDF", code="password_incorrect"
            ) from None
        raise InvalidInput(
            "the PDF is encrypted: give its password", code="password_required"
        ) from None
    except (pikepdf.PdfError, RecursionError, ValueError) as exc:
        raise InvalidInput(f"not a readable PDF: {_reason(exc)}", code="invalid_pdf") from None
    try:
        try:
            count = len(pdf.pages)
        except (pikepdf.PdfError, RecursionError) as exc:
            raise InvalidInput(
                f"the page tree is damaged: {_reason(exc)}", code="invalid_pdf"
            ) from None
        if count == 0:
            raise InvalidInput("the PDF has no pages", code="invalid_pdf")
        if count > max_pages:
            raise InvalidInput(
                f"the PDF has {count} pages, over the limit of {max_pages}", code="page_limit"
            )
        yield pdf
    finally:
        pdf.close()


def save(pdf: pikepdf.Pdf, out: Path, *, keep_encryption: bool = True, **kw: object) -> None:
    """Writes ``pdf`` to ``out``; an encrypted input stays encrypted the same way
    unless told otherwise."""
    encryption = bool(keep_encryption and pdf.is_encrypted)
    try:
        pdf.save(out, encryption=encryption, **kw)  # type: ignore[arg-type]
    except (pikepdf.PdfError, RecursionError) as exc:
        raise InvalidInput(
            f"the PDF cannot be rewritten: {_reason(exc)}", code="invalid_pdf"
        ) from None


def pdf_output(path: Path, **details: object) -> OutputFile:
    return OutputFile(path, path.name, PDF, dict(details))


def bundle(files: list[OutputFile], out: Path) -> OutputFile:
    """Several results as one zip (stored, not deflated: PDFs and images are compressed)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for f in files:
            z.write(f.path, f.name)
            f.path.unlink()
    return OutputFile(out, out.name, "application/zip", {"files": [f.name for f in files]})
