"""The PDF engine: pikepdf (qpdf) for structure, pypdfium2 for pages as pictures and
text, img2pdf for pictures as pages, Ghostscript for the strongest compression,
LibreOffice for office documents. Runs in the runtime's worker processes, never in the
service."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from transmute_common.converter import (
    Capabilities,
    ConversionTask,
    Converter,
    OutputFile,
    ProgressFn,
)
from transmute_common.errors import InvalidArgument
from transmute_pdf import edit, render
from transmute_pdf.capabilities import OFFICE_INPUTS
from transmute_pdf.chat import ChatClient, ChatSettings
from transmute_pdf.compress import compress
from transmute_pdf.config import PdfSettings
from transmute_pdf.docx import to_docx
from transmute_pdf.ocr import ocr
from transmute_pdf.office import Office, office_to_pdf
from transmute_pdf.options import PdfOptions
from transmute_pdf.sanitize import sanitize
from transmute_pdf.summary import summarize, translate
from transmute_pdf.task import PdfTask


class PdfConverter(Converter):
    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self.config = PdfSettings.model_validate(self.settings)
        self.ghostscript = shutil.which(self.config.ghostscript_path or "gs")
        self.office = Office(
            self.config.soffice_path or "soffice",
            self.config.office_python,
            self.config.office_recycle_documents,
        )
        self.operations: dict[str, Callable[[PdfTask, str], list[OutputFile]]] = {
            "compress": lambda t, _: compress(t, self.ghostscript),
            "merge": lambda t, _: edit.merge(t),
            "split": lambda t, _: edit.split(t),
            "rotate": lambda t, _: edit.rotate(t),
            "reorder": lambda t, _: edit.reorder(t),
            "delete": lambda t, _: edit.delete(t),
            "linearize": lambda t, _: edit.linearize(t),
            "protect": lambda t, _: edit.protect(t),
            "unlock": lambda t, _: edit.unlock(t),
            "metadata": lambda t, _: edit.metadata(t),
            "sanitize": lambda t, _: sanitize(t),
            "to_images": render.to_images,
            "to_text": lambda t, _: render.to_text(t),
            "from_images": lambda t, _: render.from_images(t),
            "office_to_pdf": lambda t, _: office_to_pdf(t, self.office),
            "ocr": lambda t, _: ocr(t),
            "to_docx": lambda t, _: to_docx(t),
            "summarize": lambda t, _: summarize(t, self._chat()),
            "translate": lambda t, _: translate(t, self._chat()),
            "convert": lambda t, _: office_to_pdf(t, self.office),
        }

    def available(self, declared: Capabilities) -> Capabilities:
        """Without Ghostscript, compress offers the levels pikepdf does alone; without
        LibreOffice there is no office_to_pdf, without Tesseract and Ghostscript no ocr."""
        if self.office.missing() is not None:
            kept = [c for c in declared.conversions if c.inputs != OFFICE_INPUTS]
            declared = declared.model_copy(update={"conversions": kept})
        if not self.config.ai_url:
            kept = [c for c in declared.conversions if c.operation != "translate"]
            declared = declared.model_copy(update={"conversions": kept})
        if self.ghostscript is None or shutil.which("tesseract") is None:
            kept = [c for c in declared.conversions if c.operation != "ocr"]
            declared = declared.model_copy(update={"conversions": kept})
        if self.ghostscript is not None:
            return declared
        options = [
            o.model_copy(update={"choices": [c for c in o.choices if c != "strong"]})
            if o.name == "level"
            else o
            for o in declared.options
        ]
        return declared.model_copy(update={"options": options})

    def _chat(self) -> ChatClient | None:
        """A client for the configured language model, one per job (None: none)."""
        c = self.config
        if not c.ai_url:
            return None
        return ChatClient(
            ChatSettings(
                url=c.ai_url,
                model=c.ai_model,
                key=c.ai_key.get_secret_value(),
                timeout=c.ai_timeout_seconds,
                retries=c.ai_retries,
                backoff=c.ai_backoff_seconds,
                max_input_tokens=c.ai_max_input_tokens,
                max_output_tokens=c.ai_max_output_tokens,
            )
        )

    def convert(self, task: ConversionTask, progress: ProgressFn) -> list[OutputFile]:
        run = self.operations.get(task.operation)
        if run is None:
            raise InvalidArgument(
                f"the pdf service has no operation {task.operation}",
                code="unsupported_operation",
            )
        options = PdfOptions.parse(task.options)
        if options.bundle and task.handoff_target:
            raise InvalidArgument(
                f"bundle makes a zip of PNG or JPEG pages, not of {task.handoff_target}",
                code="invalid_options",
            )
        pdf_task = PdfTask(
            task.inputs,
            options,
            task.output_dir,
            self.config,
            progress,
            intermediate=bool(task.handoff_target),
        )
        outputs = run(pdf_task, task.target)
        progress(1.0, "done")
        return outputs
